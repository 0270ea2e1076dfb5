package cli_test

import (
	"path/filepath"
	"testing"

	"github.com/medchain/medchain/internal/config"
)

// TestSupplyCommands: master data, the js/epcis scenario captured from its
// documents by each organization, verification (with a light-client check
// of its proofs), a refused duplicate capture, quarantine and a recall.
func TestSupplyCommands(t *testing.T) {
	home := devNode(t)
	cfg, err := config.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	witness := "http://" + cfg.RPC.Listen
	doc := func(name string) string { return filepath.Join("..", "epcis", "testdata", "scenario", name) }
	const (
		gtin = "00614141123452"
		s1   = "https://id.medchain.example/01/00614141123452/10/L2026A/21/S1001?17=271231"
		s2   = "(01)00614141123452(10)L2026A(21)S1002"
		s3   = "urn:epc:id:sgtin:0614141.012345.S1003"
	)
	wantContains(t, fails(t, "supply", "product", "--from", "distributor-admin", gtin, "--name", "Amoxicillin", "--ndc", "0614-1123-45",
		"--strength", "500mg", "--form", "capsule", "--pack-size", "30"), "code 3/supply")
	wantContains(t, ok(t, "supply", "product", "--from", "manufacturer-admin", gtin, "--name", "Amoxicillin 500 mg capsules", "--ndc", "0614-1123-45",
		"--strength", "500mg", "--form", "capsule", "--pack-size", "30"), "registered")
	for _, l := range [][2]string{{"manufacturer-admin", "0614141000012"}, {"distributor-admin", "0012345000102"}, {"pharmacy-admin", "0098765000205"}} {
		ok(t, "supply", "location", "--from", l[0], l[1], "--name", "Site of "+l[0])
	}
	for _, p := range [][2]string{{"manufacturer-admin", "dev-distributor"}, {"distributor-admin", "dev-manufacturer"}, {"distributor-admin", "dev-pharmacy"}, {"pharmacy-admin", "dev-distributor"}} {
		ok(t, "supply", "partner", "--from", p[0], p[1])
	}
	wantContains(t, fails(t, "supply", "capture", "--from", "distributor-admin", doc("distributor.json")), "code 11/supply")
	wantContains(t, ok(t, "supply", "capture", "--from", "manufacturer-admin", doc("manufacturer.json")), "4 events captured", "commissioning")
	ok(t, "supply", "capture", "--from", "distributor-admin", doc("distributor.json"))
	ok(t, "supply", "capture", "--from", "pharmacy-admin", doc("pharmacy.json"))
	wantContains(t, fails(t, "supply", "capture", "--from", "pharmacy-admin", doc("pharmacy.json")), "code 27/supply")

	wantContains(t, ok(t, "supply", "verify", s1), "DISPENSED", "dev-manufacturer", "dev-distributor", "dispensing")
	wantContains(t, ok(t, "supply", "verify", s2, "--holder", "dev-pharmacy"), "GENUINE", "custodian:", "dev-pharmacy")
	wantContains(t, ok(t, "supply", "verify", "(01)00614141123452(21)NOPE"), "UNKNOWN", "never_commissioned")
	wantContains(t, ok(t, "verify", "--supply", s3, "--witness", witness), "GENUINE", "verified:", "re-derived")

	wantContains(t, ok(t, "supply", "quarantine", "--from", "pharmacy-admin", s2, "--reason", "tampered"), "quarantined")
	wantContains(t, ok(t, "supply", "verify", s2), "QUARANTINED", "investigation:")
	wantContains(t, fails(t, "supply", "resolve", "--from", "distributor-admin", s2, "--cleared"), "code 34/supply")
	wantContains(t, ok(t, "supply", "resolve", "--from", "manufacturer-admin", s2, "--cleared"), "cleared")
	wantContains(t, fails(t, "supply", "recall", "--from", "pharmacy-admin", gtin, "L2026A", "--reason", "quality"), "code 30/supply")
	wantContains(t, ok(t, "supply", "recall", "--from", "regulator-admin", gtin, "L2026A", "--reason", "quality"), "recalled")
	wantContains(t, ok(t, "supply", "verify", s3), "RECALLED", "recall:")
}
