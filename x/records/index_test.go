package records_test

import (
	"bytes"
	"encoding/binary"
	"maps"
	"slices"
	"testing"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// storedIndex returns every index entry in kv.
func storedIndex(kv store.Reader) map[string]string {
	out := map[string]string{}
	kv.Iterate([]byte{store.IndexKeyStart}, nil, func(k, v []byte) bool {
		out[string(k)] = string(v)
		return true
	})
	return out
}

func derivedIndex(t *testing.T, kv store.Reader, fs ...func(store.Reader, func(k, v []byte))) map[string]string {
	out := map[string]string{}
	for _, f := range fs {
		f(kv, func(k, v []byte) {
			if !store.IsIndexKey(k) {
				t.Fatalf("derived a proven key %x", k)
			}
			if old, dup := out[string(k)]; dup && old != string(v) {
				t.Fatalf("index key %x derived twice with different values", k)
			}
			out[string(k)] = string(v)
		})
	}
	return out
}

// IndexEntries of consent and records reproduce exactly the index that
// executing real messages stored.
func TestIndexEntriesReproduceStoredIndex(t *testing.T) {
	e := newEnv(t)
	e.grant(alice, acct(doctorA), consent.ActRead, "Observation")
	e.grant(alice, consent.Org(orgB), consent.ActWrite)
	e.OK(alice, &consent.MsgGrant{Patient: addr(alice), Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
	e.OK(alice, add(rid(1), "v1", acct(alice), acct(gina), acct(doctorA), consent.Org(orgA)))
	e.OK(alice, add(rid(1), "v2", acct(alice), acct(gina), acct(doctorA), consent.Org(orgA)))
	e.OK(techB, add(rid(2), "lab", acct(alice), acct(gina), acct(doctorA), consent.Org(orgA)))
	e.OK(alice, &consent.MsgRevoke{ID: 1})
	e.OK(doctorA, &consent.MsgOpenEmergency{Patient: addr(alice), Reason: "unable_to_consent"})
	e.OK(alice, &records.MsgErase{ID: rid(2)})
	e.OK(bob, &records.MsgAdd{ID: rid(3), Patient: addr(bob), ResourceType: "Condition", ContentHash: hash("b"), Size: 1, Keys: keysFor(acct(bob))})

	stored := storedIndex(e.KV)
	derived := derivedIndex(t, e.KV, consent.IndexEntries, records.IndexEntries)
	if len(stored) < 10 {
		t.Fatalf("only %d stored index entries: the scenario writes too few", len(stored))
	}
	for _, k := range slices.Sorted(maps.Keys(stored)) {
		if d, ok := derived[k]; !ok || d != stored[k] {
			t.Errorf("stored %x=%x, derived %x (present %v)", k, stored[k], d, ok)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(derived)) {
		if _, ok := stored[k]; !ok {
			t.Errorf("derived %x, not stored", k)
		}
	}
}

// A stray hash → record entry written into the store finds nothing: the
// version it names does not carry that content hash.
func TestStrayHashIndexFindsNothing(t *testing.T) {
	e := newEnv(t)
	e.OK(alice, add(rid(1), "v1"))
	h := hash("someone else's blob")
	k := append([]byte{sm.PrefixRecordByHash}, h[:]...)
	e.KV.Set(k, func() []byte { r := rid(1); return binary.BigEndian.AppendUint32(bytes.Clone(r[:]), 1) }())
	if r, v := records.ByHash(e.KV, h); r != nil || v != nil {
		t.Fatalf("ByHash of a stray entry = %+v %+v", r, v)
	}
	// A stray by-patient entry files alice's record under bob: not listed.
	b := addr(bob)
	e.KV.Set(append(append([]byte{sm.PrefixRecordByPatient}, b[:]...), func() []byte { r := rid(1); return r[:] }()...), []byte{1})
	if got := records.ByPatient(e.KV, addr(bob)); len(got) != 0 {
		t.Fatalf("ByPatient(bob) = %+v", got[0])
	}
}
