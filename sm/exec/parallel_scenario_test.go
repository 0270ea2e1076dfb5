package exec_test

import (
	"flag"
	"fmt"
	"testing"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest/scenario"
	"github.com/medchain/medchain/sm/exec"
	"github.com/medchain/medchain/store/merkle"
)

// TestScenariosParallel runs the scenario files with every block executed
// in parallel, however small, on 1, 2, 4 and 8 workers: the expected
// output (results, events, validator updates, app hashes) is serial
// execution's, unchanged.
func TestScenariosParallel(t *testing.T) {
	if f := flag.Lookup("rewrite"); f != nil && f.Value.String() == "true" {
		t.Skip("-rewrite regenerates the files from serial execution only")
	}
	for _, workers := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			scenario.Run(t, "testdata", func(t *testing.T) scenario.Driver {
				core, _ := app.NewCore()
				core.SetExecution(exec.Execution{Workers: workers, MinTxs: 1})
				return &coreDriver{core: core, tree: merkle.NewMemTree(), pending: pending{}}
			})
		})
	}
}
