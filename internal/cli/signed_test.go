package cli_test

import (
	"testing"
)

// TestPatientReadsAreSigned: the CLI signs its reads of patient data, with
// --from or the named patient's local key, so the patient's own commands
// work; another account's signed read of the same data is refused (403).
func TestPatientReadsAreSigned(t *testing.T) {
	ok(t, "audit", "--from", "patient1")
	ok(t, "record", "list", "--patient", "patient1")
	ok(t, "consent", "list", "--patient", "patient1")
	ok(t, "emergency", "list", "--patient", "patient1")
	s := fails(t, "audit", "--from", "doctor1", "--patient", "patient2")
	wantContains(t, s, "not allowed", "HTTP 403")
	s = fails(t, "consent", "list", "--from", "doctor1", "--patient", "patient2")
	wantContains(t, s, "code 9/api", "HTTP 403")
}
