package cli_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/internal/cli"
)

// `state migrate` on the previous release's home (internal/node/testdata),
// then `state check` on the result: the index entries the old release
// wrote match the proven state.
func TestStateMigrateCmd(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("tar", "xzf", filepath.Join("..", "node", "testdata", "format2-home.tar.gz"), "-C", dir).CombinedOutput(); err != nil {
		t.Skipf("tar: %v %s", err, out)
	}
	home := filepath.Join(dir, "home")
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		e := cli.Env{Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errb}
		code := cli.Execute(e, append([]string{"--home", home}, args...))
		return code, out.String() + errb.String()
	}
	if code, out := run("state", "check"); code == 0 || !strings.Contains(out, "format 2") {
		t.Fatalf("check before the migration: exit %d\n%s", code, out)
	}
	if code, out := run("state", "migrate"); code != 0 || !strings.Contains(out, "migrated state format 2 to 3 at height") || !strings.Contains(out, "medchain.db.format2-") {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	if code, out := run("state", "migrate"); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("migrate again: exit %d\n%s", code, out)
	}
	if code, out := run("state", "check"); code != 0 || !strings.Contains(out, "index entries match") {
		t.Fatalf("check after the migration: exit %d\n%s", code, out)
	}
}
