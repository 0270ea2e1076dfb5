package fhir_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/fhirr4"
)

// TestImportPatientBundle imports a Synthea-like patient export of a few
// hundred resources in one transaction and reads every resource back: each
// equals what was sent apart from id, meta and the references the server
// rewrote from urn:uuid to the assigned ids.
func TestImportPatientBundle(t *testing.T) {
	raw, err := os.ReadFile(syntheticBundle)
	if err != nil {
		t.Fatal(err)
	}
	me := newPatient(t, "import")
	patient := addr(t, me).String()
	raw = []byte(strings.ReplaceAll(string(raw), placeholderAddress, patient))
	var sent struct {
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &sent); err != nil {
		t.Fatal(err)
	}
	tok := token(t, me, "patient/*.read patient/*.write")
	start := time.Now()
	r := want(t, do(t, http.MethodPost, "/fhir", tok, raw), http.StatusOK)
	t.Logf("imported %d resources (%d KiB) in one transaction in %s", len(sent.Entry), len(raw)>>10, time.Since(start).Round(time.Millisecond))
	var resp struct {
		Type  string `json:"type"`
		Entry []struct {
			Response struct {
				Status   string `json:"status"`
				Location string `json:"location"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Type != "transaction-response" || len(resp.Entry) != len(sent.Entry) {
		t.Fatalf("%s with %d entries for %d", resp.Type, len(resp.Entry), len(sent.Entry))
	}
	assigned := map[string]string{} // fullUrl → Type/id
	types := map[string]int{}
	for i, e := range resp.Entry {
		if e.Response.Status != "201 Created" {
			t.Fatalf("entry %d: %s", i, e.Response.Status)
		}
		typ, rest, _ := strings.Cut(e.Response.Location, "/")
		id, _, _ := strings.Cut(rest, "/")
		assigned[sent.Entry[i].FullURL] = typ + "/" + id
		types[typ]++
	}
	if len(types) < 15 {
		t.Fatalf("only %d resource types: %v", len(types), types)
	}
	for i, e := range sent.Entry {
		want := string(e.Resource)
		for from, to := range assigned {
			want = strings.ReplaceAll(want, `"`+from+`"`, `"`+to+`"`)
		}
		got := do(t, http.MethodGet, "/fhir/"+assigned[e.FullURL], tok, nil)
		if got.status != http.StatusOK {
			t.Fatalf("entry %d %s: HTTP %d %s", i, assigned[e.FullURL], got.status, got.body)
		}
		eq, err := fhirr4.Equal([]byte(want), got.body)
		if err != nil || !eq {
			t.Fatalf("entry %d %s differs (%v):\nsent %s\ngot  %s", i, assigned[e.FullURL], err, want, got.body)
		}
	}
	pid := strings.TrimPrefix(assigned[sent.Entry[0].FullURL], "Patient/")
	ev := want(t, do(t, http.MethodGet, "/fhir/Patient/"+pid+"/$everything", tok, nil), http.StatusOK).json(t)
	if n := len(ev["entry"].([]any)); n < len(sent.Entry) {
		t.Fatalf("$everything: %d entries", n)
	}
	hb := want(t, do(t, http.MethodGet, "/fhir/Observation?patient=Patient/"+pid+"&code=http://loinc.org|4548-4&_sort=-date&_count=3", tok, nil), http.StatusOK).json(t)
	if hb["total"].(float64) != 15 || len(hb["entry"].([]any)) != 3 {
		t.Fatalf("HbA1c search: total %v", hb["total"])
	}
	names := make([]string, 0, len(types))
	for k, v := range types {
		names = append(names, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(names)
	t.Logf("types: %s", strings.Join(names, ", "))
}

// TestTransactionIsAllOrNothing: one bad entry and nothing is written.
func TestTransactionIsAllOrNothing(t *testing.T) {
	me := newPatient(t, "transaction")
	tok := token(t, me, "patient/*.read patient/*.write")
	count := func() int {
		b := want(t, do(t, http.MethodGet, "/fhir/Observation?patient=Patient/"+addr(t, me).String()+"&_count=0", tok, nil), http.StatusOK).json(t)
		return int(b["total"].(float64))
	}
	before := count()
	p := addr(t, me).String()
	good := func(u string) string {
		return fmt.Sprintf(`{"fullUrl":%q,"resource":%s,"request":{"method":"POST","url":"Observation"}}`, u,
			observationJSON("Patient/"+p, "2339-0", "Glucose", "2024-06-01", "91"))
	}
	bad := `{"fullUrl":"urn:uuid:bad","resource":{"resourceType":"Observation","code":{"text":"no status"},"subject":{"reference":"Patient/` + p + `"}},"request":{"method":"POST","url":"Observation"}}`
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[` + good("urn:uuid:a") + `,` + good("urn:uuid:b") + `,` + bad + `]}`
	r := want(t, do(t, http.MethodPost, "/fhir", tok, tx), http.StatusBadRequest)
	if !strings.Contains(string(r.body), "Bundle.entry[2].resource.Observation.status") {
		t.Fatalf("%s", r.body)
	}
	unknown := strings.Replace(good("urn:uuid:c"), "Patient/"+p, "urn:uuid:nobody", 1)
	tx = `{"resourceType":"Bundle","type":"transaction","entry":[` + good("urn:uuid:a") + `,` + unknown + `]}`
	want(t, do(t, http.MethodPost, "/fhir", tok, tx), http.StatusUnprocessableEntity)
	if after := count(); after != before {
		t.Fatalf("a refused transaction wrote %d records", after-before)
	}

	// A batch goes on past its bad entries.
	batch := `{"resourceType":"Bundle","type":"batch","entry":[` + good("urn:uuid:a") + `,` + bad + `,` + good("urn:uuid:b") + `]}`
	b := want(t, do(t, http.MethodPost, "/fhir", tok, batch), http.StatusOK).json(t)
	var statuses []string
	for _, e := range b["entry"].([]any) {
		statuses = append(statuses, e.(map[string]any)["response"].(map[string]any)["status"].(string))
	}
	if strings.Join(statuses, ",") != "201 Created,400 Bad Request,201 Created" {
		t.Fatalf("batch statuses %v", statuses)
	}
	if after := count(); after != before+2 {
		t.Fatalf("batch wrote %d records", after-before)
	}

	// Updates in a transaction: PUT Type/id makes the next version.
	first := b["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)["location"].(string)
	id := strings.Split(first, "/")[1]
	put := `{"resource":` + strings.Replace(observationJSON("Patient/"+p, "2339-0", "Glucose", "2024-06-01", "93"), `{"resourceType"`, `{"id":"`+id+`","resourceType"`, 1) +
		`,"request":{"method":"PUT","url":"Observation/` + id + `"}}`
	tx = `{"resourceType":"Bundle","type":"transaction","entry":[` + put + `,` + good("urn:uuid:d") + `]}`
	res := want(t, do(t, http.MethodPost, "/fhir", tok, tx, "Prefer", "return=representation"), http.StatusOK).json(t)
	e0 := res["entry"].([]any)[0].(map[string]any)
	if st := e0["response"].(map[string]any)["status"]; st != "200 OK" {
		t.Fatalf("update entry: %v", st)
	}
	if v := e0["resource"].(map[string]any)["meta"].(map[string]any)["versionId"]; v != "2" {
		t.Fatalf("update entry version %v", v)
	}
	got := want(t, do(t, http.MethodGet, "/fhir/Observation/"+id, tok, nil), http.StatusOK).json(t)
	if got["valueQuantity"].(map[string]any)["value"].(float64) != 93 {
		t.Fatalf("updated value %v", got["valueQuantity"])
	}
	tx = `{"resourceType":"Bundle","type":"transaction","entry":[` + put + `,` + put + `]}`
	want(t, do(t, http.MethodPost, "/fhir", tok, tx), http.StatusUnprocessableEntity)
}
