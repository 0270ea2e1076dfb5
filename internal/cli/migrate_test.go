package cli_test

import (
	"bytes"
	"os"
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

// `backup` of a stopped node, `restore` into a new home, and a damaged
// backup refused.
func TestBackupRestoreCmd(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("tar", "xzf", filepath.Join("..", "node", "testdata", "format2-home.tar.gz"), "-C", dir).CombinedOutput(); err != nil {
		t.Skipf("tar: %v %s", err, out)
	}
	home := filepath.Join(dir, "home")
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		e := cli.Env{Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errb}
		code := cli.Execute(e, args)
		return code, out.String() + errb.String()
	}
	if code, out := run("--home", home, "backup", "--out", filepath.Join(dir, "b.tar.gz")); code == 0 || !strings.Contains(out, "migrate it first") {
		t.Fatalf("backup of a format 2 home: exit %d\n%s", code, out)
	}
	if code, out := run("--home", home, "state", "migrate"); code != 0 {
		t.Fatalf("migrate: %s", out)
	}
	file := filepath.Join(dir, "b.tar.gz")
	code, out := run("--home", home, "backup", "--out", file, "--include-keys")
	if code != 0 || !strings.Contains(out, "backed up the stopped node") || !strings.Contains(out, "WARNING: --include-keys") {
		t.Fatalf("backup: exit %d\n%s", code, out)
	}
	code, out = run("--home", filepath.Join(dir, "restored"), "restore", file)
	if code != 0 || !strings.Contains(out, "restored \"medchain-dev\" at height") {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	if code, out := run("--home", filepath.Join(dir, "restored"), "state", "check"); code != 0 {
		t.Fatalf("state check of the restored home: %s", out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 1
	bad := filepath.Join(dir, "bad.tar.gz")
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := run("--home", filepath.Join(dir, "bad"), "restore", bad); code == 0 || !strings.Contains(out, "damaged") {
		t.Fatalf("restore of a damaged backup: exit %d\n%s", code, out)
	}
}
