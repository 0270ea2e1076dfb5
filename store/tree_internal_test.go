package store

import (
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
