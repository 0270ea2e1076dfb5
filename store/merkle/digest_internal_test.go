package merkle

import (
	"bytes"
	"errors"
	"testing"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// Two trees given the same proven writes but different index writes commit
// different app hashes; with the same index writes, the same one. The
// digest's proof verifies against the app hash.
func TestIndexWritesChangeTheAppHash(t *testing.T) {
	proven := func(tr *Tree) {
		tr.Set([]byte("\x30r1"), []byte("record 1"))
		tr.Set([]byte("\x01acct"), []byte("account"))
	}
	cases := []struct {
		name string
		a, b []store.Write // index writes of each tree (nil Value: delete)
		same bool
	}{
		{"same writes", []store.Write{{Key: "\xB3p1r1", Value: []byte{}}}, []store.Write{{Key: "\xB3p1r1", Value: []byte{}}}, true},
		{"stray entry", []store.Write{{Key: "\xB3p1r1", Value: []byte{}}}, []store.Write{{Key: "\xB3p1r1", Value: []byte{}}, {Key: "\xA3p2p1", Value: []byte{}}}, false},
		{"other value", []store.Write{{Key: "\xB4h", Value: []byte("r1")}}, []store.Write{{Key: "\xB4h", Value: []byte("r2")}}, false},
		{"missing entry", []store.Write{{Key: "\xB3p1r1", Value: []byte{}}}, nil, false},
		{"delete of an absent key", []store.Write{{Key: "\xB3p1r1", Value: []byte{}}}, []store.Write{{Key: "\xB3p1r1", Value: []byte{}}, {Key: "\xB3p9"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hashes [2][]byte
			var trees [2]*Tree
			for i, ws := range [][]store.Write{tc.a, tc.b} {
				tr := NewMemTree()
				defer tr.Close()
				proven(tr)
				for _, w := range ws {
					if w.Value == nil {
						tr.Delete([]byte(w.Key))
					} else {
						tr.Set([]byte(w.Key), w.Value)
					}
				}
				h, _, err := tr.Commit()
				if err != nil {
					t.Fatal(err)
				}
				hashes[i], trees[i] = h, tr
			}
			if got := bytes.Equal(hashes[0], hashes[1]); got != tc.same {
				t.Fatalf("hashes %x and %x: equal %v, want %v", hashes[0], hashes[1], got, tc.same)
			}
			snap, err := trees[0].Snapshot(1)
			if err != nil {
				t.Fatal(err)
			}
			v, proof, err := snap.Prove(store.IndexDigestKey)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(v, expectDigest(nil, tc.a)) {
				t.Fatalf("digest %x, want %x", v, expectDigest(nil, tc.a))
			}
			if err := VerifyProof(snap.Hash(), proof, store.IndexDigestKey, v); err != nil {
				t.Fatalf("digest proof: %v", err)
			}
		})
	}
}

// The digest chains versions: a version without index writes keeps it, the
// next one with index writes hashes the committed digest with its own
// writes; a tree with no index writes ever has no digest.
func TestIndexDigestChains(t *testing.T) {
	tr := NewMemTree()
	defer tr.Close()
	tr.Set([]byte("\x01a"), []byte("1"))
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	if tr.Get(store.IndexDigestKey) != nil {
		t.Fatal("a digest without index writes")
	}
	w1 := []store.Write{{Key: "\xA2x", Value: []byte("1")}, {Key: "\xB3y", Value: []byte{}}}
	for _, w := range w1 {
		tr.Set([]byte(w.Key), w.Value)
	}
	tr.Commit()
	d1 := expectDigest(nil, w1)
	tr.Set([]byte("\x01a"), []byte("2"))
	tr.Commit()
	if got := tr.Get(store.IndexDigestKey); !bytes.Equal(got, d1) {
		t.Fatalf("after a version without index writes: %x, want %x", got, d1)
	}
	tr.Delete([]byte("\xA2x"))
	tr.Commit()
	if got, want := tr.Get(store.IndexDigestKey), expectDigest(d1, []store.Write{{Key: "\xA2x"}}); !bytes.Equal(got, want) {
		t.Fatalf("chained digest %x, want %x", got, want)
	}
}

// The digest does not depend on when the working hash is asked nor on
// whether the writes came one by one or as a cache's batch.
func TestIndexDigestIndependentOfHashTiming(t *testing.T) {
	a, b, c := NewMemTree(), NewMemTree(), NewMemTree()
	defer a.Close()
	defer b.Close()
	defer c.Close()
	a.Set([]byte("\xB3k1"), []byte("1"))
	a.WorkingHash()
	a.Set([]byte("\x01p"), []byte("p"))
	a.WorkingHash()
	a.Set([]byte("\xB3k2"), []byte("2"))
	ha, _, _ := a.Commit()

	b.Set([]byte("\x01p"), []byte("p"))
	b.Set([]byte("\xB3k2"), []byte("2"))
	b.Set([]byte("\xB3k1"), []byte("1"))
	hb, _, _ := b.Commit()

	cache := store.NewCache(c)
	cache.Set([]byte("\xB3k2"), []byte("2"))
	cache.Set([]byte("\x01p"), []byte("p"))
	cache.Set([]byte("\xB3k1"), []byte("1"))
	cache.Write()
	hc, _, _ := c.Commit()
	if !bytes.Equal(ha, hb) || !bytes.Equal(hb, hc) {
		t.Fatalf("hashes differ: hashed between writes %x, at the end %x, through a cache %x", ha, hb, hc)
	}
}

// Only the tree writes the digest's key, whose prefix sm lists as reserved.
func TestIndexDigestKeyReserved(t *testing.T) {
	if sm.PrefixIndexDigest != store.IndexDigestKey[0] || store.IsIndexKey(store.IndexDigestKey) {
		t.Fatalf("sm.PrefixIndexDigest %#x, store.IndexDigestKey %x: must agree and be a proven key", sm.PrefixIndexDigest, store.IndexDigestKey)
	}
	for name, write := range map[string]func(*Tree){
		"set":    func(tr *Tree) { tr.Set(store.IndexDigestKey, []byte("x")) },
		"delete": func(tr *Tree) { tr.Delete(store.IndexDigestKey) },
		"batch": func(tr *Tree) {
			c := store.NewCache(tr)
			c.Set(store.IndexDigestKey, []byte("forged"))
			c.Write()
		},
	} {
		t.Run(name, func(t *testing.T) {
			tr := NewMemTree()
			defer tr.Close()
			defer func() {
				f, ok := recover().(store.Fault)
				if !ok || !errors.Is(f, errReserved) {
					t.Fatalf("recovered %v, want a Fault for the reserved key", f)
				}
			}()
			write(tr)
		})
	}
}
