package fhir_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/blob"
	"github.com/medchain/medchain/internal/fhir"
	"github.com/medchain/medchain/internal/gateway"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/policy/cond"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/session"
)

// The example rules of docs/policies.md, verbatim.
const (
	ruleAdmitted = `"dev-hospital" in encounter_orgs`
	ruleLOINC    = `resource_type == "Observation" &&
  (!codes_known || (size(codes) > 0 &&
    codes.all(c, c in ["http://loinc.org|8867-4", "http://loinc.org|8480-6"])))`
	ruleNotAfter18 = `block_time.getHours("Europe/Paris") < 18`
)

// condNode is one in-process node of dev-hospital over an apptest chain,
// whose block time the test sets: its API (signed reads, the access
// answers, transaction submission), the blob gateway mounted in it, and
// its FHIR server. The gateway account's key is the organization's key, as
// on a real node; access events wait in the gateway's outbox until flush
// logs them on chain.
type condNode struct {
	t       *testing.T
	h       *apptest.Harness
	handler http.Handler
	box     *gateway.Outbox
	gw      *crypto.PrivKey
	blobs   blob.Store
	trailAt map[crypto.Address]int
}

// condChain is the chain as the FHIR server sees it: the harness.
type condChain struct {
	t *testing.T
	h *apptest.Harness
}

func (c condChain) ChainID() string { return apptest.ChainID }
func (c condChain) Latest() (*merkle.Snapshot, time.Time, error) {
	return c.h.App.Committed(), c.h.Time, nil
}
func (c condChain) Broadcast(_ context.Context, txs [][]byte) ([]fhir.TxOutcome, func(context.Context) ([]fhir.TxOutcome, error), error) {
	var checked []fhir.TxOutcome
	var ok [][]byte
	for _, tx := range txs {
		r := c.h.Check(c.t, tx)
		checked = append(checked, fhir.TxOutcome{Hash: sm.TxHash(tx), Code: r.Code, Codespace: r.Codespace, Log: r.Log})
		if r.Code != 0 {
			break
		}
		ok = append(ok, tx)
	}
	return checked, func(context.Context) ([]fhir.TxOutcome, error) {
		if len(ok) == 0 {
			return nil, nil
		}
		var out []fhir.TxOutcome
		for i, r := range c.h.Deliver(c.t, ok...) {
			out = append(out, fhir.TxOutcome{Hash: sm.TxHash(ok[i]), Code: r.Code, Codespace: r.Codespace, Log: r.Log, Height: c.h.Height})
		}
		return out, nil
	}, nil
}

// condBackend is the API's backend over the harness.
type condBackend struct {
	t *testing.T
	h *apptest.Harness
}

func (b condBackend) Status(context.Context) (*api.Status, error) {
	return &api.Status{ChainID: apptest.ChainID, Height: b.h.Height, LatestBlockTime: b.h.Time}, nil
}
func (b condBackend) Submit(_ context.Context, tx []byte, _ bool) (*api.TxResult, error) {
	hash := fmt.Sprintf("%X", sm.TxHash(tx))
	if r := b.h.Check(b.t, tx); r.Code != 0 {
		return &api.TxResult{Hash: hash, Code: r.Code, Codespace: r.Codespace, Log: r.Log}, nil
	}
	r := b.h.Deliver(b.t, tx)[0]
	return &api.TxResult{Hash: hash, Committed: true, Height: b.h.Height, Code: r.Code, Codespace: r.Codespace, Log: r.Log}, nil
}
func (b condBackend) State(height int64) (*merkle.Snapshot, error) { return b.h.App.SnapshotAt(height) }
func (b condBackend) Params() *params.Registry                     { return b.h.App.Params() }
func (b condBackend) Block(context.Context, int64) (*api.Block, error) {
	return nil, api.ErrNotFound
}
func (b condBackend) Tx(context.Context, []byte) (*api.TxResult, error) { return nil, api.ErrNotFound }
func (b condBackend) TxsBySigner(context.Context, string, int, int) ([]*api.TxResult, int, error) {
	return nil, 0, nil
}
func (b condBackend) BlockTime(int64) (time.Time, error) { return b.h.Time, nil }

// direct is an http.RoundTripper that serves a request with a handler, in
// the caller's goroutine (the harness is not safe for concurrent use).
type direct struct{ h http.Handler }

func (d direct) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.RemoteAddr = "127.0.0.1:1"
	r.RequestURI = r.URL.RequestURI()
	w := httptest.NewRecorder()
	d.h.ServeHTTP(w, r)
	return w.Result(), nil
}

func newCondNode(t *testing.T) *condNode {
	t.Helper()
	cfg := apptest.Domain()
	// The hospital node's gateway account holds the organization's key.
	orgGateway := "org/" + apptest.OrgHospital
	cfg.Members = append(slices.Clone(cfg.Members), apptest.Member{Name: orgGateway, Org: apptest.OrgHospital, Role: accounts.RoleGateway})
	h := apptest.NewWithConfig(t, cfg)
	h.DeliverOK(t)
	gw := apptest.Key(orgGateway)
	blobs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	box, err := gateway.OpenOutbox(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	lg := slog.New(slog.NewTextHandler(io.Discard, nil))
	auditor, err := gateway.NewAuditor(gw, nil, box, lg, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return h.Time }
	backend := condBackend{t, h}
	verifier := &reqsig.Verifier{ChainID: apptest.ChainID, Now: now, Authorize: api.SignerCheck(func() (store.Reader, int64, error) {
		return h.App.Committed(), h.Time.Unix(), nil
	})}
	gws := &gateway.Server{Key: gw, ChainID: apptest.ChainID, Blobs: blobs, State: condChain{t, h}, Auditor: auditor,
		Verifier: verifier, Log: lg, MaxBlob: 1 << 20, Now: now}
	fs := fhir.New(fhir.Config{Key: gw, Chain: condChain{t, h}, Blobs: blobs, Auditor: auditor, Log: lg, Now: now})
	reg := prometheus.NewRegistry()
	a := api.New(backend, api.Options{Gateway: gws, FHIR: fs, ChainID: apptest.ChainID, Verifier: verifier, Registry: reg, Gatherer: reg})
	return &condNode{t: t, h: h, handler: a, box: box, gw: gw, blobs: blobs, trailAt: map[crypto.Address]int{}}
}

// send delivers a message in a block and fails the test unless it succeeds.
func (n *condNode) send(key *crypto.PrivKey, m sm.Msg) {
	n.t.Helper()
	n.h.DeliverOK(n.t, n.h.Sign(key, m))
}

// condRecord is a record the test added: its id, type and ciphertext.
type condRecord struct {
	id   consent.RecordID
	typ  string
	ct   []byte
	hash [32]byte
}

func (r *condRecord) hex() string { return hex.EncodeToString(r.id[:]) }

// addRecord has the patient add a record of resource, encrypted, with its
// data key wrapped for exactly the parties the chain expects, and its
// ciphertext stored on the node.
func (n *condNode) addRecord(patient *crypto.PrivKey, seed byte, resource string) *condRecord {
	n.t.Helper()
	var res map[string]any
	if err := json.Unmarshal([]byte(resource), &res); err != nil {
		n.t.Fatal(err)
	}
	r := &condRecord{typ: res["resourceType"].(string)}
	r.id[0], r.id[1] = 0xc0, seed
	ct, dk, err := envelope.Seal(nil, []byte(resource), r.id, patient.Address())
	if err != nil {
		n.t.Fatal(err)
	}
	r.ct, r.hash = ct, sha256.Sum256(ct)
	snap := n.h.State()
	var keys []records.WrappedKey
	for _, p := range consent.KeyHolders(snap, n.h.Time.Unix(), consent.Target{Patient: patient.Address(), Record: r.id, Type: r.typ}) {
		ek, ok := consent.EncKeyOf(snap, p)
		if !ok {
			continue
		}
		wk, err := envelope.Wrap(nil, ek, dk, r.id, 1)
		if err != nil {
			n.t.Fatal(err)
		}
		keys = append(keys, records.WrappedKey{Recipient: p, Enc: wk.Enc, CT: wk.CT})
	}
	slices.SortFunc(keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
	if err := n.blobs.PutExpect(context.Background(), r.hash, ct); err != nil {
		n.t.Fatal(err)
	}
	n.send(patient, &records.MsgAdd{ID: r.id, Patient: patient.Address(), ResourceType: r.typ, ContentHash: r.hash, Size: uint64(len(ct)), Keys: keys})
	return r
}

// signed serves a GET signed by key (the API and the gateway).
func (n *condNode) signed(key *crypto.PrivKey, path string) (int, []byte) {
	n.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = "127.0.0.1:1"
	if err := reqsig.Sign(req, key, apptest.ChainID, n.h.Time, time.Minute, nil); err != nil {
		n.t.Fatal(err)
	}
	w := httptest.NewRecorder()
	n.handler.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

// fhirDo serves a FHIR request with a bearer token.
func (n *condNode) fhirDo(method, path, tok string, body string) (int, []byte) {
	n.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "127.0.0.1:1"
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	w := httptest.NewRecorder()
	n.handler.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

// login gets a FHIR token for key: without a session delegation (reads
// through the organization's key), or with one (writes).
func (n *condNode) login(key *crypto.PrivKey, scope string, delegate bool) string {
	n.t.Helper()
	o := fhir.LoginOptions{Scope: scope, NoDelegation: !delegate, Now: func() time.Time { return n.h.Time }}
	if delegate {
		o.OrgKey = func(_ context.Context, org string) (crypto.EncKey, error) { return apptest.OrgKey(org).EncKey(), nil }
		o.Delegate = func(_ context.Context, sk *crypto.PrivKey, l session.Limits) error {
			n.send(key, session.NewDelegate(apptest.ChainID, key.Address(), sk, l))
			return nil
		}
	}
	tok, err := fhir.Login(context.Background(), &http.Client{Transport: direct{n.handler}}, "http://node/fhir", key, o)
	if err != nil {
		n.t.Fatalf("login: %v", err)
	}
	return tok.AccessToken
}

// flush logs the access events waiting in the outbox on chain, as the
// gateway's auditor does, and returns the patient's trail entries logged
// since the last flush.
func (n *condNode) flush(patient crypto.Address) []audit.Event {
	n.t.Helper()
	nums, err := n.box.Pending()
	if err != nil {
		n.t.Fatal(err)
	}
	if len(nums) > 0 {
		var evs []audit.Event
		for _, num := range nums {
			e, err := n.box.Get(num)
			if err != nil {
				n.t.Fatal(err)
			}
			evs = append(evs, e)
		}
		res := n.h.DeliverOK(n.t, n.h.Sign(n.gw, &audit.MsgLog{Events: evs}))
		for _, ev := range res[0].Events {
			if ev.Type == audit.EventRejected {
				n.t.Fatalf("the chain refused an access event: %v", ev.Attributes)
			}
		}
		if err := n.box.Remove(nums); err != nil {
			n.t.Fatal(err)
		}
	}
	trail := audit.Trail(n.h.State(), patient, audit.Filter{})
	out := trail[n.trailAt[patient]:]
	n.trailAt[patient] = len(trail)
	return out
}

// wantTrail checks the entries an access left in the trail: one, served or
// refused, naming the consent and its condition (a refusal's reason too).
func wantTrail(t *testing.T, path string, got []audit.Event, served bool, consentID uint64, expr string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("%s: %d trail entries %+v, want 1", path, len(got), got)
	}
	e := got[0]
	h := cond.Hash(expr)
	reason := ""
	if !served {
		reason = fmt.Sprintf("consent/24: consent %d condition %s", consentID, h)
	}
	if e.Served != served || e.ConsentID != consentID || e.Condition != h || e.Reason != reason {
		t.Fatalf("%s: trail entry served=%v consent=%d condition=%q reason=%q; want served=%v consent=%d condition=%s reason=%q",
			path, e.Served, e.ConsentID, e.Condition, e.Reason, served, consentID, h, reason)
	}
}

// errCode is the "codespace/code" of an API or gateway error body.
func errCode(body []byte) string {
	var e api.ErrorBody
	_ = json.Unmarshal(body, &e)
	return fmt.Sprintf("%s/%d", e.Codespace, e.Code)
}

// fhirCode is the medchain code of an OperationOutcome.
func fhirCode(t *testing.T, status int, body []byte) string {
	t.Helper()
	return reply{status: status, body: body}.outcomeCode(t)
}

// bundleIDs lists the ids of a searchset Bundle's match entries, and its total.
func bundleIDs(t *testing.T, body []byte) ([]string, int) {
	t.Helper()
	var b struct {
		Total int `json:"total"`
		Entry []struct {
			Resource map[string]any `json:"resource"`
			Search   struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("not a Bundle: %s", body)
	}
	var ids []string
	for _, e := range b.Entry {
		if e.Search.Mode == "match" {
			ids = append(ids, fmt.Sprint(e.Resource["id"]))
		}
	}
	return ids, b.Total
}

func obsJSON(code string) string {
	return `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"` + code + `"}]},"valueQuantity":{"value":64}}`
}

// readCase is one record read on every path, and what each must answer.
type readCase struct {
	rec *condRecord
	// allowed: every path serves it. Otherwise every path refuses with
	// consent/24, except that the blob gateway and the key endpoint, which
	// never see the plaintext (codes unknown), serve it when codesOnly.
	allowed, codesOnly bool
}

// checkPaths reads c.rec as the doctor through every read path — the blob
// gateway, the API's key endpoint, record metadata, listing and access
// answer, FHIR read, history,
// search and $everything — and checks each answer and the trail entry it
// leaves.
func (n *condNode) checkPaths(t *testing.T, doctor, patient *crypto.PrivKey, tok, pid string, consentID uint64, expr string, c readCase) {
	t.Helper()
	pa := patient.Address()
	// The paths that see no plaintext decide with codes unknown.
	opaqueAllowed := c.allowed || c.codesOnly

	// Blob gateway.
	st, body := n.signed(doctor, "/v1/blobs/"+hex.EncodeToString(c.rec.hash[:]))
	if opaqueAllowed {
		if st != http.StatusOK || !bytes.Equal(body, c.rec.ct) {
			t.Fatalf("gateway: HTTP %d %s; want the ciphertext", st, body)
		}
	} else if st != http.StatusForbidden || errCode(body) != "consent/24" {
		t.Fatalf("gateway: HTTP %d %s; want 403 consent/24", st, body)
	}
	wantTrail(t, "gateway", n.flush(pa), opaqueAllowed, consentID, expr)

	// API: the data key, re-wrapped for the doctor by the gateway.
	st, body = n.signed(doctor, "/v1/records/"+c.rec.hex()+"/key")
	if opaqueAllowed {
		var k gateway.KeyResponse
		if st != http.StatusOK || json.Unmarshal(body, &k) != nil || k.CT == "" {
			t.Fatalf("API key: HTTP %d %s; want the wrapped key", st, body)
		}
	} else if st != http.StatusForbidden || errCode(body) != "consent/24" {
		t.Fatalf("API key: HTTP %d %s; want 403 consent/24", st, body)
	}
	wantTrail(t, "API key", n.flush(pa), opaqueAllowed, consentID, expr)

	// API: the record's metadata and the patient's listing. The doctor's
	// care grounds come only from a conditioned consent: they show the
	// records it allows now (metadata, not an access: no trail entry).
	st, body = n.signed(doctor, "/v1/records/"+c.rec.hex())
	if opaqueAllowed {
		if st != http.StatusOK || !strings.Contains(string(body), c.rec.hex()) {
			t.Fatalf("API record: HTTP %d %s", st, body)
		}
	} else if st != http.StatusForbidden || errCode(body) != "consent/24" {
		t.Fatalf("API record: HTTP %d %s; want 403 consent/24", st, body)
	}
	st, body = n.signed(doctor, "/v1/patients/"+pa.String()+"/records")
	if st != http.StatusOK || strings.Contains(string(body), c.rec.hex()) != opaqueAllowed {
		t.Fatalf("API listing: HTTP %d %s; record %s listed should be %v", st, body, c.rec.hex(), opaqueAllowed)
	}

	// API: the access answer (a question, not an access: no trail entry).
	st, body = n.signed(doctor, "/v1/records/"+c.rec.hex()+"/access?reader="+doctor.Address().String())
	var av api.AccessView
	if st != http.StatusOK || json.Unmarshal(body, &av) != nil {
		t.Fatalf("API access: HTTP %d %s", st, body)
	}
	if av.Allowed != opaqueAllowed || av.ConsentID != consentID || av.Condition != cond.Hash(expr) ||
		(!opaqueAllowed && fmt.Sprintf("%s/%d", av.Codespace, av.Code) != "consent/24") {
		t.Fatalf("API access answer %+v; want allowed=%v under consent %d condition %s", av, opaqueAllowed, consentID, cond.Hash(expr))
	}
	if got := n.flush(pa); len(got) != 0 {
		t.Fatalf("an access answer left trail entries %+v", got)
	}

	// FHIR read.
	st, body = n.fhirDo(http.MethodGet, "/fhir/"+c.rec.typ+"/"+c.rec.hex(), tok, "")
	if c.allowed {
		if st != http.StatusOK || !strings.Contains(string(body), `"id":"`+c.rec.hex()+`"`) {
			t.Fatalf("FHIR read: HTTP %d %s", st, body)
		}
	} else if st != http.StatusForbidden || fhirCode(t, st, body) != "consent/24" {
		t.Fatalf("FHIR read: HTTP %d %s; want 403 consent/24", st, body)
	}
	wantTrail(t, "FHIR read", n.flush(pa), c.allowed, consentID, expr)

	// FHIR history.
	st, body = n.fhirDo(http.MethodGet, "/fhir/"+c.rec.typ+"/"+c.rec.hex()+"/_history", tok, "")
	if c.allowed {
		if st != http.StatusOK || !strings.Contains(string(body), `"id":"`+c.rec.hex()+`"`) {
			t.Fatalf("FHIR history: HTTP %d %s", st, body)
		}
	} else if st != http.StatusForbidden || fhirCode(t, st, body) != "consent/24" {
		t.Fatalf("FHIR history: HTTP %d %s; want 403 consent/24", st, body)
	}
	wantTrail(t, "FHIR history", n.flush(pa), c.allowed, consentID, expr)

	// FHIR search and $everything: the record is a match only when allowed.
	// A refusal decided before decryption is simply no match (as a search
	// without consent); one decided on the codes, after decryption, is in
	// the trail.
	for _, q := range []struct{ name, path string }{
		{"FHIR search", "/fhir/" + c.rec.typ + "?patient=Patient/" + pid},
		{"FHIR $everything", "/fhir/Patient/" + pid + "/$everything"},
	} {
		st, body = n.fhirDo(http.MethodGet, q.path, tok, "")
		if st != http.StatusOK {
			t.Fatalf("%s: HTTP %d %s", q.name, st, body)
		}
		ids, total := bundleIDs(t, body)
		if slices.Contains(ids, c.rec.hex()) != c.allowed || total != len(ids) {
			t.Fatalf("%s: matches %v (total %d); record %s allowed=%v", q.name, ids, total, c.rec.hex(), c.allowed)
		}
		var mine []audit.Event
		for _, e := range n.flush(pa) {
			if e.Record == c.rec.id {
				mine = append(mine, e)
			}
		}
		if c.allowed || c.codesOnly {
			wantTrail(t, q.name, mine, c.allowed, consentID, expr)
		} else if len(mine) != 0 {
			t.Fatalf("%s: trail entries %+v for a record refused before decryption", q.name, mine)
		}
	}
}

// TestConditionEveryReadPath runs each example rule of docs/policies.md
// through every read path a practitioner has — the blob gateway, the API
// (data key, access answer), FHIR read, search and $everything — where it
// refuses and where it allows, and checks that the trail names the consent
// and the condition for both.
func TestConditionEveryReadPath(t *testing.T) {
	patient, doctor := apptest.Key(apptest.Patient1), apptest.Key(apptest.HospitalDoctor)
	org := consent.Org(apptest.OrgHospital)
	setup := func(t *testing.T, expr string, types []string) (*condNode, uint64, string) {
		n := newCondNode(t)
		n.send(patient, &consent.MsgGrant{Patient: patient.Address(), Grantee: org, Actions: consent.ActRead | consent.ActWrite,
			Types: types, Purpose: consent.PurposeTreatment, Condition: expr})
		pid := n.addRecord(patient, 0, `{"resourceType":"Patient","identifier":[{"system":"urn:medchain:address","value":"`+patient.Address().String()+`"}]}`).hex()
		return n, 1, pid
	}

	t.Run("admitted at the hospital", func(t *testing.T) {
		n, id, pid := setup(t, ruleAdmitted, []string{"Observation"})
		obs := n.addRecord(patient, 1, obsJSON("8867-4"))
		tok := n.login(doctor, "user/*.read", false)
		n.checkPaths(t, doctor, patient, tok, pid, id, ruleAdmitted, readCase{rec: obs})
		n.send(doctor, &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: patient.Address()})
		n.checkPaths(t, doctor, patient, tok, pid, id, ruleAdmitted, readCase{rec: obs, allowed: true})
		n.send(doctor, &policy.MsgEncounter{Action: policy.TypeDischarge, Patient: patient.Address()})
		n.checkPaths(t, doctor, patient, tok, pid, id, ruleAdmitted, readCase{rec: obs})
	})

	t.Run("LOINC codes in a set", func(t *testing.T) {
		n, id, pid := setup(t, ruleLOINC, nil) // no type scope: the condition names the type
		heart := n.addRecord(patient, 1, obsJSON("8867-4"))
		glucose := n.addRecord(patient, 2, obsJSON("2339-0"))
		allergy := n.addRecord(patient, 3, `{"resourceType":"AllergyIntolerance","code":{"text":"penicillin"}}`)
		tok := n.login(doctor, "user/*.read", false)
		n.checkPaths(t, doctor, patient, tok, pid, id, ruleLOINC, readCase{rec: heart, allowed: true})
		// Codes outside the set: refused wherever the plaintext is (FHIR);
		// the gateway serving ciphertext does not know them (documented).
		n.checkPaths(t, doctor, patient, tok, pid, id, ruleLOINC, readCase{rec: glucose, codesOnly: true})
		// Not an Observation: refused everywhere.
		n.checkPaths(t, doctor, patient, tok, pid, id, ruleLOINC, readCase{rec: allergy})
		// Bulk export: the heart rate is exported, the glucose is an error
		// line with consent/24, and both are in the trail.
		n.checkExport(t, tok, patient.Address(), id, heart, glucose)
	})

	t.Run("not after 18:00 in Paris", func(t *testing.T) {
		n, id, pid := setup(t, ruleNotAfter18, []string{"Observation"})
		obs := n.addRecord(patient, 1, obsJSON("8867-4"))
		at := func(s string) {
			when, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatal(err)
			}
			n.h.Advance(when.Sub(n.h.NextTime()))
			n.h.DeliverOK(t)
			if !n.h.Time.Equal(when) {
				t.Fatalf("block time %s, want %s", n.h.Time, when)
			}
		}
		at("2025-01-01T16:59:00Z")                   // 17:59 in Paris
		tok := n.login(doctor, "user/*.read", false) // a token lasts an hour
		n.checkPaths(t, doctor, patient, tok, pid, id, ruleNotAfter18, readCase{rec: obs, allowed: true})
		at("2025-01-01T17:00:00Z") // 18:00 in Paris
		n.checkPaths(t, doctor, patient, tok, pid, id, ruleNotAfter18, readCase{rec: obs})
	})
}

// TestConditionEveryWritePath: a consent whose condition covers writes is
// respected by FHIR create (the practitioner's delegated session) and by a
// records/add submitted through the API, where it refuses and where it
// allows.
func TestConditionEveryWritePath(t *testing.T) {
	patient, doctor := apptest.Key(apptest.Patient1), apptest.Key(apptest.HospitalDoctor)
	org := consent.Org(apptest.OrgHospital)
	setup := func(t *testing.T, expr string, types []string) (*condNode, string, string) {
		n := newCondNode(t)
		n.send(patient, &consent.MsgGrant{Patient: patient.Address(), Grantee: org, Actions: consent.ActRead | consent.ActWrite,
			Types: types, Purpose: consent.PurposeTreatment, Condition: expr})
		pid := n.addRecord(patient, 0, `{"resourceType":"Patient","identifier":[{"system":"urn:medchain:address","value":"`+patient.Address().String()+`"}]}`).hex()
		return n, pid, n.login(doctor, "user/*.read user/Observation.write", true)
	}
	seq := byte(0x10)
	// fhirCreate posts an Observation with code about the patient.
	fhirCreate := func(t *testing.T, n *condNode, tok, pid, code string, want int) {
		t.Helper()
		res := strings.Replace(obsJSON(code), `"status"`, `"subject":{"reference":"Patient/`+pid+`"},"status"`, 1)
		st, body := n.fhirDo(http.MethodPost, "/fhir/Observation", tok, res)
		if st != want || (want == http.StatusForbidden && fhirCode(t, st, body) != "consent/24") {
			t.Fatalf("FHIR create %s: HTTP %d %s; want %d", code, st, body, want)
		}
	}
	// apiAdd submits the doctor's records/add of a record of typ through
	// POST /v1/txs and returns "ok", or "refused by the condition" when
	// the chain refused it (records/1, no write consent) naming the
	// consent's condition, else the code and log.
	apiAdd := func(t *testing.T, n *condNode, expr, typ string) string {
		t.Helper()
		seq++
		id := consent.RecordID{0xd0, seq}
		snap := n.h.State()
		ct := []byte("ciphertext " + typ)
		var keys []records.WrappedKey
		for _, p := range consent.KeyHolders(snap, n.h.Time.Unix(), consent.Target{Patient: patient.Address(), Record: id, Type: typ}) {
			if ek, ok := consent.EncKeyOf(snap, p); ok {
				wk, err := envelope.Wrap(nil, ek, [envelope.DataKeySize]byte{1}, id, 1)
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, records.WrappedKey{Recipient: p, Enc: wk.Enc, CT: wk.CT})
			}
		}
		slices.SortFunc(keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
		tx := n.h.Sign(doctor, &records.MsgAdd{ID: id, Patient: patient.Address(), ResourceType: typ, ContentHash: sha256.Sum256(ct), Size: uint64(len(ct)), Keys: keys})
		b, _ := json.Marshal(map[string]string{"tx": base64.StdEncoding.EncodeToString(tx)})
		req := httptest.NewRequest(http.MethodPost, "/v1/txs", bytes.NewReader(b))
		req.RemoteAddr = "127.0.0.1:1"
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		n.handler.ServeHTTP(w, req)
		var res api.TxResult
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatalf("POST /v1/txs: HTTP %d %s", w.Code, w.Body)
		}
		if res.Code != 0 {
			n.h.Resync(doctor) // a refused transaction used no sequence
			code := fmt.Sprintf("%s/%d", res.Codespace, res.Code)
			if code == "records/1" && strings.Contains(res.Log, "consent 1 condition "+cond.Hash(expr)) {
				return "consent/24"
			}
			return code + ": " + res.Log
		}
		return "ok"
	}

	t.Run("admitted at the hospital", func(t *testing.T) {
		n, pid, tok := setup(t, ruleAdmitted, []string{"Observation"})
		fhirCreate(t, n, tok, pid, "8867-4", http.StatusForbidden)
		if got := apiAdd(t, n, ruleAdmitted, "Observation"); got != "consent/24" {
			t.Fatalf("API records/add before the admission: %s, want consent/24", got)
		}
		n.send(doctor, &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: patient.Address()})
		fhirCreate(t, n, tok, pid, "8867-4", http.StatusCreated)
		if got := apiAdd(t, n, ruleAdmitted, "Observation"); got != "ok" {
			t.Fatalf("API records/add during the admission: %s", got)
		}
	})

	t.Run("LOINC codes in a set", func(t *testing.T) {
		n, pid, tok := setup(t, ruleLOINC, nil)
		fhirCreate(t, n, tok, pid, "8867-4", http.StatusCreated)
		fhirCreate(t, n, tok, pid, "2339-0", http.StatusForbidden)
		// The chain sees no codes: an Observation is allowed (codes
		// unknown), any other type refused.
		if got := apiAdd(t, n, ruleLOINC, "Observation"); got != "ok" {
			t.Fatalf("API records/add of an Observation: %s", got)
		}
		if got := apiAdd(t, n, ruleLOINC, "AllergyIntolerance"); got != "consent/24" {
			t.Fatalf("API records/add of an AllergyIntolerance: %s, want consent/24", got)
		}
	})

	t.Run("not after 18:00 in Paris", func(t *testing.T) {
		n, pid, tok := setup(t, ruleNotAfter18, []string{"Observation"})
		fhirCreate(t, n, tok, pid, "8867-4", http.StatusCreated) // 01:00 in Paris
		if got := apiAdd(t, n, ruleNotAfter18, "Observation"); got != "ok" {
			t.Fatalf("API records/add at 01:00: %s", got)
		}
		n.h.Advance(17 * time.Hour) // past 18:00 in Paris
		n.h.DeliverOK(t)
		tok = n.login(doctor, "user/*.read user/Observation.write", true) // a token lasts an hour
		fhirCreate(t, n, tok, pid, "8867-4", http.StatusForbidden)
		if got := apiAdd(t, n, ruleNotAfter18, "Observation"); got != "consent/24" {
			t.Fatalf("API records/add after 18:00: %s, want consent/24", got)
		}
	})
}

// TestConditionOrgKeyFallback: a practitioner allowed by a consent of their
// own, reading without a session delegation, falls back to the
// organization's key only under an organization consent whose condition
// holds: the organization's consent "only while admitted" is no basis for
// opening its key before the admission, and the read served after it is in
// the trail under that consent and its condition.
func TestConditionOrgKeyFallback(t *testing.T) {
	patient, doctor := apptest.Key(apptest.Patient1), apptest.Key(apptest.HospitalDoctor)
	n := newCondNode(t)
	n.send(patient, &consent.MsgGrant{Patient: patient.Address(), Grantee: consent.Account(doctor.Address()), Actions: consent.ActRead,
		Types: []string{"Observation"}, Purpose: consent.PurposeTreatment}) // consent 1: the doctor's own
	n.send(patient, &consent.MsgGrant{Patient: patient.Address(), Grantee: consent.Org(apptest.OrgHospital), Actions: consent.ActRead,
		Types: []string{"Observation"}, Purpose: consent.PurposeTreatment, Condition: ruleAdmitted}) // consent 2
	obs := n.addRecord(patient, 1, obsJSON("8867-4"))
	tok := n.login(doctor, "user/*.read", false)
	st, body := n.fhirDo(http.MethodGet, "/fhir/Observation/"+obs.hex(), tok, "")
	if st != http.StatusForbidden || fhirCode(t, st, body) != "fhir/9" {
		t.Fatalf("before the admission: HTTP %d %s; want 403 fhir/9 (the key is the doctor's; the organization's consent does not hold)", st, body)
	}
	n.flush(patient.Address())
	n.send(doctor, &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: patient.Address()})
	st, body = n.fhirDo(http.MethodGet, "/fhir/Observation/"+obs.hex(), tok, "")
	if st != http.StatusOK {
		t.Fatalf("during the admission: HTTP %d %s", st, body)
	}
	wantTrail(t, "FHIR read through the organization's key", n.flush(patient.Address()), true, 2, ruleAdmitted)
}

// checkExport runs a Bulk Data export of the patient's Observations: ok is
// exported, refused is in the error file with consent/24, and the trail
// has the served read and the refusal, each naming the consent and the
// condition.
func (n *condNode) checkExport(t *testing.T, tok string, patient crypto.Address, consentID uint64, ok, refused *condRecord) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/fhir/Patient/$export?_type=Observation&patient=Patient/"+patient.String(), nil)
	req.RemoteAddr = "127.0.0.1:1"
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Prefer", "respond-async")
	req.Header.Set("Accept", "application/fhir+json")
	w := httptest.NewRecorder()
	n.handler.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		t.Fatalf("export kick-off: HTTP %d %s", w.Code, w.Body)
	}
	loc := w.Header().Get("Content-Location")
	statusPath := loc[strings.Index(loc, "/fhir/"):]
	var st int
	var body []byte
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if st, body = n.fhirDo(http.MethodGet, statusPath, tok, ""); st != http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the export did not finish")
		}
	}
	var manifest struct {
		Output []struct{ Type, URL string } `json:"output"`
		Error  []struct{ Type, URL string } `json:"error"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &manifest) != nil || len(manifest.Output) != 1 || len(manifest.Error) != 1 {
		t.Fatalf("export manifest: HTTP %d %s; want one output file and one error file", st, body)
	}
	file := func(u string) string {
		st, b := n.fhirDo(http.MethodGet, u[strings.Index(u, "/fhir/"):], tok, "")
		if st != http.StatusOK {
			t.Fatalf("%s: HTTP %d %s", u, st, b)
		}
		return string(b)
	}
	if out := file(manifest.Output[0].URL); strings.Count(out, "\n") != 1 || !strings.Contains(out, ok.hex()) {
		t.Fatalf("exported %q; want only %s", out, ok.hex())
	}
	if errs := file(manifest.Error[0].URL); strings.Count(errs, "\n") != 1 || !strings.Contains(errs, refused.hex()) || !strings.Contains(errs, "consent/24") {
		t.Fatalf("error file %q; want %s refused with consent/24", errs, refused.hex())
	}
	byRecord := map[consent.RecordID][]audit.Event{}
	for _, e := range n.flush(patient) {
		byRecord[e.Record] = append(byRecord[e.Record], e)
	}
	wantTrail(t, "export (served)", byRecord[ok.id], true, consentID, ruleLOINC)
	wantTrail(t, "export (refused)", byRecord[refused.id], false, consentID, ruleLOINC)
}
