package cli

import (
	"testing"

	"github.com/medchain/medchain/x/accounts"
)

// TestParseGenesisParams: `medchain dev --param` takes only declared
// parameters within their bounds.
func TestParseGenesisParams(t *testing.T) {
	got, err := parseGenesisParams([]string{accounts.ParamMaxSelfRegistrations + "=100000"})
	if err != nil || got[accounts.ParamMaxSelfRegistrations] != 100000 {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"nope=1", accounts.ParamMaxSelfRegistrations, accounts.ParamMaxSelfRegistrations + "=-1", "consent.max_consent_seconds=1"} {
		if _, err := parseGenesisParams([]string{bad}); err == nil {
			t.Errorf("--param %s accepted", bad)
		}
	}
}
