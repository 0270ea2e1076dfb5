package audit

import (
	"encoding/binary"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// GetEvent loads the event of a patient's trail with sequence seq, or nil
// (a proven key: what other modules act on, such as research payments).
func GetEvent(kv store.Reader, patient crypto.Address, seq uint64) *Event {
	b := kv.Get(eventKey(patient, seq))
	if b == nil {
		return nil
	}
	r := codec.NewReader(b)
	e := readEvent(r)
	store.Check(r.Done())
	return &e
}

// EventKey is the store key of an event (for proofs).
func EventKey(patient crypto.Address, seq uint64) []byte { return eventKey(patient, seq) }

// NextSeq is the sequence the next logged event will get.
func NextSeq(kv store.Reader) uint64 {
	if b := kv.Get(seqKey); len(b) == 8 {
		return binary.BigEndian.Uint64(b)
	}
	return 1
}

// AccessorSeqs walks, in sequence order, the events of accessor with a
// sequence from seq on (the accessor index), handing each sequence and
// patient to fn until it returns false. The index sits outside the Merkle
// tree: callers load the event with GetEvent and check it names accessor.
func AccessorSeqs(kv store.Reader, accessor crypto.Address, from uint64, fn func(seq uint64, patient crypto.Address) bool) {
	p := append([]byte{sm.PrefixAuditByAccessor}, accessor[:]...)
	kv.Iterate(accessorKey(accessor, from), store.PrefixEnd(p), func(k, v []byte) bool {
		if len(k) != len(p)+8 || len(v) != 20 {
			return true
		}
		var patient crypto.Address
		copy(patient[:], v)
		return fn(binary.BigEndian.Uint64(k[len(p):]), patient)
	})
}
