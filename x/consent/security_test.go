package consent_test

import (
	"bytes"
	"encoding/binary"
	"maps"
	"slices"
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/consent"
)

// A patient who narrows emergency custody to allergies does not have a
// psychiatric note opened under an emergency.
func TestEmergencyHonoursCustodyScope(t *testing.T) {
	allergy := consent.Target{Patient: addr(alice), Record: rid(1), Type: "AllergyIntolerance"}
	psych := consent.Target{Patient: addr(alice), Record: rid(2), Type: "DocumentReference"}
	open := &consent.MsgOpenEmergency{Patient: addr(alice), Reason: "unable_to_consent"}

	t.Run("types", func(t *testing.T) {
		e := newEnv(t)
		custody := e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead,
			Purpose: consent.PurposeEmergency, Types: []string{"AllergyIntolerance"}})
		e.ok(doctorA, open) // opening stays scope-free
		d := consent.MayRead(e.kv, e.unix(), addr(doctorA), allergy)
		if !d.Allowed || d.Basis != consent.BasisEmergency || d.ConsentID != custody || d.EmergencyID != 1 {
			t.Fatalf("in scope: %+v", d)
		}
		d = consent.MayRead(e.kv, e.unix(), addr(doctorA), psych)
		if d.Allowed {
			t.Fatalf("out of custody scope, read under an emergency: %+v", d)
		}
		wantErr(t, d.Err, consent.ErrOutsideCustody)
		// A second, wider custody of the same organization covers it.
		wide := e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
		if d := consent.MayRead(e.kv, e.unix(), addr(doctorA), psych); !d.Allowed || d.ConsentID != wide {
			t.Fatalf("wider custody: %+v", d)
		}
	})
	t.Run("listed records", func(t *testing.T) {
		e := newEnv(t)
		e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead,
			Purpose: consent.PurposeEmergency, Records: []consent.RecordID{rid(1)}})
		e.ok(doctorA, open)
		if d := consent.MayRead(e.kv, e.unix(), addr(doctorA), allergy); !d.Allowed {
			t.Fatalf("listed record: %+v", d)
		}
		wantErr(t, consent.MayRead(e.kv, e.unix(), addr(doctorA), psych).Err, consent.ErrOutsideCustody)
	})
	t.Run("custody of another organization does not count", func(t *testing.T) {
		e := newEnv(t)
		e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead,
			Purpose: consent.PurposeEmergency, Types: []string{"AllergyIntolerance"}})
		e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgB), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
		e.ok(doctorA, open)
		wantErr(t, consent.MayRead(e.kv, e.unix(), addr(doctorA), psych).Err, consent.ErrOutsideCustody)
	})
}

// Index keys sit outside the Merkle tree. A stray entry written straight into
// the store names an existing consent or emergency under another patient or
// grantee; it must not allow anything or list anything.
func TestStrayIndexEntryGrantsNothing(t *testing.T) {
	bobObs := consent.Target{Patient: addr(bob), Record: rid(9), Type: "Observation"}
	u64 := func(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	a := func(x crypto.Address) []byte { return x[:] }
	tests := []struct {
		name  string
		setup func(e *env) []byte // returns the stray key
		who   string
	}{
		{"alice's consent to doctorA listed under bob", func(e *env) []byte {
			id := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead})
			return u64(cat([]byte{sm.PrefixConsentByPatient}, a(addr(bob)), consent.Account(addr(doctorA)).Key()), id)
		}, doctorA},
		{"alice's consent to techB listed under bob and doctorA", func(e *env) []byte {
			id := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(techB)), Actions: consent.ActRead})
			return u64(cat([]byte{sm.PrefixConsentByPatient}, a(addr(bob)), consent.Account(addr(doctorA)).Key()), id)
		}, doctorA},
		{"alice's consent to org B listed as bob's to org A", func(e *env) []byte {
			id := e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgB), Actions: consent.ActRead})
			return u64(cat([]byte{sm.PrefixConsentByPatient}, a(addr(bob)), consent.Org(orgA).Key()), id)
		}, doctorA},
		{"alice's emergency listed under bob", func(e *env) []byte {
			e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
			e.grant(bob, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
			e.ok(doctorA, &consent.MsgOpenEmergency{Patient: addr(alice), Reason: "unable_to_consent"})
			return u64(cat([]byte{sm.PrefixEmergencyByPat}, a(addr(bob))), 1)
		}, doctorA},
		{"an index entry naming no consent", func(*env) []byte {
			return u64(cat([]byte{sm.PrefixConsentByPatient}, a(addr(bob)), consent.Account(addr(doctorA)).Key()), 77)
		}, doctorA},
		{"a short index key", func(*env) []byte {
			return cat([]byte{sm.PrefixConsentByPatient}, a(addr(bob)), []byte{1})
		}, doctorA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			stray := tt.setup(e)
			if !store.IsIndexKey(stray) {
				t.Fatalf("%x is not an index key", stray)
			}
			e.kv.Set(stray, []byte{1})
			d := consent.MayRead(e.kv, e.unix(), addr(tt.who), bobObs)
			if d.Allowed {
				t.Fatalf("a stray index entry allowed %s to read bob's record: %+v", tt.who, d)
			}
			for _, c := range consent.ByPatient(e.kv, addr(bob)) {
				if c.Patient != addr(bob) {
					t.Fatalf("ByPatient(bob) lists consent %d of %s", c.ID, c.Patient)
				}
			}
			if cs := consent.Between(e.kv, addr(bob), consent.Account(addr(doctorA))); len(cs) != 0 {
				t.Fatalf("Between(bob, doctorA) lists %+v", cs[0])
			}
			if es := consent.EmergenciesOf(e.kv, addr(bob)); len(es) != 0 {
				t.Fatalf("EmergenciesOf(bob) lists %+v", es[0])
			}
			for _, h := range consent.KeyHolders(e.kv, e.unix(), bobObs) {
				if h == consent.Account(addr(doctorA)) || h == consent.Account(addr(techB)) || h == consent.Org(orgB) {
					t.Fatalf("KeyHolders(bob) names %s", h)
				}
			}
		})
	}
	t.Run("stray grantee and organization entries", func(t *testing.T) {
		e := newEnv(t)
		id := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(techB)), Actions: consent.ActRead})
		e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
		e.ok(doctorA, &consent.MsgOpenEmergency{Patient: addr(alice), Reason: "unable_to_consent"})
		e.kv.Set(u64(cat([]byte{sm.PrefixConsentByGrantee}, consent.Account(addr(doctorA)).Key(), a(addr(alice))), id), []byte{1})
		e.kv.Set(u64(cat([]byte{sm.PrefixEmergencyByOrg}, []byte(orgB), []byte{0}), 1), []byte{1})
		if cs := consent.ByGrantee(e.kv, consent.Account(addr(doctorA))); len(cs) != 0 {
			t.Fatalf("ByGrantee(doctorA) lists techB's consent")
		}
		if es := consent.EmergenciesByOrg(e.kv, orgB); len(es) != 0 {
			t.Fatalf("EmergenciesByOrg(org B) lists org A's emergency")
		}
	})
}

// Grounds accepts exactly the decisions MayRead makes and refuses every
// decision whose ground is altered.
func TestGroundsRefusesAlteredDecisions(t *testing.T) {
	e := newEnv(t)
	obs := consent.Target{Patient: addr(alice), Record: rid(1), Type: "Observation"}
	cond := consent.Target{Patient: addr(alice), Record: rid(2), Type: "Condition"}
	readObs := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead, Types: []string{"Observation"}})
	orgRead := e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgB), Actions: consent.ActRead})
	custody := e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency, Types: []string{"Observation"}})
	e.ok(doctorA, &consent.MsgOpenEmergency{Patient: addr(alice), Reason: "life_threatening"})
	now := e.unix()

	allowed := map[string]struct {
		who string
		t   consent.Target
	}{
		"patient": {alice, obs}, "guardian": {gina, obs}, "consent": {doctorA, obs}, "org": {techB, obs},
	}
	for _, name := range slices.Sorted(maps.Keys(allowed)) {
		c := allowed[name]
		d := consent.MayRead(e.kv, now, addr(c.who), c.t)
		if !d.Allowed {
			t.Fatalf("%s: %+v", name, d)
		}
		if err := consent.Grounds(e.kv, now, addr(c.who), c.t, consent.ActRead, d); err != nil {
			t.Fatalf("%s: grounds of MayRead's own decision: %v", name, err)
		}
	}
	emergency := consent.Decision{Allowed: true, Basis: consent.BasisEmergency, ConsentID: custody, EmergencyID: 1, Recipient: consent.Org(orgA)}
	if err := consent.Grounds(e.kv, now, addr(doctorA), obs, consent.ActRead, emergency); err != nil {
		t.Fatalf("emergency grounds: %v", err)
	}
	grant := consent.Decision{Allowed: true, Basis: consent.BasisConsent, ConsentID: readObs, Recipient: consent.Account(addr(doctorA))}
	org := consent.Decision{Allowed: true, Basis: consent.BasisOrg, ConsentID: orgRead, Recipient: consent.Org(orgB)}
	with := func(d consent.Decision, f func(*consent.Decision)) consent.Decision { f(&d); return d }
	bad := []struct {
		name string
		who  string
		t    consent.Target
		act  uint8
		d    consent.Decision
	}{
		{"not allowed", doctorA, obs, consent.ActRead, with(grant, func(d *consent.Decision) { d.Allowed = false })},
		{"consent of another grantee", techB, obs, consent.ActRead, grant},
		{"consent of another patient", doctorA, consent.Target{Patient: addr(bob), Type: "Observation"}, consent.ActRead, grant},
		{"type outside the consent", doctorA, cond, consent.ActRead, grant},
		{"write under a read consent", doctorA, obs, consent.ActWrite, grant},
		{"another consent id", doctorA, obs, consent.ActRead, with(grant, func(d *consent.Decision) { d.ConsentID = orgRead })},
		{"no such consent", doctorA, obs, consent.ActRead, with(grant, func(d *consent.Decision) { d.ConsentID = 99 })},
		{"another recipient", doctorA, obs, consent.ActRead, with(grant, func(d *consent.Decision) { d.Recipient = consent.Org(orgA) })},
		{"before the consent's start", doctorA, obs, consent.ActRead, grant},
		{"org consent, member of another org", doctorA, obs, consent.ActRead, with(org, func(d *consent.Decision) { d.Recipient = consent.Org(orgA) })},
		{"org basis for a patient", bob, obs, consent.ActRead, with(org, func(d *consent.Decision) {})},
		{"patient basis for someone else", doctorA, obs, consent.ActRead, consent.Decision{Allowed: true, Basis: consent.BasisPatient, Recipient: consent.Account(addr(doctorA))}},
		{"guardian basis without delegation", bob, obs, consent.ActRead, consent.Decision{Allowed: true, Basis: consent.BasisGuardian, Recipient: consent.Account(addr(bob))}},
		{"deactivated reader", deb, obs, consent.ActRead, consent.Decision{Allowed: true, Basis: consent.BasisConsent, ConsentID: readObs, Recipient: consent.Account(addr(deb))}},
		{"emergency by a colleague", adminA, obs, consent.ActRead, emergency},
		{"emergency outside custody", doctorA, cond, consent.ActRead, emergency},
		{"emergency with a treatment consent as custody", doctorA, obs, consent.ActRead, with(emergency, func(d *consent.Decision) { d.ConsentID = readObs })},
		{"emergency that does not exist", doctorA, obs, consent.ActRead, with(emergency, func(d *consent.Decision) { d.EmergencyID = 5 })},
		{"emergency write", doctorA, obs, consent.ActWrite, emergency},
		{"unknown basis", doctorA, obs, consent.ActRead, with(grant, func(d *consent.Decision) { d.Basis = "friend" })},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			at := now
			if tt.name == "before the consent's start" {
				at = now - 1
			}
			if err := consent.Grounds(e.kv, at, addr(tt.who), tt.t, tt.act, tt.d); err == nil {
				t.Fatalf("altered decision accepted: %+v", tt.d)
			}
		})
	}
}

// A consent's end is bounded by the governance parameter
// consent.max_consent_seconds; a consent without an end is not.
func TestConsentEndBoundedByParam(t *testing.T) {
	e := newEnv(t)
	max := int64(e.mod.Params.Get(e.kv, consent.ParamMaxConsentSeconds))
	grant := func(until int64) *consent.MsgGrant {
		return &consent.MsgGrant{Patient: addr(alice), Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead,
			Purpose: consent.PurposeTreatment, Until: until}
	}
	before := e.kv.Len()
	wantErr(t, e.run(alice, grant(e.unix()+max+1)), consent.ErrPeriodTooLong)
	wantErr(t, e.run(alice, grant(1<<62)), consent.ErrPeriodTooLong)
	if e.kv.Len() != before || e.events.Len() != 0 {
		t.Fatal("a refused grant changed state")
	}
	e.ok(alice, grant(e.unix()+max))
	e.ok(alice, grant(0))
	// Governance lowers the bound: what was allowed is refused.
	if err := e.mod.Params.Set(e.kv, consent.ParamMaxConsentSeconds, 24*3600); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.run(alice, grant(e.unix()+24*3600+1)), consent.ErrPeriodTooLong)
	e.ok(alice, grant(e.unix()+24*3600))
	if err := e.mod.Params.Validate(consent.ParamMaxConsentSeconds, 3600); err == nil {
		t.Fatal("a bound under a day accepted")
	}
}
