package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/fhir"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/internal/testnet"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/session"
)

// bulkKillResources is how many Observations TestBulkImportSurvivesKill
// imports: MEDCHAIN_BULK_RESOURCES (docs/performance.md quotes a run of
// 10,000), else 1,000.
func bulkKillResources(t *testing.T) int {
	t.Helper()
	v := os.Getenv("MEDCHAIN_BULK_RESOURCES")
	if v == "" {
		return 1000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 10 {
		t.Fatalf("MEDCHAIN_BULK_RESOURCES=%q: a number, at least 10", v)
	}
	return n
}

// bulkClient speaks the FHIR Bulk Data protocol to a node, as a client
// outside the node does: kick-off, status polling, file download.
type bulkClient struct {
	t    *testing.T
	node *testnet.Node
	tok  string
	hc   *http.Client
}

type bulkReply struct {
	status int
	header http.Header
	body   []byte
}

func (b *bulkClient) do(method, url string, body []byte, hdr ...string) (bulkReply, error) {
	if !strings.HasPrefix(url, "http") {
		url = b.node.API() + url
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return bulkReply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+b.tok)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return bulkReply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return bulkReply{status: resp.StatusCode, header: resp.Header, body: data}, err
}

func (b *bulkClient) must(method, url string, body []byte, hdr ...string) bulkReply {
	b.t.Helper()
	r, err := b.do(method, url, body, hdr...)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// kickOffImport starts a $import of nd and returns its status URL.
func (b *bulkClient) kickOffImport(nd []byte) string {
	b.t.Helper()
	r := b.must(http.MethodPost, "/fhir/$import", nd, "Content-Type", "application/fhir+ndjson", "Prefer", "respond-async")
	if r.status != http.StatusAccepted || r.header.Get("Content-Location") == "" {
		b.t.Fatalf("import kick-off: HTTP %d %s", r.status, r.body)
	}
	return r.header.Get("Content-Location")
}

// progress reads a running job's X-Progress count ("writing: 300 of 1001
// resources"); done is true once the job has finished.
func (b *bulkClient) progress(status string) (written int, done bool) {
	b.t.Helper()
	r := b.must(http.MethodGet, status, nil)
	if r.status != http.StatusAccepted {
		return 0, true
	}
	var phase string
	var total int
	if _, err := fmt.Sscanf(r.header.Get("X-Progress"), "%s %d of %d resources", &phase, &written, &total); err != nil {
		b.t.Fatalf("X-Progress %q: %v", r.header.Get("X-Progress"), err)
	}
	return written, false
}

// wait polls status until the job ends and returns its final reply.
func (b *bulkClient) wait(ctx context.Context, status string) bulkReply {
	b.t.Helper()
	for {
		r := b.must(http.MethodGet, status, nil)
		if r.status != http.StatusAccepted {
			return r
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("job %s did not finish: %v", status, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestBulkImportSurvivesKill: a $import of MEDCHAIN_BULK_RESOURCES
// Observations (and their Patient) through a real node process, SIGKILLed
// part-way after some batches committed, restarted, and sent the same
// file again, stores every resource exactly once; a Patient/$export read
// back over HTTP holds exactly the imported resources, by content.
func TestBulkImportSurvivesKill(t *testing.T) {
	needNetwork(t)
	n := bulkKillResources(t)
	node := testnet.StartDev(t, testnet.DevOptions{TimeoutCommit: 100 * time.Millisecond})
	ctx := within(t, 15*time.Minute)
	c := node.Client()

	// A patient who gives dev-hospital read and write consent.
	patient, _ := mustRegister(t, ctx, node)
	s, err := c.NewSigner(ctx, patient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Grant(ctx, s, &consent.MsgGrant{Patient: patient.Address(), Grantee: consent.Org("dev-hospital"),
		Actions: consent.ActRead | consent.ActWrite, Purpose: consent.PurposeTreatment}); err != nil {
		t.Fatalf("grant: %v", err)
	}

	// doctor1 of dev-hospital logs in with a delegated session.
	ks := keystore.Open(config.KeysDir(node.Home))
	ks.Params = keystore.LightParams()
	doctor, err := ks.Load("doctor1", devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fhir.Login(ctx, nil, node.API()+"/fhir", doctor, fhir.LoginOptions{
		Scope: "user/*.read user/*.write",
		OrgKey: func(ctx context.Context, org string) (crypto.EncKey, error) {
			var o api.OrgView
			if err := c.Get(ctx, "/v1/orgs/"+org, &o); err != nil {
				return crypto.EncKey{}, err
			}
			return crypto.ParseEncKey(o.EncKey)
		},
		Delegate: func(ctx context.Context, sk *crypto.PrivKey, l session.Limits) error {
			s, acct, err := c.NewAccountSigner(ctx, doctor)
			if err != nil {
				return err
			}
			_, err = c.StartSession(ctx, s, acct, sk, l)
			return err
		},
	})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	bc := &bulkClient{t: t, node: node, tok: tok.AccessToken, hc: &http.Client{Timeout: 2 * time.Minute}}

	// The file: one Patient, n Observations, each with its own identifier
	// and value, so that the export can be matched line by line.
	pat := fmt.Sprintf(`{"resourceType":"Patient","id":"src-pat","identifier":[{"system":"urn:medchain:address","value":%q}],"name":[{"family":"Bulk","given":["Kill"]}],"gender":"female","birthDate":"1960-05-17"}`, patient.Address())
	imported := map[string]string{"src-pat": pat} // source id -> line
	var nd bytes.Buffer
	nd.WriteString(pat + "\n")
	for i := range n {
		id := fmt.Sprintf("obs-%d", i)
		line := fmt.Sprintf(`{"resourceType":"Observation","id":%q,"identifier":[{"system":"urn:example:bulk-kill","value":%q}],"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose"}]},"subject":{"reference":"Patient/src-pat"},"effectiveDateTime":"2024-03-%02dT08:%02d:00Z","valueQuantity":{"value":%d,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}`,
			id, id, 1+i%28, i%60, 60+i%90)
		imported[id] = line
		nd.WriteString(line + "\n")
	}
	total := n + 1

	// First run: kill the node once at least a third has committed.
	start := time.Now()
	status := bc.kickOffImport(nd.Bytes())
	before := 0
	for {
		w, done := bc.progress(status)
		if done {
			t.Fatalf("the import finished before the kill; raise MEDCHAIN_BULK_RESOURCES")
		}
		if w >= total/3 {
			before = w
			break
		}
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	firstRun := time.Since(start)
	node.Kill()
	t.Logf("SIGKILL after %d of %d resources reported written (%s)", before, total, firstRun.Round(time.Millisecond))

	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	if err := node.WaitReady(ctx); err != nil {
		t.Fatalf("restart after SIGKILL: %v", err)
	}
	// The old job died with the process.
	if r := bc.must(http.MethodGet, status, nil); r.status != http.StatusNotFound {
		t.Fatalf("the killed job's status after the restart: HTTP %d", r.status)
	}

	// Second run: the same file, the same token (it survives restarts).
	start = time.Now()
	r := bc.wait(ctx, bc.kickOffImport(nd.Bytes()))
	secondRun := time.Since(start)
	if r.status != http.StatusOK {
		t.Fatalf("resumed import: HTTP %d %s", r.status, r.body)
	}
	var outcome struct {
		Issue []struct{ Diagnostics string } `json:"issue"`
	}
	if err := json.Unmarshal(r.body, &outcome); err != nil || len(outcome.Issue) == 0 {
		t.Fatalf("import outcome %s: %v", r.body, err)
	}
	var got, created, present, failed int
	if _, err := fmt.Sscanf(outcome.Issue[0].Diagnostics, "%d resources: %d created, %d already imported, %d failed", &got, &created, &present, &failed); err != nil {
		t.Fatalf("import outcome %q: %v", outcome.Issue[0].Diagnostics, err)
	}
	t.Logf("resumed import: %s (%s)", outcome.Issue[0].Diagnostics, secondRun.Round(time.Millisecond))
	if got != total || failed != 0 || created+present != total {
		t.Fatalf("resumed import: %q, want %d resources, none failed", outcome.Issue[0].Diagnostics, total)
	}
	if present < before {
		t.Fatalf("resumed import found %d already imported; %d were reported written before the kill", present, before)
	}
	// Every resource was written once, by one of the two runs.
	t.Logf("THROUGHPUT import: %d resources written in %s (%.1f/s; before the kill %d in %s, after it %d in %s)",
		total, (firstRun + secondRun).Round(time.Millisecond), float64(total)/(firstRun+secondRun).Seconds(),
		before, firstRun.Round(time.Millisecond), created, secondRun.Round(time.Millisecond))

	// Export the patient back and read every file.
	start = time.Now()
	r = bc.must(http.MethodGet, "/fhir/Patient/$export?_type=Patient,Observation&patient=Patient/"+patient.Address().String(), nil,
		"Prefer", "respond-async", "Accept", "application/fhir+json")
	if r.status != http.StatusAccepted {
		t.Fatalf("export kick-off: HTTP %d %s", r.status, r.body)
	}
	r = bc.wait(ctx, r.header.Get("Content-Location"))
	if r.status != http.StatusOK {
		t.Fatalf("export: HTTP %d %s", r.status, r.body)
	}
	var manifest struct {
		Output []struct {
			Type  string `json:"type"`
			URL   string `json:"url"`
			Count int    `json:"count"`
		} `json:"output"`
		Error []any `json:"error"`
	}
	if err := json.Unmarshal(r.body, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Error) != 0 {
		t.Fatalf("export errors: %s", r.body)
	}
	var exported []map[string]any
	for _, o := range manifest.Output {
		f := bc.must(http.MethodGet, o.URL, nil, "Accept", "application/fhir+ndjson")
		if f.status != http.StatusOK {
			t.Fatalf("file %s: HTTP %d %s", o.URL, f.status, f.body)
		}
		lines := bytes.Split(bytes.TrimSpace(f.body), []byte("\n"))
		if len(lines) != o.Count {
			t.Fatalf("%s file: %d lines, the manifest says %d", o.Type, len(lines), o.Count)
		}
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				t.Fatalf("exported line %q: %v", l, err)
			}
			exported = append(exported, m)
		}
	}
	exportTime := time.Since(start)
	t.Logf("THROUGHPUT export: %d resources exported and downloaded in %s (%.1f/s)",
		len(exported), exportTime.Round(time.Millisecond), float64(len(exported))/exportTime.Seconds())

	// Exactly the imported resources, each once, with the same content
	// (ids, meta and the subject reference are the chain's own).
	var patientID string
	for _, m := range exported {
		if m["resourceType"] == "Patient" {
			if patientID != "" {
				t.Fatal("two Patients exported")
			}
			patientID, _ = m["id"].(string)
		}
	}
	seen := map[string]bool{}
	for _, m := range exported {
		src := "src-pat"
		if m["resourceType"] == "Observation" {
			ids, _ := m["identifier"].([]any)
			if len(ids) != 1 {
				t.Fatalf("exported Observation %v without its identifier", m["id"])
			}
			src, _ = ids[0].(map[string]any)["value"].(string)
			if ref := m["subject"].(map[string]any)["reference"]; ref != "Patient/"+patientID {
				t.Fatalf("Observation %s: subject %v, the exported Patient is %s", src, ref, patientID)
			}
		}
		line, ok := imported[src]
		if !ok {
			t.Fatalf("exported a resource that was not imported: %v", m)
		}
		if seen[src] {
			t.Fatalf("%s exported twice: it was stored twice", src)
		}
		seen[src] = true
		var want map[string]any
		if err := json.Unmarshal([]byte(line), &want); err != nil {
			t.Fatal(err)
		}
		if d := contentDiff(want, m); d != "" {
			t.Fatalf("%s: exported content differs from the imported: %s", src, d)
		}
	}
	if len(seen) != total {
		t.Fatalf("exported %d of the %d imported resources", len(seen), total)
	}
}

// contentDiff compares an imported resource with its export, leaving out
// what the chain assigns: id, meta, and the subject reference (rewritten
// from the file's Patient to the stored one).
func contentDiff(imported, exported map[string]any) string {
	strip := func(m map[string]any) map[string]any {
		c := map[string]any{}
		for k, v := range m {
			switch k {
			case "id", "meta", "subject":
				continue
			}
			c[k] = v
		}
		return c
	}
	a, b := strip(imported), strip(exported)
	if reflect.DeepEqual(a, b) {
		return ""
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return fmt.Sprintf("imported %s, exported %s", ja, jb)
}
