package records_test

import (
	"errors"
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// TestMayReadErased: an erased record is readable by no one, not even its
// patient; a record that is not erased is judged by consent on its target.
func TestMayReadErased(t *testing.T) {
	kv := store.NewMemory()
	patient := crypto.Address{1}
	rec := &records.Record{ID: records.RecordID{7}, Patient: patient, Type: "Observation", Version: 1, Created: 10}
	if got := rec.Target(); got != (consent.Target{Patient: patient, Record: rec.ID, Type: "Observation"}) {
		t.Fatalf("Target = %+v", got)
	}
	want := consent.MayRead(kv, 20, patient, rec.Target())
	if d := records.MayRead(kv, 20, patient, rec); d.Allowed != want.Allowed || errors.Is(d.Err, records.ErrErased) {
		t.Fatalf("MayRead of a live record = %+v, consent says %+v", d, want)
	}
	rec.Erased = 15
	for _, reader := range []crypto.Address{patient, {2}} {
		if d := records.MayRead(kv, 20, reader, rec); d.Allowed || !errors.Is(d.Err, records.ErrErased) {
			t.Fatalf("MayRead of an erased record by %s = %+v, want ErrErased", reader, d)
		}
	}
}
