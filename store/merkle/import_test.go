package merkle_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
)

// A committed state imported whole into an empty tree (state sync) has the
// source's root at the source's version, index keys and the index digest
// included, proves like the source, and takes the next block like it.
func TestImport(t *testing.T) {
	src := merkle.NewMemTree()
	defer src.Close()
	for v := range 5 {
		for i := range 20 {
			src.Set([]byte(fmt.Sprintf("k%02d-%d", i, v%2)), []byte(fmt.Sprintf("v%d", v*i)))
		}
		src.Set([]byte{store.IndexKeyStart, byte(v)}, []byte{1}) // an index write: the digest moves
		if _, _, err := src.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := src.Snapshot(5)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Get(store.IndexDigestKey) == nil {
		t.Fatal("source has no index digest")
	}
	var pairs [][2][]byte
	snap.Iterate(nil, nil, func(k, v []byte) bool {
		pairs = append(pairs, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		return true
	})

	imp := func(pairs [][2][]byte, hash []byte) (*merkle.Tree, error) {
		dst := merkle.NewMemTree()
		t.Cleanup(func() { dst.Close() })
		im, err := dst.BeginImport()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pairs {
			if err := im.Put(p[0], p[1]); err != nil {
				return dst, err
			}
		}
		return dst, im.Finish(5, hash)
	}
	dst, err := imp(pairs, snap.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if dst.Version() != 5 || !bytes.Equal(dst.Hash(), snap.Hash()) {
		t.Fatalf("imported v%d %X, want v5 %X", dst.Version(), dst.Hash(), snap.Hash())
	}
	ds, _ := dst.Snapshot(5)
	if _, _, err := ds.Prove([]byte("k03-0")); err != nil {
		t.Fatalf("proof on the imported state: %v", err)
	}
	for _, tr := range []*merkle.Tree{src, dst} {
		tr.Set([]byte("k99"), []byte("next"))
		tr.Set([]byte{store.IndexKeyStart, 99}, []byte{2})
	}
	h1, _, _ := src.Commit()
	h2, v2, _ := dst.Commit()
	if !bytes.Equal(h1, h2) || v2 != 6 {
		t.Fatalf("next block: %X at %d, source %X", h2, v2, h1)
	}

	// Tampered: another value, or out of order.
	bad := append([][2][]byte{}, pairs...)
	bad[3] = [2][]byte{bad[3][0], []byte("forged")}
	if _, err := imp(bad, snap.Hash()); !errors.Is(err, merkle.ErrImport) {
		t.Fatalf("forged value: %v", err)
	}
	swapped := append([][2][]byte{}, pairs...)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	if _, err := imp(swapped, snap.Hash()); !errors.Is(err, merkle.ErrImport) {
		t.Fatalf("out of order: %v", err)
	}
	if used, _ := imp(pairs, snap.Hash()); true {
		if _, err := used.BeginImport(); !errors.Is(err, merkle.ErrImport) {
			t.Fatalf("import into a tree with a version: %v", err)
		}
	}
}
