package store

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
)

// A state database whose content no longer hashes to the committed root (a
// value changed behind the node's back, a torn copy) is refused at open.
func TestOpenRefusesTamperedState(t *testing.T) {
	dir := t.TempDir()
	tr, err := OpenTree(dir)
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
	if _, err := OpenTree(dir); err == nil || !strings.Contains(err.Error(), "hashes to") {
		t.Fatalf("open of a tampered state: %v, want a hash mismatch", err)
	}
}

// The database's hash → key index holds exactly one entry per state key,
// pointing at it, whatever mix of inserts, updates, deletes, re-inserts and
// rollbacks came before; updates do not rewrite it.
func TestHashIndexFollowsKeys(t *testing.T) {
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
		c := NewCache(tr)
		c.Set(key(1000+round), []byte("via a cache"))
		c.Delete(key(4))
		c.Write()
		if _, _, err := tr.Commit(); err != nil {
			t.Fatal(err)
		}
		state := map[[32]byte]string{}
		it, _ := tr.db.NewIter(&pebble.IterOptions{LowerBound: prefixState, UpperBound: PrefixEnd(prefixState)})
		for it.First(); it.Valid(); it.Next() {
			state[sha256Sum(it.Key()[1:])] = string(it.Key()[1:])
		}
		it.Close()
		n := 0
		it, _ = tr.db.NewIter(&pebble.IterOptions{LowerBound: prefixHash, UpperBound: PrefixEnd(prefixHash)})
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
