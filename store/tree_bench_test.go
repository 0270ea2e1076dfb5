package store_test

import (
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/medchain/medchain/store"
)

// BenchmarkTreeWrite measures the state store's write path as a block uses
// it: over a committed state of 400,000 keys on disk, blocks of 5,000
// transactions each updating one existing key (an account) and writing three
// new ones (150-byte values), then Commit (synced). One op is one key
// written; heap-B/key is the Go heap per stored key after the preload.
func BenchmarkTreeWrite(b *testing.B) {
	tr, err := store.OpenTree(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	key := func(i uint64) []byte {
		h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, i))
		return h[:33-1]
	}
	val := make([]byte, 150)
	const preload = 400_000
	var n uint64
	for range preload / 10_000 {
		for range 10_000 {
			tr.Set(key(n), val)
			n++
		}
		if _, _, err := tr.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapPerKey := float64(ms.HeapInuse) / preload
	b.ResetTimer()
	written := 0
	for written < b.N {
		for i := 0; i < 5_000 && written < b.N; i++ {
			binary.BigEndian.PutUint64(val, uint64(written))
			tr.Set(key(uint64(i*7919)%preload), val)
			for range 3 {
				tr.Set(key(n), val)
				n++
			}
			written += 4
		}
		tr.WorkingHash()
		if _, _, err := tr.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(heapPerKey, "heap-B/key")
}

// BenchmarkSnapshotGet measures a read of the committed state (what CheckTx,
// consent checks and the API do) over 200,000 keys.
func BenchmarkSnapshotGet(b *testing.B) {
	tr, err := store.OpenTree(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	const keys = 200_000
	key := func(i int) []byte { h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))); return h[:] }
	for i := range keys {
		tr.Set(key(i), make([]byte, 150))
	}
	if _, _, err := tr.Commit(); err != nil {
		b.Fatal(err)
	}
	snap, err := tr.Snapshot(tr.Version())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if snap.Get(key(i%keys)) == nil {
			b.Fatal("missing")
		}
	}
}
