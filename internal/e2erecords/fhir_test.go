package e2erecords

import (
	"encoding/json"
	"testing"

	"github.com/medchain/medchain/internal/fhirr4"
)

// bundleEntries checks that out is a valid FHIR R4 Bundle (internal/fhirr4)
// whose entries are each a valid resource of type typ, and returns them.
func bundleEntries(t *testing.T, what, out, typ string) []map[string]any {
	t.Helper()
	res, err := fhirr4.Parse([]byte(out))
	if err != nil {
		t.Fatalf("%s is not valid FHIR R4: %v\n%s", what, err, out)
	}
	if res.Type != "Bundle" {
		t.Fatalf("%s is a %s, want a Bundle", what, res.Type)
	}
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Entry) != res.Entries {
		t.Errorf("%s: %d entries, the parser saw %d", what, len(b.Entry), res.Entries)
	}
	var out2 []map[string]any
	for i, e := range b.Entry {
		r, err := fhirr4.Parse(e.Resource)
		if err != nil || r.Type != typ {
			t.Errorf("%s entry %d: %v (a %v), want a valid %s", what, i, err, r, typ)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(e.Resource, &m); err != nil {
			t.Fatal(err)
		}
		out2 = append(out2, m)
	}
	return out2
}

// testFHIRExports: `audit --fhir` and `consent list --fhir` (and `consent
// show --fhir`) print valid FHIR R4: Bundles of AuditEvent and Consent.
func testFHIRExports(t *testing.T, nw *localNet) {
	mc := nw.cli(0)
	const who = "fhir-patient"
	patient := mc.newPatient(t, who)
	doc1, doc2 := mc.addr(t, "doctor1"), mc.addr(t, "doctor2")
	file, _ := mc.fixtureFor(t, "observation-glucose.json", who)
	id := mc.addRecord(t, who, who, file)
	timed := mc.grant(t, "--from", who, "--to", "doctor1", "--actions", "read", "--types", "Observation", "--until", "720h")
	mc.grant(t, "--from", who, "--to", "org:dev-lab", "--actions", "read,write", "--purpose", "care_coordination")
	mc.grant(t, "--from", who, "--to", "org:dev-hospital", "--actions", "read", "--purpose", "emergency")
	mc.read(t, "doctor1", id)
	mc.fails(t, "record", "get", "--from", "doctor2", id)
	mc.waitAudit(t, who, hasAll(
		eventMatch{accessor: doc1, record: id, served: true},
		eventMatch{accessor: doc2, record: id, reasonPrefix: "consent/17"},
	))

	events := bundleEntries(t, "audit --fhir", mc.ok(t, "audit", "--from", who, "--fhir"), "AuditEvent")
	outcomes := map[string]string{} // accessor → outcome
	for _, e := range events {
		outcomes[agentOf(e)] = str(e["outcome"])
	}
	if outcomes[doc1] != "0" || outcomes[doc2] != "4" {
		t.Errorf("AuditEvent outcomes by accessor: %v; want doctor1 0 (success) and doctor2 4 (refused)", outcomes)
	}

	consents := bundleEntries(t, "consent list --fhir", mc.ok(t, "consent", "list", "--patient", who, "--fhir"), "Consent")
	if len(consents) != 3 {
		t.Errorf("consent list --fhir: %d Consents, want 3", len(consents))
	}
	for _, c := range consents {
		if p := identifierOf(c["patient"]); p != patient {
			t.Errorf("Consent %v is for patient %q, want %s", c["id"], p, patient)
		}
	}
	one, err := fhirr4.Parse([]byte(mc.ok(t, "consent", "show", "--from", who, timed, "--fhir")))
	if err != nil || one.Type != "Consent" {
		t.Errorf("consent show --fhir: %v, want a valid Consent", err)
	}
	bundleEntries(t, "consent list --grantee --fhir", mc.ok(t, "consent", "list", "--from", "labtech1", "--grantee", "org:dev-lab", "--fhir"), "Consent")
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// identifierOf reads reference.identifier.value.
func identifierOf(ref any) string {
	m, _ := ref.(map[string]any)
	id, _ := m["identifier"].(map[string]any)
	return str(id["value"])
}

// agentOf is the requesting agent's address of an AuditEvent.
func agentOf(e map[string]any) string {
	agents, _ := e["agent"].([]any)
	for _, a := range agents {
		if m, _ := a.(map[string]any); m["requestor"] == true {
			return identifierOf(m["who"])
		}
	}
	return ""
}
