package audit_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/audit"
)

// IndexEntries reproduces exactly the accessor index that logging real
// events stored, and a stray accessor entry lists nothing.
func TestIndexEntriesReproduceStoredIndex(t *testing.T) {
	e := newEnv(t)
	t0 := e.now.Unix()
	e.ok(gwA, &audit.MsgLog{Events: []audit.Event{served(alice, doctorA, t0-10), refused(bob, adminA, t0-5, "consent/17: no consent")}})
	e.now = e.now.Add(time.Minute)
	e.ok(gwB, &audit.MsgLog{Events: []audit.Event{served(alice, bob, e.now.Unix())}})

	stored := map[string]string{}
	e.kv.Iterate([]byte{sm.PrefixAuditByAccessor}, store.PrefixEnd([]byte{sm.PrefixAuditByAccessor}), func(k, v []byte) bool {
		stored[string(k)] = string(v)
		return true
	})
	derived := map[string]string{}
	audit.IndexEntries(e.kv, func(k, v []byte) { derived[string(k)] = string(v) })
	if len(stored) != 3 || len(derived) != len(stored) {
		t.Fatalf("stored %d entries, derived %d", len(stored), len(derived))
	}
	for k, v := range stored {
		if derived[k] != v {
			t.Fatalf("stored %x=%x, derived %x", k, v, derived[k])
		}
	}

	// alice's event 1 (accessor doctorA) filed under adminA's listing.
	a := addr(adminA)
	e.kv.Set(binary.BigEndian.AppendUint64(append([]byte{sm.PrefixAuditByAccessor}, a[:]...), 1), func() []byte { p := addr(alice); return p[:] }())
	for _, ev := range audit.ByAccessor(e.kv, addr(adminA), 0, 0) {
		if ev.Accessor != addr(adminA) {
			t.Fatalf("ByAccessor(adminA) lists an event of %s", ev.Accessor)
		}
	}
}
