package fhir_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/internal/linkkey"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/links"
	"github.com/medchain/medchain/x/records"
)

const (
	mrnSystem = "http://hospital.example.org/mrn"
	npi       = "http://hl7.org/fhir/sid/us-npi"
	syntheaID = "https://github.com/synthetichealth/synthea"
)

// hospitalExport builds a transaction Bundle shaped like a stock Synthea
// patient export: a Patient carrying only the hospital's identifiers (a
// Synthea id and an MRN, no medchain address), a Practitioner created with
// ifNoneExist, and for each of encounters visits an Encounter whose
// participant is the conditional reference Practitioner?identifier=… and
// whose serviceProvider and Claim provider are Organization?identifier=…
// (an organization this server does not hold: left as it is), four
// Observations, a DiagnosticReport of them and a Claim. Deterministic.
func hospitalExport(tag, mrn string, encounters int) []byte {
	var entries []any
	n := 0
	uuid := func() string { n++; return fmt.Sprintf("urn:uuid:%08x-0000-4000-8000-%012x", n, len(tag)*1000+n) }
	add := func(res map[string]any, req map[string]any) string {
		u := uuid()
		entries = append(entries, map[string]any{"fullUrl": u, "resource": res, "request": req})
		return u
	}
	post := func(typ string) map[string]any { return map[string]any{"method": "POST", "url": typ} }
	ref := func(u string) map[string]any { return map[string]any{"reference": u} }
	cc := func(system, code, display string) map[string]any {
		return map[string]any{"coding": []any{map[string]any{"system": system, "code": code, "display": display}}, "text": display}
	}
	pat := add(map[string]any{
		"resourceType": "Patient",
		"identifier": []any{
			map[string]any{"system": syntheaID, "value": "pat-" + tag},
			map[string]any{"type": cc("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical Record Number"), "system": mrnSystem, "value": mrn},
		},
		"name":      []any{map[string]any{"use": "official", "family": "Quillfeather" + tag, "given": []any{"Ansel"}}},
		"gender":    "male",
		"birthDate": "1961-04-12",
	}, post("Patient"))
	practitionerNPI := "99999" + fmt.Sprintf("%05d", len(tag))
	add(map[string]any{
		"resourceType": "Practitioner",
		"identifier":   []any{map[string]any{"system": npi, "value": practitionerNPI}},
		"name":         []any{map[string]any{"family": "Vantablack", "given": []any{"Orrin"}, "prefix": []any{"Dr."}}},
	}, map[string]any{"method": "POST", "url": "Practitioner", "ifNoneExist": "identifier=" + npi + "|" + practitionerNPI})
	org := "Organization?identifier=" + syntheaID + "|org-fictown-1"
	loinc := "http://loinc.org"
	start := time.Date(2019, 3, 4, 9, 0, 0, 0, time.UTC)
	for i := 0; i < encounters; i++ {
		when := start.AddDate(0, 0, 23*i)
		end := when.Add(30 * time.Minute)
		ts := func(t time.Time) string { return t.Format(time.RFC3339) }
		enc := add(map[string]any{
			"resourceType":    "Encounter",
			"identifier":      []any{map[string]any{"system": syntheaID, "value": fmt.Sprintf("enc-%s-%d", tag, i)}},
			"status":          "finished",
			"class":           map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
			"type":            []any{cc("http://snomed.info/sct", "185349003", "Encounter for check up")},
			"subject":         ref(pat),
			"participant":     []any{map[string]any{"individual": map[string]any{"reference": "Practitioner?identifier=" + npi + "|" + practitionerNPI, "display": "Dr. Orrin Vantablack"}}},
			"period":          map[string]any{"start": ts(when), "end": ts(end)},
			"serviceProvider": map[string]any{"reference": org, "display": "Fictown Family Clinic"},
		}, post("Encounter"))
		var results []any
		for j, o := range []struct {
			code, display, unit string
			v                   float64
		}{{"8302-2", "Body Height", "cm", 171.3}, {"29463-7", "Body Weight", "kg", 80.1 + float64(i%7)}, {"8867-4", "Heart rate", "/min", float64(61 + i%17)}, {"2339-0", "Glucose", "mg/dL", float64(88 + i%13)}} {
			results = append(results, ref(add(map[string]any{
				"resourceType":      "Observation",
				"identifier":        []any{map[string]any{"system": syntheaID, "value": fmt.Sprintf("obs-%s-%d-%d", tag, i, j)}},
				"status":            "final",
				"category":          []any{cc("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "vital-signs")},
				"code":              cc(loinc, o.code, o.display),
				"subject":           ref(pat),
				"encounter":         ref(enc),
				"effectiveDateTime": ts(when),
				"issued":            when.Add(37 * time.Minute).Format("2006-01-02T15:04:05.000Z07:00"),
				"valueQuantity":     map[string]any{"value": json.Number(fmt.Sprintf("%.1f", o.v)), "unit": o.unit, "system": "http://unitsofmeasure.org", "code": o.unit},
			}, post("Observation"))))
		}
		add(map[string]any{
			"resourceType":      "DiagnosticReport",
			"status":            "final",
			"category":          []any{cc("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")},
			"code":              cc(loinc, "51990-0", "Basic metabolic panel - Blood"),
			"subject":           ref(pat),
			"encounter":         ref(enc),
			"effectiveDateTime": ts(when),
			"issued":            when.Add(2 * time.Hour).Format("2006-01-02T15:04:05.000Z07:00"),
			"performer":         []any{map[string]any{"reference": "Practitioner?identifier=" + npi + "|" + practitionerNPI}},
			"result":            results,
		}, post("DiagnosticReport"))
		add(map[string]any{
			"resourceType":   "Claim",
			"status":         "active",
			"type":           cc("http://terminology.hl7.org/CodeSystem/claim-type", "professional", "Professional"),
			"use":            "claim",
			"patient":        ref(pat),
			"billablePeriod": map[string]any{"start": ts(when), "end": ts(end)},
			"created":        ts(end),
			"provider":       map[string]any{"reference": org, "display": "Fictown Family Clinic"},
			"priority":       cc("http://terminology.hl7.org/CodeSystem/processpriority", "normal", "Normal"),
			"insurance":      []any{map[string]any{"sequence": 1, "focal": true, "coverage": map[string]any{"display": "Imaginary Mutual Health"}}},
			"item":           []any{map[string]any{"sequence": 1, "productOrService": cc("http://snomed.info/sct", "185349003", "Encounter for check up"), "encounter": []any{ref(enc)}}},
			"total":          map[string]any{"value": json.Number(fmt.Sprintf("%d.25", 80+i)), "currency": "USD"},
		}, post("Claim"))
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	if err != nil {
		panic(err)
	}
	return b
}

type bundleReply struct {
	Type  string `json:"type"`
	Entry []struct {
		Response struct {
			Status   string `json:"status"`
			Location string `json:"location"`
		} `json:"response"`
	} `json:"entry"`
}

func importBundle(t *testing.T, tok string, b []byte, wantStatus string) bundleReply {
	t.Helper()
	r := want(t, do(t, http.MethodPost, "/fhir", tok, b), http.StatusOK)
	var out bundleReply
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	for i, e := range out.Entry {
		if e.Response.Status != wantStatus {
			t.Fatalf("entry %d: %s, want %s", i, e.Response.Status, wantStatus)
		}
	}
	return out
}

// linkMRN links an MRN of dev-hospital to patient with the patient's
// signed approval, as the hospital's admin.
func linkMRN(t *testing.T, patient, mrn string) links.MAC {
	t.Helper()
	r, err := linkkey.Load(linkkey.Path(shared.home))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(devNode(t))
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mac := r.MAC(mrnSystem, mrn)
	a := links.Approve(key(t, patient), st.ChainID, r.Org, mac, addr(t, patient), time.Now().Add(time.Hour).Unix())
	if _, err := c.Send(context.Background(), key(t, "hospital-admin"), &links.MsgLink{Org: r.Org, MAC: mac, Patient: addr(t, patient), Approval: &a}); err != nil {
		t.Fatalf("link: %v", err)
	}
	return mac
}

func countRecords(t *testing.T, patient string) (n int, versions int) {
	t.Helper()
	snap, _, err := shared.node.Latest()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range records.ByPatient(snap, addr(t, patient)) {
		n++
		versions += int(rec.Version)
	}
	return n, versions
}

// TestLinkedExportImportsTwice: a stock export whose Patient carries only
// an MRN is refused with an OperationOutcome saying how to link until the
// MRN is linked; then it imports unchanged (conditional references
// resolved where they can be, the others left as they are), and importing
// it again stores nothing new and answers with the same ids.
func TestLinkedExportImportsTwice(t *testing.T) {
	me := newPatient(t, "linked-import")
	b := hospitalExport("a", "MRN-0042-7731", 45)
	var sent struct {
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &sent); err != nil {
		t.Fatal(err)
	}
	if len(sent.Entry) < 300 {
		t.Fatalf("%d entries", len(sent.Entry))
	}
	tok := token(t, me, "patient/*.read patient/*.write")

	r := do(t, http.MethodPost, "/fhir", tok, b)
	if r.status != http.StatusUnprocessableEntity || r.outcomeCode(t) != "fhir/30" || !strings.Contains(string(r.body), "medchain link add") ||
		!strings.Contains(string(r.body), mrnSystem) || strings.Contains(string(r.body), "MRN-0042-7731") {
		t.Fatalf("unlinked: HTTP %d %s", r.status, r.body)
	}
	if n, _ := countRecords(t, me); n != 0 {
		t.Fatalf("%d records after a refused import", n)
	}
	linkMRN(t, me, "MRN-0042-7731")

	start := time.Now()
	first := importBundle(t, tok, b, "201 Created")
	t.Logf("imported %d entries in %s", len(first.Entry), time.Since(start).Round(time.Millisecond))
	n1, v1 := countRecords(t, me)
	if n1 != len(sent.Entry) || v1 != n1 {
		t.Fatalf("%d records, %d versions after the first import of %d entries", n1, v1, len(sent.Entry))
	}
	assigned := map[string]string{}
	for i, e := range first.Entry {
		typ, rest, _ := strings.Cut(e.Response.Location, "/")
		id, _, _ := strings.Cut(rest, "/")
		assigned[sent.Entry[i].FullURL] = typ + "/" + id
	}
	practitioner := assigned[sent.Entry[1].FullURL]
	// Every resource reads back equal to what was sent, references
	// rewritten: fullUrls to ids, the Practitioner's conditional reference
	// to the Practitioner; Organization?identifier= left as it was.
	for i, e := range sent.Entry {
		want := string(e.Resource)
		for from, to := range assigned {
			want = strings.ReplaceAll(want, `"`+from+`"`, `"`+to+`"`)
		}
		want = strings.ReplaceAll(want, `"Practitioner?identifier=`+npi+`|9999900001"`, `"`+practitioner+`"`)
		got := do(t, http.MethodGet, "/fhir/"+assigned[e.FullURL], tok, nil)
		if got.status != http.StatusOK {
			t.Fatalf("entry %d: HTTP %d %s", i, got.status, got.body)
		}
		if eq, err := fhirr4.Equal([]byte(want), got.body); err != nil || !eq {
			t.Fatalf("entry %d %s differs (%v):\nsent %s\ngot  %s", i, assigned[e.FullURL], err, want, got.body)
		}
		if id := got.json(t)["id"]; "Patient/"+fmt.Sprint(id) != assigned[e.FullURL] && strings.SplitN(assigned[e.FullURL], "/", 2)[1] != id {
			t.Fatalf("entry %d: id %v", i, id)
		}
	}
	enc := do(t, http.MethodGet, "/fhir/"+assigned[sent.Entry[2].FullURL], tok, nil)
	if !strings.Contains(string(enc.body), `"reference":"`+practitioner+`"`) || !strings.Contains(string(enc.body), `Organization?identifier=`) {
		t.Fatalf("conditional references: %s", enc.body)
	}

	second := importBundle(t, tok, b, "200 OK")
	n2, v2 := countRecords(t, me)
	if n2 != n1 || v2 != v1 {
		t.Fatalf("the second import stored something: %d records, %d versions (was %d, %d)", n2, v2, n1, v1)
	}
	for i := range second.Entry {
		if second.Entry[i].Response.Location != first.Entry[i].Response.Location {
			t.Fatalf("entry %d: %s then %s", i, first.Entry[i].Response.Location, second.Entry[i].Response.Location)
		}
	}

	// Conditional create through the REST interaction: the same
	// practitioner again is found, a new one is created once.
	pr := `{"resourceType":"Practitioner","identifier":[{"system":"` + npi + `","value":"%s"}],"name":[{"family":"Okafor"}]}`
	got := do(t, http.MethodPost, "/fhir/Practitioner", tok, fmt.Sprintf(pr, "9999900001"), "If-None-Exist", "identifier="+npi+"|9999900001")
	if got.status != http.StatusOK || !strings.Contains(got.header.Get("Location"), strings.TrimPrefix(practitioner, "Practitioner/")) {
		t.Fatalf("conditional create of an existing practitioner: HTTP %d %s %s", got.status, got.header.Get("Location"), got.body)
	}
	created := want(t, do(t, http.MethodPost, "/fhir/Practitioner", tok, fmt.Sprintf(pr, "9999900777"), "If-None-Exist", "identifier="+npi+"|9999900777"), http.StatusCreated)
	again := do(t, http.MethodPost, "/fhir/Practitioner", tok, fmt.Sprintf(pr, "9999900777"), "If-None-Exist", "identifier="+npi+"|9999900777")
	if again.status != http.StatusOK || again.header.Get("Location") != created.header.Get("Location") {
		t.Fatalf("second conditional create: HTTP %d %s (first %s)", again.status, again.header.Get("Location"), created.header.Get("Location"))
	}
	// A conditional update: the record the criteria name gets a new version.
	changed := strings.Replace(fmt.Sprintf(pr, "9999900777"), "Okafor", "Okafor-Bassey", 1)
	up := want(t, do(t, http.MethodPut, "/fhir/Practitioner?identifier="+npi+"|9999900777", tok, changed), http.StatusOK)
	if up.header.Get("ETag") != `W/"2"` || !strings.Contains(up.header.Get("Location"), idOf(created.header.Get("Location"))) {
		t.Fatalf("conditional update: %v", up.header)
	}
	// The same content again stores no new version.
	same := want(t, do(t, http.MethodPut, "/fhir/Practitioner?identifier="+npi+"|9999900777", tok, changed), http.StatusOK)
	if same.header.Get("ETag") != `W/"2"` {
		t.Fatalf("unchanged conditional update: %v %s", same.header, same.body)
	}
	if rec := recordOf(t, idOf(created.header.Get("Location"))); rec == nil || rec.Version != 2 {
		t.Fatalf("record after an unchanged update: %+v", rec)
	}
	// The same in a transaction: a conditional update with that content
	// stores nothing, one with new content makes version 3.
	var res any
	if err := json.Unmarshal([]byte(changed), &res); err != nil {
		t.Fatal(err)
	}
	tx := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{map[string]any{
		"resource": res, "request": map[string]any{"method": "PUT", "url": "Practitioner?identifier=" + npi + "|9999900777"}}}}
	importBundle(t, tok, mustJSON(t, tx), "200 OK")
	res.(map[string]any)["gender"] = "female"
	importBundle(t, tok, mustJSON(t, tx), "200 OK")
	if rec := recordOf(t, idOf(created.header.Get("Location"))); rec == nil || rec.Version != 3 {
		t.Fatalf("record after Bundle conditional updates: %+v", rec)
	}
	if r := do(t, http.MethodPost, "/fhir/Practitioner", tok, fmt.Sprintf(pr, "1"), "If-None-Exist", "name=Okafor"); r.status != http.StatusBadRequest || r.outcomeCode(t) != "fhir/32" {
		t.Fatalf("unsupported criteria: HTTP %d %s", r.status, r.body)
	}
	// An Observation posted alone with a conditional Patient reference.
	obs := `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient?identifier=` +
		mrnSystem + `|MRN-0042-7731"},"effectiveDateTime":"2024-02-02T10:00:00Z","valueQuantity":{"value":70,"unit":"/min"}}`
	o := want(t, do(t, http.MethodPost, "/fhir/Observation", tok, obs), http.StatusCreated)
	if rec := recordOf(t, idOf(o.header.Get("Location"))); rec == nil || rec.Patient != addr(t, me) {
		t.Fatalf("observation filed under %+v", rec)
	}
}

func idOf(location string) string {
	parts := strings.Split(location, "/")
	for i, p := range parts {
		if p == "_history" && i > 0 {
			return parts[i-1]
		}
	}
	return ""
}

func recordOf(t *testing.T, id string) *records.Record {
	t.Helper()
	snap, _, err := shared.node.Latest()
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != len(consent.RecordID{}) {
		return nil
	}
	return records.GetRecord(snap, consent.RecordID(b))
}

// TestOrganizationImportsUnderConsent: the hospital's integration account
// (a staff member) imports a patient's export with its own token, under the
// patient's write consent to the hospital; without it, 403.
func TestOrganizationImportsUnderConsent(t *testing.T) {
	me := newPatient(t, "org-import")
	integ, err := crypto.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(devNode(t))
	if _, err := c.Send(context.Background(), key(t, "hospital-admin"), &accounts.MsgRegisterMember{PubKey: integ.PubKey(), EncKey: integ.EncKey(), Role: accounts.RoleStaff}); err != nil {
		t.Fatalf("register the integration account: %v", err)
	}
	shared.keys["hospital-integration"] = integ
	b := hospitalExport("org", "MRN-ORG-5", 5)
	tok := token(t, "hospital-integration", "user/*.read user/*.write")
	linkMRN(t, me, "MRN-ORG-5") // the link itself needs the patient's approval, not a consent
	if r := do(t, http.MethodPost, "/fhir", tok, b); r.status != http.StatusForbidden || r.outcomeCode(t) != "consent/17" {
		t.Fatalf("without consent: HTTP %d %s", r.status, r.body)
	}
	grant(t, me, consent.MsgGrant{Grantee: consent.Org("dev-hospital"), Actions: consent.ActRead | consent.ActWrite})
	first := importBundle(t, tok, b, "201 Created")
	importBundle(t, tok, b, "200 OK")
	n, v := countRecords(t, me)
	if n != len(first.Entry) || v != n {
		t.Fatalf("%d records, %d versions for %d entries", n, v, len(first.Entry))
	}
	snap, _, _ := shared.node.Latest()
	for _, rec := range records.ByPatient(snap, addr(t, me)) {
		if ver := records.GetVersion(snap, rec.ID, 1); ver == nil || ver.Author != integ.Address() {
			t.Fatalf("record %x written by %v", rec.ID, ver)
		}
	}
	// The patient reads what the hospital imported.
	ptok := token(t, me, "patient/*.read")
	want(t, do(t, http.MethodGet, "/fhir/"+strings.Join(strings.Split(first.Entry[2].Response.Location, "/")[:2], "/"), ptok, nil), http.StatusOK)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
