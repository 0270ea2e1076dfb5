package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
)

// TestTelemedCommands: an offer, a booking paid into escrow, done and
// confirmed (the escrow goes to the provider), and a second booking
// cancelled (the escrow returns), as the patient and the provider see them.
func TestTelemedCommands(t *testing.T) {
	offer := strings.TrimSpace(ok(t, "telemed", "offer", "--from", "doctor2", "--service", "cli-test-consult", "--price", "700",
		"--duration", "1m", "--arbiter", "dev-regulator", "--grace", "0s"))
	wantContains(t, ok(t, "telemed", "list", "--provider", "doctor2"), offer, "cli-test-consult", "700", "dev-regulator", "open")
	before := account(t, "patient1").Balance
	booking := strings.TrimSpace(ok(t, "telemed", "book", "--from", "patient1", offer, "--start", "3s"))
	if got := account(t, "patient1").Balance; got != before-700 {
		t.Fatalf("patient1 has %d after booking, want %d", got, before-700)
	}
	wantContains(t, ok(t, "telemed", "show", "--from", "patient1", booking), "booked", "holds 700 of 700")
	wantContains(t, fails(t, "telemed", "done", "--from", "doctor2", booking), "code 19/telemed") // before the start
	wantContains(t, fails(t, "telemed", "show", "--from", "patient2", booking), "403")
	time.Sleep(4 * time.Second)
	provider := account(t, "doctor2").Balance
	wantContains(t, ok(t, "telemed", "done", "--from", "doctor2", booking), "marked done")
	wantContains(t, ok(t, "telemed", "confirm", "--from", "patient1", booking), "closed (confirmed): 700 to the provider, 0 to the patient")
	if got := account(t, "doctor2").Balance; got != provider+700 {
		t.Fatalf("doctor2 has %d, want %d", got, provider+700)
	}
	second := strings.TrimSpace(ok(t, "telemed", "book", "--from", "patient1", offer, "--start", "1h"))
	wantContains(t, ok(t, "telemed", "cancel", "--from", "patient1", second), "cancelled_by_patient", "700 to the patient")
	out := ok(t, "telemed", "list", "--bookings", "patient1", "--from", "patient1")
	wantContains(t, out, "confirmed", "cancelled_by_patient")
	if got := account(t, "patient1").Balance; got != before-700 {
		t.Fatalf("patient1 has %d at the end, want %d", got, before-700)
	}
}

// TestResearchCommands: a researcher opens a paid request; a patient opts
// in (consent and link); the researcher reads the patient's Observation
// through the gateway; the chain pays the patient once, and the patient
// sees the read that payment bought.
func TestResearchCommands(t *testing.T) {
	ok(t, "keys", "add", "research-pat")
	ok(t, "account", "register", "--from", "research-pat")
	pat := keyAddr(t, "research-pat")
	f := filepath.Join(t.TempDir(), "obs.json")
	body := fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},
		"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2024-03-01T08:30:00Z","valueQuantity":{"value":6.1,"unit":"%%"}}`, pat)
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := strings.TrimSpace(ok(t, "record", "add", "--from", "research-pat", "--patient", pat, f))

	req := strings.TrimSpace(ok(t, "research", "open", "--from", "researcher1", "--budget", "5000", "--price", "1200",
		"--types", "Observation", "--codes", "http://loinc.org|4548-4", "--purpose", "cli-test-study", "--end", "720h"))
	wantContains(t, ok(t, "research", "requests", req), "cli-test-study", "Observation", "1200", "0/0 paid")
	wantContains(t, ok(t, "research", "optin", "--from", "research-pat", req), "opted in to request "+req, "keys of 1 record versions shared")
	wantContains(t, ok(t, "research", "payments", "--from", "research-pat"), "not paid yet", "total paid: 0")
	wantContains(t, ok(t, "record", "get", "--from", "researcher1", rec), `"value":6.1`)
	// The gateway logs the read in a batch; the chain pays at the end of
	// the block that logs it.
	deadline := time.Now().Add(30 * time.Second)
	for account(t, pat).Balance != 1200 {
		if time.Now().After(deadline) {
			t.Fatalf("research-pat not paid: %d\n%s", account(t, pat).Balance, ok(t, "research", "payments", "--from", "research-pat"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	out := ok(t, "research", "payments", "--from", "research-pat")
	wantContains(t, out, "request "+req, "paid 1200", "paid for", "record "+rec+" v1", "total paid: 1200")
	var q api.RequestView
	okJSON(t, &q, "research", "requests", req)
	if q.Paid != 1200 || q.PaidCount != 1 || q.Held != 5000-1200 {
		t.Fatalf("request %+v", q)
	}
	wantContains(t, ok(t, "research", "payments", "--from", "researcher1", "--request", req), "paid 1200", "paid for")
	wantContains(t, fails(t, "research", "payments", "--from", "doctor1", "--request", req), "403")
	wantContains(t, ok(t, "research", "close", "--from", "researcher1", req), "ended")
}
