package audit_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// TestAccessEvent: a served read carries its basis, its proof and no
// reason; a refusal carries the refusal's stable code and description as
// its reason, never the error's free text.
func TestAccessEvent(t *testing.T) {
	rec := &records.Record{ID: records.RecordID{3}, Patient: crypto.Address{1}, Type: "Observation", Version: 2}
	reader := crypto.Address{2}
	d := consent.Decision{Allowed: true, Basis: consent.BasisConsent, ConsentID: 9}
	proof := &audit.Proof{Kind: audit.ProofRequest, Target: "/v1/records/03/key", Expires: 200}
	ev := audit.Access(rec, 2, reader, 100, d, nil, proof)
	want := audit.Event{Patient: rec.Patient, Accessor: reader, Record: rec.ID, Version: 2, Time: 100, Served: true, Basis: string(consent.BasisConsent), ConsentID: 9, Proof: proof}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("served = %+v, want %+v", ev, want)
	}
	refused := audit.Access(rec, 2, reader, 100, consent.Decision{}, sm.Wrapf(records.ErrErased, "%s", strings.Repeat("x", 2*audit.MaxReasonLen)), proof)
	if refused.Served || refused.Reason != "records/7: record erased" {
		t.Fatalf("refused = %+v", refused)
	}
}
