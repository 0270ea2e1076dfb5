package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/blob"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/policy/cond"
	"github.com/medchain/medchain/x/records"
)

// TestConditionRefusalInTrail: a consent "only while I am admitted at the
// hospital" refuses the doctor's read through the gateway until the
// hospital records the admission; the refusal reaches the chain's trail
// naming the consent and its condition, and the read served after the
// admission names the consent.
func TestConditionRefusalInTrail(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	patient, doctor, gw := apptest.Key(apptest.Patient1), apptest.Key(apptest.HospitalDoctor), apptest.Key(apptest.HospitalGateway)
	expr := `"` + apptest.OrgHospital + `" in encounter_orgs`
	h.DeliverOK(t, h.Sign(patient, &consent.MsgGrant{Patient: patient.Address(), Grantee: consent.Account(doctor.Address()),
		Actions: consent.ActRead, Types: []string{"Observation"}, Purpose: consent.PurposeTreatment, Condition: expr}))
	ct := []byte("ciphertext of an observation")
	hash := sha256.Sum256(ct)
	id := consent.RecordID{0x61, 0x62}
	keys := []records.WrappedKey{{Recipient: consent.Account(doctor.Address())}, {Recipient: consent.Account(patient.Address())}}
	slices.SortFunc(keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
	h.DeliverOK(t, h.Sign(patient, &records.MsgAdd{ID: id, Patient: patient.Address(), ResourceType: "Observation",
		ContentHash: hash, Size: uint64(len(ct)), Keys: keys}))
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
	t.Cleanup(func() { box.Close() })
	lg := slog.New(slog.NewTextHandler(io.Discard, nil))
	auditor, err := NewAuditor(gw, nil, box, lg, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return h.Time }
	s := &Server{Key: gw, ChainID: apptest.ChainID, Blobs: blobs, State: harnessState{h}, Auditor: auditor,
		Verifier: &reqsig.Verifier{ChainID: apptest.ChainID, Now: now}, Log: lg, MaxBlob: 1 << 20, Now: now}
	get := func(key *crypto.PrivKey) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/blobs/"+hex.EncodeToString(hash[:]), nil)
		req.SetPathValue("hash", hex.EncodeToString(hash[:]))
		if err := reqsig.Sign(req, key, apptest.ChainID, h.Time, time.Minute, nil); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		s.GetBlob(w, req)
		return w
	}
	if w := get(doctor); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "condition") {
		t.Fatalf("doctor before the admission: %d %s", w.Code, w.Body)
	}
	h.DeliverOK(t, h.Sign(doctor, &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: patient.Address()}))
	if w := get(doctor); w.Code != http.StatusOK || w.Body.String() != string(ct) {
		t.Fatalf("doctor during the admission: %d %s", w.Code, w.Body)
	}
	nums, err := box.Pending()
	if err != nil || len(nums) != 2 {
		t.Fatalf("outbox holds %v, %v; want the refusal and the read", nums, err)
	}
	var evs []audit.Event
	for _, n := range nums {
		e, err := box.Get(n)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	h.DeliverOK(t, h.Sign(gw, &audit.MsgLog{Events: evs}))
	trail := audit.Trail(h.State(), patient.Address(), audit.Filter{})
	want := "consent/24: consent 1 condition " + cond.Hash(expr)
	if len(trail) != 2 || trail[0].Served || trail[0].Reason != want || !trail[1].Served || trail[1].ConsentID != 1 {
		t.Fatalf("trail %+v; want the refusal %q, then the read under consent 1", trail, want)
	}
	// Both entries name the consent and the condition: the one that
	// refused, then the one that allowed.
	for i, e := range trail {
		if e.ConsentID != 1 || e.Condition != cond.Hash(expr) {
			t.Fatalf("trail entry %d names consent %d condition %q; want consent 1 condition %s", i, e.ConsentID, e.Condition, cond.Hash(expr))
		}
	}
}
