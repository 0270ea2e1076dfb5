package policy_test

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/policy/cond"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	*smtest.Env
	mod *policy.Module
	reg *params.Registry
}

func newEnv(t *testing.T) *env {
	t.Helper()
	reg := params.NewRegistry(append(append([]params.Def{}, consent.ParamDefs...), policy.ParamDefs...)...)
	mod := &policy.Module{Params: reg}
	cm := &consent.Module{Params: reg}
	router := sm.NewRouter(accounts.Module{Params: params.NewRegistry(accounts.ParamDefs...)}, cm, mod)
	mod.Route = router.Route
	e := &env{Env: smtest.NewEnv(t, "policy-test", t0, accounts.Module{}, cm, mod), mod: mod, reg: reg}
	member := func(name, org, role string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "member", Org: org, Role: role}
	}
	patient := func(name string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "patient", Balance: 250}
	}
	e.Genesis(accounts.Module{}, accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: "org-a", Name: "Hospital A", Type: "hospital", EncKey: e.Key("org:org-a").EncKey()},
			{ID: "org-b", Name: "Lab B", Type: "lab", EncKey: e.Key("org:org-b").EncKey()},
		},
		Accounts: []accounts.GenesisAccount{
			member("adminA", "org-a", accounts.RoleAdmin), member("admin2A", "org-a", accounts.RoleAdmin), member("doctorA", "org-a", accounts.RolePractitioner),
			member("staffA", "org-a", accounts.RoleStaff), member("techB", "org-b", accounts.RolePractitioner),
			patient("alice"), patient("bob"),
		},
	})
	return e
}

// endBlock runs the policy EndBlock over events, as the block would, and
// returns the block events it emitted.
func (e *env) endBlock(events ...sm.Event) []sm.Event {
	out := &sm.Events{}
	e.mod.EndBlockEvents(sm.Context{ChainID: "test", Height: 3, Time: e.Now, Store: e.KV, Events: out}, events)
	return out.List()
}

func recordAdded(patient, typ string) sm.Event {
	return sm.Event{Type: "record_added", Attrs: []sm.Attr{{Key: "id", Value: "00"}, {Key: "patient", Value: patient}, {Key: "type", Value: typ}}}
}

func attr(ev sm.Event, k string) string {
	for _, a := range ev.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

func ofType(evs []sm.Event, typ string) []sm.Event {
	var out []sm.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func wantErr(t *testing.T, got error, want *sm.Error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("error = %v, want %s/%d %s", got, want.Codespace, want.Code, want.Desc)
	}
}

func grantObs(seconds int64) policy.Action {
	return policy.Action{Kind: policy.ActionGrantConsent, Grantee: consent.Org("org-b"), Actions: consent.ActRead,
		Types: []string{"Observation"}, Purpose: consent.PurposeTreatment, Seconds: seconds}
}

func TestAddRuleRefusals(t *testing.T) {
	e := newEnv(t)
	ok := policy.MsgAddRule{Event: policy.EventRecordAdded, Action: grantObs(3600)}
	for _, tc := range []struct {
		name   string
		signer string
		edit   func(m *policy.MsgAddRule)
		want   *sm.Error
	}{
		{"unknown event", "alice", func(m *policy.MsgAddRule) { m.Event = "record_read" }, policy.ErrBadEvent},
		{"ill-typed condition", "alice", func(m *policy.MsgAddRule) { m.Condition = `attrs["type"] == 3` }, cond.ErrType},
		{"access variables are not event variables", "alice", func(m *policy.MsgAddRule) { m.Condition = `resource_type == "Observation"` }, cond.ErrType},
		{"float", "alice", func(m *policy.MsgAddRule) { m.Condition = `double(size(attrs)) > 1.0` }, cond.ErrFloat},
		{"map iteration", "alice", func(m *policy.MsgAddRule) { m.Condition = `attrs.exists(k, k == "type")` }, cond.ErrMapIter},
		{"consent without end", "alice", func(m *policy.MsgAddRule) { m.Action.Seconds = 0 }, policy.ErrBadAction},
		{"quarantine without a reason", "adminA", func(m *policy.MsgAddRule) {
			m.Org, m.Event, m.Action = "org-a", policy.EventUnitReceived, policy.Action{Kind: policy.ActionOpenQuarantine}
		}, policy.ErrBadAction},
		{"quarantine on another event", "adminA", func(m *policy.MsgAddRule) {
			m.Org, m.Action = "org-a", policy.Action{Kind: policy.ActionOpenQuarantine, Reason: "counterfeit"}
		}, policy.ErrBadAction},
		{"quarantine by a personal rule", "alice", func(m *policy.MsgAddRule) {
			m.Event, m.Action = policy.EventUnitReceived, policy.Action{Kind: policy.ActionOpenQuarantine, Reason: "counterfeit"}
		}, policy.ErrOrgActionOnly},
		{"notify free text", "alice", func(m *policy.MsgAddRule) {
			m.Action = policy.Action{Kind: policy.ActionNotify, To: consent.Org("org-a"), Topic: "she has cancer"}
		}, policy.ErrBadAction},
		{"organization rule by a practitioner", "doctorA", func(m *policy.MsgAddRule) { m.Org = "org-a" }, policy.ErrNotOrgAdmin},
		{"organization rule for another organization", "adminA", func(m *policy.MsgAddRule) { m.Org = "org-b" }, policy.ErrNotOrgAdmin},
		{"personal rule by a member", "doctorA", func(m *policy.MsgAddRule) {}, policy.ErrNotPatientOwner},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ok
			m.Action.Types = slices.Clone(ok.Action.Types)
			tc.edit(&m)
			wantErr(t, e.Run(tc.signer, &m), tc.want)
		})
	}
	// Within the hard ceiling but above the governance bound.
	if err := e.reg.Set(e.KV, policy.ParamMaxRuleCost, 10); err != nil {
		t.Fatal(err)
	}
	m := ok
	m.Condition = `(attrs["type"] + attrs["patient"]).contains(attrs["id"])`
	wantErr(t, e.Run("alice", &m), cond.ErrCost)
	if n := len(policy.All(e.KV)); n != 0 {
		t.Fatalf("%d rules stored by refused registrations", n)
	}
}

func TestRuleFiresOncePerMatchingEvent(t *testing.T) {
	e := newEnv(t)
	alice := e.Addr("alice").String()
	e.OK("alice", &policy.MsgAddRule{Event: policy.EventRecordAdded, Condition: `attrs["type"] == "Observation"`, Action: grantObs(86400)})
	out := e.endBlock(recordAdded(alice, "Observation"), recordAdded(alice, "Condition"), recordAdded(alice, "Observation"))
	fired := ofType(out, "policy_fired")
	if len(fired) != 2 {
		t.Fatalf("%d firings, want 2 (one per matching event): %v", len(fired), out)
	}
	for i, f := range fired {
		if attr(f, "outcome") != policy.OutcomeOK || attr(f, "cause") != "record_added" || attr(f, "rule") != "1" {
			t.Fatalf("firing %d: %v", i, f)
		}
	}
	if attr(fired[0], "cause_index") != "0" || attr(fired[1], "cause_index") != "2" {
		t.Fatalf("causes %s, %s; want 0 and 2", attr(fired[0], "cause_index"), attr(fired[1], "cause_index"))
	}
	cs := consent.ByPatient(e.KV, e.Addr("alice"))
	if len(cs) != 2 {
		t.Fatalf("%d consents, want 2", len(cs))
	}
	if c := cs[0]; c.Grantee != consent.Org("org-b") || c.Until != t0.Unix()+86400 || c.Grantor != e.Addr("alice") || !slices.Equal(c.Types, []string{"Observation"}) {
		t.Fatalf("granted consent %+v", c)
	}
	// The grants the rule made are events too, but never triggers: a block
	// of nothing but them fires nothing.
	if again := e.endBlock(out...); len(ofType(again, "policy_fired")) != 0 {
		t.Fatalf("the rule's own events fired it again: %v", again)
	}
	if r := policy.GetRule(e.KV, 1); r.Fired != 2 || r.LastFired != t0.Unix() {
		t.Fatalf("rule %+v", r)
	}
}

func TestRuleNeverBeyondOwnersAuthority(t *testing.T) {
	e := newEnv(t)
	alice := e.Addr("alice").String()
	// bob's rule does not see alice's records.
	e.OK("bob", &policy.MsgAddRule{Event: policy.EventRecordAdded, Action: grantObs(3600)})
	// Hospital A's rule sees them, but its admin cannot grant alice's consent.
	e.OK("adminA", &policy.MsgAddRule{Org: "org-a", Event: policy.EventRecordAdded, Action: grantObs(3600)})
	// alice's rule revokes a consent of bob's: not hers to revoke.
	e.OK("bob", &consent.MsgGrant{Patient: e.Addr("bob"), Grantee: consent.Org("org-a"), Actions: consent.ActRead, Purpose: consent.PurposeTreatment})
	e.OK("alice", &policy.MsgAddRule{Event: policy.EventRecordAdded, Action: policy.Action{Kind: policy.ActionRevokeConsent, ConsentID: 1}})

	out := e.endBlock(recordAdded(alice, "Observation"))
	fired := ofType(out, "policy_fired")
	if len(fired) != 2 {
		t.Fatalf("%d firings, want 2 (the organization's and alice's): %v", len(fired), out)
	}
	if attr(fired[0], "rule") != "2" || attr(fired[0], "outcome") != "consent/1" {
		t.Fatalf("organization's firing %v, want refused with consent/1", fired[0])
	}
	if attr(fired[1], "rule") != "3" || attr(fired[1], "outcome") != "consent/1" {
		t.Fatalf("alice's firing %v, want refused with consent/1", fired[1])
	}
	if cs := consent.ByPatient(e.KV, e.Addr("alice")); len(cs) != 0 {
		t.Fatalf("alice has %d consents", len(cs))
	}
	if c := consent.GetConsent(e.KV, 1); c.Revoked != 0 {
		t.Fatal("bob's consent revoked by alice's rule")
	}
	// The admin leaves: the organization's rule no longer acts.
	e.OK("admin2A", &accounts.MsgDeactivateMember{Address: e.Addr("adminA")})
	for _, f := range ofType(e.endBlock(recordAdded(alice, "Observation")), "policy_fired") {
		if attr(f, "rule") == "2" && attr(f, "outcome") != policy.OutcomeOwnerInactive {
			t.Fatalf("rule of a former admin: %v", f)
		}
	}
}

func TestPauseResumeDeleteAndNotify(t *testing.T) {
	e := newEnv(t)
	alice := e.Addr("alice").String()
	e.OK("alice", &policy.MsgAddRule{Event: policy.EventEmergencyOpened,
		Action: policy.Action{Kind: policy.ActionNotify, To: consent.Account(e.Addr("bob")), Topic: "emergency_opened"}})
	opened := sm.Event{Type: "emergency_opened", Attrs: []sm.Attr{{Key: "id", Value: "1"}, {Key: "patient", Value: alice}, {Key: "org", Value: "org-a"}}}
	wantErr(t, e.Run("bob", &policy.MsgRuleAction{Action: policy.TypePauseRule, ID: 1}), policy.ErrNotOwner)
	e.OK("alice", &policy.MsgRuleAction{Action: policy.TypePauseRule, ID: 1})
	wantErr(t, e.Run("alice", &policy.MsgRuleAction{Action: policy.TypePauseRule, ID: 1}), policy.ErrRuleState)
	if n := len(ofType(e.endBlock(opened), "policy_fired")); n != 0 {
		t.Fatalf("a paused rule fired %d times", n)
	}
	e.OK("alice", &policy.MsgRuleAction{Action: policy.TypeResumeRule, ID: 1})
	out := e.endBlock(opened)
	n := ofType(out, "policy_notification")
	if len(n) != 1 || attr(n[0], "to") != e.Addr("bob").String() || attr(n[0], "topic") != "emergency_opened" || attr(n[0], "from") != alice {
		t.Fatalf("notification %v", out)
	}
	if rs := policy.ByOwner(e.KV, e.Addr("alice")); len(rs) != 1 {
		t.Fatalf("alice lists %d rules", len(rs))
	}
	e.OK("alice", &policy.MsgRuleAction{Action: policy.TypeDeleteRule, ID: 1})
	wantErr(t, e.Run("alice", &policy.MsgRuleAction{Action: policy.TypeResumeRule, ID: 1}), policy.ErrRuleNotFound)
	if rs := policy.ByOwner(e.KV, e.Addr("alice")); len(rs) != 0 {
		t.Fatalf("alice lists %d rules after the delete", len(rs))
	}
	if n := len(ofType(e.endBlock(opened), "policy_fired")); n != 0 {
		t.Fatal("a deleted rule fired")
	}
}

func TestBlockBudget(t *testing.T) {
	e := newEnv(t)
	alice := e.Addr("alice").String()
	if err := e.reg.Set(e.KV, policy.ParamBlockCostBudget, 1000); err != nil {
		t.Fatal(err)
	}
	e.OK("alice", &policy.MsgAddRule{Event: policy.EventRecordAdded,
		Action: policy.Action{Kind: policy.ActionNotify, To: consent.Org("org-a"), Topic: "new_record"}})
	var evs []sm.Event
	for range 25 {
		evs = append(evs, recordAdded(alice, "Observation"))
	}
	out := e.endBlock(evs...)
	fired := len(ofType(out, "policy_fired"))
	ex := ofType(out, "policy_budget_exhausted")
	if fired != 1000/policy.FiringCost || len(ex) != 1 || attr(ex[0], "skipped") != strconv.Itoa(25-fired) {
		t.Fatalf("%d firings, exhausted %v", fired, ex)
	}
}

func TestConditionFailureIsRecorded(t *testing.T) {
	e := newEnv(t)
	alice := e.Addr("alice").String()
	// attrs["lot"] is absent on a record_added: evaluation fails, recorded.
	e.OK("alice", &policy.MsgAddRule{Event: policy.EventRecordAdded, Condition: `attrs["lot"] == "x"`,
		Action: policy.Action{Kind: policy.ActionNotify, To: consent.Org("org-a"), Topic: "t"}})
	out := e.endBlock(recordAdded(alice, "Observation"))
	f := ofType(out, "policy_condition_failed")
	if len(f) != 1 || attr(f[0], "error") != "policy/7" || len(ofType(out, "policy_fired")) != 0 {
		t.Fatalf("events %v", out)
	}
}

func TestEncounters(t *testing.T) {
	e := newEnv(t)
	alice := e.Addr("alice")
	wantErr(t, e.Run("staffA", &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: alice}), policy.ErrNotCareProvider)
	wantErr(t, e.Run("doctorA", &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: e.Addr("techB")}), policy.ErrNotPatient)
	wantErr(t, e.Run("doctorA", &policy.MsgEncounter{Action: policy.TypeDischarge, Patient: alice}), policy.ErrNoEncounter)
	e.OK("doctorA", &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: alice})
	e.OK("techB", &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: alice})
	if got := cond.EncounterOrgs(e.KV, alice); !slices.Equal(got, []string{"org-a", "org-b"}) {
		t.Fatalf("encounters %v", got)
	}
	// A consent "only while I am admitted at org-a" follows them.
	e.OK("alice", &consent.MsgGrant{Patient: alice, Grantee: consent.Org("org-a"), Actions: consent.ActRead,
		Purpose: consent.PurposeTreatment, Condition: `"org-a" in encounter_orgs`})
	obs := consent.Target{Patient: alice, Type: "Observation"}
	if d := consent.MayRead(e.KV, e.Now.Unix(), e.Addr("doctorA"), obs); !d.Allowed {
		t.Fatalf("admitted: %v", d.Err)
	}
	e.OK("adminA", &policy.MsgEncounter{Action: policy.TypeDischarge, Patient: alice})
	if got := cond.EncounterOrgs(e.KV, alice); !slices.Equal(got, []string{"org-b"}) {
		t.Fatalf("encounters %v", got)
	}
	wantErr(t, consent.MayRead(e.KV, e.Now.Unix(), e.Addr("doctorA"), obs).Err, consent.ErrConditionRefused)
}

// TestFeePerFiring: with policy.fee_per_firing set, each firing takes the
// fee from the owner's balance into the fee pool (the supply is unchanged);
// when the owner cannot pay, the rule is paused with the reason recorded —
// no firing, no action, no crash — and a resume by the owner clears it.
func TestFeePerFiring(t *testing.T) {
	e := newEnv(t)
	alice := e.Addr("alice").String()
	e.OK("alice", &policy.MsgAddRule{Event: policy.EventRecordAdded, Condition: `attrs["type"] == "Observation"`,
		Action: policy.Action{Kind: policy.ActionNotify, To: consent.Org("org-a"), Topic: "new_record"}})
	// Free by default: no fee attribute, the balance untouched.
	out := e.endBlock(recordAdded(alice, "Observation"))
	if f := ofType(out, "policy_fired"); len(f) != 1 || attr(f[0], "fee") != "" || accounts.GetAccount(e.KV, e.Addr("alice")).Balance != 250 {
		t.Fatalf("free firing: %v", out)
	}
	if err := e.reg.Set(e.KV, policy.ParamFeePerFiring, 100); err != nil {
		t.Fatal(err)
	}
	total := func() uint64 { return accounts.GetAccount(e.KV, e.Addr("alice")).Balance + accounts.FeePool(e.KV) }
	before := total()
	// Three matches, one non-match: 250 pays two firings; the third pauses
	// the rule; the non-matching event costs nothing.
	out = e.endBlock(recordAdded(alice, "Observation"), recordAdded(alice, "Condition"), recordAdded(alice, "Observation"), recordAdded(alice, "Observation"))
	fired := ofType(out, "policy_fired")
	if len(fired) != 2 || attr(fired[0], "fee") != "100" || len(ofType(out, "policy_notification")) != 2 {
		t.Fatalf("paid firings: %v", out)
	}
	paused := ofType(out, "policy_rule_paused")
	if len(paused) != 1 || attr(paused[0], "reason") != policy.PauseFeeUnpaid || attr(paused[0], "cause_index") != "3" || attr(paused[0], "error") == "" {
		t.Fatalf("pause: %v", out)
	}
	if b := accounts.GetAccount(e.KV, e.Addr("alice")).Balance; b != 50 || accounts.FeePool(e.KV) != 200 || total() != before {
		t.Fatalf("balance %d, fee pool %d: tokens moved wrongly", b, accounts.FeePool(e.KV))
	}
	r := policy.GetRule(e.KV, 1)
	if !r.Paused || r.PauseReason != policy.PauseFeeUnpaid || r.Fired != 3 {
		t.Fatalf("rule %+v", r)
	}
	// Stored and decoded with its reason; a paused rule fires no more.
	if got, err := policy.DecodeRule(codec.Marshal(r)); err != nil || got.PauseReason != policy.PauseFeeUnpaid {
		t.Fatalf("decode: %+v %v", got, err)
	}
	if n := len(ofType(e.endBlock(recordAdded(alice, "Observation")), "policy_fired")); n != 0 {
		t.Fatalf("a rule paused for its fee fired %d times", n)
	}
	// The owner resumes it: the reason is cleared (and encoded as absent);
	// still unable to pay, it is paused again at the next match.
	e.OK("alice", &policy.MsgRuleAction{Action: policy.TypeResumeRule, ID: 1})
	r = policy.GetRule(e.KV, 1)
	if r.Paused || r.PauseReason != "" {
		t.Fatalf("resumed %+v", r)
	}
	if out := e.endBlock(recordAdded(alice, "Observation")); len(ofType(out, "policy_rule_paused")) != 1 || len(ofType(out, "policy_fired")) != 0 {
		t.Fatalf("after resume without funds: %v", out)
	}
}

// TestRuleEncodingWithoutPauseReason: a rule without a pause reason keeps
// the bytes rules had before the field existed; an empty reason written
// explicitly is refused (it would re-encode differently).
func TestRuleEncodingWithoutPauseReason(t *testing.T) {
	r := &policy.Rule{ID: 7, Event: policy.EventRecordAdded, Action: policy.Action{Kind: policy.ActionReleaseEscrow}, Paused: true, Created: 5}
	plain := codec.Marshal(r)
	got, err := policy.DecodeRule(plain)
	if err != nil || got.PauseReason != "" || !bytes.Equal(codec.Marshal(got), plain) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	w := codec.NewWriter(64)
	r.Encode(w)
	w.String("")
	if _, err := policy.DecodeRule(w.Bytes()); err == nil {
		t.Fatal("an explicit empty pause reason decoded")
	}
}
