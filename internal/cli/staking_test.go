package cli_test

import (
	"strings"
	"testing"

	"github.com/medchain/medchain/internal/api"
)

// TestStaking delegates to the dev validator with a fee that the next block
// distributes, then reads and withdraws rewards and commission, reports the
// organization's revenue and undelegates; refusals carry their codes.
func TestStaking(t *testing.T) {
	val := strings.TrimSpace(ok(t, "show-validator"))
	out := ok(t, "staking", "delegate", "--from", "pharmacist1", val, "5000000", "--fee", "1000")
	wantContains(t, out, "delegated 5000000 to "+val)
	// Blocks go on: the fee is distributed at the start of the next one.
	var dels struct {
		Delegations []api.DelegationView `json:"delegations"`
	}
	okJSON(t, &dels, "staking", "delegations", "pharmacist1")
	if len(dels.Delegations) != 1 || dels.Delegations[0].Tokens != 5_000_000 {
		t.Fatalf("delegations %+v", dels)
	}
	wantContains(t, eventually(t, "validators", "revenue", "dev-hospital", "--blocks"), "DAY (UTC)", "total", "HEIGHT")
	wantContains(t, ok(t, "staking", "validators"), val, "dev-hospital", "5000000", "500 bps", "active")
	wantContains(t, ok(t, "staking", "withdraw", "--from", "pharmacist1"), "withdrew", "in rewards")
	wantContains(t, ok(t, "staking", "commission", "set", "--from", "hospital-admin", val, "550"), "set to 550 bps")
	wantContains(t, fails(t, "staking", "commission", "set", "--from", "hospital-admin", val, "600"), "staking", "changed less than a day ago")
	wantContains(t, fails(t, "staking", "commission", "set", "--from", "lab-admin", val, "600"), "not an admin of the validator's operator")
	wantContains(t, ok(t, "staking", "commission", "withdraw", "--from", "hospital-admin", val), "withdrew", "in commission")
	wantContains(t, fails(t, "staking", "unjail", "--from", "hospital-admin", val), "not jailed")
	wantContains(t, ok(t, "staking", "undelegate", "--from", "pharmacist1", val, "1000000"), "undelegating 1000000", "returned at")
	wantContains(t, ok(t, "staking", "delegations", "pharmacist1"), "4000000", "unbonding 1000000")
	wantContains(t, fails(t, "staking", "undelegate", "--from", "pharmacist1", val, "9000000"), "exceeds the delegation")
	wantContains(t, fails(t, "staking", "delegate", "--from", "pharmacist1", val, "0"), "positive integer")
	wantContains(t, fails(t, "staking", "delegate", "--from", "pharmacist1", "zz", "5"), "consensus key")
	wantContains(t, fails(t, "validators", "revenue", "no-such-org"), "not found")
}
