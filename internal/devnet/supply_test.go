package devnet_test

import (
	"testing"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/x/supply"
)

// TestDemoSupply runs the supply demo's transactions on a test chain with
// the same organizations: every one commits, and the dispensed unit's
// provenance crosses the three organizations.
func TestDemoSupply(t *testing.T) {
	steps, err := devnet.DemoSupply()
	if err != nil {
		t.Fatal(err)
	}
	h := apptest.NewWithConfig(t, apptest.Supply())
	for _, st := range steps {
		h.DeliverOK(t, h.Sign(apptest.Key(st.Who), st.Msg))
	}
	for dl, want := range map[string]string{devnet.DemoUnitDL: supply.VerifyDispensed, devnet.DemoUnitDL2: supply.VerifyGenuine} {
		d, err := gs1.Parse(dl)
		if err != nil {
			t.Fatal(err)
		}
		v := supply.Verify(h.State(), d, "dev-pharmacy", gs1.Date{Year: 2026, Month: 12, Day: 5})
		if v.Status != want || len(v.Provenance) < 7 || v.Provenance[0].Org != "dev-manufacturer" || v.Unit.Owner != "dev-pharmacy" {
			t.Fatalf("%s: %s %v, %d events", dl, v.Status, v.Signals, len(v.Provenance))
		}
	}
}
