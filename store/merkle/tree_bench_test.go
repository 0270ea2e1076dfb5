package merkle_test

import (
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
)

// BenchmarkTreeWrite measures the state store's write path as a block uses
// it: over a committed state of 400,000 keys on disk, blocks of 5,000
// transactions each updating one existing key (an account) and writing three
// new ones (150-byte values), then Commit (synced). One op is one key
// written; heap-B/key is the Go heap per stored key after the preload.
func BenchmarkTreeWrite(b *testing.B) {
	tr, err := merkle.OpenTree(b.TempDir())
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
	tr, err := merkle.OpenTree(b.TempDir())
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

// BenchmarkCacheWriteToTree measures FinalizeBlock's write path: a block's
// writes buffered in a Cache over the tree (each transaction in its own
// cache, written to the block's), then written to the tree at the block's
// end (Cache.Write), hashed and committed. Over 200,000 stored keys, blocks
// of 2,000 transactions each updating one existing key and writing three
// new ones. One op is one key written.
func BenchmarkCacheWriteToTree(b *testing.B) {
	tr, err := merkle.OpenTree(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	key := func(i uint64) []byte {
		h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, i))
		return h[:]
	}
	val := make([]byte, 150)
	const preload = 200_000
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
	b.ResetTimer()
	written := 0
	for written < b.N {
		block := store.NewCache(tr)
		for i := 0; i < 2_000 && written < b.N; i++ {
			tx := store.NewCache(block)
			binary.BigEndian.PutUint64(val, uint64(written))
			tx.Set(key(uint64(i*7919)%preload), val)
			for range 3 {
				tx.Set(key(n), val)
				n++
			}
			tx.Write()
			written += 4
		}
		block.Write()
		tr.WorkingHash()
		if _, _, err := tr.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadCacheGet measures a read of the latest committed version
// with the read cache (hit: the 10,000 keys read are cached) and without
// it (every read goes to Pebble), over 200,000 stored keys: through a
// snapshot (what mempool checks and queries read), and through the working
// version as a block reads it (each block of 2,000 reads starts with an
// empty per-block memo; the empty commit between blocks is not timed).
func BenchmarkReadCacheGet(b *testing.B) {
	const keys, hot = 200_000, 10_000
	key := func(i int) []byte { h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))); return h[:] }
	for _, c := range []struct {
		name  string
		bytes int64
	}{{"hit", 64 << 20}, {"miss", -1}} {
		tr, err := merkle.OpenTreeWith(b.TempDir(), merkle.Options{ReadCacheBytes: c.bytes})
		if err != nil {
			b.Fatal(err)
		}
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
		hotKeys := make([][]byte, hot)
		for i := range hotKeys {
			hotKeys[i] = key(i * (keys / hot))
			snap.Get(hotKeys[i]) // warm
		}
		b.Run("snapshot/"+c.name, func(b *testing.B) {
			for i := range b.N {
				if snap.Get(hotKeys[i%hot]) == nil {
					b.Fatal("missing")
				}
			}
		})
		b.Run("block/"+c.name, func(b *testing.B) {
			for i := 0; i < b.N; {
				for j := 0; j < 2_000 && i < b.N; j, i = j+1, i+1 {
					if tr.Get(hotKeys[i%hot]) == nil {
						b.Fatal("missing")
					}
				}
				b.StopTimer()
				if _, _, err := tr.Commit(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
		tr.Close()
	}
}
