package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/blob"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

type harnessState struct{ h *apptest.Harness }

func (s harnessState) Latest() (*merkle.Snapshot, time.Time, error) {
	return s.h.App.Committed(), s.h.Time, nil
}

// TestServedReadsAreRecordedAndAttributable: the gateway records a served
// read and a refusal with the requesters' signed requests, before it
// answers; the state machine accepts both as theirs, and refuses the same
// event moved to an accessor who never asked. A read whose event cannot be
// recorded is not served.
func TestServedReadsAreRecordedAndAttributable(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	patient, doctor, gw := apptest.Key(apptest.Patient1), apptest.Key(apptest.HospitalDoctor), apptest.Key(apptest.HospitalGateway)
	ct := []byte("ciphertext of an observation")
	hash := sha256.Sum256(ct)
	id := consent.RecordID{0x51, 0x52}
	h.DeliverOK(t, h.Sign(patient, &records.MsgAdd{ID: id, Patient: patient.Address(), ResourceType: "Observation",
		ContentHash: hash, Size: uint64(len(ct)), Keys: []records.WrappedKey{{Recipient: consent.Account(patient.Address())}}}))

	blobs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := blobs.PutExpect(context.Background(), hash, ct); err != nil {
		t.Fatal(err)
	}
	box, err := OpenOutbox(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	lg := slog.New(slog.NewTextHandler(io.Discard, nil))
	auditor, err := NewAuditor(gw, nil, box, lg, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return h.Time }
	s := &Server{Key: gw, ChainID: apptest.ChainID, Blobs: blobs, State: harnessState{h}, Auditor: auditor,
		Verifier: &reqsig.Verifier{ChainID: apptest.ChainID, Now: now}, Log: lg, MaxBlob: 1 << 20, Now: now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/blobs/{hash}", s.GetBlob)
	mux.HandleFunc("GET /v1/records/{id}/key", s.RecordKey)
	get := func(key *crypto.PrivKey, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if err := reqsig.Sign(req, key, apptest.ChainID, h.Time, time.Minute, nil); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w
	}

	if w := get(patient, "/v1/blobs/"+hex.EncodeToString(hash[:])); w.Code != http.StatusOK || w.Body.String() != string(ct) {
		t.Fatalf("patient's read: %d %s", w.Code, w.Body)
	}
	if w := get(doctor, "/v1/records/"+hex.EncodeToString(id[:])+"/key"); w.Code != http.StatusForbidden {
		t.Fatalf("doctor without consent: %d %s", w.Code, w.Body)
	}
	nums, err := box.Pending()
	if err != nil || len(nums) != 2 {
		t.Fatalf("outbox holds %v, %v; want the read and the refusal", nums, err)
	}
	var evs []audit.Event
	for _, n := range nums {
		e, err := box.Get(n)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	if !evs[0].Served || evs[0].Accessor != patient.Address() || evs[1].Served || evs[1].Accessor != doctor.Address() {
		t.Fatalf("events %+v", evs)
	}
	// The gateway frames the doctor with the patient's request.
	framed := evs[0]
	framed.ID[0] ^= 0xff
	framed.Accessor = doctor.Address()
	h.DeliverOK(t, h.Sign(gw, &audit.MsgLog{Events: append(evs, framed)}))
	trail := audit.Trail(h.State(), patient.Address(), audit.Filter{})
	if len(trail) != 2 || trail[0].Accessor != patient.Address() || trail[1].Accessor != doctor.Address() || trail[1].Served {
		t.Fatalf("trail %+v: want the patient's read and the doctor's refusal, not the framed read", trail)
	}

	// An event that cannot be recorded: the read is not served.
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	if w := get(patient, "/v1/blobs/"+hex.EncodeToString(hash[:])); w.Code != http.StatusServiceUnavailable || w.Body.String() == string(ct) {
		t.Fatalf("read without a working outbox: %d %s", w.Code, w.Body)
	}
}

// TestRequestProofSignsRequestBytes: the chain rebuilds a signed GET's
// bytes from the proof; they must be reqsig's exactly.
func TestRequestProofSignsRequestBytes(t *testing.T) {
	nonce := [audit.NonceSize]byte{1, 2, 3}
	for _, target := range []string{"/v1/blobs/" + hex.EncodeToString(make([]byte, 32)), "/v1/records/00112233445566778899aabbccddeeff/key?version=2"} {
		want := reqsig.SignBytes("chain-x", http.MethodGet, target, 1_800_000_000, hex.EncodeToString(nonce[:]), nil)
		if got := audit.RequestSignBytes("chain-x", target, 1_800_000_000, nonce); string(got) != string(want) {
			t.Fatalf("%s: audit signs %q, reqsig %q", target, got, want)
		}
	}
}
