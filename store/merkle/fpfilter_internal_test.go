package merkle

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The fp filter may answer "maybe" for a key the committed tree lacks, but
// never "no" for one it holds: through inserts, deletes, rolled-back
// versions, the rebuilds that growth triggers, and a reopen (from a tree
// checkpoint and by rebuilding from the stored keys). absent must agree
// with a model of the committed keys throughout, and the filter must
// answer most reads of new keys alone, or it saves nothing.
func TestFPFilterNeverMisses(t *testing.T) {
	for _, bits := range []int{64, 12} {
		t.Run(fmt.Sprintf("fp of %d bits", bits), func(t *testing.T) {
			defer SetFPBits(bits)()
			for _, ck := range []int64{1, -1} { // reopen from a checkpoint, then by rebuilding
				fpFilterNeverMisses(t, Options{CheckpointChanges: ck, CheckpointInterval: -1})
			}
		})
	}
}

func fpFilterNeverMisses(t *testing.T, opts Options) {
	dir := t.TempDir()
	tr, err := OpenTreeWith(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	committed := map[string]bool{}
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%06d", i)) }
	next := 0
	check := func(when string) {
		t.Helper()
		for k := range committed {
			kh := sha256.Sum256([]byte(k))
			if !tr.trie.filter.mayContain(fpOf(&kh)) {
				t.Fatalf("%s: the filter misses committed key %q", when, k)
			}
			if tr.absent([]byte(k)) {
				t.Fatalf("%s: absent(%q) for a committed key", when, k)
			}
		}
		fresh, rejected := 0, 0
		for i := next; i < next+2000; i++ {
			kh := sha256.Sum256(key(i))
			fresh++
			if !tr.trie.filter.mayContain(fpOf(&kh)) {
				rejected++
			}
			if fpBits == 64 && !tr.absent(key(i)) { // shorter fps are shared: absent may say no
				t.Fatalf("%s: absent(%q) false for a key never written", when, key(i))
			}
		}
		if len(committed) > 1000 && fpBits == 64 && rejected < fresh*9/10 {
			t.Fatalf("%s: the filter rejected %d of %d new keys", when, rejected, fresh)
		}
	}
	for round := range 60 {
		work := map[string]bool{}
		for k := range committed {
			work[k] = true
		}
		for range rng.IntN(3000) {
			if rng.IntN(5) == 0 && len(work) > 0 {
				for k := range work { // delete an arbitrary key
					tr.Delete([]byte(k))
					delete(work, k)
					break
				}
				continue
			}
			k := key(next)
			next++
			tr.Set(k, []byte{byte(round)})
			work[string(k)] = true
		}
		if rng.IntN(5) == 0 {
			tr.Rollback()
			check(fmt.Sprintf("round %d, rolled back", round))
			continue
		}
		if _, _, err := tr.Commit(); err != nil {
			t.Fatal(err)
		}
		committed = work
		check(fmt.Sprintf("round %d", round))
		if round%20 == 19 {
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
			if tr, err = OpenTreeWith(dir, opts); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("round %d, reopened", round))
		}
	}
	tr.Close()
}

// BenchmarkAbsent reads keys the committed tree lacks, as a block does
// for every record, version and wrapped key it creates, over 1,000,000
// committed keys: answered by the fp filter, and by the walk of the tree
// alone (the filter turned off).
func BenchmarkAbsent(b *testing.B) {
	tr, err := OpenTreeWith(b.TempDir(), Options{CheckpointChanges: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	const keys = 1_000_000
	for i := range keys {
		tr.Set([]byte(fmt.Sprintf("state-key-%08d", i)), []byte{1})
		if i%100_000 == 99_999 {
			if _, _, err := tr.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	fresh := make([][]byte, 1<<16)
	for i := range fresh {
		fresh[i] = []byte(fmt.Sprintf("new-key-%08d", i))
	}
	for _, c := range []struct {
		name   string
		filter bool
	}{{"filter", true}, {"walk", false}} {
		b.Run(c.name, func(b *testing.B) {
			saved := tr.trie.filter
			if !c.filter {
				tr.trie.filter = fpFilter{}
			}
			i := 0
			for b.Loop() {
				if !tr.absent(fresh[i&(len(fresh)-1)]) {
					b.Fatal("a new key is not absent")
				}
				i++
			}
			tr.trie.filter = saved
		})
	}
}
