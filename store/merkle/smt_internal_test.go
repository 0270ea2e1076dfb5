package merkle

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"
)

// refHash is the SMT hash of a set of leaves computed the plain way: split
// on each bit until a subtree holds one leaf or none.
func refHash(ls map[[32]byte][32]byte, depth int) [32]byte {
	switch len(ls) {
	case 0:
		return emptyHash
	case 1:
		for _, lh := range ls {
			return lh
		}
	}
	l, r := map[[32]byte][32]byte{}, map[[32]byte][32]byte{}
	for kh, lh := range ls {
		if bit(&kh, depth) == 0 {
			l[kh] = lh
		} else {
			r[kh] = lh
		}
	}
	lh, rh := refHash(l, depth+1), refHash(r, depth+1)
	return innerHash(&lh, &rh)
}

// crafted key hashes share long prefixes, so buckets split and merge deep
// in the tree and inner nodes get empty children.
func craftedKH(rng *rand.Rand) [32]byte {
	var kh [32]byte
	switch rng.IntN(3) {
	case 0: // random
		for i := range kh {
			kh[i] = byte(rng.IntN(256))
		}
	case 1: // one of few long shared prefixes, differing near the end
		kh[0] = byte(rng.IntN(2))
		kh[31] = byte(rng.IntN(40))
	default: // differing only in one byte in the middle
		kh[5] = 0xAA
		kh[16] = byte(rng.IntN(30))
	}
	return kh
}

// The bucketed tree's root, after any mix of writes, deletes, commits and
// rollbacks, equals the plainly computed hash of its leaves, and the
// invariants hold: buckets hold 1 to bucketMax sorted leaves, inner nodes
// more than bucketMax.
func TestBucketedTreeMatchesReference(t *testing.T) {
	for _, bits := range []int{64, 12} {
		t.Run(fmt.Sprintf("fp of %d bits", bits), func(t *testing.T) {
			defer func(b int) { fpBits = b }(fpBits)
			fpBits = bits
			checkAgainstReference(t)
		})
	}
}

func checkAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	var tr smt
	tr.gen = 1
	model, committed := map[[32]byte][32]byte{}, map[[32]byte][32]byte{}
	// The tree asks the state whether it holds a key and for the full key
	// hash of a leaf: the model answers (keys are their own hashes here).
	tr.exists = func(key []byte) bool { _, ok := model[[32]byte(key)]; return ok }
	tr.resolve = func(fp uint64, lh *[32]byte) [32]byte {
		for kh, v := range model {
			if fpOf(&kh) == fp && v == *lh {
				return kh
			}
		}
		t.Fatalf("resolve %x: no such leaf", fp)
		return [32]byte{}
	}
	var root ref
	for round := range 300 {
		for range rng.IntN(60) {
			kh := craftedKH(rng)
			if rng.IntN(3) == 0 {
				_, had := model[kh]
				if tr.remove(kh[:], &kh) != had {
					t.Fatalf("round %d: remove reported %v, model had %v", round, !had, had)
				}
				delete(model, kh)
			} else {
				lh := sha256.Sum256([]byte(fmt.Sprint(round, rng.IntN(1000))))
				_, had := model[kh]
				if tr.set(kh[:], &kh, &lh) != had {
					t.Fatalf("round %d: set reported existed=%v, model had %v", round, !had, had)
				}
				model[kh] = lh
			}
		}
		if rng.IntN(5) == 0 {
			tr.rollback(root)
			model = clone(committed)
		} else {
			root = tr.commit(int64(round+1), 3)
			committed = clone(model)
		}
		if got, want := tr.hash(tr.root, 0), refHash(model, 0); got != want {
			t.Fatalf("round %d (%d keys): root %x, want %x", round, len(model), got, want)
		}
		if tr.keys != len(model) {
			t.Fatalf("round %d: %d keys counted, model has %d", round, tr.keys, len(model))
		}
		if n := checkShape(t, &tr, tr.root, 0); n != len(model) {
			t.Fatalf("round %d: %d leaves in the tree, model has %d", round, n, len(model))
		}
		for kh := range model {
			if !tr.mayContain(tr.root, &kh) {
				t.Fatalf("round %d: key %x missing", round, kh[:4])
			}
		}
	}
}

func clone(m map[[32]byte][32]byte) map[[32]byte][32]byte {
	c := make(map[[32]byte][32]byte, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// checkShape checks the invariants under n and returns its leaf count.
func checkShape(t *testing.T, tr *smt, n ref, depth int) int {
	t.Helper()
	switch {
	case n == 0:
		return 0
	case n.isBucket():
		b := tr.bucket(n)
		xs := tr.expand(b, nil)
		if len(xs) < 1 || len(xs) > bucketMax {
			t.Fatalf("bucket at depth %d holds %d leaves", depth, len(xs))
		}
		twins := false
		for i := 1; i < len(xs); i++ {
			if c := cmp.Compare(xs[i-1].fp(), xs[i].fp()); c > 0 || (c == 0 && bytes.Compare(xs[i-1].kh[:], xs[i].kh[:]) >= 0) {
				t.Fatalf("bucket at depth %d is not sorted", depth)
			}
			twins = twins || xs[i-1].fp() == xs[i].fp()
		}
		if twins != b.wide {
			t.Fatalf("bucket at depth %d: wide %v, leaves sharing an fp %v", depth, b.wide, twins)
		}
		return len(xs)
	}
	in := tr.inners.at(n.index())
	c := checkShape(t, tr, in.l, depth+1) + checkShape(t, tr, in.r, depth+1)
	if c <= bucketMax {
		t.Fatalf("inner node at depth %d over only %d leaves", depth, c)
	}
	return c
}

// The root of a fixed key set is the one the tree had before buckets
// (commit 19e03a1): the app hash does not depend on how the tree is stored.
func TestRootGolden(t *testing.T) {
	tr := NewMemTree()
	defer tr.Close()
	for i := range 2000 {
		tr.Set([]byte(fmt.Sprintf("key-%d", i)), []byte(fmt.Sprintf("value-%d", i*7)))
	}
	for i := 0; i < 2000; i += 3 {
		tr.Delete([]byte(fmt.Sprintf("key-%d", i)))
	}
	const want = "a05799819d857858d9b19187e5186f6392c8d6f2a397e54031efc59dfa908730"
	if got := hex.EncodeToString(tr.WorkingHash()); got != want {
		t.Fatalf("root %s, want %s", got, want)
	}
}
