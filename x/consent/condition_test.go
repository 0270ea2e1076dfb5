package consent_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy/cond"
)

func TestConditionRefusedAtGrant(t *testing.T) {
	e := newEnv(t)
	base := consent.MsgGrant{Patient: addr(alice), Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeTreatment}
	for _, tc := range []struct {
		name, expr string
		want       *sm.Error
	}{
		{"syntax", `resource_type ==`, cond.ErrSyntax},
		{"undeclared variable", `diagnosis == "flu"`, cond.ErrType},
		{"not a bool", `size(codes)`, cond.ErrType},
		{"float", `size(codes) < 2.5`, cond.ErrType}, // int < double does not type-check
		{"double conversion", `double(size(codes)) < 2.5`, cond.ErrFloat},
		{"over the hard ceiling", `codes.all(a, codes.all(b, codes.all(c, a + b + c != "")))`, cond.ErrCost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base
			m.Condition = tc.expr
			wantErr(t, e.run(alice, &m), tc.want)
		})
	}
	// Within the hard ceiling, but above the governance parameter.
	if err := e.mod.Params.Set(e.kv, consent.ParamMaxConditionCost, 10); err != nil {
		t.Fatal(err)
	}
	m := base
	m.Condition = `codes.exists(c, c.startsWith("http://loinc.org|"))`
	if err := m.ValidateBasic(); err != nil {
		t.Fatalf("ValidateBasic: %v", err)
	}
	wantErr(t, e.run(alice, &m), cond.ErrCost)
	if got := consent.ByPatient(e.kv, addr(alice)); len(got) != 0 {
		t.Fatalf("a refused grant stored %d consents", len(got))
	}
}

func TestConditionAdmittedAtOrg(t *testing.T) {
	e := newEnv(t)
	id := e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead,
		Condition: `"org-a" in encounter_orgs`})
	obs := consent.Target{Patient: addr(alice), Record: rid(1), Type: "Observation"}
	d := consent.MayRead(e.kv, e.unix(), addr(doctorA), obs)
	wantErr(t, d.Err, consent.ErrConditionRefused)
	ce := consent.AsConditionError(d.Err)
	if ce == nil || ce.ConsentID != id || ce.Hash != cond.Hash(`"org-a" in encounter_orgs`) {
		t.Fatalf("refusal %v does not name consent %d and its condition", d.Err, id)
	}
	// The trail names the consent and condition that refused.
	if r := audit.Reason(d.Err); !strings.Contains(r, "consent/24") || !strings.Contains(r, ce.Trail()) {
		t.Fatalf("audit reason %q", r)
	}
	// Admitted at another organization: still refused.
	e.kv.Set(cond.EncounterKey(addr(alice)), cond.EncodeEncounters([]cond.Encounter{{Org: orgB, Since: e.unix()}}))
	wantErr(t, consent.MayRead(e.kv, e.unix(), addr(doctorA), obs).Err, consent.ErrConditionRefused)
	// Admitted at org-a: allowed, and the decision names the condition.
	e.kv.Set(cond.EncounterKey(addr(alice)), cond.EncodeEncounters([]cond.Encounter{{Org: orgA, Since: e.unix()}, {Org: orgB, Since: e.unix()}}))
	d = consent.MayRead(e.kv, e.unix(), addr(doctorA), obs)
	if !d.Allowed || d.ConsentID != id || d.Condition != ce.Hash {
		t.Fatalf("admitted: got %+v", d)
	}
	if err := consent.Grounds(e.kv, e.unix(), addr(doctorA), obs, consent.ActRead, d); err != nil {
		t.Fatalf("Grounds: %v", err)
	}
	// Discharged: refused again, and Grounds refuses the stale decision.
	e.kv.Delete(cond.EncounterKey(addr(alice)))
	wantErr(t, consent.MayRead(e.kv, e.unix(), addr(doctorA), obs).Err, consent.ErrConditionRefused)
	wantErr(t, consent.Grounds(e.kv, e.unix(), addr(doctorA), obs, consent.ActRead, d), consent.ErrConditionRefused)
}

func TestConditionLOINCCodes(t *testing.T) {
	e := newEnv(t)
	expr := `resource_type == "Observation" && size(codes) > 0 && codes.all(c, c in ["http://loinc.org|8867-4", "http://loinc.org|8480-6"])`
	e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(techB)), Actions: consent.ActWrite, Types: []string{"Observation"}, Condition: expr})
	tgt := func(codes ...string) consent.Target {
		t := consent.Target{Patient: addr(alice), Record: rid(3), Type: "Observation"}
		if codes != nil {
			t.Codes = consent.KnownCodes(codes)
		}
		return t
	}
	if d := consent.MayWrite(e.kv, e.unix(), addr(techB), tgt("http://loinc.org|8867-4")); !d.Allowed {
		t.Fatalf("heart rate: %v", d.Err)
	}
	wantErr(t, consent.MayWrite(e.kv, e.unix(), addr(techB), tgt("http://loinc.org|8867-4", "http://loinc.org|2345-7")).Err, consent.ErrConditionRefused)
	// Codes unknown (the chain stores none): refused, the condition asks for some.
	wantErr(t, consent.MayWrite(e.kv, e.unix(), addr(techB), tgt()).Err, consent.ErrConditionRefused)
}

func TestConditionNotAfter18(t *testing.T) {
	e := newEnv(t)
	e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead,
		Condition: `block_time.getHours("Europe/Paris") < 18`})
	obs := consent.Target{Patient: addr(alice), Record: rid(1), Type: "Observation"}
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.Unix()
	}
	if d := consent.MayRead(e.kv, at("2025-03-02T16:59:59Z"), addr(doctorA), obs); !d.Allowed {
		t.Fatalf("17:59 in Paris: %v", d.Err)
	}
	wantErr(t, consent.MayRead(e.kv, at("2025-03-02T17:00:00Z"), addr(doctorA), obs).Err, consent.ErrConditionRefused)
	// Summer time: 18:00 in Paris is 16:00 UTC.
	wantErr(t, consent.MayRead(e.kv, at("2025-07-02T16:00:00Z"), addr(doctorA), obs).Err, consent.ErrConditionRefused)
}

func TestConditionAnotherConsentStillAllows(t *testing.T) {
	e := newEnv(t)
	e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead, Condition: `emergency_active`})
	plain := e.grant(alice, consent.MsgGrant{Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead, Types: []string{"Observation"}})
	d := consent.MayRead(e.kv, e.unix(), addr(doctorA), consent.Target{Patient: addr(alice), Record: rid(1), Type: "Observation"})
	if !d.Allowed || d.ConsentID != plain || d.Condition != "" {
		t.Fatalf("got %+v, want consent %d without condition", d, plain)
	}
}

func TestConditionEncoding(t *testing.T) {
	c := &consent.Consent{ID: 3, Patient: addr(alice), Grantor: addr(alice), Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: "treatment", Start: 5}
	plain := codec.Marshal(c)
	c.Condition = `role == "practitioner"`
	with := codec.Marshal(c)
	if !bytes.HasPrefix(with, plain) || len(with) <= len(plain) {
		t.Fatal("a condition must be a trailing field after the unchanged encoding")
	}
	for _, b := range [][]byte{plain, with} {
		got, err := consent.DecodeConsent(b)
		if err != nil || !bytes.Equal(codec.Marshal(got), b) {
			t.Fatalf("round trip: %v", err)
		}
	}
	// Present but empty: refused (it would re-encode as absent).
	if _, err := consent.DecodeConsent(append(bytes.Clone(plain), 0)); err == nil {
		t.Fatal("an empty condition decoded")
	}
}

// BenchmarkMayReadCondition: a read check allowed by an organization
// consent carrying a typical condition (role, resource type, encounter,
// office hours), in memory. docs/performance.md quotes it.
func BenchmarkMayReadCondition(b *testing.B) {
	for _, tc := range []struct{ name, zone string }{{"offset", `"+01:00"`}, {"iana", `"Europe/Paris"`}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b)
			e.grant(alice, consent.MsgGrant{Grantee: consent.Org(orgA), Actions: consent.ActRead,
				Condition: `role == "practitioner" && resource_type == "Observation" && "org-a" in encounter_orgs && block_time.getHours(` + tc.zone + `) < 18`})
			e.kv.Set(cond.EncounterKey(addr(alice)), cond.EncodeEncounters([]cond.Encounter{{Org: orgA, Since: e.unix()}}))
			obs := consent.Target{Patient: addr(alice), Record: rid(1), Type: "Observation"}
			now := e.unix() // 12:00 UTC
			who := addr(doctorA)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				if !consent.MayRead(e.kv, now, who, obs).Allowed {
					b.Fatal("refused")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "checks/cpu-s")
			}
		})
	}
}
