package cli_test

import (
	"testing"

	"github.com/medchain/medchain/internal/api"
)

// TestFeesSponsorship: the hospital admin grants patient3 a fee allowance;
// patient3's transfer names the admin as fee payer and pays only the
// amount; the allowance shows what was spent; after a revoke the same
// sponsored transfer is refused with its code.
func TestFeesSponsorship(t *testing.T) {
	wantContains(t, ok(t, "fees", "price"), "tx.min_fee 0; fee market off", "bank/send", "fees/grant")
	wantContains(t, ok(t, "fees", "price", "bank/send"), "bank/send: 0")
	wantContains(t, ok(t, "fees", "grant", "--from", "hospital-admin", "patient3", "--limit", "100", "--period", "24h", "--period-limit", "50",
		"--expires", "720h", "--types", "bank/send"), "fee allowance granted to")
	var before, after api.BalanceView
	okJSON(t, &before, "bank", "balance", "patient3")
	wantContains(t, ok(t, "bank", "send", "--from", "patient3", "patient2", "10", "--fee", "7", "--fee-payer", "hospital-admin"), "sent 10 to")
	okJSON(t, &after, "bank", "balance", "patient3")
	if after.Balance != before.Balance-10 {
		t.Fatalf("patient3 paid %d, want only the 10 sent", before.Balance-after.Balance)
	}
	wantContains(t, ok(t, "fees", "show", "--from", "patient3"), "received", "hospital-admin", "7/100", "7/50 per 24h0m0s", "bank/send")
	wantContains(t, ok(t, "fees", "show", "--from", "hospital-admin"), "granted", "patient3")
	wantContains(t, fails(t, "bank", "send", "--from", "patient3", "patient2", "10", "--fee", "44", "--fee-payer", "hospital-admin"), "fees", "limit for this period")
	wantContains(t, fails(t, "fees", "grant", "--from", "patient1", "patient3", "--limit", "5"), "not an active admin")
	wantContains(t, fails(t, "fees", "grant", "--from", "hospital-admin", "patient3"), "a total limit or a per-period limit is required")
	wantContains(t, ok(t, "fees", "revoke", "--from", "hospital-admin", "patient3"), "revoked")
	wantContains(t, fails(t, "bank", "send", "--from", "patient3", "patient2", "10", "--fee", "1", "--fee-payer", "hospital-admin"), "no fee allowance")
}
