// Package scripts holds the repository's shell scripts; this test checks
// test.sh's behaviour with stand-ins for the tools it runs.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLogPerRun: test.sh writes the go test log to a new temporary file on
// each run (never the fixed /tmp/medchain-test.log) and prints where.
func TestLogPerRun(t *testing.T) {
	bin := t.TempDir()
	// go, npm, node and chromium stand-ins: they print their arguments and succeed.
	for _, tool := range []string{"go", "npm", "node", "chromium"} {
		stub := "#!/bin/sh\necho \"" + tool + " $*\"\n"
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	run := func() string {
		cmd := exec.Command("bash", "test.sh")
		cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin", "TMPDIR="+tmp)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("test.sh: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`== go test log: (\S+)`).FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("test.sh does not say where its log is:\n%s", out)
		}
		log, err := os.ReadFile(m[1])
		if err != nil {
			t.Fatalf("the log it names: %v", err)
		}
		if !strings.Contains(string(log), "go test -count=1") {
			t.Fatalf("log %s lacks go test's output: %q", m[1], log)
		}
		return m[1]
	}
	a, b := run(), run()
	if a == b || a == "/tmp/medchain-test.log" || !strings.HasPrefix(a, tmp+"/") {
		t.Fatalf("logs %s and %s: want a new file under %s per run", a, b, tmp)
	}
}
