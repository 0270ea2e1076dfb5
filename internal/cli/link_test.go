package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinkCommands: the hospital links a new patient's MRN with the
// patient's signed approval (the MRN read from stdin), looks the patient up
// by MRN, and the patient lists and removes the link. Without an approval
// or consent the link is refused; a stranger may not read it.
func TestLinkCommands(t *testing.T) {
	ok(t, "keys", "add", "link-pat")
	ok(t, "account", "register", "--from", "link-pat")
	pat := keyAddr(t, "link-pat")
	const system = "urn:oid:2.16.840.1.113883.19.5.99999.2"
	mac := strings.TrimSpace(ok(t, "link", "mac", "--system", system, "--value", "MRN-CLI-77"))
	if len(mac) != 64 {
		t.Fatalf("mac %q", mac)
	}
	e := devEnv()
	e.Stdin = strings.NewReader("MRN-CLI-77\n")
	if r := run(t, e, "link", "mac", "--system", system, "--value", "-"); r.code != 0 || strings.TrimSpace(r.stdout) != mac {
		t.Fatalf("mac from stdin: %v", r)
	}
	wantContains(t, fails(t, "link", "add", "--from", "hospital-admin", "--patient", pat, "--mac", mac), "code 3/links")
	approval := ok(t, "link", "approve", "--from", "link-pat", "--org", "dev-hospital", "--mac", mac, "--expires", "1h")
	f := filepath.Join(t.TempDir(), "approval.json")
	if err := os.WriteFile(f, []byte(approval), 0o600); err != nil {
		t.Fatal(err)
	}
	wantContains(t, fails(t, "link", "add", "--from", "doctor1", "--patient", pat, "--mac", mac, "--approval", f), "code 1/links")
	wantContains(t, ok(t, "link", "add", "--from", "hospital-admin", "--patient", pat, "--system", system, "--value", "MRN-CLI-77", "--approval", f),
		"linked dev-hospital "+mac)
	wantContains(t, fails(t, "link", "add", "--from", "hospital-admin", "--patient", pat, "--mac", mac, "--approval", f), "code 6/links")
	wantContains(t, ok(t, "link", "show", "--from", "hospital-admin", "--system", system, "--value", "MRN-CLI-77"), mac, pat, "signed by")
	wantContains(t, fails(t, "link", "show", "--from", "patient2", "--mac", mac, "--org", "dev-hospital"), "403")
	wantContains(t, ok(t, "link", "list", "--from", "link-pat", pat), "dev-hospital", mac)
	wantContains(t, ok(t, "link", "remove", "--from", "link-pat", "--mac", mac, "--org", "dev-hospital"), "unlinked")
	if out := ok(t, "link", "list", "--from", "link-pat", pat); strings.Contains(out, mac) {
		t.Fatalf("still listed:\n%s", out)
	}
}
