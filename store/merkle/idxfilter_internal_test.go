package merkle

import (
	"bytes"
	"crypto/rand"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"
)

// idxKey is a key of the filtered content-hash family (0xB4 ‖ 32 bytes).
func idxKey() []byte {
	k := make([]byte, 33)
	k[0] = pointIndexes[0]
	rand.Read(k[1:])
	return k
}

func waitIndexFilter(t *testing.T, tr *Tree) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !tr.indexFilterStats().Ready {
		if time.Now().After(deadline) {
			t.Fatal("the index filter's scan did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The index filter may pass a read of an absent key on to the database,
// but never answer "absent" for a key the latest committed version holds:
// keys found by the scan at open, keys committed while it runs and after,
// deleted and written again. It must also answer most reads of absent keys
// alone, or it saves nothing.
func TestIndexFilterNeverMisses(t *testing.T) {
	dir := t.TempDir()
	tr, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	model := map[string][]byte{}
	write := func(n int) {
		for range n {
			k := idxKey()
			v := []byte{byte(len(model)), 1}
			tr.Set(k, v)
			model[string(k)] = v
		}
	}
	commit := func() {
		t.Helper()
		if _, _, err := tr.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(stage string) {
		t.Helper()
		for k, v := range model {
			if got := tr.Get([]byte(k)); !bytes.Equal(got, v) {
				t.Fatalf("%s: key %x reads %x, want %x", stage, k[:6], got, v)
			}
		}
	}
	for range 3 {
		write(3000)
		commit()
	}
	// Delete some, write some of those again (another value), in one version.
	n := 0
	for k := range model {
		tr.Delete([]byte(k))
		if n%2 == 0 {
			delete(model, k)
		} else {
			tr.Set([]byte(k), []byte("again"))
			model[k] = []byte("again")
		}
		if n++; n == 1000 {
			break
		}
	}
	commit()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen with the scan held back; commit while it waits.
	release := make(chan struct{})
	var once sync.Once
	releaseScan := func() { once.Do(func() { close(release) }) }
	idxScanHook = func() { <-release }
	tr, err = OpenTree(dir)
	idxScanHook = nil
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		releaseScan() // before Close waits for the scan
		tr.Close()
	}()
	if tr.indexFilterStats().Ready {
		t.Fatal("the index filter answers before its scan")
	}
	check("before the scan")
	write(2000)
	commit()
	releaseScan()
	waitIndexFilter(t, tr)
	check("after the scan")

	absentBefore := tr.indexFilterStats()
	for range 5000 {
		if v := tr.Get(idxKey()); v != nil {
			t.Fatalf("an absent key reads %x", v)
		}
	}
	st := tr.indexFilterStats()
	if answered := st.Answered - absentBefore.Answered; answered < 4900 {
		t.Fatalf("the filter answered %d of 5,000 reads of absent keys, want nearly all (stats %+v)", answered, st)
	}

	// Keys committed after the scan: the next version reads them.
	write(40000) // past the first part's capacity: the filter grows
	commit()
	check("after growth")
	if st := tr.indexFilterStats(); st.Keys < len(model) || st.Bytes <= 0 {
		t.Fatalf("filter stats %+v for %d keys", st, len(model))
	}
	// An uncommitted key is not held by the committed version; rolled back,
	// it stays absent.
	k := idxKey()
	tr.Set(k, []byte("x"))
	tr.Rollback()
	if v := tr.Get(k); v != nil {
		t.Fatalf("a rolled-back key reads %x", v)
	}
}

// A filter that grows through many parts never misses an added key, and
// keeps false positives low.
func TestIdxFilterGrows(t *testing.T) {
	f := newIdxFilter(pointIndexes, 0)
	f.ready.Store(true)
	r := mrand.New(mrand.NewPCG(1, 2))
	key := func() []byte {
		k := make([]byte, 33)
		k[0] = pointIndexes[0]
		for i := 1; i < len(k); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8 && i+j < len(k); j++ {
				k[i+j] = byte(v >> (8 * j))
			}
		}
		return k
	}
	var added [][]byte
	for range 300_000 {
		k := key()
		f.add(string(k))
		added = append(added, k)
	}
	if parts := len(*f.parts.Load()); parts < 3 {
		t.Fatalf("%d parts for 300,000 keys from a first part of %d", parts, idxMinKeys)
	}
	for _, k := range added {
		if f.absent(k) {
			t.Fatalf("added key %x answered absent", k[:6])
		}
	}
	fp := 0
	for range 100_000 {
		if !f.absent(key()) {
			fp++
		}
	}
	if fp > 2000 { // 2 %: a few parts of ~0.3 % each
		t.Fatalf("%d false positives in 100,000 reads", fp)
	}
	// Other families are never answered.
	if f.absent([]byte{0xB3, 1, 2}) || f.absent(nil) {
		t.Fatal("a key of an unfiltered family answered absent")
	}
}
