package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccountRotateKeys: after rotate-keys the account keeps its address,
// the old key is refused, the new key signs, and every record still
// decrypts with the new key.
func TestAccountRotateKeys(t *testing.T) {
	ok(t, "keys", "add", "rotor")
	ok(t, "account", "register", "--from", "rotor")
	addr := keyAddr(t, "rotor")
	dir := t.TempDir()
	obs := func(n int) string {
		f := filepath.Join(dir, fmt.Sprintf("obs%d.json", n))
		body := fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2339-0"}]},
			"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2024-03-0%dT08:30:00Z","valueQuantity":{"value":9%d,"unit":"mg/dL"}}`, addr, n, n)
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	var ids []string
	for i := 1; i <= 2; i++ {
		ids = append(ids, strings.TrimSpace(ok(t, "record", "add", "--from", "rotor", "--patient", addr, obs(i))))
	}
	// rotor is also the guardian of a ward, and holds the key of its record.
	ok(t, "keys", "add", "rotor-ward")
	ok(t, "account", "register", "--from", "rotor-ward")
	ward := keyAddr(t, "rotor-ward")
	ok(t, "guardian", "set", "--from", "rotor-ward", addr)
	wardFile := filepath.Join(dir, "ward.json")
	body := fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
		"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2024-03-05","valueQuantity":{"value":64,"unit":"/min"}}`, ward)
	if err := os.WriteFile(wardFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	wardID := strings.TrimSpace(ok(t, "record", "add", "--from", "rotor-ward", "--patient", ward, wardFile))

	out := ok(t, "account", "rotate-keys", "--from", "rotor", "--ward", "rotor-ward")
	wantContains(t, out, "account "+addr, `"rotor-next"`, "3 record keys re-wrapped")
	wantContains(t, ok(t, "record", "get", "--from", "rotor-next", wardID), `"value":64`)

	// The old key is refused by the chain (and by the gateway).
	wantContains(t, fails(t, "guardian", "set", "--from", "rotor", "doctor1"), "rotated")
	if r := run(t, devEnv(), "record", "get", "--from", "rotor", ids[0]); r.code == 0 {
		t.Fatalf("the old key still reads: %v", r)
	}
	// The new key signs for the same account and reads every record.
	ok(t, "guardian", "set", "--from", "rotor-next", "doctor1")
	for i, id := range ids {
		wantContains(t, ok(t, "record", "get", "--from", "rotor-next", id), fmt.Sprintf(`"value":9%d`, i+1))
	}
	wantContains(t, ok(t, "account", "show", addr), keyPub(t, "rotor-next"))
}

func keyPub(t testing.TB, name string) string {
	t.Helper()
	for _, line := range strings.Split(ok(t, "keys", "show", name), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], "pub") {
			return f[1]
		}
	}
	t.Fatalf("no public key in keys show %s", name)
	return ""
}
