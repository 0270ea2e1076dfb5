package fhir_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/x/consent"
)

// bulkResources is how many Observations the bulk test imports:
// MEDCHAIN_BULK_RESOURCES raises it (docs/performance.md quotes runs).
func bulkResources(t *testing.T) int {
	if v := os.Getenv("MEDCHAIN_BULK_RESOURCES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MEDCHAIN_BULK_RESOURCES=%q", v)
		}
		return n
	}
	return 150
}

// poll follows a Bulk Data status URL until the job is done.
func poll(t *testing.T, statusURL, tok string) reply {
	t.Helper()
	path := statusURL[strings.Index(statusURL, "/fhir/"):]
	deadline := time.Now().Add(10 * time.Minute)
	sawProgress := false
	for time.Now().Before(deadline) {
		r := do(t, http.MethodGet, path, tok, nil)
		if r.status != http.StatusAccepted {
			return r
		}
		if r.header.Get("X-Progress") == "" || r.header.Get("Retry-After") == "" {
			t.Fatalf("a running job without X-Progress or Retry-After: %v", r.header)
		}
		sawProgress = true
		time.Sleep(200 * time.Millisecond)
	}
	_ = sawProgress
	t.Fatal("the job did not finish")
	return reply{}
}

func startImport(t *testing.T, tok string, body []byte) string {
	t.Helper()
	r := do(t, http.MethodPost, "/fhir/$import", tok, body, "Content-Type", "application/fhir+ndjson", "Prefer", "respond-async")
	if r.status != http.StatusAccepted {
		t.Fatalf("import kick-off: HTTP %d %s", r.status, r.body)
	}
	loc := r.header.Get("Content-Location")
	if !strings.Contains(loc, "/fhir/$import-status/") {
		t.Fatalf("Content-Location %q", loc)
	}
	return loc
}

func importSummary(t *testing.T, r reply) string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("import status: HTTP %d %s", r.status, r.body)
	}
	m := r.json(t)
	return m["issue"].([]any)[0].(map[string]any)["diagnostics"].(string)
}

func TestBulkImportThenExport(t *testing.T) {
	n := bulkResources(t)
	me := newPatient(t, "bulk")
	grant(t, me, consent.MsgGrant{Grantee: consent.Org("dev-hospital"), Actions: consent.ActRead | consent.ActWrite})
	tok := token(t, "doctor1", "user/*.read user/*.write")

	var nd bytes.Buffer
	fmt.Fprintf(&nd, `{"resourceType":"Patient","id":"src-pat-1","identifier":[{"system":"urn:medchain:address","value":%q}],"name":[{"family":"Bulk","given":["Ann"]}],"gender":"female","birthDate":"1970-01-01"}`+"\n", addr(t, me))
	for i := 0; i < n; i++ {
		fmt.Fprintf(&nd, `{"resourceType":"Observation","id":"obs-%d","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2339-0"}]},"subject":{"reference":"Patient/src-pat-1"},"effectiveDateTime":"2024-01-01T00:00:00Z","valueQuantity":{"value":%d,"unit":"mg/dL"}}`+"\n", i, 70+i%50)
	}
	nd.WriteString(`{"resourceType":"Observation","id":"bad","status":"not-a-status","code":{},"subject":{"reference":"Patient/src-pat-1"}}` + "\n")
	nd.WriteString(`{"resourceType":"Observation","id":"orphan","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/nobody"}}` + "\n")

	t.Run("kick-off rules", func(t *testing.T) {
		r := do(t, http.MethodPost, "/fhir/$import", tok, nd.Bytes(), "Content-Type", "application/fhir+ndjson")
		if r.status != http.StatusBadRequest || r.outcomeCode(t) != "fhir/8" {
			t.Fatalf("without Prefer: HTTP %d %s", r.status, r.body)
		}
		r = do(t, http.MethodPost, "/fhir/$import", tok, nd.Bytes(), "Prefer", "respond-async")
		if r.status != http.StatusUnsupportedMediaType {
			t.Fatalf("as fhir+json: HTTP %d", r.status)
		}
		if r := do(t, http.MethodPost, "/fhir/$import", token(t, "doctor1", "user/*.read user/*.write", noDelegation), nd.Bytes(),
			"Content-Type", "application/fhir+ndjson", "Prefer", "respond-async"); r.status != http.StatusForbidden || r.outcomeCode(t) != "fhir/9" {
			t.Fatalf("without delegation: HTTP %d %s", r.status, r.body)
		}
	})

	start := time.Now()
	first := importSummary(t, poll(t, startImport(t, tok, nd.Bytes()), tok))
	t.Logf("import of %d resources: %s (%s)", n+3, first, time.Since(start).Round(time.Millisecond))
	if want := fmt.Sprintf("%d resources: %d created, 0 already imported, 2 failed", n+3, n+1); first != want {
		t.Fatalf("first import: %q, want %q", first, want)
	}
	// Sent again (a retry after a kill): nothing new.
	again := poll(t, startImport(t, tok, nd.Bytes()), tok)
	if got, want := importSummary(t, again), fmt.Sprintf("%d resources: 0 created, %d already imported, 2 failed", n+3, n+1); got != want {
		t.Fatalf("second import: %q, want %q", got, want)
	}
	var diags []string
	for _, is := range again.json(t)["issue"].([]any)[1:] {
		diags = append(diags, is.(map[string]any)["diagnostics"].(string))
	}
	if len(diags) != 2 || !strings.HasPrefix(diags[0], fmt.Sprintf("line %d:", n+2)) || !strings.Contains(diags[1], "Patient/nobody") {
		t.Fatalf("per-line outcomes: %q", diags)
	}

	// Export it back.
	t.Run("export rules", func(t *testing.T) {
		if r := do(t, http.MethodGet, "/fhir/Patient/$export", tok, nil); r.status != http.StatusBadRequest {
			t.Fatalf("without Prefer: HTTP %d", r.status)
		}
		if r := do(t, http.MethodGet, "/fhir/Patient/$export?_typeFilter=Observation%3Fstatus%3Dfinal", tok, nil, "Prefer", "respond-async"); r.status != http.StatusBadRequest {
			t.Fatalf("_typeFilter: HTTP %d", r.status)
		}
		if r := do(t, http.MethodGet, "/fhir/Group/dev-lab/$export", tok, nil, "Prefer", "respond-async"); r.status != http.StatusNotFound {
			t.Fatalf("another organization's group: HTTP %d", r.status)
		}
	})
	start = time.Now()
	r := do(t, http.MethodGet, "/fhir/Patient/$export?_type=Patient,Observation&patient=Patient/"+addr(t, me).String(), tok, nil,
		"Prefer", "respond-async", "Accept", "application/fhir+json")
	if r.status != http.StatusAccepted {
		t.Fatalf("export kick-off: HTTP %d %s", r.status, r.body)
	}
	status := r.header.Get("Content-Location")
	statusPath := status[strings.Index(status, "/fhir/"):]
	if other := do(t, http.MethodGet, statusPath, token(t, "doctor2", "user/*.read"), nil); other.status != http.StatusNotFound {
		t.Fatalf("another account polled the job: HTTP %d", other.status)
	}
	done := poll(t, status, tok)
	if done.status != http.StatusOK {
		t.Fatalf("export: HTTP %d %s", done.status, done.body)
	}
	t.Logf("export of %d resources: %s", n+1, time.Since(start).Round(time.Millisecond))
	var manifest struct {
		TransactionTime     string `json:"transactionTime"`
		RequiresAccessToken bool   `json:"requiresAccessToken"`
		Output              []struct {
			Type  string `json:"type"`
			URL   string `json:"url"`
			Count int    `json:"count"`
		} `json:"output"`
		Error []any `json:"error"`
	}
	if err := json.Unmarshal(done.body, &manifest); err != nil {
		t.Fatal(err)
	}
	if !manifest.RequiresAccessToken || manifest.TransactionTime == "" || len(manifest.Error) != 0 {
		t.Fatalf("manifest %s", done.body)
	}
	counts := map[string]int{}
	var patientID string
	var values []int
	for _, o := range manifest.Output {
		f := do(t, http.MethodGet, o.URL[strings.Index(o.URL, "/fhir/"):], tok, nil, "Accept", "application/fhir+ndjson")
		if f.status != http.StatusOK || f.header.Get("Content-Type") != "application/fhir+ndjson" {
			t.Fatalf("file %s: HTTP %d %q", o.URL, f.status, f.header.Get("Content-Type"))
		}
		lines := strings.Split(strings.TrimSpace(string(f.body)), "\n")
		if len(lines) != o.Count {
			t.Fatalf("%s: %d lines, manifest says %d", o.Type, len(lines), o.Count)
		}
		for _, l := range lines {
			var res map[string]any
			if err := json.Unmarshal([]byte(l), &res); err != nil || res["resourceType"] != o.Type {
				t.Fatalf("line %q: %v", l, err)
			}
			counts[o.Type]++
			switch o.Type {
			case "Patient":
				patientID = res["id"].(string)
			case "Observation":
				if ref := res["subject"].(map[string]any)["reference"].(string); patientID != "" && ref != "Patient/"+patientID {
					t.Fatalf("subject %s, the Patient is %s", ref, patientID)
				}
				v, _ := res["valueQuantity"].(map[string]any)["value"].(float64)
				values = append(values, int(v))
			}
		}
	}
	if counts["Patient"] != 1 || counts["Observation"] != n {
		t.Fatalf("exported %v, want 1 Patient and %d Observations", counts, n)
	}
	sum, want := 0, 0
	for i := 0; i < n; i++ {
		want += 70 + i%50
	}
	for _, v := range values {
		sum += v
	}
	if sum != want {
		t.Fatalf("exported values sum to %d, imported %d", sum, want)
	}
	// The organization's group holds this patient (a read consent to
	// dev-hospital); a _since after every write exports nothing.
	exportCount := func(path string) int {
		r := do(t, http.MethodGet, path, tok, nil, "Prefer", "respond-async")
		if r.status != http.StatusAccepted {
			t.Fatalf("%s: HTTP %d %s", path, r.status, r.body)
		}
		var m struct {
			Output []struct{ Count int } `json:"output"`
		}
		done := poll(t, r.header.Get("Content-Location"), tok)
		if err := json.Unmarshal(done.body, &m); err != nil || done.status != http.StatusOK {
			t.Fatalf("%s: HTTP %d %s", path, done.status, done.body)
		}
		n := 0
		for _, o := range m.Output {
			n += o.Count
		}
		return n
	}
	if got := exportCount("/fhir/Group/dev-hospital/$export?_type=Observation&patient=Patient/" + addr(t, me).String()); got != n {
		t.Fatalf("group export: %d Observations, want %d", got, n)
	}
	if got := exportCount("/fhir/$export?_since=2999-01-01T00:00:00Z"); got != 0 {
		t.Fatalf("_since in the future: %d resources", got)
	}
	// Cancel (delete) ends the job and its files.
	if r := do(t, http.MethodDelete, statusPath, tok, nil); r.status != http.StatusAccepted {
		t.Fatalf("delete: HTTP %d", r.status)
	}
	if r := do(t, http.MethodGet, statusPath, tok, nil); r.status != http.StatusNotFound {
		t.Fatalf("after delete: HTTP %d", r.status)
	}
	if r := do(t, http.MethodGet, manifest.Output[0].URL[strings.Index(manifest.Output[0].URL, "/fhir/"):], tok, nil); r.status != http.StatusNotFound {
		t.Fatalf("a file after delete: HTTP %d", r.status)
	}
}

// TestBulkImportResumes cancels an import part-way (as a kill would stop
// it) and sends the same file again: the second run writes only what is
// missing, and every resource is stored once.
func TestBulkImportResumes(t *testing.T) {
	const n = 300
	me := newPatient(t, "bulk-resume")
	grant(t, me, consent.MsgGrant{Grantee: consent.Org("dev-hospital"), Actions: consent.ActRead | consent.ActWrite})
	tok := token(t, "doctor1", "user/*.read user/*.write")
	var nd bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&nd, `{"resourceType":"Observation","id":"r-%d","status":"final","code":{"text":"heart rate"},"subject":{"reference":"Patient/%s"},"valueQuantity":{"value":%d}}`+"\n", i, addr(t, me), 60+i%40)
	}
	status := startImport(t, tok, nd.Bytes())
	path := status[strings.Index(status, "/fhir/"):]
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r := do(t, http.MethodGet, path, tok, nil)
		if r.status != http.StatusAccepted || !strings.HasPrefix(r.header.Get("X-Progress"), "writing: 0 ") && strings.HasPrefix(r.header.Get("X-Progress"), "writing") {
			break
		}
	}
	if r := do(t, http.MethodDelete, path, tok, nil); r.status != http.StatusAccepted && r.status != http.StatusNotFound {
		t.Fatalf("cancel: HTTP %d", r.status)
	}
	summary := importSummary(t, poll(t, startImport(t, tok, nd.Bytes()), tok))
	var created, present, failed int
	if _, err := fmt.Sscanf(summary, "300 resources: %d created, %d already imported, %d failed", &created, &present, &failed); err != nil {
		t.Fatalf("%q: %v", summary, err)
	}
	t.Logf("after the cancel: %s", summary)
	if created+present != n || failed != 0 {
		t.Fatalf("resumed import: %s", summary)
	}
	r := want(t, do(t, http.MethodGet, "/fhir/Observation?patient=Patient/"+addr(t, me).String()+"&_count=0", tok, nil), http.StatusOK)
	if total := r.json(t)["total"]; total != float64(n) {
		t.Fatalf("%v Observations stored, want %d", total, n)
	}
}
