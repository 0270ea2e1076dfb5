package records

import (
	"encoding/binary"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// IndexEntries derives every index entry of the records module (records by
// patient, and content hash → record version) from its proven keys, the
// records and their versions, and hands each to emit in no particular order.
// On a sound state the result is exactly the stored index; `medchain state
// check` compares the two.
func IndexEntries(kv store.Reader, emit func(key, value []byte)) {
	p := []byte{sm.PrefixRecord}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		rec, err := DecodeRecord(v)
		store.Check(err)
		emit(byPatientKey(rec.Patient, rec.ID), []byte{1})
		return true
	})
	p = []byte{sm.PrefixRecordVersion}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		ver, err := DecodeVersion(v)
		store.Check(err)
		emit(byHashKey(ver.ContentHash), binary.BigEndian.AppendUint32(append([]byte{}, ver.Record[:]...), ver.Version))
		return true
	})
}
