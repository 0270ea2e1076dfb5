package bench_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The production binary links no medchain test helper, and no medchain
// package of it imports testing. (CometBFT itself imports testing from
// libs/log, types and consensus; that is outside medchain's hands.)
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
		if !strings.HasPrefix(pkg, "github.com/medchain/medchain/") {
			continue
		}
		if strings.HasSuffix(pkg, "/apptest") || strings.HasSuffix(pkg, "/smtest") {
			t.Errorf("the binary links the test helper %s", pkg)
		}
		if strings.Contains(" "+imports+" ", " testing ") {
			t.Errorf("%s, linked into the binary, imports testing", pkg)
		}
	}
}
