package cli_test

import (
	"strconv"
	"testing"

	"github.com/medchain/medchain/internal/api"
)

// TestBank sends tokens between development accounts, reads the balances
// with verified proofs and the supply, and checks the refusals' codes.
func TestBank(t *testing.T) {
	var before, after api.BalanceView
	okJSON(t, &before, "bank", "balance", "manufacturer-gateway")
	var supply api.SupplyView
	okJSON(t, &supply, "bank", "supply")
	wantContains(t, ok(t, "bank", "send", "--from", "regulator-admin", "manufacturer-gateway", "12345", "--fee", "7"), "sent 12345 to")
	okJSON(t, &after, "bank", "balance", "manufacturer-gateway")
	if !after.Account || after.Balance != before.Balance+12345 {
		t.Fatalf("balance %+v, before %+v", after, before)
	}
	wantContains(t, ok(t, "bank", "balance", "manufacturer-gateway", "--prove"), strconv.FormatUint(after.Balance, 10), "(account)", "proof: verified against the app hash in block")
	// The dev network mints block rewards: the supply only grows.
	var later api.SupplyView
	okJSON(t, &later, "bank", "supply")
	if later.Supply < supply.Supply || later.Height < supply.Height {
		t.Fatalf("supply %+v, earlier %+v", later, supply)
	}
	wantContains(t, ok(t, "bank", "supply", "--prove"), "supply ", "proof: verified")
	// A module pool is read, and proven, as a pool.
	wantContains(t, ok(t, "bank", "balance", "mc"+"00000000000000000000000000000000000000ee", "--prove"), "(module pool): 0", "proof: verified")
	wantContains(t, fails(t, "bank", "send", "--from", "regulator-admin", "manufacturer-gateway", "0"), "positive whole number")
	wantContains(t, fails(t, "bank", "send", "--from", "regulator-admin", "mc"+"00000000000000000000000000000000000000ef", "5"), "bank", "neither an account")
	wantContains(t, fails(t, "bank", "send", "--from", "regulator-admin", "manufacturer-gateway", "99000000000000"), "insufficient funds")
	wantContains(t, fails(t, "bank", "send", "--from", "regulator-admin", "regulator-admin", "5"), "same account")
}
