package merkle

import (
	"fmt"
	"testing"
)

// Only the latest version's snapshot keeps idle iterators. An idle
// iterator pins the memtables that existed when it was opened, so pools
// kept for every readable version held each flushed memtable for ~100
// blocks (zombie memtables: memory, and no memtable to recycle).
func TestOnlyLatestSnapshotPinsMemtables(t *testing.T) {
	tr := NewMemTree()
	defer tr.Close()
	for v := range 12 {
		for i := range 50 {
			tr.Set(fmt.Appendf(nil, "key%02d-%03d", v, i), []byte("value"))
		}
		if _, _, err := tr.Commit(); err != nil {
			t.Fatal(err)
		}
		s, err := tr.Snapshot(tr.Version())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		s.Iterate([]byte("key"), []byte("kez"), func(_, _ []byte) bool { n++; return true }) // pools an iterator
		if n != 50*(v+1) {
			t.Fatalf("version %d lists %d keys, want %d", v+1, n, 50*(v+1))
		}
		if err := tr.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if z := tr.db.Metrics().MemTable.ZombieCount; z > 1 {
		t.Fatalf("%d flushed memtables still pinned after 12 versions, want at most the latest version's 1", z)
	}
	// An older version is still readable, through iterators of its own.
	old, err := tr.Snapshot(3)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	old.Iterate([]byte("key"), []byte("kez"), func(_, _ []byte) bool { n++; return true })
	if n != 150 {
		t.Fatalf("version 3 lists %d keys, want 150", n)
	}
	if z := tr.db.Metrics().MemTable.ZombieCount; z > 1 {
		t.Fatalf("reading an older version left %d memtables pinned", z)
	}
}
