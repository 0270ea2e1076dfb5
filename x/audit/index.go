package audit

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// IndexEntries derives every index entry of the audit module (the accessor
// listing, sm.PrefixAuditByAccessor) from its proven keys, the events, and
// hands each to emit in no particular order. On a sound state the result is
// exactly the stored index; `medchain state check` compares the two.
func IndexEntries(kv store.Reader, emit func(key, value []byte)) {
	p := []byte{sm.PrefixAudit}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		r := codec.NewReader(v)
		e := readEvent(r)
		store.Check(r.Done())
		emit(accessorKey(e.Accessor, e.Seq), e.Patient[:])
		return true
	})
}
