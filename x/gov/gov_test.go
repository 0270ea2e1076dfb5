package gov_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/params"
)

func key(name string) *crypto.PrivKey { return smtest.Key("gov-test", name) }

var genesisTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	orgA, orgB, orgC = "org-a", "org-b", "org-c"
	testParam        = "test.limit"
	votingPeriod     = 3600
)

// env holds a consortium of three organizations (one admin each, a doctor
// in A, a patient) and two validators, operated by A and B.
type env struct {
	t      *testing.T
	kv     *store.Memory
	gov    *gov.Module
	routes map[string]sm.Route
	now    time.Time
	events *sm.Events
	valset *sm.ValidatorUpdates
}

func newEnv(t *testing.T) *env {
	t.Helper()
	reg := params.NewRegistry(gov.ParamDefs...)
	reg.Declare(params.Def{Name: testParam, Default: 10, Min: 1, Max: 100})
	e := &env{t: t, kv: store.NewMemory(), gov: &gov.Module{Params: reg}, routes: map[string]sm.Route{}, now: genesisTime}
	for _, m := range []sm.Module{accounts.Module{}, e.gov} {
		for _, rt := range m.Routes() {
			e.routes[rt.Type] = rt
		}
	}
	member := func(name, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "member", Org: org, Role: role}
	}
	ag, _ := json.Marshal(accounts.Genesis{
		Orgs: []accounts.GenesisOrg{{ID: orgA, Name: "A", Type: "hospital"}, {ID: orgB, Name: "B", Type: "lab"}, {ID: orgC, Name: "C", Type: "pharmacy"}},
		Accounts: []accounts.GenesisAccount{
			member("adminA", orgA, accounts.RoleAdmin), member("adminB", orgB, accounts.RoleAdmin), member("adminC", orgC, accounts.RoleAdmin),
			member("doctorA", orgA, accounts.RolePractitioner),
			{PubKey: key("alice").PubKey(), EncKey: key("alice").EncKey(), Kind: "patient"},
		},
	})
	gg, _ := json.Marshal(gov.Genesis{
		Params:     json.RawMessage(`{"gov.voting_period_seconds": 3600}`),
		Validators: []gov.GenesisValidator{{PubKey: key("valA").PubKey(), Power: 10, Org: orgA}, {PubKey: key("valB").PubKey(), Power: 10, Org: orgB}},
	})
	ctx := e.ctx(nil)
	if err := (accounts.Module{}).InitGenesis(ctx, ag); err != nil {
		t.Fatal(err)
	}
	if err := e.gov.InitGenesis(ctx, gg); err != nil {
		t.Fatal(err)
	}
	e.events, e.valset = &sm.Events{}, &sm.ValidatorUpdates{}
	return e
}

func (e *env) ctx(signer *crypto.PrivKey) sm.Context {
	if e.events == nil {
		e.events, e.valset = &sm.Events{}, &sm.ValidatorUpdates{}
	}
	c := sm.Context{ChainID: "test", Height: 2, Time: e.now, Store: e.kv, Events: e.events, Valset: e.valset}
	if signer != nil {
		c.Signer, c.Key = signer.Address(), signer.PubKey()
	}
	return c
}

// run executes msg as the ABCI adapter does: canonical bytes, decode,
// ValidateBasic, execute in a cache written only on success.
func (e *env) run(signer string, msg sm.Msg) error {
	e.t.Helper()
	rt := e.routes[msg.Type()]
	return smtest.Exec(rt, e.ctx(key(signer)), msg)
}

func (e *env) mustRun(signer string, msg sm.Msg) {
	e.t.Helper()
	if err := e.run(signer, msg); err != nil {
		e.t.Fatalf("%s by %s: %v", msg.Type(), signer, err)
	}
}

func (e *env) proposal(id uint64) *gov.Proposal {
	e.t.Helper()
	p := gov.GetProposal(e.kv, id)
	if p == nil {
		e.t.Fatalf("proposal %d not found", id)
	}
	return p
}

func wantErr(t *testing.T, got error, want *sm.Error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("unexpected error: %v", got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("error = %v, want %s/%d %q", got, want.Codespace, want.Code, want.Desc)
	}
}

func propose(a gov.Action) *gov.MsgPropose { return &gov.MsgPropose{Action: a, Reason: "test"} }

func addValidator(name string, power int64, org string) gov.Action {
	return gov.Action{Kind: gov.KindAddValidator, Validator: key(name).PubKey(), Power: power, OrgID: org}
}

func removeValidator(name string) gov.Action {
	return gov.Action{Kind: gov.KindRemoveValidator, Validator: key(name).PubKey()}
}

func setParam(name string, v uint64) gov.Action {
	return gov.Action{Kind: gov.KindSetParam, Param: name, Value: v}
}

func addMember(id, admin string) gov.Action {
	return gov.Action{Kind: gov.KindAddMember, Org: accounts.GenesisOrg{ID: id, Name: "New " + id, Type: "clinic"}, AdminPubKey: key(admin).PubKey(), AdminEncKey: key(admin).EncKey()}
}

func TestErrorCodesAreStable(t *testing.T) {
	want := []struct {
		err  *sm.Error
		code uint32
	}{
		{gov.ErrNotMember, 1}, {gov.ErrBadProposal, 2}, {gov.ErrNoProposal, 3}, {gov.ErrClosed, 4},
		{gov.ErrAlreadyVoted, 5}, {gov.ErrValidatorExists, 6}, {gov.ErrNoValidator, 7}, {gov.ErrLastValidator, 8},
		{gov.ErrLastMember, 9}, {gov.ErrExpired, 10}, {gov.ErrValidatorOrg, 11}, {gov.ErrGenesisValidator, 12},
	}
	for _, w := range want {
		if w.err.Codespace != gov.Codespace || w.err.Code != w.code {
			t.Errorf("%q = %s/%d, want gov/%d", w.err.Desc, w.err.Codespace, w.err.Code, w.code)
		}
	}
}

func TestActionValidateBasic(t *testing.T) {
	with := func(a gov.Action, f func(a *gov.Action)) gov.Action { f(&a); return a }
	tests := []struct {
		name   string
		action gov.Action
		want   *sm.Error
	}{
		{"add_member", addMember("org-d", "adminD"), nil},
		{"add_member bad org id", with(addMember("org-d", "adminD"), func(a *gov.Action) { a.Org.ID = "D" }), accounts.ErrBadOrg},
		{"add_member bad org type", with(addMember("org-d", "adminD"), func(a *gov.Action) { a.Org.Type = "spa" }), accounts.ErrBadOrg},
		{"add_member no admin key", with(addMember("org-d", "adminD"), func(a *gov.Action) { a.AdminPubKey = crypto.PubKey{} }), gov.ErrBadProposal},
		{"add_member no admin enc key", with(addMember("org-d", "adminD"), func(a *gov.Action) { a.AdminEncKey = crypto.EncKey{} }), gov.ErrBadProposal},
		{"add_member stray power", with(addMember("org-d", "adminD"), func(a *gov.Action) { a.Power = 1 }), gov.ErrBadProposal},
		{"add_member stray org_id", with(addMember("org-d", "adminD"), func(a *gov.Action) { a.OrgID = orgA }), gov.ErrBadProposal},
		{"remove_member", gov.Action{Kind: gov.KindRemoveMember, OrgID: orgC}, nil},
		{"remove_member bad id", gov.Action{Kind: gov.KindRemoveMember, OrgID: "C!"}, accounts.ErrBadOrg},
		{"remove_member stray validator", gov.Action{Kind: gov.KindRemoveMember, OrgID: orgC, Validator: key("v").PubKey()}, gov.ErrBadProposal},
		{"add_validator", addValidator("v", 5, orgC), nil},
		{"add_validator zero key", gov.Action{Kind: gov.KindAddValidator, Power: 5, OrgID: orgC}, gov.ErrBadProposal},
		{"add_validator power 0", addValidator("v", 0, orgC), gov.ErrBadProposal},
		{"add_validator power negative", addValidator("v", -1, orgC), gov.ErrBadProposal},
		{"add_validator power too high", addValidator("v", gov.MaxPower+1, orgC), gov.ErrBadProposal},
		{"add_validator power max", addValidator("v", gov.MaxPower, orgC), nil},
		{"add_validator no org", addValidator("v", 5, ""), accounts.ErrBadOrg},
		{"add_validator stray param", with(addValidator("v", 5, orgC), func(a *gov.Action) { a.Value = 3 }), gov.ErrBadProposal},
		{"remove_validator", removeValidator("v"), nil},
		{"remove_validator zero key", gov.Action{Kind: gov.KindRemoveValidator}, gov.ErrBadProposal},
		{"remove_validator stray power", with(removeValidator("v"), func(a *gov.Action) { a.Power = 2 }), gov.ErrBadProposal},
		{"set_param", setParam(testParam, 5), nil},
		{"set_param zero value", setParam(testParam, 0), nil}, // range is checked against the registry
		{"set_param no name", setParam("", 5), gov.ErrBadProposal},
		{"set_param stray org", with(setParam(testParam, 5), func(a *gov.Action) { a.Org.Name = "x" }), gov.ErrBadProposal},
		{"set_param stray admin", with(setParam(testParam, 5), func(a *gov.Action) { a.AdminEncKey[0] = 1 }), gov.ErrBadProposal},
		{"unknown kind", gov.Action{Kind: "abolish"}, gov.ErrBadProposal},
		{"empty", gov.Action{}, gov.ErrBadProposal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.action.ValidateBasic(), tt.want)
			wantErr(t, propose(tt.action).ValidateBasic(), tt.want)
		})
	}
	long := &gov.MsgPropose{Action: setParam(testParam, 5), Reason: strings.Repeat("r", gov.MaxReasonLen+1)}
	wantErr(t, long.ValidateBasic(), gov.ErrBadProposal)
}

func TestProposeAndTally(t *testing.T) {
	e := newEnv(t)
	e.mustRun("adminA", propose(setParam(testParam, 42)))
	p := e.proposal(1)
	if p.Status != gov.StatusOpen || p.Org != orgA || p.Proposer != key("adminA").Address() || p.Reason != "test" {
		t.Fatalf("proposal = %+v", p)
	}
	if p.Created != genesisTime.Unix() || p.Expires != genesisTime.Unix()+votingPeriod {
		t.Fatalf("created %d expires %d", p.Created, p.Expires)
	}
	if len(p.Votes) != 1 || p.Votes[0] != (gov.Vote{Org: orgA, Approve: true}) {
		t.Fatalf("proposer's org did not vote yes: %+v", p.Votes)
	}
	if got := e.gov.Params.Get(e.kv, testParam); got != 10 {
		t.Fatalf("param changed before the proposal passed: %d", got)
	}

	// The proposing org cannot vote again; others can vote once.
	wantErr(t, e.run("adminA", &gov.MsgVote{ProposalID: 1, Approve: true}), gov.ErrAlreadyVoted)
	wantErr(t, e.run("adminC", &gov.MsgVote{ProposalID: 2, Approve: true}), gov.ErrNoProposal)
	e.mustRun("adminC", &gov.MsgVote{ProposalID: 1, Approve: true}) // 2 of 3: passes
	p = e.proposal(1)
	if p.Status != gov.StatusPassed || p.Result != "" {
		t.Fatalf("after 2 of 3 yes: %s %q", p.Status, p.Result)
	}
	if len(p.Votes) != 2 || p.Votes[0].Org != orgA || p.Votes[1].Org != orgC {
		t.Fatalf("votes not in org order: %+v", p.Votes)
	}
	if got := e.gov.Params.Get(e.kv, testParam); got != 42 {
		t.Fatalf("param = %d after the proposal passed, want 42", got)
	}
	wantErr(t, e.run("adminB", &gov.MsgVote{ProposalID: 1, Approve: true}), gov.ErrClosed)

	// Ids increase.
	e.mustRun("adminB", propose(setParam(testParam, 7)))
	if p := e.proposal(2); p.Org != orgB || p.Status != gov.StatusOpen {
		t.Fatalf("proposal 2 = %+v", p)
	}
	if got := len(gov.Proposals(e.kv)); got != 2 {
		t.Fatalf("%d proposals listed", got)
	}
}

func TestRejection(t *testing.T) {
	e := newEnv(t)
	e.mustRun("adminA", propose(setParam(testParam, 42)))
	e.mustRun("adminB", &gov.MsgVote{ProposalID: 1, Approve: false}) // 1 no of 3: not yet more than a third
	if s := e.proposal(1).Status; s != gov.StatusOpen {
		t.Fatalf("status after one no = %s", s)
	}
	e.mustRun("adminC", &gov.MsgVote{ProposalID: 1, Approve: false})
	if s := e.proposal(1).Status; s != gov.StatusRejected {
		t.Fatalf("status after two no = %s", s)
	}
	if got := e.gov.Params.Get(e.kv, testParam); got != 10 {
		t.Fatalf("rejected proposal executed: %d", got)
	}
}

func TestOnlyAdminsOfMemberOrgsPropose(t *testing.T) {
	for _, signer := range []string{"doctorA", "alice", "stranger"} {
		t.Run(signer, func(t *testing.T) {
			e := newEnv(t)
			wantErr(t, e.run(signer, propose(setParam(testParam, 5))), gov.ErrNotMember)
			e.mustRun("adminA", propose(setParam(testParam, 5)))
			wantErr(t, e.run(signer, &gov.MsgVote{ProposalID: 1, Approve: true}), gov.ErrNotMember)
		})
	}
}

func TestSetParamRange(t *testing.T) {
	e := newEnv(t)
	wantErr(t, e.run("adminA", propose(setParam(testParam, 101))), params.ErrOutOfRange)
	wantErr(t, e.run("adminA", propose(setParam(testParam, 0))), params.ErrOutOfRange)
	wantErr(t, e.run("adminA", propose(setParam(gov.ParamVotingPeriod, 59))), params.ErrOutOfRange)
	wantErr(t, e.run("adminA", propose(setParam("no.such.param", 1))), params.ErrUnknown)
	if len(gov.Proposals(e.kv)) != 0 {
		t.Fatal("an invalid proposal was stored")
	}
	// A rejected proposal does not consume an id.
	e.mustRun("adminA", propose(setParam(testParam, 100)))
	e.proposal(1)
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	e.mustRun("adminA", propose(setParam(testParam, 42)))
	e.now = genesisTime.Add(votingPeriod*time.Second - time.Second)
	e.mustRun("adminB", &gov.MsgVote{ProposalID: 1, Approve: false}) // still open one second before
	e.now = genesisTime.Add(votingPeriod * time.Second)
	wantErr(t, e.run("adminC", &gov.MsgVote{ProposalID: 1, Approve: true}), gov.ErrExpired)
	p := e.proposal(1)
	if p.StatusAt(e.now.Unix()) != gov.StatusExpired || p.StatusAt(e.now.Unix()-1) != gov.StatusOpen || p.Status != gov.StatusOpen {
		t.Fatalf("StatusAt: %s / %s, stored %s", p.StatusAt(e.now.Unix()), p.StatusAt(e.now.Unix()-1), p.Status)
	}
	// A closed proposal reads as closed, not expired.
	p.Status = gov.StatusPassed
	if p.StatusAt(e.now.Unix()+1000) != gov.StatusPassed {
		t.Fatal("a passed proposal reads as expired")
	}
}

func passWithBC(e *env, a gov.Action) *gov.Proposal {
	e.t.Helper()
	n := uint64(len(gov.Proposals(e.kv)) + 1)
	e.mustRun("adminB", propose(a))
	e.mustRun("adminC", &gov.MsgVote{ProposalID: n, Approve: true})
	return e.proposal(n)
}

func TestValidatorChanges(t *testing.T) {
	e := newEnv(t)
	p := passWithBC(e, addValidator("valC", 7, orgC))
	if p.Status != gov.StatusPassed {
		t.Fatalf("add_validator: %s %q", p.Status, p.Result)
	}
	v := gov.GetValidator(e.kv, key("valC").PubKey())
	if v == nil || v.Power != 7 || v.Org != orgC {
		t.Fatalf("validator = %+v", v)
	}
	if got := e.valset.List(); len(got) != 1 || got[0] != (sm.ValidatorUpdate{PubKey: key("valC").PubKey(), Power: 7}) {
		t.Fatalf("validator updates = %+v", got)
	}
	if p := passWithBC(e, addValidator("valC", 7, orgC)); p.Status != gov.StatusFailed || !strings.Contains(p.Result, gov.ErrValidatorExists.Desc) {
		t.Fatalf("duplicate add_validator: %s %q", p.Status, p.Result)
	}
	if p := passWithBC(e, addValidator("valX", 7, "org-x")); p.Status != gov.StatusFailed || !strings.Contains(p.Result, gov.ErrValidatorOrg.Desc) {
		t.Fatalf("add_validator for a non-member: %s %q", p.Status, p.Result)
	}

	p = passWithBC(e, removeValidator("valC"))
	if p.Status != gov.StatusPassed || gov.GetValidator(e.kv, key("valC").PubKey()) != nil {
		t.Fatalf("remove_validator: %s %q", p.Status, p.Result)
	}
	if got := e.valset.List(); len(got) != 1 || got[0].Power != 0 {
		t.Fatalf("validator updates after removal = %+v (last update of a key wins)", got)
	}
	if p := passWithBC(e, removeValidator("valC")); p.Status != gov.StatusFailed || !strings.Contains(p.Result, gov.ErrNoValidator.Desc) {
		t.Fatalf("removing an absent validator: %s %q", p.Status, p.Result)
	}

	passWithBC(e, removeValidator("valB"))
	if len(gov.Validators(e.kv)) != 1 {
		t.Fatal("want one validator left")
	}
	p = passWithBC(e, removeValidator("valA"))
	if p.Status != gov.StatusFailed || !strings.Contains(p.Result, gov.ErrLastValidator.Desc) {
		t.Fatalf("removing the last validator: %s %q", p.Status, p.Result)
	}
	if gov.GetValidator(e.kv, key("valA").PubKey()) == nil {
		t.Fatal("the last validator was removed")
	}
	for _, u := range e.valset.List() {
		if u.PubKey == key("valA").PubKey() {
			t.Fatalf("a failed proposal emitted a validator update: %+v", u)
		}
	}
}

func TestAddMember(t *testing.T) {
	e := newEnv(t)
	p := passWithBC(e, addMember("org-d", "adminD"))
	if p.Status != gov.StatusPassed {
		t.Fatalf("add_member: %s %q", p.Status, p.Result)
	}
	o := accounts.GetOrg(e.kv, "org-d")
	if o == nil || !o.Active || o.Joined != e.now.Unix() || o.Type != "clinic" {
		t.Fatalf("org-d = %+v", o)
	}
	if accounts.AdminOrg(e.kv, key("adminD").Address()) == nil {
		t.Fatal("the new org's admin is not an active admin")
	}
	// The new admin acts at once: registers a member, and votes.
	nurse := key("nurseD")
	e.mustRun("adminD", &accounts.MsgRegisterMember{PubKey: nurse.PubKey(), EncKey: nurse.EncKey(), Role: accounts.RoleStaff})
	// With four members, two yes votes are no longer enough.
	e.mustRun("adminA", propose(setParam(testParam, 50)))
	e.mustRun("adminD", &gov.MsgVote{ProposalID: 2, Approve: true})
	if s := e.proposal(2).Status; s != gov.StatusOpen {
		t.Fatalf("2 of 4 yes: %s", s)
	}
	e.mustRun("adminB", &gov.MsgVote{ProposalID: 2, Approve: true})
	if s := e.proposal(2).Status; s != gov.StatusPassed {
		t.Fatalf("3 of 4 yes: %s", s)
	}
	e.mustRun("adminB", propose(addMember("org-d", "adminE")))
	e.mustRun("adminC", &gov.MsgVote{ProposalID: 3, Approve: true})
	e.mustRun("adminD", &gov.MsgVote{ProposalID: 3, Approve: true})
	if p := e.proposal(3); p.Status != gov.StatusFailed || !strings.Contains(p.Result, accounts.ErrOrgExists.Desc) {
		t.Fatalf("adding an active org again: %s %q", p.Status, p.Result)
	}
}

// TestFailedExecutionLeavesOnlyStatus: a passed proposal whose action fails
// changes nothing but the proposal, and emits no event of the action.
func TestFailedExecutionLeavesOnlyStatus(t *testing.T) {
	e := newEnv(t)
	// The admin key already has an account (alice's), so creating the new
	// org's admin fails after the org itself was written.
	a := addMember("org-d", "alice")
	e.mustRun("adminB", propose(a))
	e.events = &sm.Events{}
	e.mustRun("adminC", &gov.MsgVote{ProposalID: 1, Approve: true})
	p := e.proposal(1)
	if p.Status != gov.StatusFailed || !strings.Contains(p.Result, accounts.ErrExists.Desc) {
		t.Fatalf("status %s %q", p.Status, p.Result)
	}
	if accounts.GetOrg(e.kv, "org-d") != nil {
		t.Fatal("failed add_member left the org behind")
	}
	for _, ev := range e.events.List() {
		if ev.Type == "member_added" || ev.Type == "account_registered" {
			t.Fatalf("failed action emitted %s", ev.Type)
		}
	}
	var closed bool
	for _, ev := range e.events.List() {
		closed = closed || ev.Type == "proposal_closed"
	}
	if !closed {
		t.Fatal("no proposal_closed event")
	}
}

func TestRemoveMember(t *testing.T) {
	e := newEnv(t)
	// C operates no validator; it can be removed.
	p := passWithBC(e, gov.Action{Kind: gov.KindRemoveMember, OrgID: orgA})
	if p.Status != gov.StatusPassed {
		t.Fatalf("remove A: %s %q", p.Status, p.Result)
	}
	if o := accounts.GetOrg(e.kv, orgA); o == nil || o.Active {
		t.Fatalf("org A = %+v", o)
	}
	if gov.GetValidator(e.kv, key("valA").PubKey()) != nil {
		t.Fatal("removed org's validator still in the set")
	}
	if got := e.valset.List(); len(got) != 1 || got[0] != (sm.ValidatorUpdate{PubKey: key("valA").PubKey(), Power: 0}) {
		t.Fatalf("validator updates = %+v", got)
	}
	if accounts.CanSign(e.kv, accounts.GetAccount(e.kv, key("doctorA").Address())) {
		t.Fatal("member of a removed org can sign")
	}
	wantErr(t, e.run("adminA", propose(setParam(testParam, 5))), gov.ErrNotMember)

	// B runs the last validator: removing B fails.
	if p := passWithBC(e, gov.Action{Kind: gov.KindRemoveMember, OrgID: orgB}); p.Status != gov.StatusFailed || !strings.Contains(p.Result, gov.ErrLastValidator.Desc) {
		t.Fatalf("remove the org of the last validator: %s %q", p.Status, p.Result)
	}
	// Removing an org that is not a member fails.
	if p := passWithBC(e, gov.Action{Kind: gov.KindRemoveMember, OrgID: orgA}); p.Status != gov.StatusFailed || !strings.Contains(p.Result, accounts.ErrOrgNotFound.Desc) {
		t.Fatalf("remove a former member: %s %q", p.Status, p.Result)
	}

	// A former member rejoins with its accounts.
	p = passWithBC(e, addMember(orgA, "adminA"))
	if p.Status != gov.StatusPassed || !accounts.GetOrg(e.kv, orgA).Active {
		t.Fatalf("rejoin: %s %q", p.Status, p.Result)
	}
	if accounts.AdminOrg(e.kv, key("adminA").Address()) == nil {
		t.Fatal("the rejoined org's admin cannot act")
	}
}

func TestVotesOfDepartedOrgsDoNotCount(t *testing.T) {
	e := newEnv(t)
	e.mustRun("adminC", propose(setParam(testParam, 20))) // C yes: 1 of 3
	passWithBC(e, gov.Action{Kind: gov.KindRemoveMember, OrgID: orgC})
	// Now two members; C's yes no longer counts. B's yes makes 1 of 2: open.
	e.mustRun("adminB", &gov.MsgVote{ProposalID: 1, Approve: true})
	if s := e.proposal(1).Status; s != gov.StatusOpen {
		t.Fatalf("status = %s, want open (C's vote must not count)", s)
	}
	e.mustRun("adminA", &gov.MsgVote{ProposalID: 1, Approve: true})
	if s := e.proposal(1).Status; s != gov.StatusPassed {
		t.Fatalf("status = %s, want passed", s)
	}
}

func TestGenesis(t *testing.T) {
	e := newEnv(t)
	if got := e.gov.Params.Get(e.kv, gov.ParamVotingPeriod); got != votingPeriod {
		t.Fatalf("voting period = %d", got)
	}
	vals := gov.Validators(e.kv)
	if len(vals) != 2 {
		t.Fatalf("%d validators", len(vals))
	}

	tests := []struct {
		name    string
		g       gov.Genesis
		wantSub string
	}{
		{"unknown org", gov.Genesis{Validators: []gov.GenesisValidator{{PubKey: key("v").PubKey(), Power: 1, Org: "nope"}}}, "unknown org"},
		{"power zero", gov.Genesis{Validators: []gov.GenesisValidator{{PubKey: key("v").PubKey(), Power: 0, Org: orgA}}}, "power"},
		{"power too high", gov.Genesis{Validators: []gov.GenesisValidator{{PubKey: key("v").PubKey(), Power: gov.MaxPower + 1, Org: orgA}}}, "power"},
		{"duplicate", gov.Genesis{Validators: []gov.GenesisValidator{{PubKey: key("v").PubKey(), Power: 1, Org: orgA}, {PubKey: key("v").PubKey(), Power: 2, Org: orgA}}}, "duplicate"},
		{"param out of range", gov.Genesis{Params: json.RawMessage(`{"gov.voting_period_seconds": 1}`)}, "out of range"},
		{"unknown param", gov.Genesis{Params: json.RawMessage(`{"nope": 1}`)}, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			raw, _ := json.Marshal(tt.g)
			err := e.gov.InitGenesis(sm.Context{Store: store.NewCache(e.kv)}, raw)
			if err == nil || !strings.Contains(err.Error(), tt.wantSub) {
				t.Fatalf("InitGenesis = %v, want an error containing %q", err, tt.wantSub)
			}
		})
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	p := &gov.Proposal{
		ID: 9, Proposer: key("x").Address(), Org: orgA, Action: addValidator("v", 3, orgB), Reason: "why",
		Created: 100, Expires: 200, Votes: []gov.Vote{{Org: orgA, Approve: true}, {Org: orgB}}, Status: gov.StatusFailed, Result: "because",
	}
	got, err := gov.DecodeProposal(codec.Marshal(p))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(codec.Marshal(got), codec.Marshal(p)) || got.Votes[1] != p.Votes[1] || got.Action != p.Action {
		t.Fatalf("proposal round trip: %+v", got)
	}
	v := &gov.Validator{PubKey: key("v").PubKey(), Power: 5, Org: orgC}
	gotV, err := gov.DecodeValidator(codec.Marshal(v))
	if err != nil || *gotV != *v {
		t.Fatalf("validator round trip: %+v %v", gotV, err)
	}
	if !bytes.Equal(gov.ProposalKey(1), []byte{sm.PrefixProposal, 0, 0, 0, 0, 0, 0, 0, 1}) {
		t.Fatalf("ProposalKey(1) = %x", gov.ProposalKey(1))
	}
}

func seedMsgs() []sm.Msg {
	return []sm.Msg{
		propose(addMember("org-d", "adminD")),
		propose(gov.Action{Kind: gov.KindRemoveMember, OrgID: orgC}),
		propose(addValidator("v", 10, orgA)),
		propose(removeValidator("v")),
		propose(setParam(gov.ParamVotingPeriod, 60)),
		&gov.MsgVote{ProposalID: 1, Approve: true},
		&gov.MsgVote{ProposalID: 1 << 40},
	}
}

func TestSeedsCoverEveryRoute(t *testing.T) {
	have := map[string]bool{}
	for _, m := range seedMsgs() {
		have[m.Type()] = true
	}
	for _, rt := range (&gov.Module{}).Routes() {
		if !have[rt.Type] {
			t.Errorf("route %s has no fuzz seed", rt.Type)
		}
		if rt.NewSigner {
			t.Errorf("route %s accepts a signer without an account", rt.Type)
		}
	}
}

// FuzzDecode runs every decoder of the module on the same bytes: every
// route's message decoder and the stored-state decoders. None may panic, and
// whatever decodes must re-encode to exactly the input.
func FuzzDecode(f *testing.F) {
	for _, m := range seedMsgs() {
		f.Add(codec.Marshal(m))
	}
	f.Add(codec.Marshal(&gov.Proposal{ID: 1, Action: setParam(testParam, 1), Votes: []gov.Vote{{Org: orgA, Approve: true}}, Status: gov.StatusOpen}))
	f.Add(codec.Marshal(&gov.Validator{Power: 1, Org: orgA}))
	routes := (&gov.Module{}).Routes()
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, routes, b)
		smtest.FuzzCanonical(t, "proposal", b, gov.DecodeProposal)
		smtest.FuzzCanonical(t, "validator", b, gov.DecodeValidator)
	})
}

// TestRemovalKeepsAnActiveValidator: with Active set (x/staking: not
// jailed), a removal that would leave only inactive validators fails like
// removing the last one; removing an inactive validator is fine.
func TestRemovalKeepsAnActiveValidator(t *testing.T) {
	e := newEnv(t)
	inactive := key("valB").PubKey()
	e.gov.Active = func(_ store.Reader, pub crypto.PubKey) bool { return pub != inactive }
	if p := passWithBC(e, removeValidator("valA")); p.Status != gov.StatusFailed || !strings.Contains(p.Result, gov.ErrLastValidator.Desc) {
		t.Fatalf("removing the last active validator: %s %q", p.Status, p.Result)
	}
	if p := passWithBC(e, gov.Action{Kind: gov.KindRemoveMember, OrgID: orgA}); p.Status != gov.StatusFailed || !strings.Contains(p.Result, gov.ErrLastValidator.Desc) {
		t.Fatalf("removing the last active validator's org: %s %q", p.Status, p.Result)
	}
	if p := passWithBC(e, removeValidator("valB")); p.Status != gov.StatusPassed {
		t.Fatalf("removing an inactive validator: %s %q", p.Status, p.Result)
	}
}
