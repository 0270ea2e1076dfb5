package cli_test

import (
	"strings"
	"testing"
)

// TestEmergencyCodes: an emergency's reason and review are codes. The help
// lists them; free text is refused before it is sent, with the code the
// chain would refuse it with; --review is a deprecated alias of --outcome.
func TestEmergencyCodes(t *testing.T) {
	wantContains(t, ok(t, "emergency", "open", "--help"), "--reason CODE",
		"unable_to_consent, life_threatening, imminent_harm, legal_requirement, other", "Free text is not accepted", "no health data")
	help := ok(t, "emergency", "review", "--help")
	wantContains(t, help, "--outcome CODE", "justified, unjustified, inconclusive", "Free text is not accepted")
	if strings.Contains(help, "  --review") {
		t.Errorf("the deprecated --review is listed among the flags:\n%s", help)
	}

	const text = "unconscious, anaphylaxis suspected"
	wantContains(t, fails(t, "emergency", "open", "--from", "doctor1", "--patient", "patient1", "--reason", text),
		"--reason: unknown emergency reason code", "life_threatening", "code 20/consent")
	for _, flag := range []string{"--outcome", "--review"} {
		wantContains(t, fails(t, "emergency", "review", "--from", "hospital-admin", "1", flag, "justified: "+text),
			"--outcome: unknown emergency review outcome", "inconclusive", "code 21/consent")
	}
	for _, r := range []string{"", "Life_Threatening"} {
		wantContains(t, fails(t, "emergency", "open", "--from", "doctor1", "--patient", "patient1", "--reason", r), "code 20/consent")
	}

	// A valid outcome reaches the chain under either name: emergency 999
	// does not exist.
	r := run(t, devEnv(), "emergency", "review", "--from", "hospital-admin", "999", "--review", "justified")
	if r.code == 0 || !strings.Contains(r.stderr, "code 11/consent") || !strings.Contains(r.stderr, "--review is deprecated, use --outcome") ||
		strings.Contains(r.stdout, "deprecated") {
		t.Errorf("review with --review: %v", r)
	}
	wantContains(t, fails(t, "emergency", "review", "--from", "hospital-admin", "999", "--outcome", "justified"), "code 11/consent")
	wantContains(t, fails(t, "emergency", "review", "--from", "hospital-admin", "999", "--outcome", "justified", "--review", "justified"),
		"none of the others can be")
	wantContains(t, fails(t, "emergency", "review", "--from", "hospital-admin", "999"), "at least one of the flags")
}
