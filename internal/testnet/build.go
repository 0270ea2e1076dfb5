package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// modulePkg is the package of the medchain command.
const modulePkg = "github.com/medchain/medchain/cmd/medchain"

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Binary returns the path of a medchain binary built from the source of the
// module under test. The first call builds it; later calls reuse it.
func Binary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "medchain-testnet-")
		if build.err != nil {
			return
		}
		goTool, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
		if err != nil {
			build.err = err
			return
		}
		bin := filepath.Join(build.dir, "medchain")
		out, err := exec.Command(goTool, "build", "-o", bin, modulePkg).CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build %s: %v\n%s", modulePkg, err, out)
			return
		}
		build.bin = bin
	})
	if build.err != nil {
		tb.Fatalf("medchain binary: %v", build.err)
	}
	return build.bin
}

// Main is a TestMain for packages that use testnet: it runs the tests, then
// removes the binary Binary built.
//
//	func TestMain(m *testing.M) { testnet.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}
