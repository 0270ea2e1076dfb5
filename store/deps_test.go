package store_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The deterministic core (store, sm, x/*) links no network, database,
// metrics or consensus code, and none of its packages opens files: os
// reaches it only through the standard library (fmt) and
// golang.org/x/sys/cpu.
func TestCoreImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}",
		"github.com/medchain/medchain/store", "github.com/medchain/medchain/sm/...", "github.com/medchain/medchain/x/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err) // no go tool where the test runs
	}
	forbidden := []string{"net/http", "github.com/cockroachdb/pebble", "github.com/prometheus/", "github.com/cometbft/"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("the core depends on %s", pkg)
			}
		}
		if strings.HasPrefix(pkg, "github.com/medchain/medchain/") && strings.Contains(" "+imports+" ", " os ") {
			t.Errorf("%s imports os", pkg)
		}
	}
}
