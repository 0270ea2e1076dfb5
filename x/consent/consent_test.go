package consent_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
)

func key(name string) *crypto.PrivKey { return smtest.Key("consent-test", name) }

func addr(name string) crypto.Address { return key(name).Address() }

var genesisTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Organizations: A (hospital) and B (lab) have gateway keys; C (clinic) has
// not set one yet.
const (
	orgA = "org-a"
	orgB = "org-b"
	orgC = "org-c"
)

// Accounts of the test state. gina is a patient account to whom alice
// delegated (a guardian); deb is a deactivated member of A.
const (
	alice   = "alice"
	bob     = "bob"
	gina    = "gina"
	adminA  = "adminA"
	doctorA = "doctorA"
	gwA     = "gatewayA"
	staffA  = "staffA"
	deb     = "deb"
	adminB  = "adminB"
	techB   = "techB"
	doctorC = "doctorC"
)

func genesis() accounts.Genesis {
	member := func(name, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "member", Org: org, Role: role}
	}
	patient := func(name string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "patient"}
	}
	return accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: orgA, Name: "Hospital A", Type: "hospital", EncKey: key("org:" + orgA).EncKey()},
			{ID: orgB, Name: "Lab B", Type: "lab", EncKey: key("org:" + orgB).EncKey()},
			{ID: orgC, Name: "Clinic C", Type: "clinic"},
		},
		Accounts: []accounts.GenesisAccount{
			member(adminA, orgA, accounts.RoleAdmin),
			member(doctorA, orgA, accounts.RolePractitioner),
			member(gwA, orgA, accounts.RoleGateway),
			member(staffA, orgA, accounts.RoleStaff),
			member(deb, orgA, accounts.RolePractitioner),
			member(adminB, orgB, accounts.RoleAdmin),
			member(techB, orgB, accounts.RolePractitioner),
			member(doctorC, orgC, accounts.RolePractitioner),
			patient(alice), patient(bob), patient(gina),
		},
	}
}

// env is an in-memory state with the genesis above, alice's delegation to
// gina and deb deactivated, and a way to run messages as the ABCI adapter
// does: decode the canonical bytes, validate, execute in a cache written
// only on success.
type env struct {
	t      testing.TB
	kv     *store.Memory
	now    time.Time
	mod    *consent.Module
	routes map[string]sm.Route
	events *sm.Events
}

func newEnv(t testing.TB) *env {
	t.Helper()
	reg := params.NewRegistry(consent.ParamDefs...)
	e := &env{t: t, kv: store.NewMemory(), now: genesisTime, mod: &consent.Module{Params: reg}, routes: map[string]sm.Route{}, events: &sm.Events{}}
	for _, rt := range append((accounts.Module{}).Routes(), e.mod.Routes()...) {
		e.routes[rt.Type] = rt
	}
	raw, err := json.Marshal(genesis())
	if err != nil {
		t.Fatal(err)
	}
	if err := (accounts.Module{}).InitGenesis(e.ctx(nil), raw); err != nil {
		t.Fatalf("InitGenesis: %v", err)
	}
	e.ok(alice, &accounts.MsgSetGuardian{Guardian: addr(gina)})
	e.ok(adminA, &accounts.MsgDeactivateMember{Address: addr(deb)})
	e.events = &sm.Events{} // tests look at the events of their own messages
	return e
}

func (e *env) ctx(signer *crypto.PrivKey) sm.Context {
	c := sm.Context{ChainID: "test", Height: 2, Time: e.now, Store: e.kv, Events: e.events, Valset: &sm.ValidatorUpdates{}}
	if signer != nil {
		c.Signer, c.Key = signer.Address(), signer.PubKey()
	}
	return c
}

// run executes msg signed by the named key and reports its error.
func (e *env) run(signer string, msg sm.Msg) error {
	e.t.Helper()
	rt, ok := e.routes[msg.Type()]
	if !ok {
		e.t.Fatalf("no route %s", msg.Type())
	}
	return smtest.Exec(rt, e.ctx(key(signer)), msg)
}

func (e *env) ok(signer string, msg sm.Msg) {
	e.t.Helper()
	if err := e.run(signer, msg); err != nil {
		e.t.Fatalf("%s by %s: %v", msg.Type(), signer, err)
	}
}

func (e *env) unix() int64 { return e.now.Unix() }

// grant runs a grant by the patient and returns the new consent's id.
func (e *env) grant(patient string, m consent.MsgGrant) uint64 {
	e.t.Helper()
	m.Patient = addr(patient)
	if m.Purpose == "" {
		m.Purpose = consent.PurposeTreatment
	}
	e.ok(patient, &m)
	evs := e.events.List()
	last := evs[len(evs)-1]
	if last.Type != "consent_granted" {
		e.t.Fatalf("last event %s", last.Type)
	}
	return attrUint(e.t, last, "id")
}

func attr(ev sm.Event, k string) string {
	for _, a := range ev.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

func attrUint(t testing.TB, ev sm.Event, k string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(attr(ev, k), 10, 64)
	if err != nil {
		t.Fatalf("event %s: %s: %v", ev.Type, k, err)
	}
	return v
}

func wantErr(t testing.TB, got error, want *sm.Error) {
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

func rid(b byte) consent.RecordID {
	var id consent.RecordID
	for i := range id {
		id[i] = b
	}
	return id
}

func TestErrorCodesAreStable(t *testing.T) {
	want := []*sm.Error{
		consent.ErrNotPatientOrGuardian, consent.ErrBadGrantee, consent.ErrBadScope, consent.ErrBadPurpose,
		consent.ErrBadActions, consent.ErrBadPeriod, consent.ErrNotFound, consent.ErrRevoked, consent.ErrNoCustodian,
		consent.ErrNotPractitioner, consent.ErrNoEmergency, consent.ErrEmergencyReviewed, consent.ErrNotReviewer,
		consent.ErrBadReason, consent.ErrNotPatient, consent.ErrEmergencyOpen, consent.ErrNoConsent,
		consent.ErrConsentExpired, consent.ErrConsentRevoked, consent.ErrBadReasonCode, consent.ErrBadReviewOutcome,
		consent.ErrOutsideCustody, consent.ErrPeriodTooLong,
	}
	for i, e := range want {
		if e.Codespace != consent.Codespace || e.Code != uint32(i+1) {
			t.Errorf("%q = %s/%d, want consent/%d", e.Desc, e.Codespace, e.Code, i+1)
		}
	}
}

func TestGrantValidateBasic(t *testing.T) {
	valid := func() consent.MsgGrant {
		return consent.MsgGrant{Patient: addr(alice), Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead,
			Types: []string{"Condition", "Observation"}, Purpose: consent.PurposeTreatment}
	}
	tests := []struct {
		name string
		edit func(m *consent.MsgGrant)
		want *sm.Error
	}{
		{"read two types", func(*consent.MsgGrant) {}, nil},
		{"all records, read and write, with an end", func(m *consent.MsgGrant) {
			m.Types, m.Actions, m.Until = nil, consent.ActRead|consent.ActWrite, 1
		}, nil},
		{"listed records", func(m *consent.MsgGrant) { m.Types, m.Records = nil, []consent.RecordID{rid(1), rid(2)} }, nil},
		{"to an organization", func(m *consent.MsgGrant) { m.Grantee = consent.Org(orgB) }, nil},
		{"emergency custody: read to an organization", func(m *consent.MsgGrant) {
			m.Grantee, m.Purpose, m.Types = consent.Org(orgA), consent.PurposeEmergency, nil
		}, nil},
		{"every purpose but emergency to an account", func(m *consent.MsgGrant) { m.Purpose = consent.PurposeResearch }, nil},

		{"grantee is the patient", func(m *consent.MsgGrant) { m.Grantee = consent.Account(addr(alice)) }, consent.ErrBadGrantee},
		{"grantee org id invalid", func(m *consent.MsgGrant) { m.Grantee = consent.Org("Org A") }, consent.ErrBadGrantee},
		{"grantee org id too short", func(m *consent.MsgGrant) { m.Grantee = consent.Org("a") }, consent.ErrBadGrantee},
		{"grantee kind unknown", func(m *consent.MsgGrant) { m.Grantee = consent.Party{Kind: 3} }, consent.ErrBadGrantee},
		{"no actions", func(m *consent.MsgGrant) { m.Actions = 0 }, consent.ErrBadActions},
		{"unknown action bit", func(m *consent.MsgGrant) { m.Actions = 4 }, consent.ErrBadActions},
		{"read plus unknown bit", func(m *consent.MsgGrant) { m.Actions = consent.ActRead | 8 }, consent.ErrBadActions},
		{"no purpose", func(m *consent.MsgGrant) { m.Purpose = "" }, consent.ErrBadPurpose},
		{"unknown purpose", func(m *consent.MsgGrant) { m.Purpose = "marketing" }, consent.ErrBadPurpose},
		{"emergency to an account", func(m *consent.MsgGrant) { m.Purpose = consent.PurposeEmergency }, consent.ErrBadScope},
		{"emergency with write", func(m *consent.MsgGrant) {
			m.Grantee, m.Purpose, m.Actions = consent.Org(orgA), consent.PurposeEmergency, consent.ActRead|consent.ActWrite
		}, consent.ErrBadScope},
		{"emergency write only", func(m *consent.MsgGrant) {
			m.Grantee, m.Purpose, m.Actions = consent.Org(orgA), consent.PurposeEmergency, consent.ActWrite
		}, consent.ErrBadScope},
		{"types and records together", func(m *consent.MsgGrant) { m.Records = []consent.RecordID{rid(1)} }, consent.ErrBadScope},
		{"types unsorted", func(m *consent.MsgGrant) { m.Types = []string{"Observation", "Condition"} }, consent.ErrBadScope},
		{"types repeated", func(m *consent.MsgGrant) { m.Types = []string{"Condition", "Condition"} }, consent.ErrBadScope},
		{"type lower case", func(m *consent.MsgGrant) { m.Types = []string{"observation"} }, consent.ErrBadScope},
		{"type with a digit", func(m *consent.MsgGrant) { m.Types = []string{"Observation2"} }, consent.ErrBadScope},
		{"type empty", func(m *consent.MsgGrant) { m.Types = []string{""} }, consent.ErrBadScope},
		{"type too long", func(m *consent.MsgGrant) { m.Types = []string{"O" + strings.Repeat("b", consent.MaxTypeLen)} }, consent.ErrBadScope},
		{"records unsorted", func(m *consent.MsgGrant) { m.Types, m.Records = nil, []consent.RecordID{rid(2), rid(1)} }, consent.ErrBadScope},
		{"records repeated", func(m *consent.MsgGrant) { m.Types, m.Records = nil, []consent.RecordID{rid(1), rid(1)} }, consent.ErrBadScope},
		{"negative end", func(m *consent.MsgGrant) { m.Until = -1 }, consent.ErrBadPeriod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid()
			tt.edit(&m)
			wantErr(t, m.ValidateBasic(), tt.want)
		})
	}
}

// TestReasonValidateBasic: emergency reasons and reviews are codes; free
// text (clinical narrative is health data) never reaches the chain.
func TestReasonValidateBasic(t *testing.T) {
	t.Run("every code", func(t *testing.T) {
		for _, r := range consent.EmergencyReasons {
			wantErr(t, (&consent.MsgOpenEmergency{Patient: addr(alice), Reason: r}).ValidateBasic(), nil)
		}
		for _, o := range consent.ReviewOutcomes {
			wantErr(t, (&consent.MsgReviewEmergency{ID: 1, Review: o}).ValidateBasic(), nil)
		}
	})
	tests := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"unknown code", "urgent"},
		{"code with different case", "Life_Threatening"},
		{"code with space", " other"},
		{"free text", "unconscious, anaphylaxis suspected"},
		{"code then free text", "justified: anaphylaxis suspected"},
		{"too long", strings.Repeat("x", consent.MaxReasonLen+1)},
		{"not UTF-8", "\xff\xfe"},
		{"a code of the other list", "justified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, (&consent.MsgOpenEmergency{Patient: addr(alice), Reason: tt.text}).ValidateBasic(), consent.ErrBadReasonCode)
			review := tt.text
			if tt.name == "a code of the other list" {
				review = consent.EmergencyReasons[0]
			}
			wantErr(t, (&consent.MsgReviewEmergency{ID: 1, Review: review}).ValidateBasic(), consent.ErrBadReviewOutcome)
		})
	}
	t.Run("error does not echo the text", func(t *testing.T) {
		const text = "unconscious, anaphylaxis suspected"
		if err := (&consent.MsgOpenEmergency{Patient: addr(alice), Reason: text}).ValidateBasic(); err == nil || strings.Contains(err.Error(), "anaphylaxis") {
			t.Errorf("error %v echoes the rejected text", err)
		}
	})
}

func TestCoversActiveAtStatus(t *testing.T) {
	const start, until = 1000, 2000
	base := consent.Consent{ID: 1, Actions: consent.ActRead, Start: start, Until: until}
	t.Run("covers", func(t *testing.T) {
		tests := []struct {
			name    string
			types   []string
			records []consent.RecordID
			id      consent.RecordID
			typ     string
			want    bool
		}{
			{"all records cover any type", nil, nil, rid(9), "Observation", true},
			{"type listed", []string{"Condition", "Observation"}, nil, rid(9), "Observation", true},
			{"type not listed", []string{"Condition", "Observation"}, nil, rid(9), "Immunization", false},
			{"type match is exact", []string{"Observation"}, nil, rid(9), "observation", false},
			{"record listed", nil, []consent.RecordID{rid(1), rid(9)}, rid(9), "Observation", true},
			{"record not listed", nil, []consent.RecordID{rid(1), rid(2)}, rid(9), "Observation", false},
		}
		for _, tt := range tests {
			c := base
			c.Types, c.Records = tt.types, tt.records
			if got := c.Covers(tt.id, tt.typ); got != tt.want {
				t.Errorf("%s: Covers = %v, want %v", tt.name, got, tt.want)
			}
		}
	})
	t.Run("active and status", func(t *testing.T) {
		tests := []struct {
			name    string
			until   int64
			revoked int64
			now     int64
			active  bool
			status  string
		}{
			{"before start", until, 0, start - 1, false, "pending"},
			{"at start", until, 0, start, true, "active"},
			{"last second", until, 0, until - 1, true, "active"},
			{"at the end", until, 0, until, false, "expired"},
			{"after the end", until, 0, until + 100, false, "expired"},
			{"no end, much later", 0, 0, 1 << 40, true, "active"},
			{"revoked, before its end", until, start + 10, start + 20, false, "revoked"},
			{"revoked wins over expired", until, start + 10, until + 10, false, "revoked"},
			// Revocation takes effect in the state written by its block:
			// the consent is not active at any time once Revoked is set.
			{"revoked, asked about an earlier time", until, start + 10, start + 5, false, "revoked"},
		}
		for _, tt := range tests {
			c := base
			c.Until, c.Revoked = tt.until, tt.revoked
			if got := c.ActiveAt(tt.now); got != tt.active {
				t.Errorf("%s: ActiveAt = %v, want %v", tt.name, got, tt.active)
			}
			if got := c.Status(tt.now); got != tt.status {
				t.Errorf("%s: Status = %q, want %q", tt.name, got, tt.status)
			}
		}
	})
	t.Run("emergency open", func(t *testing.T) {
		e := consent.Emergency{Opened: 100, Expires: 200}
		for _, tt := range []struct {
			now      int64
			reviewed int64
			want     bool
		}{{99, 0, false}, {100, 0, true}, {199, 0, true}, {200, 0, false}, {150, 120, false}} {
			e.Reviewed = tt.reviewed
			if got := e.OpenAt(tt.now); got != tt.want {
				t.Errorf("OpenAt(%d) reviewed %d = %v, want %v", tt.now, tt.reviewed, got, tt.want)
			}
		}
	})
}

func TestValidResourceType(t *testing.T) {
	for s, want := range map[string]bool{
		"Observation": true, "DiagnosticReport": true, "A": true,
		"": false, "observation": false, "Observation1": false, "Obs-ervation": false, "Obsérvation": false,
		"O" + strings.Repeat("x", consent.MaxTypeLen-1): true, "O" + strings.Repeat("x", consent.MaxTypeLen): false,
	} {
		if got := consent.ValidResourceType(s); got != want {
			t.Errorf("ValidResourceType(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestGrant(t *testing.T) {
	read := func(g consent.Party) consent.MsgGrant {
		return consent.MsgGrant{Patient: addr(alice), Grantee: g, Actions: consent.ActRead, Purpose: consent.PurposeTreatment}
	}
	tests := []struct {
		name   string
		signer string
		msg    func() consent.MsgGrant
		setup  func(e *env)
		want   *sm.Error
	}{
		{"patient to a practitioner", alice, func() consent.MsgGrant { return read(consent.Account(addr(doctorA))) }, nil, nil},
		{"guardian for the patient", gina, func() consent.MsgGrant { return read(consent.Account(addr(doctorA))) }, nil, nil},
		{"patient to another patient (a carer)", alice, func() consent.MsgGrant { return read(consent.Account(addr(bob))) }, nil, nil},
		{"patient to an organization", alice, func() consent.MsgGrant { return read(consent.Org(orgB)) }, nil, nil},
		{"write only to an organization without a key", alice, func() consent.MsgGrant {
			m := read(consent.Org(orgC))
			m.Actions = consent.ActWrite
			return m
		}, nil, nil},

		{"another patient", bob, func() consent.MsgGrant { return read(consent.Account(addr(doctorA))) }, nil, consent.ErrNotPatientOrGuardian},
		{"the grantee itself", doctorA, func() consent.MsgGrant { return read(consent.Account(addr(doctorA))) }, nil, consent.ErrNotPatientOrGuardian},
		{"an admin", adminA, func() consent.MsgGrant { return read(consent.Account(addr(doctorA))) }, nil, consent.ErrNotPatientOrGuardian},
		{"patient is a member account", adminA, func() consent.MsgGrant {
			m := read(consent.Account(addr(doctorA)))
			m.Patient = addr(adminA)
			return m
		}, nil, consent.ErrNotPatient},
		{"patient unknown", alice, func() consent.MsgGrant {
			m := read(consent.Account(addr(doctorA)))
			m.Patient = addr("nobody")
			return m
		}, nil, consent.ErrNotPatient},
		{"grantee unknown", alice, func() consent.MsgGrant { return read(consent.Account(addr("nobody"))) }, nil, consent.ErrBadGrantee},
		{"grantee deactivated", alice, func() consent.MsgGrant { return read(consent.Account(addr(deb))) }, nil, consent.ErrBadGrantee},
		{"grantee org unknown", alice, func() consent.MsgGrant { return read(consent.Org("org-z")) }, nil, consent.ErrBadGrantee},
		{"grantee org left the consortium", alice, func() consent.MsgGrant { return read(consent.Org(orgB)) }, func(e *env) {
			o := accounts.GetOrg(e.kv, orgB)
			o.Active = false
			accounts.PutOrg(e.kv, o)
		}, consent.ErrBadGrantee},
		{"grantee member of an org that left", alice, func() consent.MsgGrant { return read(consent.Account(addr(techB))) }, func(e *env) {
			o := accounts.GetOrg(e.kv, orgB)
			o.Active = false
			accounts.PutOrg(e.kv, o)
		}, consent.ErrBadGrantee},
		{"read to an organization without a key", alice, func() consent.MsgGrant { return read(consent.Org(orgC)) }, nil, consent.ErrBadGrantee},
		{"custody with an organization without a key", alice, func() consent.MsgGrant {
			m := read(consent.Org(orgC))
			m.Purpose = consent.PurposeEmergency
			return m
		}, nil, consent.ErrBadGrantee},
		{"ends at the block time", alice, func() consent.MsgGrant {
			m := read(consent.Account(addr(doctorA)))
			m.Until = genesisTime.Unix()
			return m
		}, nil, consent.ErrBadPeriod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			m := tt.msg()
			before := e.kv.Len()
			err := e.run(tt.signer, &m)
			wantErr(t, err, tt.want)
			if tt.want != nil {
				if e.kv.Len() != before || e.events.Len() != 0 {
					t.Fatal("a refused grant changed state or emitted events")
				}
				return
			}
			c := consent.GetConsent(e.kv, 1)
			if c == nil || c.Patient != m.Patient || c.Grantor != addr(tt.signer) || c.Grantee != m.Grantee ||
				c.Start != e.unix() || c.Revoked != 0 || c.Status(e.unix()) != "active" {
				t.Fatalf("consent 1 = %+v", c)
			}
			if got := consent.Between(e.kv, m.Patient, m.Grantee); len(got) != 1 || got[0].ID != 1 {
				t.Fatalf("Between = %v", got)
			}
			if got := consent.ByGrantee(e.kv, m.Grantee); len(got) != 1 || got[0].ID != 1 {
				t.Fatalf("ByGrantee = %v", got)
			}
			ev := e.events.List()[0]
			if ev.Type != "consent_granted" || attr(ev, "id") != "1" || attr(ev, "patient") != m.Patient.String() ||
				attr(ev, "grantee") != m.Grantee.String() || attr(ev, "purpose") != m.Purpose {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

func TestConsentIDsAndIndexes(t *testing.T) {
	e := newEnv(t)
	ids := []uint64{
		e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead}),
		e.grant(bob, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead}),
		e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgB), Actions: consent.ActWrite}),
		e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActWrite, Types: []string{"Observation"}}),
	}
	if !slices.Equal(ids, []uint64{1, 2, 3, 4}) {
		t.Fatalf("ids %v", ids)
	}
	idsOf := func(cs []*consent.Consent) []uint64 {
		var out []uint64
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	// Grouped by grantee (accounts before organizations), in id order.
	if got := idsOf(consent.ByPatient(e.kv, addr(alice))); !slices.Equal(got, []uint64{1, 4, 3}) {
		t.Errorf("ByPatient(alice) = %v", got)
	}
	// Grouped by patient, in id order.
	wantDoctor := []uint64{1, 4, 2}
	if a, b := addr(alice), addr(bob); string(b[:]) < string(a[:]) {
		wantDoctor = []uint64{2, 1, 4}
	}
	if got := idsOf(consent.ByGrantee(e.kv, consent.Account(addr(doctorA)))); !slices.Equal(got, wantDoctor) {
		t.Errorf("ByGrantee(doctorA) = %v, want %v", got, wantDoctor)
	}
	if got := idsOf(consent.Between(e.kv, addr(alice), consent.Account(addr(doctorA)))); !slices.Equal(got, []uint64{1, 4}) {
		t.Errorf("Between(alice, doctorA) = %v", got)
	}
	if got := idsOf(consent.ByGrantee(e.kv, consent.Org(orgB))); !slices.Equal(got, []uint64{3}) {
		t.Errorf("ByGrantee(org B) = %v", got)
	}
	// An organization id that extends another's is a different grantee.
	if got := consent.ByGrantee(e.kv, consent.Org("org")); len(got) != 0 {
		t.Errorf("ByGrantee(org) = %v", idsOf(got))
	}
}

func TestRevoke(t *testing.T) {
	tests := []struct {
		name   string
		signer string
		id     uint64
		want   *sm.Error
	}{
		{"patient", alice, 1, nil},
		{"guardian", gina, 1, nil},
		{"grantee", doctorA, 1, consent.ErrNotPatientOrGuardian},
		{"another patient", bob, 1, consent.ErrNotPatientOrGuardian},
		{"unknown consent", alice, 9, consent.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead})
			e.now = e.now.Add(time.Minute)
			wantErr(t, e.run(tt.signer, &consent.MsgRevoke{ID: tt.id}), tt.want)
			c := consent.GetConsent(e.kv, id)
			if tt.want != nil {
				if c.Revoked != 0 {
					t.Fatal("refused revocation revoked")
				}
				return
			}
			if c.Revoked != e.unix() || c.Status(e.unix()) != "revoked" {
				t.Fatalf("consent %+v", c)
			}
			wantErr(t, e.run(alice, &consent.MsgRevoke{ID: id}), consent.ErrRevoked)
		})
	}
}

func TestMayReadAndWrite(t *testing.T) {
	e := newEnv(t)
	obs := consent.Target{Patient: addr(alice), Record: rid(1), Type: "Observation"}
	cond := consent.Target{Patient: addr(alice), Record: rid(2), Type: "Condition"}
	readObs := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead, Types: []string{"Observation"}})
	writeObs := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(techB)), Actions: consent.ActWrite, Types: []string{"Observation"}})
	orgRead := e.grant(bob, consent.MsgGrant{Grantee: consent.Org(orgB), Actions: consent.ActRead})
	listed := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(bob)), Actions: consent.ActRead, Records: []consent.RecordID{rid(2)}})
	now := e.unix()

	type want struct {
		allowed   bool
		basis     consent.Basis
		id        uint64
		recipient consent.Party
		err       *sm.Error
	}
	tests := []struct {
		name  string
		write bool
		who   string
		t     consent.Target
		want  want
	}{
		{"patient reads", false, alice, obs, want{true, consent.BasisPatient, 0, consent.Account(addr(alice)), nil}},
		{"patient writes", true, alice, cond, want{true, consent.BasisPatient, 0, consent.Account(addr(alice)), nil}},
		{"guardian reads", false, gina, obs, want{true, consent.BasisGuardian, 0, consent.Account(addr(gina)), nil}},
		{"guardian writes", true, gina, obs, want{true, consent.BasisGuardian, 0, consent.Account(addr(gina)), nil}},
		{"grantee reads a covered type", false, doctorA, obs, want{true, consent.BasisConsent, readObs, consent.Account(addr(doctorA)), nil}},
		{"grantee reads another type", false, doctorA, cond, want{false, "", 0, consent.Party{}, consent.ErrNoConsent}},
		{"read consent does not write", true, doctorA, obs, want{false, "", 0, consent.Party{}, consent.ErrNoConsent}},
		{"writer writes a covered type", true, techB, obs, want{true, consent.BasisConsent, writeObs, consent.Account(addr(techB)), nil}},
		{"write consent does not read", false, techB, obs, want{false, "", 0, consent.Party{}, consent.ErrNoConsent}},
		{"writer writes another type", true, techB, cond, want{false, "", 0, consent.Party{}, consent.ErrNoConsent}},
		{"colleague of the grantee", false, adminA, obs, want{false, "", 0, consent.Party{}, consent.ErrNoConsent}},
		{"listed record", false, bob, cond, want{true, consent.BasisConsent, listed, consent.Account(addr(bob)), nil}},
		{"record not listed", false, bob, obs, want{false, "", 0, consent.Party{}, consent.ErrNoConsent}},
		{"org member through org consent", false, techB, consent.Target{Patient: addr(bob), Record: rid(3), Type: "Observation"},
			want{true, consent.BasisOrg, orgRead, consent.Org(orgB), nil}},
		{"org admin through org consent", false, adminB, consent.Target{Patient: addr(bob), Record: rid(3), Type: "Immunization"},
			want{true, consent.BasisOrg, orgRead, consent.Org(orgB), nil}},
		{"other org", false, doctorA, consent.Target{Patient: addr(bob), Record: rid(3), Type: "Observation"},
			want{false, "", 0, consent.Party{}, consent.ErrNoConsent}},
		{"deactivated member", false, deb, obs, want{false, "", 0, consent.Party{}, consent.ErrNoConsent}},
		{"unknown reader", false, "nobody", obs, want{false, "", 0, consent.Party{}, consent.ErrNoConsent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := consent.MayRead
			if tt.write {
				f = consent.MayWrite
			}
			d := f(e.kv, now, addr(tt.who), tt.t)
			if d.Allowed != tt.want.allowed || d.Basis != tt.want.basis || d.ConsentID != tt.want.id || d.Recipient != tt.want.recipient {
				t.Fatalf("decision %+v, want %+v", d, tt.want)
			}
			if tt.want.allowed != (d.Err == nil) {
				t.Fatalf("allowed %v with error %v", d.Allowed, d.Err)
			}
			if tt.want.err != nil {
				wantErr(t, d.Err, tt.want.err)
			}
		})
	}
}

func TestRefusalTellsExpiredAndRevoked(t *testing.T) {
	e := newEnv(t)
	obs := consent.Target{Patient: addr(alice), Record: rid(1), Type: "Observation"}
	until := e.unix() + 60
	expiring := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead, Until: until})
	if d := consent.MayRead(e.kv, until-1, addr(doctorA), obs); !d.Allowed || d.ConsentID != expiring {
		t.Fatalf("before the end: %+v", d)
	}
	d := consent.MayRead(e.kv, until, addr(doctorA), obs)
	wantErr(t, d.Err, consent.ErrConsentExpired)

	revoked := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(techB)), Actions: consent.ActRead})
	e.ok(alice, &consent.MsgRevoke{ID: revoked})
	wantErr(t, consent.MayRead(e.kv, e.unix()+1, addr(techB), obs).Err, consent.ErrConsentRevoked)
	// A revoked consent for another type is not the reason.
	wantErr(t, consent.MayRead(e.kv, e.unix()+1, addr(doctorA), consent.Target{Patient: addr(bob), Type: "Observation"}).Err, consent.ErrNoConsent)

	// A new, active consent wins over the old refusals.
	again := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(techB)), Actions: consent.ActRead})
	if d := consent.MayRead(e.kv, e.unix(), addr(techB), obs); !d.Allowed || d.ConsentID != again {
		t.Fatalf("after a new grant: %+v", d)
	}
}

func TestKeyHolders(t *testing.T) {
	e := newEnv(t)
	obs := consent.Target{Patient: addr(alice), Record: rid(1), Type: "Observation"}
	parties := func(ps ...consent.Party) []consent.Party {
		slices.SortFunc(ps, func(a, b consent.Party) int { return strings.Compare(string(a.Key()), string(b.Key())) })
		return ps
	}
	check := func(now int64, want []consent.Party) {
		t.Helper()
		if got := consent.KeyHolders(e.kv, now, obs); !slices.Equal(got, want) {
			t.Fatalf("KeyHolders = %v, want %v", got, want)
		}
	}
	// The patient and the guardian only.
	check(e.unix(), parties(consent.Account(addr(alice)), consent.Account(addr(gina))))

	e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead, Types: []string{"Observation"}})
	e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(bob)), Actions: consent.ActRead, Types: []string{"Condition"}})
	e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(techB)), Actions: consent.ActWrite})
	e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
	e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgB), Actions: consent.ActRead | consent.ActWrite, Types: []string{"Observation"}})
	// A second consent to the same grantee adds no second key.
	e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead})
	until := e.unix() + 30
	e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(staffA)), Actions: consent.ActRead, Until: until})
	revoked := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(adminB)), Actions: consent.ActRead})
	e.ok(alice, &consent.MsgRevoke{ID: revoked})
	// Another patient's consents do not count.
	e.grant(bob, consent.MsgGrant{Grantee: consent.Account(addr(adminA)), Actions: consent.ActRead})

	base := []consent.Party{consent.Account(addr(alice)), consent.Account(addr(gina)), consent.Account(addr(doctorA)),
		consent.Org(orgA), consent.Org(orgB)}
	check(e.unix(), parties(append(slices.Clone(base), consent.Account(addr(staffA)))...))
	check(until, parties(base...))
	for i := 1; i < len(base); i++ {
		if got := consent.KeyHolders(e.kv, until, obs); string(got[i-1].Key()) >= string(got[i].Key()) {
			t.Fatalf("not sorted: %v", got)
		}
	}
}

func TestEmergency(t *testing.T) {
	setup := func(t *testing.T) (*env, uint64) {
		e := newEnv(t)
		custody := e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
		return e, custody
	}
	open := &consent.MsgOpenEmergency{Patient: addr(alice), Reason: "unable_to_consent"}

	t.Run("who may open", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			signer string
			msg    *consent.MsgOpenEmergency
			want   *sm.Error
		}{
			{"practitioner of the custodian", doctorA, open, nil},
			{"admin of the custodian", adminA, open, consent.ErrNotPractitioner},
			{"gateway of the custodian", gwA, open, consent.ErrNotPractitioner},
			{"staff of the custodian", staffA, open, consent.ErrNotPractitioner},
			{"the patient", alice, open, consent.ErrNotPractitioner},
			{"deactivated practitioner", deb, open, consent.ErrNotPractitioner},
			{"practitioner of another org", techB, open, consent.ErrNoCustodian},
			{"patient without custodian", doctorA, &consent.MsgOpenEmergency{Patient: addr(bob), Reason: "life_threatening"}, consent.ErrNoCustodian},
			{"not a patient", doctorA, &consent.MsgOpenEmergency{Patient: addr(adminB), Reason: "life_threatening"}, consent.ErrNotPatient},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e, _ := setup(t)
				wantErr(t, e.run(tt.signer, tt.msg), tt.want)
			})
		}
	})

	t.Run("session", func(t *testing.T) {
		e, custody := setup(t)
		e.ok(doctorA, open)
		secs := int64(e.mod.Params.Get(e.kv, consent.ParamEmergencySeconds))
		em := consent.GetEmergency(e.kv, 1)
		if em == nil || em.Practitioner != addr(doctorA) || em.Org != orgA || em.Opened != e.unix() || em.Expires != e.unix()+secs || em.Reason != open.Reason {
			t.Fatalf("emergency %+v", em)
		}
		ev := e.events.List()[len(e.events.List())-1]
		if ev.Type != "emergency_opened" || attrUint(t, ev, "expires") != uint64(em.Expires) || attr(ev, "org") != orgA {
			t.Fatalf("event %+v", ev)
		}
		wantErr(t, e.run(doctorA, open), consent.ErrEmergencyOpen)

		obs := consent.Target{Patient: addr(alice), Record: rid(1), Type: "Observation"}
		d := consent.MayRead(e.kv, e.unix()+1, addr(doctorA), obs)
		if !d.Allowed || d.Basis != consent.BasisEmergency || d.EmergencyID != 1 || d.ConsentID != custody || d.Recipient != consent.Org(orgA) {
			t.Fatalf("during the emergency: %+v", d)
		}
		// Only the practitioner who opened it, and only to read.
		if d := consent.MayRead(e.kv, e.unix()+1, addr(adminA), obs); d.Allowed {
			t.Fatalf("colleague: %+v", d)
		}
		if d := consent.MayWrite(e.kv, e.unix()+1, addr(doctorA), obs); d.Allowed {
			t.Fatalf("write during emergency: %+v", d)
		}
		if d := consent.MayRead(e.kv, em.Expires, addr(doctorA), obs); d.Allowed {
			t.Fatalf("after expiry: %+v", d)
		}
		// Custody alone never gives the organization's members access.
		if d := consent.MayRead(e.kv, e.unix(), addr(adminA), obs); d.Allowed {
			t.Fatalf("custody read: %+v", d)
		}

		e.now = e.now.Add(time.Minute)
		wantErr(t, e.run(adminB, &consent.MsgReviewEmergency{ID: 1, Review: "justified"}), consent.ErrNotReviewer)
		wantErr(t, e.run(doctorA, &consent.MsgReviewEmergency{ID: 1, Review: "justified"}), consent.ErrNotReviewer)
		wantErr(t, e.run(adminA, &consent.MsgReviewEmergency{ID: 2, Review: "justified"}), consent.ErrNoEmergency)
		e.ok(adminA, &consent.MsgReviewEmergency{ID: 1, Review: "justified"})
		em = consent.GetEmergency(e.kv, 1)
		if em.Reviewed != e.unix() || em.Reviewer != addr(adminA) || em.Review != "justified" {
			t.Fatalf("reviewed %+v", em)
		}
		if d := consent.MayRead(e.kv, e.unix(), addr(doctorA), obs); d.Allowed {
			t.Fatalf("after review: %+v", d)
		}
		wantErr(t, e.run(adminA, &consent.MsgReviewEmergency{ID: 1, Review: "unjustified"}), consent.ErrEmergencyReviewed)
		// Reviewed, a new session may be opened.
		e.ok(doctorA, open)
		if got := consent.EmergenciesOf(e.kv, addr(alice)); len(got) != 2 {
			t.Fatalf("EmergenciesOf = %d", len(got))
		}
		if got := consent.EmergenciesByOrg(e.kv, orgA); len(got) != 2 || got[1].ID != 2 {
			t.Fatalf("EmergenciesByOrg = %v", got)
		}
	})

	t.Run("custody revoked", func(t *testing.T) {
		e, custody := setup(t)
		e.ok(doctorA, open)
		e.ok(alice, &consent.MsgRevoke{ID: custody})
		if d := consent.MayRead(e.kv, e.unix(), addr(doctorA), consent.Target{Patient: addr(alice), Type: "Observation"}); d.Allowed {
			t.Fatalf("emergency without custody: %+v", d)
		}
		wantErr(t, e.run(doctorA, open), consent.ErrNoCustodian)
	})
}

func TestStoredEncodingsRoundTrip(t *testing.T) {
	c := &consent.Consent{ID: 7, Patient: addr(alice), Grantor: addr(gina), Grantee: consent.Org(orgB), Actions: 3,
		Types: []string{"Observation"}, Purpose: consent.PurposeResearch, Start: 10, Until: 20, Revoked: 15}
	got, err := consent.DecodeConsent(codec.Marshal(c))
	if err != nil || got.ID != c.ID || got.Grantee != c.Grantee || !slices.Equal(got.Types, c.Types) || got.Until != 20 || got.Revoked != 15 {
		t.Fatalf("consent: %+v, %v", got, err)
	}
	em := &consent.Emergency{ID: 3, Patient: addr(alice), Practitioner: addr(doctorA), Org: orgA, Reason: "other", Opened: 1, Expires: 2, Reviewed: 2, Reviewer: addr(adminA), Review: "justified"}
	gotE, err := consent.DecodeEmergency(codec.Marshal(em))
	if err != nil || *gotE != *em {
		t.Fatalf("emergency: %+v, %v", gotE, err)
	}
}
