package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/store/merkle"
)

// A home whose state an earlier medchain wrote with IAVL is refused with an
// explanation, not left to an app hash mismatch panic during replay.
func TestCheckStateFormat(t *testing.T) {
	dir := t.TempDir()
	if err := checkStateFormat(dir); err != nil {
		t.Fatalf("empty data dir: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "application.db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := checkStateFormat(dir); err == nil || !strings.Contains(err.Error(), "earlier medchain") {
		t.Fatalf("IAVL state: %v, want a refusal", err)
	}
	if err := os.Mkdir(filepath.Join(dir, merkle.DBName), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := checkStateFormat(dir); err != nil {
		t.Fatalf("both stores present (already moved): %v", err)
	}
}
