package cli_test

import "testing"

// TestConsentUntilBound: a consent ending further away than the governance
// parameter consent.max_consent_seconds allows (ten years by default) is
// refused by the chain, and the CLI says so with the code and the parameter.
func TestConsentUntilBound(t *testing.T) {
	wantContains(t, fails(t, "consent", "grant", "--from", "patient1", "--to", "doctor1", "--until", "2000000h"),
		"code 23/consent", "consent.max_consent_seconds")
	wantContains(t, fails(t, "consent", "grant", "--from", "patient1", "--to", "doctor1", "--until", "9999-01-01T00:00:00Z"),
		"code 23/consent")
}
