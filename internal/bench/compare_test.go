package bench_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A plain `medchain bench` loads medchain, then the strongest baseline (a
// kvstore node in a process of its own, JSON-RPC, indexer off) with the
// same load, and reports that ratio before anything else of the results.
func TestBenchComparesWithStrongestBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds medchain and runs two short loads")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "medchain")
	build := exec.Command("go", "build", "-o", exe, "github.com/medchain/medchain/cmd/medchain")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("go build: %v\n%s", err, out) // no go tool where the test runs
	}
	cmd := exec.Command(exe, "bench", "--home", filepath.Join(dir, "home"), "--inproc-node", "--intake", "batch",
		"--rate", "200", "--duration", "4s", "--warmup", "1s", "--drain", "10s", "--accounts", "40", "--timeout-commit", "200ms",
		"--quiet", "--out", filepath.Join(dir, "run.json"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("medchain bench: %v\n%s", err, out)
	}
	text := string(out)
	_, results, ok := strings.Cut(text, "load: kvstore (JSON-RPC, separate load generator, indexer off) via jsonrpc")
	if !ok {
		t.Fatalf("no baseline run:\n%s", text)
	}
	first := strings.SplitN(strings.TrimLeft(results[strings.Index(results, "\n"):], "\n"), "\n", 2)[0]
	if !strings.HasPrefix(first, "medchain / kvstore (JSON-RPC, separate load generator, indexer off) = ") {
		t.Fatalf("the first result line is %q:\n%s", first, text)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "run.json")); err != nil || !strings.Contains(string(b), `"baselines"`) || !strings.Contains(string(b), `"kv_indexer": "null"`) {
		t.Fatalf("--out lacks the baseline run (%v)", err)
	}
}
