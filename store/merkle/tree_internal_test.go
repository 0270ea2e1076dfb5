package merkle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/medchain/medchain/store"
)

// A state database whose content no longer hashes to the committed root (a
// value changed behind the node's back, a torn copy) is refused at open
// when the tree is rebuilt from it: with tree checkpoints off (a checkpoint
// holds the tree as it was written and does not read the stored values).
func TestOpenRefusesTamperedState(t *testing.T) {
	dir := t.TempDir()
	off := Options{CheckpointChanges: -1}
	tr, err := OpenTreeWith(dir, off)
	if err != nil {
		t.Fatal(err)
	}
	tr.Set([]byte("consent"), []byte("revoked"))
	tr.Set([]byte("other"), []byte("x"))
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	tr.db.Set(append([]byte{'s'}, "consent"...), []byte("granted"), pebble.Sync)
	tr.Close()
	if _, err := OpenTreeWith(dir, off); err == nil || !strings.Contains(err.Error(), "hashes to") {
		t.Fatalf("open of a tampered state: %v, want a hash mismatch", err)
	}
}

// The database's hash → key index holds exactly one entry per state key,
// pointing at it, whatever mix of inserts, updates, deletes, re-inserts and
// rollbacks came before; updates do not rewrite it.
func TestHashIndexFollowsKeys(t *testing.T) {
	for _, bits := range []int{64, 6} {
		t.Run(fmt.Sprintf("fp of %d bits", bits), func(t *testing.T) {
			defer SetFPBits(bits)()
			hashIndexFollowsKeys(t)
		})
	}
}

func hashIndexFollowsKeys(t *testing.T) {
	tr := NewMemTree()
	defer tr.Close()
	key := func(i int) []byte { return []byte{'k', byte(i >> 8), byte(i)} }
	for round := range 6 {
		for i := range 300 {
			switch j := (i*31 + round*7) % 300; {
			case j%4 == 0:
				tr.Delete(key(j))
			case j%7 == 0:
				tr.Set(key(j), []byte{byte(round)})
				tr.Delete(key(j)) // set then deleted in one version
			default:
				tr.Set(key(j), []byte{byte(round), byte(i)})
			}
		}
		if round == 3 {
			tr.Rollback()
			continue
		}
		c := store.NewCache(tr)
		c.Set(key(1000+round), []byte("via a cache"))
		c.Delete(key(4))
		c.Write()
		if _, _, err := tr.Commit(); err != nil {
			t.Fatal(err)
		}
		state := map[[32]byte]string{}
		it, _ := tr.db.NewIter(&pebble.IterOptions{LowerBound: prefixState, UpperBound: store.PrefixEnd(prefixState)})
		for it.First(); it.Valid(); it.Next() {
			state[sha256Sum(it.Key()[1:])] = string(it.Key()[1:])
		}
		it.Close()
		n := 0
		it, _ = tr.db.NewIter(&pebble.IterOptions{LowerBound: prefixHash, UpperBound: store.PrefixEnd(prefixHash)})
		for it.First(); it.Valid(); it.Next() {
			n++
			if k, ok := state[[32]byte(it.Key()[1:])]; !ok || k != string(it.Value()) {
				t.Fatalf("round %d: hash entry %x → %q matches no state key", round, it.Key()[1:], it.Value())
			}
		}
		it.Close()
		if n != len(state) {
			t.Fatalf("round %d: %d hash entries for %d state keys", round, n, len(state))
		}
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// Index keys are stored, read, listed, rolled back and committed like any
// other key and survive a reopen; they are not leaves (no hash → key entry,
// Prove refuses them), and what reaches the root is the digest of their
// writes under store.IndexDigestKey.
func TestIndexKeysOutsideTheTree(t *testing.T) {
	dir := t.TempDir()
	tr, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr.Set([]byte("\x30record"), []byte("r"))
	root, _, err := tr.Commit()
	if err != nil {
		t.Fatal(err)
	}
	idx := []byte{0xB3, 'p', '1'}
	tr.Set(idx, []byte{})
	tr.Set([]byte{0xB3, 'p', '2'}, []byte("x"))
	if h := tr.WorkingHash(); bytes.Equal(h, root) {
		t.Fatalf("index writes left the working root unchanged")
	}
	tr.Rollback()
	if tr.Get(idx) != nil || tr.Get(store.IndexDigestKey) != nil {
		t.Fatal("rolled-back index key or digest still readable")
	}
	if h := tr.WorkingHash(); !bytes.Equal(h, root) {
		t.Fatalf("rolled back: working root %x, want %x", h, root)
	}
	c := store.NewCache(tr)
	c.Set(idx, []byte{})
	c.Set([]byte{0xB3, 'p', '2'}, []byte("x"))
	c.Write()
	root2, _, err := tr.Commit()
	if err != nil {
		t.Fatal(err)
	}
	want := withDigest(t, map[string]string{"\x30record": "r"}, expectDigest(nil, []store.Write{{Key: string(idx), Value: []byte{}}, {Key: "\xB3p2", Value: []byte("x")}}))
	if !bytes.Equal(root2, want) {
		t.Fatalf("committed root %x, want the root of the proven keys and the digest %x", root2, want)
	}
	var listed []string
	tr.Iterate([]byte{0xB3}, []byte{0xB4}, func(k, _ []byte) bool { listed = append(listed, string(k[1:])); return true })
	if fmt.Sprint(listed) != "[p1 p2]" {
		t.Fatalf("listed %q", listed)
	}
	snap, _ := tr.Snapshot(2)
	if _, _, err := snap.Prove(idx); !errors.Is(err, store.ErrIndexKey) {
		t.Fatalf("Prove(index key) = %v, want store.ErrIndexKey", err)
	}
	n := 0
	it, _ := tr.db.NewIter(&pebble.IterOptions{LowerBound: prefixHash, UpperBound: store.PrefixEnd(prefixHash)})
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	it.Close()
	if n != 2 {
		t.Fatalf("%d hash → key entries, want 2 (the record and the digest)", n)
	}
	tr.Delete(idx)
	root3, _, err := tr.Commit()
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	tr, err = OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if !bytes.Equal(tr.Hash(), root3) || tr.Get(idx) != nil || string(tr.Get([]byte{0xB3, 'p', '2'})) != "x" {
		t.Fatalf("reopened: root %x (want %x), deleted index %q, kept index %q", tr.Hash(), root3, tr.Get(idx), tr.Get([]byte{0xB3, 'p', '2'}))
	}
}

// expectDigest is the index digest as docs/decisions.md specifies it,
// written out independently of foldIndexWrites.
func expectDigest(prev []byte, ws []store.Write) []byte {
	if prev == nil {
		prev = make([]byte, 32)
	}
	msg := append([]byte("medchain/index-digest/v1"), prev...)
	for _, w := range ws {
		msg = append(msg, byte(len(w.Key)))
		msg = append(msg, w.Key...)
		if w.Value == nil {
			msg = append(msg, 0)
			continue
		}
		msg = append(msg, 1, byte(len(w.Value)))
		msg = append(msg, w.Value...)
	}
	h := sha256.Sum256(msg)
	return h[:]
}

// withDigest is the root of a tree holding the proven pairs kv and the
// index digest d, written as plain keys.
func withDigest(t *testing.T, kv map[string]string, d []byte) []byte {
	t.Helper()
	tr := NewMemTree()
	defer tr.Close()
	for k, v := range kv {
		tr.Set([]byte(k), []byte(v))
	}
	kh := sha256.Sum256(store.IndexDigestKey)
	vh := sha256.Sum256(d)
	lh := leafHash(&kh, &vh)
	tr.setLeaf(store.IndexDigestKey, &kh, &lh)
	tr.work.Set(store.IndexDigestKey, d)
	return tr.WorkingHash()
}

// A state database without the format key (written before index keys left
// the tree) or with another format is refused at open with ErrStateFormat.
func TestOpenRefusesOtherFormat(t *testing.T) {
	for _, format := range [][]byte{nil, {1}, {StateFormat - 1}, {StateFormat + 1}} {
		dir := t.TempDir()
		tr, err := OpenTree(dir)
		if err != nil {
			t.Fatal(err)
		}
		tr.Set([]byte("a"), []byte("b"))
		if _, _, err := tr.Commit(); err != nil {
			t.Fatal(err)
		}
		if format == nil {
			tr.db.Delete(keyFormat, pebble.Sync)
		} else {
			tr.db.Set(keyFormat, format, pebble.Sync)
		}
		tr.Close()
		if _, err := OpenTree(dir); !errors.Is(err, ErrStateFormat) {
			t.Fatalf("format %v: open = %v, want ErrStateFormat", format, err)
		}
	}
}
