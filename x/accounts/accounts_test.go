package accounts_test

import (
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
)

func key(name string) *crypto.PrivKey { return smtest.Key("accounts-test", name) }

var blockTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// env is a store with the genesis below, and a way to run messages as the
// ABCI adapter does: decode the canonical bytes, validate, execute in a cache
// that is written only on success.
type env struct {
	t      *testing.T
	kv     *store.Memory
	routes map[string]sm.Route
	events *sm.Events
}

const (
	orgA = "org-a"
	orgB = "org-b"
)

func genesis() accounts.Genesis {
	member := func(name, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "member", Org: org, Role: role}
	}
	return accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: orgA, Name: "Hospital A", Type: "hospital"},
			{ID: orgB, Name: "Lab B", Type: "lab"},
		},
		Accounts: []accounts.GenesisAccount{
			member("adminA", orgA, accounts.RoleAdmin),
			member("doctorA", orgA, accounts.RolePractitioner),
			member("adminB", orgB, accounts.RoleAdmin),
			member("techB", orgB, accounts.RoleStaff),
			{PubKey: key("alice").PubKey(), EncKey: key("alice").EncKey(), Kind: "patient", Balance: 100},
			{PubKey: key("bob").PubKey(), EncKey: key("bob").EncKey(), Kind: "patient"},
		},
	}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, kv: store.NewMemory(), routes: map[string]sm.Route{}, events: &sm.Events{}}
	for _, rt := range (accounts.Module{}).Routes() {
		e.routes[rt.Type] = rt
	}
	raw, err := json.Marshal(genesis())
	if err != nil {
		t.Fatal(err)
	}
	if err := (accounts.Module{}).InitGenesis(e.ctx(nil), raw); err != nil {
		t.Fatalf("InitGenesis: %v", err)
	}
	e.events = &sm.Events{} // tests look at the events of their own messages
	return e
}

func (e *env) ctx(signer *crypto.PrivKey) sm.Context {
	c := sm.Context{ChainID: "test", Height: 2, Time: blockTime, Store: e.kv, Events: e.events, Valset: &sm.ValidatorUpdates{}}
	if signer != nil {
		c.Signer, c.Key = signer.Address(), signer.PubKey()
	}
	return c
}

// run executes msg signed by signer and reports its error; state changes
// only when it succeeds.
func (e *env) run(signer *crypto.PrivKey, msg sm.Msg) error {
	e.t.Helper()
	rt, ok := e.routes[msg.Type()]
	if !ok {
		e.t.Fatalf("no route %s", msg.Type())
	}
	return smtest.Exec(rt, e.ctx(signer), msg)
}

func (e *env) account(name string) *accounts.Account {
	return accounts.GetAccount(e.kv, key(name).Address())
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

func TestErrorCodesAreStable(t *testing.T) {
	want := []struct {
		err  *sm.Error
		code uint32
	}{
		{accounts.ErrExists, 1}, {accounts.ErrNotFound, 2}, {accounts.ErrNotAdmin, 3}, {accounts.ErrWrongOrg, 4},
		{accounts.ErrNotPatient, 5}, {accounts.ErrBadRole, 6}, {accounts.ErrOrgNotFound, 7}, {accounts.ErrOrgExists, 8},
		{accounts.ErrBadOrg, 9}, {accounts.ErrSelf, 10}, {accounts.ErrNoDelegation, 11}, {accounts.ErrDelegationSet, 12},
		{accounts.ErrInactiveAcct, 13},
	}
	for _, w := range want {
		if w.err.Codespace != accounts.Codespace || w.err.Code != w.code {
			t.Errorf("%q = %s/%d, want accounts/%d", w.err.Desc, w.err.Codespace, w.err.Code, w.code)
		}
	}
}

func TestGenesis(t *testing.T) {
	e := newEnv(t)
	if got := len(accounts.Orgs(e.kv)); got != 2 {
		t.Fatalf("%d orgs, want 2", got)
	}
	o := accounts.GetOrg(e.kv, orgA)
	if o == nil || !o.Active || o.Type != "hospital" || o.Joined != blockTime.Unix() {
		t.Fatalf("org A = %+v", o)
	}
	admin := e.account("adminA")
	if admin == nil || admin.Kind != accounts.KindMember || admin.Org != orgA || admin.Role != accounts.RoleAdmin || !admin.Active || admin.Sequence != 0 {
		t.Fatalf("adminA = %+v", admin)
	}
	if alice := e.account("alice"); alice == nil || alice.Kind != accounts.KindPatient || alice.Balance != 100 || alice.Org != "" {
		t.Fatalf("alice = %+v", alice)
	}
	if got := accounts.Members(e.kv, orgA); len(got) != 2 {
		t.Fatalf("members of A = %v", got)
	}
	if accounts.AdminOrg(e.kv, key("adminA").Address()).ID != orgA {
		t.Fatal("adminA is not admin of org A")
	}
	if accounts.AdminOrg(e.kv, key("doctorA").Address()) != nil {
		t.Fatal("a practitioner is an admin")
	}
	if accounts.AdminOrg(e.kv, key("alice").Address()) != nil {
		t.Fatal("a patient is an admin")
	}
}

func TestGenesisRejects(t *testing.T) {
	mod := func(f func(g *accounts.Genesis)) json.RawMessage {
		g := genesis()
		f(&g)
		b, _ := json.Marshal(g)
		return b
	}
	tests := []struct {
		name    string
		raw     json.RawMessage
		wantSub string
	}{
		{"bad json", json.RawMessage(`{"orgs": 5}`), "accounts genesis"},
		{"duplicate org", mod(func(g *accounts.Genesis) { g.Orgs = append(g.Orgs, g.Orgs[0]) }), "duplicate org"},
		{"bad org id", mod(func(g *accounts.Genesis) { g.Orgs[0].ID = "Org A" }), "org"},
		{"bad org type", mod(func(g *accounts.Genesis) { g.Orgs[0].Type = "castle" }), "org"},
		{"member of unknown org", mod(func(g *accounts.Genesis) { g.Accounts[0].Org = "nowhere" }), "unknown org"},
		{"bad role", mod(func(g *accounts.Genesis) { g.Accounts[0].Role = "king" }), "bad role"},
		{"bad kind", mod(func(g *accounts.Genesis) { g.Accounts[4].Kind = "robot" }), "kind"},
		{"duplicate account", mod(func(g *accounts.Genesis) { g.Accounts = append(g.Accounts, g.Accounts[4]) }), "duplicate account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := sm.Context{Time: blockTime, Store: store.NewMemory(), Events: &sm.Events{}}
			err := (accounts.Module{}).InitGenesis(ctx, tt.raw)
			if err == nil || !strings.Contains(err.Error(), tt.wantSub) {
				t.Fatalf("InitGenesis = %v, want an error containing %q", err, tt.wantSub)
			}
		})
	}
	// An empty genesis is valid.
	if err := (accounts.Module{}).InitGenesis(sm.Context{Store: store.NewMemory()}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterPatient(t *testing.T) {
	e := newEnv(t)
	carol := key("carol")
	wantErr(t, e.run(carol, &accounts.MsgRegisterPatient{}), sm.ErrInvalidMsg) // zero encryption key
	wantErr(t, e.run(carol, &accounts.MsgRegisterPatient{EncKey: carol.EncKey()}), nil)
	a := e.account("carol")
	if a == nil || a.Kind != accounts.KindPatient || !a.Active || a.Sequence != 1 || a.PubKey != carol.PubKey() || a.EncKey != carol.EncKey() || a.Created != blockTime.Unix() {
		t.Fatalf("carol = %+v", a)
	}
	wantErr(t, e.run(carol, &accounts.MsgRegisterPatient{EncKey: carol.EncKey()}), accounts.ErrExists)
	wantErr(t, e.run(key("doctorA"), &accounts.MsgRegisterPatient{EncKey: carol.EncKey()}), accounts.ErrExists)
	if got := e.events.List(); len(got) != 1 || got[0].Type != "account_registered" {
		t.Fatalf("events = %+v", got)
	}
}

func TestRegisterMember(t *testing.T) {
	nurse := key("nurse")
	msg := func(role string) *accounts.MsgRegisterMember {
		return &accounts.MsgRegisterMember{PubKey: nurse.PubKey(), EncKey: nurse.EncKey(), Role: role}
	}
	tests := []struct {
		name    string
		signer  string
		msg     *accounts.MsgRegisterMember
		wantErr *sm.Error
		wantOrg string
	}{
		{"admin of A", "adminA", msg(accounts.RolePractitioner), nil, orgA},
		{"admin of B registers into B", "adminB", msg(accounts.RoleResearcher), nil, orgB},
		{"practitioner", "doctorA", msg(accounts.RoleStaff), accounts.ErrNotAdmin, ""},
		{"staff", "techB", msg(accounts.RoleStaff), accounts.ErrNotAdmin, ""},
		{"patient", "alice", msg(accounts.RoleStaff), accounts.ErrNotAdmin, ""},
		{"no account", "stranger", msg(accounts.RoleStaff), accounts.ErrNotAdmin, ""},
		{"bad role", "adminA", msg("surgeon-general"), accounts.ErrBadRole, ""},
		{"zero public key", "adminA", &accounts.MsgRegisterMember{EncKey: nurse.EncKey(), Role: accounts.RoleStaff}, sm.ErrInvalidMsg, ""},
		{"zero encryption key", "adminA", &accounts.MsgRegisterMember{PubKey: nurse.PubKey(), Role: accounts.RoleStaff}, sm.ErrInvalidMsg, ""},
		{"existing account", "adminA", &accounts.MsgRegisterMember{PubKey: key("alice").PubKey(), EncKey: nurse.EncKey(), Role: accounts.RoleStaff}, accounts.ErrExists, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			wantErr(t, e.run(key(tt.signer), tt.msg), tt.wantErr)
			a := e.account("nurse")
			if tt.wantErr != nil {
				if a != nil {
					t.Fatal("failed registration created an account")
				}
				return
			}
			if a == nil || a.Org != tt.wantOrg || a.Role != tt.msg.Role || a.Kind != accounts.KindMember || !a.Active {
				t.Fatalf("nurse = %+v", a)
			}
			found := false
			for _, m := range accounts.Members(e.kv, tt.wantOrg) {
				found = found || m == nurse.Address()
			}
			if !found {
				t.Fatal("new member not listed in its org")
			}
		})
	}
}

func TestDeactivateMember(t *testing.T) {
	tests := []struct {
		name    string
		signer  string
		target  crypto.Address
		wantErr *sm.Error
	}{
		{"admin deactivates own practitioner", "adminA", key("doctorA").Address(), nil},
		{"admin of another org", "adminB", key("doctorA").Address(), accounts.ErrWrongOrg},
		{"practitioner", "doctorA", key("adminA").Address(), accounts.ErrNotAdmin},
		{"patient", "alice", key("doctorA").Address(), accounts.ErrNotAdmin},
		{"self", "adminA", key("adminA").Address(), accounts.ErrSelf},
		{"unknown target", "adminA", key("nobody").Address(), accounts.ErrNotFound},
		{"patient target", "adminA", key("alice").Address(), accounts.ErrWrongOrg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			before := collect(e.kv)
			wantErr(t, e.run(key(tt.signer), &accounts.MsgDeactivateMember{Address: tt.target}), tt.wantErr)
			if tt.wantErr != nil {
				if after := collect(e.kv); after != before {
					t.Fatal("a failed deactivation changed state")
				}
				return
			}
			a := accounts.GetAccount(e.kv, tt.target)
			if a.Active || accounts.CanSign(e.kv, a) {
				t.Fatalf("target still active: %+v", a)
			}
			if accounts.ActiveMember(e.kv, tt.target) != nil {
				t.Fatal("ActiveMember returns a deactivated account")
			}
			// Twice is an error.
			wantErr(t, e.run(key(tt.signer), &accounts.MsgDeactivateMember{Address: tt.target}), accounts.ErrInactiveAcct)
		})
	}
}

func TestDeactivatedAdminLosesPowers(t *testing.T) {
	e := newEnv(t)
	// A second admin of A deactivates the first.
	second := key("adminA2")
	wantErr(t, e.run(key("adminA"), &accounts.MsgRegisterMember{PubKey: second.PubKey(), EncKey: second.EncKey(), Role: accounts.RoleAdmin}), nil)
	wantErr(t, e.run(second, &accounts.MsgDeactivateMember{Address: key("adminA").Address()}), nil)
	if accounts.AdminOrg(e.kv, key("adminA").Address()) != nil {
		t.Fatal("deactivated admin still admin")
	}
	wantErr(t, e.run(key("adminA"), &accounts.MsgDeactivateMember{Address: key("doctorA").Address()}), accounts.ErrNotAdmin)
}

func TestInactiveOrgMembersCannotSign(t *testing.T) {
	e := newEnv(t)
	o := accounts.GetOrg(e.kv, orgB)
	o.Active = false
	accounts.PutOrg(e.kv, o)
	if accounts.CanSign(e.kv, e.account("techB")) || accounts.CanSign(e.kv, e.account("adminB")) {
		t.Fatal("members of an inactive org can sign")
	}
	if !accounts.CanSign(e.kv, e.account("adminA")) || !accounts.CanSign(e.kv, e.account("alice")) {
		t.Fatal("unrelated accounts lost the right to sign")
	}
	if got := accounts.ActiveOrgs(e.kv); len(got) != 1 || got[0].ID != orgA {
		t.Fatalf("ActiveOrgs = %v", got)
	}
	wantErr(t, e.run(key("adminB"), &accounts.MsgDeactivateMember{Address: key("techB").Address()}), accounts.ErrNotAdmin)
	// A patient cannot name a member of an inactive org as guardian.
	wantErr(t, e.run(key("alice"), &accounts.MsgSetGuardian{Guardian: key("techB").Address()}), accounts.ErrInactiveAcct)
}

func TestGuardians(t *testing.T) {
	e := newEnv(t)
	alice, bob, doc := key("alice").Address(), key("bob").Address(), key("doctorA").Address()
	if !accounts.CanActFor(e.kv, alice, alice) {
		t.Fatal("a patient cannot act for themselves")
	}
	if accounts.CanActFor(e.kv, bob, alice) {
		t.Fatal("bob acts for alice without a delegation")
	}
	if accounts.CanActFor(e.kv, doc, doc) {
		t.Fatal("CanActFor true for a non-patient subject")
	}

	wantErr(t, e.run(key("alice"), &accounts.MsgSetGuardian{Guardian: bob}), nil)
	if !accounts.IsGuardian(e.kv, alice, bob) || !accounts.CanActFor(e.kv, bob, alice) {
		t.Fatal("delegation not recorded")
	}
	if accounts.CanActFor(e.kv, alice, bob) {
		t.Fatal("delegation is not one-way")
	}
	wantErr(t, e.run(key("alice"), &accounts.MsgSetGuardian{Guardian: bob}), accounts.ErrDelegationSet)
	wantErr(t, e.run(key("alice"), &accounts.MsgSetGuardian{Guardian: alice}), accounts.ErrSelf)
	wantErr(t, e.run(key("alice"), &accounts.MsgSetGuardian{Guardian: key("ghost").Address()}), accounts.ErrNotFound)
	wantErr(t, e.run(key("doctorA"), &accounts.MsgSetGuardian{Guardian: bob}), accounts.ErrNotPatient)
	wantErr(t, e.run(key("alice"), &accounts.MsgSetGuardian{Guardian: doc}), nil)
	if got := accounts.Guardians(e.kv, alice); len(got) != 2 {
		t.Fatalf("Guardians = %v", got)
	}

	// A deactivated guardian can no longer act, though the delegation stays.
	wantErr(t, e.run(key("adminA"), &accounts.MsgDeactivateMember{Address: doc}), nil)
	if accounts.CanActFor(e.kv, doc, alice) {
		t.Fatal("deactivated guardian can act")
	}
	wantErr(t, e.run(key("bob"), &accounts.MsgSetGuardian{Guardian: doc}), accounts.ErrInactiveAcct)

	wantErr(t, e.run(key("alice"), &accounts.MsgRevokeGuardian{Guardian: bob}), nil)
	if accounts.IsGuardian(e.kv, alice, bob) || accounts.CanActFor(e.kv, bob, alice) {
		t.Fatal("revoked delegation still effective")
	}
	wantErr(t, e.run(key("alice"), &accounts.MsgRevokeGuardian{Guardian: bob}), accounts.ErrNoDelegation)
	wantErr(t, e.run(key("bob"), &accounts.MsgRevokeGuardian{Guardian: doc}), accounts.ErrNoDelegation)
	wantErr(t, e.run(key("adminA"), &accounts.MsgRevokeGuardian{Guardian: doc}), accounts.ErrNotPatient)
	if got := accounts.Guardians(e.kv, alice); len(got) != 1 || got[0] != doc {
		t.Fatalf("Guardians after revoke = %v", got)
	}
}

func TestChargeFee(t *testing.T) {
	e := newEnv(t)
	alice := e.account("alice")
	wantErr(t, accounts.ChargeFee(e.kv, alice, 0), nil)
	wantErr(t, accounts.ChargeFee(e.kv, alice, 30), nil)
	wantErr(t, accounts.ChargeFee(e.kv, alice, 70), nil)
	if alice.Balance != 0 || accounts.FeePool(e.kv) != 100 {
		t.Fatalf("balance %d pool %d", alice.Balance, accounts.FeePool(e.kv))
	}
	wantErr(t, accounts.ChargeFee(e.kv, alice, 1), sm.ErrFunds)
	if alice.Balance != 0 || accounts.FeePool(e.kv) != 100 {
		t.Fatal("a failed charge moved funds")
	}
}

func TestAccountAndOrgEncoding(t *testing.T) {
	a := &accounts.Account{
		Address: key("x").Address(), PubKey: key("x").PubKey(), EncKey: key("x").EncKey(),
		Kind: accounts.KindMember, Org: orgA, Role: accounts.RoleStaff, Active: true,
		Sequence: 1 << 40, Balance: 12345, Created: blockTime.Unix(),
	}
	got, err := accounts.DecodeAccount(codec.Marshal(a))
	if err != nil || *got != *a {
		t.Fatalf("account round trip: %+v, %v", got, err)
	}
	o := &accounts.Org{ID: orgA, Name: "A", Type: "clinic", Active: true, Joined: 99, EncKey: key("o").EncKey()}
	gotO, err := accounts.DecodeOrg(codec.Marshal(o))
	if err != nil || *gotO != *o {
		t.Fatalf("org round trip: %+v, %v", gotO, err)
	}
	if _, err := accounts.DecodeAccount(append(codec.Marshal(a), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	if k := accounts.Kind(9).String(); k != "unknown" {
		t.Fatalf("Kind(9) = %s", k)
	}
}

func TestValidateOrg(t *testing.T) {
	tests := []struct {
		org  accounts.Org
		want *sm.Error
	}{
		{accounts.Org{ID: "ok-1", Name: "N", Type: "lab"}, nil},
		{accounts.Org{ID: "x", Name: "N", Type: "lab"}, accounts.ErrBadOrg},
		{accounts.Org{ID: strings.Repeat("a", accounts.MaxIDLen+1), Name: "N", Type: "lab"}, accounts.ErrBadOrg},
		{accounts.Org{ID: "UPPER", Name: "N", Type: "lab"}, accounts.ErrBadOrg},
		{accounts.Org{ID: "sp ace", Name: "N", Type: "lab"}, accounts.ErrBadOrg},
		{accounts.Org{ID: "ok-1", Name: "", Type: "lab"}, accounts.ErrBadOrg},
		{accounts.Org{ID: "ok-1", Name: strings.Repeat("n", accounts.MaxNameLen+1), Type: "lab"}, accounts.ErrBadOrg},
		{accounts.Org{ID: "ok-1", Name: "N", Type: "bakery"}, accounts.ErrBadOrg},
	}
	for _, tt := range tests {
		wantErr(t, tt.org.ValidateBasic(), tt.want)
	}
}

func collect(kv store.Reader) string {
	var b strings.Builder
	kv.Iterate(nil, nil, func(k, v []byte) bool {
		b.Write(k)
		b.WriteByte('=')
		b.Write(v)
		b.WriteByte(';')
		return true
	})
	return b.String()
}

// seedMsgs are valid messages of every route, the fuzz seeds.
func seedMsgs() []sm.Msg {
	k := key("seed")
	return []sm.Msg{
		&accounts.MsgRegisterPatient{EncKey: k.EncKey()},
		&accounts.MsgRegisterMember{PubKey: k.PubKey(), EncKey: k.EncKey(), Role: accounts.RoleResearcher},
		&accounts.MsgDeactivateMember{Address: k.Address()},
		&accounts.MsgSetGuardian{Guardian: k.Address()},
		&accounts.MsgRevokeGuardian{Guardian: k.Address()},
		&accounts.MsgSetOrgKey{EncKey: k.EncKey()},
		accounts.NewRotateKeys("seed", k.Address(), k.PubKey(), key("seed-next")),
	}
}

func TestSeedsCoverEveryRoute(t *testing.T) {
	have := map[string]bool{}
	for _, m := range seedMsgs() {
		have[m.Type()] = true
	}
	for _, rt := range (accounts.Module{}).Routes() {
		if !have[rt.Type] {
			t.Errorf("route %s has no fuzz seed", rt.Type)
		}
		if rt.NewSigner != (rt.Type == accounts.TypeRegisterPatient) {
			t.Errorf("route %s: NewSigner = %v; only self-registration may come from a new key", rt.Type, rt.NewSigner)
		}
	}
}

// FuzzDecode runs every decoder of the module on the same bytes: message
// decoders (every route) and the stored-state decoders. None may panic, and
// whatever decodes must re-encode to exactly the input.
func FuzzDecode(f *testing.F) {
	for _, m := range seedMsgs() {
		f.Add(codec.Marshal(m))
	}
	f.Add(codec.Marshal(&accounts.Account{Kind: accounts.KindPatient, Active: true, Sequence: 3, Created: 1}))
	f.Add(codec.Marshal(&accounts.Org{ID: "org-a", Name: "A", Type: "lab", Active: true, EncKey: key("seed").EncKey()}))
	routes := (accounts.Module{}).Routes()
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, routes, b)
		smtest.FuzzCanonical(t, "account", b, accounts.DecodeAccount)
		smtest.FuzzCanonical(t, "org", b, accounts.DecodeOrg)
	})
}

func TestTakeFeePool(t *testing.T) {
	e := newEnv(t)
	if got := accounts.TakeFeePool(e.kv); got != 0 {
		t.Fatalf("empty pool gave %d", got)
	}
	alice := e.account("alice")
	wantErr(t, accounts.ChargeFee(e.kv, alice, 40), nil)
	if got := accounts.TakeFeePool(e.kv); got != 40 || accounts.FeePool(e.kv) != 0 {
		t.Fatalf("took %d, %d left", got, accounts.FeePool(e.kv))
	}
	if got := accounts.TakeFeePool(e.kv); got != 0 {
		t.Fatalf("took %d twice", got)
	}
}
