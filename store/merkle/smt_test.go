package merkle_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
)

// rebuilt returns the root of a fresh tree holding exactly model.
func rebuilt(t *testing.T, model map[string]string) []byte {
	t.Helper()
	fresh := merkle.NewMemTree()
	defer fresh.Close()
	for k, v := range model {
		fresh.Set([]byte(k), []byte(v))
	}
	return fresh.WorkingHash()
}

// TestTreeMatchesModel runs random writes, deletes and rollbacks against a
// map. After every commit the root must equal that of a tree built from the
// map's content alone (the shape is canonical), the content must match, and
// proofs of present and absent keys must verify; proofs taken at older
// versions must still verify against their own roots while later versions
// reuse the tree's nodes.
//
// With fps of 8 bits most leaves share their fp with others: wide buckets,
// full key hashes learnt from the database, and neighbours of absent keys
// found by fp are all exercised.
func TestTreeMatchesModel(t *testing.T) {
	for _, bits := range []int{64, 8} {
		t.Run(fmt.Sprintf("fp of %d bits", bits), func(t *testing.T) {
			defer merkle.SetFPBits(bits)()
			treeMatchesModel(t)
		})
	}
}

func treeMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := merkle.NewMemTree()
	defer tr.Close()
	model := map[string]string{}
	type saved struct {
		version int64
		root    []byte
		model   map[string]string
	}
	var history []saved
	key := func() string { return fmt.Sprintf("k%03d", rng.IntN(300)) }
	for round := range 90 {
		work := map[string]string{}
		for k, v := range model {
			work[k] = v
		}
		// The writes go to the tree itself, through a cache written at the
		// end (as a block's: the tree takes the cache whole), or first to
		// the tree and then through a cache (the tree inserts its writes).
		var kv store.KV = tr
		mode := rng.IntN(3)
		n := rng.IntN(40)
		for i := range n {
			if mode == 1 && i == 0 || mode == 2 && i == n/2 {
				kv = store.NewCache(tr)
			}
			k := key()
			if rng.IntN(4) == 0 {
				kv.Delete([]byte(k))
				delete(work, k)
			} else {
				v := fmt.Sprintf("v%d-%d", round, rng.IntN(1000))
				kv.Set([]byte(k), []byte(v))
				work[k] = v
			}
		}
		if c, ok := kv.(*store.Cache); ok {
			c.Write()
		}
		if rng.IntN(6) == 0 {
			tr.Rollback()
			if !bytes.Equal(tr.WorkingHash(), tr.Hash()) {
				t.Fatalf("round %d: working hash after rollback differs from the committed one", round)
			}
			continue
		}
		root, version, err := tr.Commit()
		if err != nil {
			t.Fatal(err)
		}
		model = work
		if want := rebuilt(t, model); !bytes.Equal(root, want) {
			t.Fatalf("round %d: root %x, a tree built from the content has %x", round, root, want)
		}
		history = append(history, saved{version, root, model})

		// Every provable version still proves its own content.
		for _, h := range history {
			snap, err := tr.Snapshot(h.version)
			if err != nil {
				t.Fatalf("version %d: %v", h.version, err)
			}
			for range 4 {
				k := key()
				v, proof, err := snap.Prove([]byte(k))
				if h.version <= version-merkle.ProvableVersions {
					if !errors.Is(err, merkle.ErrNotProvable) {
						t.Fatalf("version %d at %d: Prove = %v, want ErrNotProvable", h.version, version, err)
					}
					break
				}
				if err != nil {
					t.Fatalf("version %d: prove %s: %v", h.version, k, err)
				}
				want, present := h.model[k]
				if present != (v != nil) || (present && string(v) != want) {
					t.Fatalf("version %d: %s = %q, want %q (present %v)", h.version, k, v, want, present)
				}
				if err := merkle.VerifyProof(h.root, proof, []byte(k), v); err != nil {
					t.Fatalf("version %d (now %d): proof of %s: %v", h.version, version, k, err)
				}
			}
		}
		got := map[string]string{}
		tr.Iterate(nil, nil, func(k, v []byte) bool { got[string(k)] = string(v); return true })
		if fmt.Sprint(got) != fmt.Sprint(model) {
			t.Fatalf("round %d: content differs from the model", round)
		}
	}
}

// TestTreeReusesNodes: updating the same keys version after version must not
// grow the tree's node count without bound.
func TestTreeReusesNodes(t *testing.T) {
	tr := merkle.NewMemTree()
	defer tr.Close()
	for i := range 1000 {
		tr.Set([]byte(fmt.Sprintf("key%d", i)), []byte("0"))
	}
	tr.Commit()
	var peak int
	size := func(s merkle.Stats) int { return s.InnerNodes + s.Buckets + s.LeafSlots }
	for v := range 100 {
		for i := 0; i < 1000; i += 7 {
			tr.Set([]byte(fmt.Sprintf("key%d", i)), []byte(fmt.Sprint(v)))
		}
		tr.Commit()
		peak = max(peak, size(tr.Stats()))
	}
	st := tr.Stats()
	if st.Keys != 1000 || st.LeafSlots < 1000 || st.Buckets < 1000/8 || st.InnerNodes < 1000/8-1 {
		t.Fatalf("stats %+v: the tree does not hold 1,000 keys", st)
	}
	// Each version rewrites 143 keys' buckets (about 5.5 leaves each) and
	// their paths; the last ProvableVersions versions' copies are kept, so
	// the tree stays near 13,000 slots. Without reuse it would pass 100,000.
	if peak > 30_000 {
		t.Fatalf("tree grew to %d nodes and leaf slots for 1,000 keys: replaced nodes are not reused", peak)
	}
}

// TestTreeReopenRebuildsTheSameRoot: a reopened tree rebuilds its Merkle
// tree from the stored keys and must arrive at the committed root, and
// proofs from it verify.
func TestTreeReopenRebuildsTheSameRoot(t *testing.T) {
	for _, bits := range []int{64, 8} {
		t.Run(fmt.Sprintf("fp of %d bits", bits), func(t *testing.T) {
			defer merkle.SetFPBits(bits)()
			treeReopenRebuildsTheSameRoot(t)
		})
	}
}

func treeReopenRebuildsTheSameRoot(t *testing.T) {
	dir := t.TempDir()
	tr, err := merkle.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		tr.Set([]byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprint(i*i)))
	}
	tr.Commit()
	for i := 0; i < 500; i += 3 {
		tr.Delete([]byte(fmt.Sprintf("k%d", i)))
	}
	root, _, err := tr.Commit()
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	tr, err = merkle.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if !bytes.Equal(tr.Hash(), root) || tr.Version() != 2 {
		t.Fatalf("reopened at v%d %x, want v2 %x", tr.Version(), tr.Hash(), root)
	}
	snap, err := tr.Snapshot(2)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k3", "nope"} {
		v, p, err := snap.Prove([]byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if err := merkle.VerifyProof(root, p, []byte(k), v); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
}

// A range read inside another range read's callback (modules do this) sees
// its own range, and the outer one goes on where it was.
func TestTreeNestedIteration(t *testing.T) {
	tr := merkle.NewMemTree()
	defer tr.Close()
	for _, k := range []string{"a1", "a2", "a3", "b1", "b2"} {
		tr.Set([]byte(k), []byte("v"))
	}
	tr.Commit()
	var outer, inner []string
	tr.Iterate([]byte("a"), []byte("b"), func(k, _ []byte) bool {
		outer = append(outer, string(k))
		tr.Iterate([]byte("b"), []byte("c"), func(k, _ []byte) bool {
			inner = append(inner, string(k))
			return true
		})
		return true
	})
	if fmt.Sprint(outer) != "[a1 a2 a3]" || len(inner) != 6 {
		t.Fatalf("outer %v, inner %v", outer, inner)
	}
}
