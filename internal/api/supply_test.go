package api_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ics23 "github.com/cosmos/ics23/go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/epcis"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/supply"
)

type supplyChain struct {
	f       *fakeBackend
	mu      *sync.Mutex
	t       *testing.T
	batches int // proceed captures submitted as one batch
}

func newSupplyChain(t *testing.T) *supplyChain {
	h := apptest.NewWithConfig(t, apptest.Supply())
	h.SupplyMasterData(t)
	f := &fakeBackend{h: h, status: &api.Status{ChainID: apptest.ChainID}, txs: map[string]*api.TxResult{}, blocks: map[int64]*api.Block{}}
	c := &supplyChain{f: f, mu: &sync.Mutex{}, t: t}
	f.submit = func(tx []byte, wait bool) (*api.TxResult, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		r := h.Deliver(t, tx)[0]
		return &api.TxResult{Hash: txHash(tx), Committed: true, Height: h.Height, Code: r.Code, Codespace: r.Codespace, Log: r.Log}, nil
	}
	// A batch: one block of all of them, each result then found by hash.
	f.batch = func(txs [][]byte) ([]api.BatchItem, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.batches++
		out := make([]api.BatchItem, len(txs))
		for i, r := range h.Deliver(t, txs...) {
			out[i] = api.BatchItem{Hash: txHash(txs[i])}
			hash := sm.TxHash(txs[i])
			f.txs[hex.EncodeToString(hash[:])] = &api.TxResult{Hash: txHash(txs[i]), Committed: true, Height: h.Height, Code: r.Code, Codespace: r.Codespace, Log: r.Log}
		}
		return out, nil
	}
	return c
}

// lockedBackend serialises the harness's reads with its blocks.
type lockedBackend struct {
	*fakeBackend
	mu *sync.Mutex
}

func (l lockedBackend) State(height int64) (*merkle.Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fakeBackend.State(height)
}

func (l lockedBackend) BlockTime(height int64) (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fakeBackend.BlockTime(height)
}

// server is the API of the node of org, capturing with its admin's key.
func (c *supplyChain) server(admin string) *api.Server {
	return api.New(lockedBackend{c.f, c.mu}, api.Options{ChainID: apptest.ChainID, CommitWait: 5 * time.Second, SupplyKey: apptest.Key(admin),
		Registry: prometheus.NewRegistry(), Gatherer: prometheus.NewRegistry()})
}

func signedReq(t *testing.T, method, path, ctype string, body []byte, signer string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if signer != "" {
		if err := reqsig.Sign(req, apptest.Key(signer), apptest.ChainID, time.Now(), time.Minute, body); err != nil {
			t.Fatal(err)
		}
	}
	return req
}

func serveReq(s http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "epcis", "testdata", "scenario", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type jobView struct {
	Running bool `json:"running"`
	Success bool `json:"success"`
	Errors  []struct {
		Index int    `json:"eventIndex"`
		Hash  string `json:"eventHash"`
		Code  string `json:"code"`
	} `json:"errors"`
}

// capture posts a document and waits for its job to finish.
func capture(t *testing.T, s *api.Server, signer, doc string, behaviour string) jobView {
	t.Helper()
	req := signedReq(t, "POST", "/epcis/capture", "application/ld+json", fixture(t, doc), signer)
	if behaviour != "" {
		req.Header.Set("GS1-Capture-Error-Behaviour", behaviour)
	}
	w := serveReq(s, req)
	if w.Code != http.StatusAccepted {
		t.Fatalf("capture %s: %d %s", doc, w.Code, w.Body)
	}
	loc := w.Header().Get("Location")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		w := serveReq(s, signedReq(t, "GET", loc, "", nil, signer))
		if w.Code != 200 {
			t.Fatalf("job %s: %d %s", loc, w.Code, w.Body)
		}
		var j jobView
		if err := json.Unmarshal(w.Body.Bytes(), &j); err != nil {
			t.Fatal(err)
		}
		if !j.Running {
			return j
		}
	}
	t.Fatalf("job %s still running", loc)
	return jobView{}
}

func scenarioHashes(t *testing.T) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(fixture(t, "hashes.txt"))), "\n") {
		_, h, _ := strings.Cut(line, " ")
		out[h] = true
	}
	return out
}

// TestEPCISCaptureScenario captures the js/epcis documents (built with
// epcis2.js) through POST /epcis/capture on each organization's node,
// queries them back, and verifies the units.
func TestEPCISCaptureScenario(t *testing.T) {
	c := newSupplyChain(t)
	maker, whole, pharm := c.server(apptest.ManufacturerAdmin), c.server(apptest.DistributorAdmin), c.server(apptest.PharmacyAdmin)

	// Out of order: the distributor receives a case never shipped.
	if j := capture(t, whole, apptest.DistributorAdmin, "distributor.json", ""); j.Success || len(j.Errors) != 2 || j.Errors[0].Code != "supply/11" {
		t.Fatalf("receiving before shipping: %+v", j)
	}
	for _, step := range []struct {
		s      *api.Server
		signer string
		doc    string
	}{{maker, apptest.ManufacturerAdmin, "manufacturer.json"}, {whole, apptest.DistributorAdmin, "distributor.json"}, {pharm, apptest.PharmacyAdmin, "pharmacy.json"}} {
		if j := capture(t, step.s, step.signer, step.doc, ""); !j.Success || len(j.Errors) != 0 {
			t.Fatalf("%s: %+v", step.doc, j)
		}
	}
	// Again, each event on its own: every one is a duplicate.
	j := capture(t, pharm, apptest.PharmacyAdmin, "pharmacy.json", "proceed")
	if j.Success || len(j.Errors) != 3 || c.batches != 1 {
		t.Fatalf("captured twice: %+v (%d batches)", j, c.batches)
	}
	hashes := scenarioHashes(t)
	for i, e := range j.Errors {
		if e.Index != i || e.Code != "supply/27" || !hashes[e.Hash] {
			t.Fatalf("error %d: %+v", i, e)
		}
	}

	// Query: the events naming unit S1001, by its Digital Link.
	var dls []struct{ DigitalLink, EPC string }
	if err := json.Unmarshal(fixture(t, "digital-links.json"), &dls); err != nil {
		t.Fatal(err)
	}
	w := serveReq(pharm, signedReq(t, "GET", "/epcis/events?MATCH_epc="+url.QueryEscape(dls[0].DigitalLink), "", nil, apptest.RegulatorAdmin))
	if w.Code != 200 {
		t.Fatalf("query: %d %s", w.Code, w.Body)
	}
	got, err := epcis.DocumentHashes(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("S1001 events: %d, want commissioning, packing, unpacking, dispensing", len(got))
	}
	for _, h := range got {
		if !hashes[h] {
			t.Fatalf("queried event hashes to %s, not a captured hash", h)
		}
	}
	// Paging through the shipping events.
	w = serveReq(maker, signedReq(t, "GET", "/epcis/events?EQ_bizStep=shipping&perPage=2", "", nil, apptest.ManufacturerAdmin))
	next := w.Header().Get("Link")
	if first, _ := epcis.DocumentHashes(w.Body.Bytes()); w.Code != 200 || len(first) != 2 || !strings.Contains(next, "nextPageToken=") {
		t.Fatalf("page 1: %d %d events, Link %q", w.Code, len(first), next)
	}
	u := next[strings.Index(next, "<")+1 : strings.Index(next, ">")]
	w = serveReq(maker, signedReq(t, "GET", u, "", nil, apptest.ManufacturerAdmin))
	if rest, _ := epcis.DocumentHashes(w.Body.Bytes()); w.Code != 200 || len(rest) != 1 || w.Header().Get("Link") != "" {
		t.Fatalf("page 2: %d %d events %s", w.Code, len(rest), w.Body)
	}

	// Verification of each unit: the full chain, proven.
	root := c.f.h.Tree.Hash()
	for i, dl := range dls {
		for _, id := range []string{dl.DigitalLink, dl.EPC} {
			w := serveReq(pharm, httptest.NewRequest("GET", "/v1/supply/verify?holder="+apptest.OrgPharmacy+"&id="+url.QueryEscape(id), nil))
			if w.Code != 200 {
				t.Fatalf("verify %s: %d %s", id, w.Code, w.Body)
			}
			var v api.Verification
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
				t.Fatal(err)
			}
			want := "genuine"
			if i == 0 {
				want = "dispensed"
			}
			var orgs []string
			for _, e := range v.Provenance {
				if len(orgs) == 0 || orgs[len(orgs)-1] != e.Org {
					orgs = append(orgs, e.Org)
				}
			}
			if v.Status != want || !slices.Equal(orgs, []string{apptest.OrgManufacturer, apptest.OrgDistributor, apptest.OrgPharmacy}) || v.Unit.Custodian != apptest.OrgPharmacy {
				t.Fatalf("%s: %s, custody %v", id, v.Status, orgs)
			}
			for _, p := range v.Proofs {
				key, _ := hex.DecodeString(p.Key)
				var cp ics23.CommitmentProof
				if err := cp.Unmarshal(p.Proof); err != nil {
					t.Fatal(err)
				}
				if err := merkle.VerifyProof(root, &cp, key, p.Value); err != nil {
					t.Fatalf("%s: proof of %s: %v", id, p.Key, err)
				}
			}
		}
	}
	w = serveReq(pharm, httptest.NewRequest("GET", "/v1/supply/verify?id="+url.QueryEscape("(01)00614141123452(21)FAKE"), nil))
	if !strings.Contains(w.Body.String(), `"status":"unknown"`) || !strings.Contains(w.Body.String(), "never_commissioned") {
		t.Fatalf("unknown serial: %s", w.Body)
	}
}

func TestEPCISCaptureRefusals(t *testing.T) {
	c := newSupplyChain(t)
	maker := c.server(apptest.ManufacturerAdmin)
	doc := fixture(t, "manufacturer.json")
	for _, tc := range []struct {
		name   string
		signer string
		body   []byte
		want   int
	}{
		{"unsigned", "", doc, 401},
		{"a patient", apptest.Patient1, doc, 401},
		{"another organization's member", apptest.DistributorAdmin, doc, 403},
		{"not EPCIS", apptest.ManufacturerAdmin, []byte(`{"type":"EPCISDocument"}`), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serveReq(maker, signedReq(t, "POST", "/epcis/capture", "application/json", tc.body, tc.signer))
			if w.Code != tc.want || !strings.Contains(w.Header().Get("Content-Type"), "problem+json") {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
	// A node without a capture key queries but does not capture.
	nokey := api.New(lockedBackend{c.f, c.mu}, api.Options{ChainID: apptest.ChainID, Registry: prometheus.NewRegistry(), Gatherer: prometheus.NewRegistry()})
	if w := serveReq(nokey, signedReq(t, "POST", "/epcis/capture", "application/json", doc, apptest.ManufacturerAdmin)); w.Code != 403 {
		t.Fatalf("no capture key: %d %s", w.Code, w.Body)
	}
	if w := serveReq(nokey, signedReq(t, "GET", "/epcis/events", "", nil, apptest.ManufacturerAdmin)); w.Code != 200 {
		t.Fatalf("query without a capture key: %d %s", w.Code, w.Body)
	}
}

// TestEPCISQueryPlans: GET /epcis/events answers each indexed parameter
// (MATCH_epc, MATCH_anyEPC, MATCH_parentID, EQ_bizLocation,
// GE_eventTime/LT_eventTime, EQ_bizStep, EQ_disposition, GE_recordTime)
// exactly as matching every captured event would, one event per page,
// following the Link header's nextPageToken; a token of another query's
// order is a QueryParameterException.
func TestEPCISQueryPlans(t *testing.T) {
	c := newSupplyChain(t)
	maker, whole, pharm := c.server(apptest.ManufacturerAdmin), c.server(apptest.DistributorAdmin), c.server(apptest.PharmacyAdmin)
	for _, step := range []struct {
		s      *api.Server
		signer string
		doc    string
	}{{maker, apptest.ManufacturerAdmin, "manufacturer.json"}, {whole, apptest.DistributorAdmin, "distributor.json"}, {pharm, apptest.PharmacyAdmin, "pharmacy.json"}} {
		if j := capture(t, step.s, step.signer, step.doc, ""); !j.Success {
			t.Fatalf("%s: %+v", step.doc, j)
		}
	}
	kv := c.f.h.State()
	// Every stored event, parsed, with its hash: the brute-force answer.
	type stored struct {
		ev   epcis.Event
		rt   time.Time
		hash string
	}
	var all []stored
	supply.Events(kv, 0, func(e *supply.StoredEvent) bool {
		evs, err := epcis.Parse(e.JSON)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, stored{evs[0], time.Unix(e.Time, 0).UTC(), e.Hash})
		return true
	})
	if len(all) < 8 {
		t.Fatalf("%d events captured", len(all))
	}
	evTimes := make([]time.Time, len(all))
	for i, s := range all {
		evTimes[i] = s.ev.EventTime
	}
	mid := evTimes[len(evTimes)/2]
	caseKey := ""
	for _, s := range all {
		if s.ev.ParentID != nil {
			caseKey = s.ev.ParentID.Key()
		}
	}
	sscc := "urn:epc:id:sscc:" + strings.TrimPrefix(caseKey, "(00)")[1:8] + "." + strings.TrimPrefix(caseKey, "(00)")[:1] + strings.TrimPrefix(caseKey, "(00)")[8:17]
	for _, query := range []string{
		"MATCH_epc=" + url.QueryEscape("urn:epc:id:sgtin:0614141.012345.S1002"),
		"MATCH_anyEPC=" + url.QueryEscape(sscc),
		"MATCH_parentID=" + url.QueryEscape(sscc) + "&EQ_bizStep=packing",
		"MATCH_epc=" + url.QueryEscape("urn:epc:idpat:sgtin:0614141.012345.*"),
		"EQ_bizLocation=" + url.QueryEscape("urn:epc:id:sgln:0098765.00020.0"),
		"GE_eventTime=" + url.QueryEscape(mid.Format(time.RFC3339Nano)),
		"LT_eventTime=" + url.QueryEscape(mid.Format(time.RFC3339Nano)) + "&EQ_action=OBSERVE",
		"EQ_bizStep=" + url.QueryEscape("receiving|shipping"),
		"EQ_disposition=in_transit",
		"GE_recordTime=" + url.QueryEscape(all[0].rt.Format(time.RFC3339)),
		"EQ_action=ADD",
	} {
		t.Run(query, func(t *testing.T) {
			v, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			q, err := epcis.ParseQuery(v)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, s := range all {
				if q.Matches(s.ev, s.rt) {
					want[s.hash] = true
				}
			}
			got := map[string]bool{}
			path := "/epcis/events?perPage=1&" + query
			var tokens []string
			for pages := 0; path != ""; pages++ {
				w := serveReq(pharm, signedReq(t, "GET", path, "", nil, apptest.PharmacyAdmin))
				if w.Code != 200 {
					t.Fatalf("%s: %d %s", path, w.Code, w.Body)
				}
				hs, err := epcis.DocumentHashes(w.Body.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range hs {
					if got[h] {
						t.Fatalf("%s served twice", h)
					}
					got[h] = true
				}
				path = ""
				if l := w.Header().Get("Link"); l != "" {
					path = l[strings.Index(l, "<")+1 : strings.Index(l, ">")]
					tokens = append(tokens, path[strings.Index(path, "nextPageToken=")+len("nextPageToken="):])
				}
				if pages > 20 {
					t.Fatal("no end")
				}
			}
			if len(want) == 0 || len(got) != len(want) {
				t.Fatalf("%d events, want %d (of %d)", len(got), len(want), len(all))
			}
			for h := range want {
				if !got[h] {
					t.Fatalf("%s missing", h)
				}
			}
			if strings.Contains(query, "eventTime") && len(tokens) > 0 && !strings.HasPrefix(tokens[0], "t") {
				t.Fatalf("event-time query token %q", tokens[0])
			}
		})
	}
	// A capture-order token on an event-time query, and garbage.
	for _, path := range []string{"/epcis/events?GE_eventTime=2020-01-01T00:00:00Z&nextPageToken=3", "/epcis/events?nextPageToken=t12.x", "/epcis/events?EQ_bizStep=shipping&nextPageToken=t1700000000000.2"} {
		w := serveReq(pharm, signedReq(t, "GET", path, "", nil, apptest.PharmacyAdmin))
		if w.Code != 400 || !strings.Contains(w.Body.String(), "QueryParameterException") {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
	}
}
