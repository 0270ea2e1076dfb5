package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	ics23 "github.com/cosmos/ics23/go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/txbatch"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
)

// fakeBackend is an in-memory api.Backend: the committed state of a real
// application run without CometBFT (apptest), and canned answers for the
// node's parts (mempool, blocks, transactions) that a test sets.
type fakeBackend struct {
	h *apptest.Harness

	mu        sync.Mutex
	status    *api.Status
	statusErr error
	submitted [][]byte // what Submit and SubmitBatch were handed
	waits     []bool
	submit    func(tx []byte, wait bool) (*api.TxResult, error)
	batch     func(txs [][]byte) ([]api.BatchItem, error)
	txs       map[string]*api.TxResult // by hex hash
	blocks    map[int64]*api.Block
}

var (
	_ api.Backend        = (*fakeBackend)(nil)
	_ api.BatchSubmitter = (*fakeBackend)(nil)
)

func newFake(t *testing.T) *fakeBackend {
	h := apptest.New(t)
	// A committed state to read, with index keys (a consent's listings).
	p := apptest.Key(apptest.Patient1)
	h.DeliverOK(t, h.Sign(p, &consent.MsgGrant{Patient: p.Address(), Grantee: consent.Account(apptest.Key(apptest.HospitalDoctor).Address()), Actions: consent.ActRead, Purpose: consent.PurposeTreatment}))
	h.DeliverOK(t)
	return &fakeBackend{
		h:      h,
		status: &api.Status{ChainID: apptest.ChainID, Height: h.Height, AppHash: hex.EncodeToString(h.Tree.Hash())},
		txs:    map[string]*api.TxResult{},
		blocks: map[int64]*api.Block{},
	}
}

func (f *fakeBackend) Status(context.Context) (*api.Status, error) { return f.status, f.statusErr }

func (f *fakeBackend) Submit(_ context.Context, tx []byte, wait bool) (*api.TxResult, error) {
	f.mu.Lock()
	f.submitted = append(f.submitted, tx)
	f.waits = append(f.waits, wait)
	f.mu.Unlock()
	if f.submit == nil {
		return &api.TxResult{Hash: txHash(tx), Committed: wait, Height: 3}, nil
	}
	return f.submit(tx, wait)
}

func (f *fakeBackend) SubmitBatch(_ context.Context, txs [][]byte) ([]api.BatchItem, error) {
	f.mu.Lock()
	f.submitted = append(f.submitted, txs...)
	f.mu.Unlock()
	if f.batch != nil {
		return f.batch(txs)
	}
	out := make([]api.BatchItem, len(txs))
	for i, tx := range txs {
		out[i] = api.BatchItem{Hash: txHash(tx)}
	}
	return out, nil
}

func (f *fakeBackend) State(height int64) (*merkle.Snapshot, error) {
	return f.h.App.SnapshotAt(height)
}

func (f *fakeBackend) Params() *params.Registry { return f.h.App.Params() }

func (f *fakeBackend) Block(_ context.Context, height int64) (*api.Block, error) {
	if height == 0 {
		height = f.h.Height
	}
	if b, ok := f.blocks[height]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("block %d: %w", height, api.ErrNotFound)
}

func (f *fakeBackend) Tx(_ context.Context, hash []byte) (*api.TxResult, error) {
	if r, ok := f.txs[hex.EncodeToString(hash)]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("tx %X: %w", hash, api.ErrNotFound)
}

func (f *fakeBackend) TxsBySigner(context.Context, string, int, int) ([]*api.TxResult, int, error) {
	return nil, 0, nil
}

func (f *fakeBackend) BlockTime(int64) (time.Time, error) { return f.h.Time, nil }

func txHash(tx []byte) string { return fmt.Sprintf("%X", sm.TxHash(tx)) }

// onlyBackend hides the fake's SubmitBatch: a backend without batches.
type onlyBackend struct{ api.Backend }

const maxBody = 4 << 10

func serve(b api.Backend) http.Handler {
	return api.New(b, api.Options{MaxBodyBytes: maxBody, CommitWait: time.Second, Registry: prometheus.NewRegistry(), Gatherer: prometheus.NewRegistry()})
}

type call struct {
	method, path, ctype string
	body                []byte
}

func do(t *testing.T, h http.Handler, c call) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(c.method, c.path, bytes.NewReader(c.body))
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" && rec.Code != http.StatusOK {
		t.Errorf("%s %s: status %d with Content-Type %q", c.method, c.path, rec.Code, ct)
	}
	return rec.Code, rec.Body.Bytes()
}

// errorOf decodes an error body; it fails the test when the body is not one.
func errorOf(t *testing.T, body []byte) api.ErrorBody {
	t.Helper()
	var e api.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&e); err != nil || e.Codespace == "" {
		t.Fatalf("not an error body: %s", body)
	}
	return e
}

func jsonTx(tx []byte) []byte {
	b, _ := json.Marshal(map[string]string{"tx": base64.StdEncoding.EncodeToString(tx)})
	return b
}

// TestSubmit covers POST /v1/txs: how each backend answer and each kind of
// bad input reaches the caller (status, body), and what the backend was
// handed.
func TestSubmit(t *testing.T) {
	tx := []byte("a transaction")
	rejected := &api.TxResult{Hash: txHash(tx), Code: 6, Codespace: sm.Codespace, Log: "wrong sequence"}
	failed := &api.TxResult{Hash: txHash(tx), Committed: true, Height: 4, Code: 3, Codespace: "consent", Log: "consent expired"}
	tooLarge := &api.TxResult{Hash: txHash(tx), Code: sm.ErrTxTooLarge.Code, Codespace: sm.Codespace}
	tests := []struct {
		name       string
		call       call
		submit     func([]byte, bool) (*api.TxResult, error)
		wantStatus int
		wantErr    *sm.Error // error body with this code; nil: a TxResult
		wantCode   uint32    // TxResult code
		handed     []byte    // what the backend must have received (nil: nothing)
		wantWait   bool
	}{
		{name: "committed", call: call{"POST", "/v1/txs", "application/json", jsonTx(tx)}, wantStatus: 200, handed: tx, wantWait: true},
		{name: "raw bytes", call: call{"POST", "/v1/txs", "application/octet-stream", tx}, wantStatus: 200, handed: tx, wantWait: true},
		{name: "accepted without waiting", call: call{"POST", "/v1/txs?wait=false", "application/json", jsonTx(tx)}, wantStatus: 202, handed: tx},
		{name: "rejected by CheckTx", call: call{"POST", "/v1/txs", "application/json", jsonTx(tx)},
			submit: func([]byte, bool) (*api.TxResult, error) { return rejected, nil }, wantStatus: 400, wantCode: 6, handed: tx, wantWait: true},
		{name: "failed in its block", call: call{"POST", "/v1/txs", "application/json", jsonTx(tx)},
			submit: func([]byte, bool) (*api.TxResult, error) { return failed, nil }, wantStatus: 422, wantCode: 3, handed: tx, wantWait: true},
		{name: "too large for the state machine", call: call{"POST", "/v1/txs", "application/json", jsonTx(tx)},
			submit: func([]byte, bool) (*api.TxResult, error) { return tooLarge, nil }, wantStatus: 413, wantCode: sm.ErrTxTooLarge.Code, handed: tx, wantWait: true},
		{name: "mempool full", call: call{"POST", "/v1/txs", "application/json", jsonTx(tx)},
			submit: func([]byte, bool) (*api.TxResult, error) { return nil, sm.Wrapf(api.ErrBusy, "mempool is full") }, wantStatus: 503, wantErr: api.ErrBusy, handed: tx, wantWait: true},
		{name: "duplicate", call: call{"POST", "/v1/txs", "application/json", jsonTx(tx)},
			submit: func([]byte, bool) (*api.TxResult, error) { return nil, api.ErrDuplicate }, wantStatus: 409, wantErr: api.ErrDuplicate, handed: tx, wantWait: true},
		{name: "commit wait times out", call: call{"POST", "/v1/txs", "application/json", jsonTx(tx)},
			submit: func([]byte, bool) (*api.TxResult, error) { return nil, context.DeadlineExceeded }, wantStatus: 504, wantErr: api.ErrTimeout, handed: tx, wantWait: true},
		{name: "node failure", call: call{"POST", "/v1/txs", "application/json", jsonTx(tx)},
			submit: func([]byte, bool) (*api.TxResult, error) { return nil, errors.New("rpc: connection refused") }, wantStatus: 500, wantErr: api.ErrUnavail, handed: tx, wantWait: true},
		{name: "not JSON", call: call{"POST", "/v1/txs", "application/json", []byte("{")}, wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "unknown field", call: call{"POST", "/v1/txs", "application/json", []byte(`{"tx":"AA==","fee":1}`)}, wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "not base64", call: call{"POST", "/v1/txs", "application/json", []byte(`{"tx":"%%%"}`)}, wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "body over the limit", call: call{"POST", "/v1/txs", "application/octet-stream", make([]byte, maxBody+1)}, wantStatus: 413, wantErr: api.ErrTooLarge},
		{name: "JSON body over the limit", call: call{"POST", "/v1/txs", "application/json", jsonTx(make([]byte, maxBody))}, wantStatus: 413, wantErr: api.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.submit = tt.submit
			status, body := do(t, serve(f), tt.call)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tt.wantStatus, body)
			}
			if tt.wantErr != nil {
				if e := errorOf(t, body); e.Code != tt.wantErr.Code || e.Codespace != tt.wantErr.Codespace {
					t.Fatalf("error %s/%d, want %s/%d: %s", e.Codespace, e.Code, tt.wantErr.Codespace, tt.wantErr.Code, e.Message)
				}
			} else {
				var res api.TxResult
				if err := json.Unmarshal(body, &res); err != nil || res.Hash != txHash(tx) || res.Code != tt.wantCode {
					t.Fatalf("result %+v (%v), want hash %s code %d", res, err, txHash(tx), tt.wantCode)
				}
			}
			switch {
			case tt.handed == nil && len(f.submitted) != 0:
				t.Fatalf("bad input reached the backend: %q", f.submitted)
			case tt.handed != nil && (len(f.submitted) != 1 || !bytes.Equal(f.submitted[0], tt.handed) || f.waits[0] != tt.wantWait):
				t.Fatalf("backend got %q (wait %v), want %q (wait %v)", f.submitted, f.waits, tt.handed, tt.wantWait)
			}
		})
	}
}

// TestSubmitBatch covers POST /v1/txs/batch: counts by outcome, malformed
// and oversize bodies, and a backend that takes no batches.
func TestSubmitBatch(t *testing.T) {
	txs := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	mixed := func(txs [][]byte) ([]api.BatchItem, error) {
		return []api.BatchItem{
			{Hash: txHash(txs[0])},
			{Hash: txHash(txs[1]), Code: api.ErrDuplicate.Code, Codespace: api.Codespace},
			{Hash: txHash(txs[2]), Code: api.ErrBusy.Code, Codespace: api.Codespace},
		}, nil
	}
	tests := []struct {
		name       string
		body       []byte
		batch      func([][]byte) ([]api.BatchItem, error)
		noBatches  bool
		wantStatus int
		wantErr    *sm.Error
		want       [3]int // accepted, rejected, busy
	}{
		{name: "all accepted", body: txbatch.Encode(txs), wantStatus: 200, want: [3]int{3, 0, 0}},
		{name: "accepted, duplicate, busy", body: txbatch.Encode(txs), batch: mixed, wantStatus: 200, want: [3]int{1, 1, 1}},
		{name: "truncated body", body: txbatch.Encode(txs)[:7], wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "empty body", body: nil, wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "body over the batch limit", body: make([]byte, api.MaxBatchBodyBytes+1), wantStatus: 413, wantErr: api.ErrTooLarge},
		{name: "node failure", body: txbatch.Encode(txs), batch: func([][]byte) ([]api.BatchItem, error) { return nil, errors.New("down") }, wantStatus: 500, wantErr: api.ErrUnavail},
		{name: "no batches", body: txbatch.Encode(txs), noBatches: true, wantStatus: 501, wantErr: api.ErrUnavail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.batch = tt.batch
			var b api.Backend = f
			if tt.noBatches {
				b = onlyBackend{f}
			}
			status, body := do(t, serve(b), call{"POST", "/v1/txs/batch", "application/octet-stream", tt.body})
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tt.wantStatus, body)
			}
			if tt.wantErr != nil {
				if e := errorOf(t, body); e.Code != tt.wantErr.Code || e.Codespace != tt.wantErr.Codespace {
					t.Fatalf("error %s/%d, want %s/%d", e.Codespace, e.Code, tt.wantErr.Codespace, tt.wantErr.Code)
				}
				return
			}
			var res api.BatchResult
			if err := json.Unmarshal(body, &res); err != nil {
				t.Fatal(err)
			}
			if got := [3]int{res.Accepted, res.Rejected, res.Busy}; got != tt.want || len(res.Results) != len(txs) {
				t.Fatalf("accepted/rejected/busy %v with %d results, want %v", got, len(res.Results), tt.want)
			}
			for i, it := range res.Results {
				if it.Hash != txHash(txs[i]) || !bytes.Equal(f.submitted[i], txs[i]) {
					t.Fatalf("result %d: hash %s, backend got %q; want %s, %q", i, it.Hash, f.submitted[i], txHash(txs[i]), txs[i])
				}
			}
		})
	}
}

// TestReads covers the main read endpoints over the fake's committed state:
// status, transactions, blocks, accounts, parameters and unknown routes,
// with good and bad input.
func TestReads(t *testing.T) {
	f := newFake(t)
	kh := sm.TxHash([]byte("known"))
	known := kh[:]
	f.txs[hex.EncodeToString(known)] = &api.TxResult{Hash: fmt.Sprintf("%X", known), Committed: true, Height: 2}
	f.blocks[2] = &api.Block{Height: 2, Hash: "B2"}
	patient := apptest.Key(apptest.Patient1).Address()
	stranger := apptest.Key("nobody").Address()
	h := serve(f)
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantErr    *sm.Error
		wantIn     string // a fragment of the body
	}{
		{name: "status", path: "/v1/status", wantStatus: 200, wantIn: `"chain_id":"` + apptest.ChainID + `"`},
		{name: "known tx", path: "/v1/txs/" + hex.EncodeToString(known), wantStatus: 200, wantIn: `"committed":true`},
		{name: "unknown tx", path: "/v1/txs/" + strings.Repeat("ab", 32), wantStatus: 404, wantErr: api.ErrMissing},
		{name: "tx hash not hex", path: "/v1/txs/xyz", wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "tx hash too short", path: "/v1/txs/abcd", wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "block", path: "/v1/blocks/2", wantStatus: 200, wantIn: `"hash":"B2"`},
		{name: "latest block", path: "/v1/blocks/latest", wantStatus: 200, wantIn: `"height":2`},
		{name: "missing block", path: "/v1/blocks/99", wantStatus: 404, wantErr: api.ErrMissing},
		{name: "block height zero", path: "/v1/blocks/0", wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "block height not a number", path: "/v1/blocks/two", wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "account", path: "/v1/accounts/" + patient.String(), wantStatus: 200, wantIn: `"kind":"patient"`},
		{name: "unknown account", path: "/v1/accounts/" + stranger.String(), wantStatus: 404, wantErr: api.ErrMissing},
		{name: "bad address", path: "/v1/accounts/mc123", wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "state height gone", path: "/v1/accounts/" + patient.String() + "?height=1000", wantStatus: 404, wantErr: api.ErrMissing},
		{name: "state height negative", path: "/v1/accounts/" + patient.String() + "?height=-1", wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "params", path: "/v1/params", wantStatus: 200, wantIn: `"name":"gov.voting_period_seconds"`},
		{name: "unknown route", path: "/v1/nothing", wantStatus: 404, wantErr: api.ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, h, call{method: "GET", path: tt.path})
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tt.wantStatus, body)
			}
			if tt.wantErr != nil {
				if e := errorOf(t, body); e.Code != tt.wantErr.Code || e.Codespace != tt.wantErr.Codespace {
					t.Fatalf("error %s/%d, want %s/%d: %s", e.Codespace, e.Code, tt.wantErr.Codespace, tt.wantErr.Code, e.Message)
				}
			}
			if !strings.Contains(string(body), tt.wantIn) {
				t.Fatalf("body %s does not contain %s", body, tt.wantIn)
			}
		})
	}
	f.statusErr = errors.New("rpc down")
	if status, body := do(t, h, call{method: "GET", path: "/v1/status"}); status != 500 || errorOf(t, body).Code != api.ErrUnavail.Code {
		t.Fatalf("status with the node down: %d %s", status, body)
	}
}

// TestProofEndpoint: GET /v1/proof answers proofs that verify against the
// committed app hash (present and absent keys), and refuses bad keys and
// index keys without reading state.
func TestProofEndpoint(t *testing.T) {
	f := newFake(t)
	h := serve(f)
	root := f.h.Tree.Hash()
	present := accounts.AccountKey(apptest.Key(apptest.Patient1).Address())
	absent := accounts.AccountKey(apptest.Key("nobody").Address())
	for _, tc := range []struct {
		name   string
		key    []byte
		exists bool
	}{{"present", present, true}, {"absent", absent, false}, {"index digest", store.IndexDigestKey, true}} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, h, call{method: "GET", path: "/v1/proof?key=" + hex.EncodeToString(tc.key)})
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			var p api.Proof
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Exists != tc.exists || p.Height != f.h.Height {
				t.Fatalf("exists %v at %d, want %v at %d", p.Exists, p.Height, tc.exists, f.h.Height)
			}
			var cp ics23.CommitmentProof
			if err := cp.Unmarshal(p.Proof); err != nil {
				t.Fatal(err)
			}
			if err := merkle.VerifyProof(root, &cp, tc.key, p.Value); err != nil {
				t.Fatalf("proof does not verify against the app hash: %v", err)
			}
		})
	}
	for _, tc := range []struct {
		name, query string
		want        int
		err         *sm.Error
	}{
		{"no key", "", 400, api.ErrBadRequest},
		{"key not hex", "key=zz", 400, api.ErrBadRequest},
		{"key too long", "key=" + strings.Repeat("01", 1025), 400, api.ErrBadRequest},
		{"index key", "key=b301", 400, api.ErrBadRequest},
		{"height not kept", "key=01&height=1000", 404, api.ErrMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, h, call{method: "GET", path: "/v1/proof?" + tc.query})
			if e := errorOf(t, body); status != tc.want || e.Code != tc.err.Code || e.Codespace != tc.err.Codespace {
				t.Fatalf("status %d %s/%d, want %d %s/%d", status, e.Codespace, e.Code, tc.want, tc.err.Codespace, tc.err.Code)
			}
		})
	}
}
