package bench_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The production binary links no medchain test helper, and no package of
// it imports testing or testify except the CometBFT packages that do so in
// v0.39 (libs/log, types, consensus, internal/test: outside medchain's
// hands, docs/decisions.md). A new dependency, or a new import of ours,
// that brings test code in fails here.
var cometbftTestImporters = map[string]bool{
	"github.com/cometbft/cometbft/libs/log":      true,
	"github.com/cometbft/cometbft/types":         true,
	"github.com/cometbft/cometbft/consensus":     true,
	"github.com/cometbft/cometbft/internal/test": true,
}

func importsTestCode(imports string) bool {
	for _, imp := range strings.Fields(imports) {
		if imp == "testing" || strings.HasPrefix(imp, "github.com/stretchr/testify/") {
			return true
		}
	}
	return false
}

func TestBinaryLinksNoTestHelpers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}", "github.com/medchain/medchain/cmd/medchain").Output()
	if err != nil {
		t.Skipf("go list: %v", err) // no go tool where the test runs
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		if strings.HasSuffix(pkg, "/apptest") || strings.HasSuffix(pkg, "/smtest") {
			t.Errorf("the binary links the test helper %s", pkg)
		}
		if strings.HasPrefix(pkg, "github.com/stretchr/testify/") || pkg == "testing" {
			continue // what the allowed importers bring in
		}
		if importsTestCode(imports) && !cometbftTestImporters[pkg] {
			t.Errorf("%s, linked into the binary, imports testing or testify", pkg)
		}
	}
}
