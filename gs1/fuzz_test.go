package gs1

import (
	"testing"
)

// FuzzParse: no input panics any parser, and whatever parses renders back to
// forms that parse to the same Data.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"(01)09506000134352(17)261231(10)ABC123(21)12345XYZ",
		"]d2\x1d01095060001343521726123110ABC123\x1d2112345XYZ",
		"https://id.gs1.org/01/09506000134352/10/ABC123/21/12345XYZ?17=261231",
		"https://id.gs1.org/414/0614141123452/254/400",
		"https://id.gs1.org/00/106141412345678908",
		"urn:epc:id:sgtin:0614141.812345.6789",
		"urn:epc:id:sgtin:0614141.712345.32a%2Fb",
		"urn:epc:id:sscc:0614141.1234567890",
		"urn:epc:id:sgln:0614141.12345.400",
		"urn:epc:class:lgtin:4012345.012345.998877",
		"(414)0614141123452(254)a%b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		for _, form := range []string{d.HumanReadable(), d.ElementString(), d.DigitalLink("https://id.example")} {
			back, err := Parse(form)
			if err != nil {
				// The human-readable form cannot carry "(" in a value.
				if form == d.HumanReadable() {
					continue
				}
				t.Fatalf("%q → %q does not parse: %v", s, form, err)
			}
			if !sameKeys(back, d, form) {
				t.Fatalf("%q → %q → %+v, want %+v", s, form, back, d)
			}
		}
		if sg, ok := d.SGTIN(); ok {
			for n := 6; n <= 12; n++ {
				urn, err := sg.EPCURN(n)
				if err != nil {
					t.Fatal(err)
				}
				back, _, pl, err := ParseEPCURN(urn)
				if err != nil || pl != n || back.GTIN != sg.GTIN || back.Serial != sg.Serial {
					t.Fatalf("%+v → %q → %+v, %v", sg, urn, back, err)
				}
			}
		}
		if d.SSCC != "" {
			urn, _ := d.SSCC.EPCURN(9)
			if back, _, _, err := ParseEPCURN(urn); err != nil || back.SSCC != d.SSCC {
				t.Fatalf("%q → %q → %+v, %v", d.SSCC, urn, back, err)
			}
		}
		if sl, ok := d.SGLN(); ok && sl.Extension != "0" {
			urn, _ := sl.EPCURN(8)
			if back, _, _, err := ParseEPCURN(urn); err != nil || back.GLN != sl.GLN || back.GLNExtension != sl.Extension {
				t.Fatalf("%+v → %q → %+v, %v", sl, urn, back, err)
			}
		}
	})
}

// sameKeys compares what a form can carry: a Digital Link has one primary
// key (GTIN, else SSCC, else GLN).
func sameKeys(a, b Data, form string) bool {
	if len(form) > 4 && form[:4] == "http" {
		if b.GTIN != "" {
			return a.GTIN == b.GTIN && a.Serial == b.Serial && a.Lot == b.Lot && a.Expiry == b.Expiry
		}
		if b.SSCC != "" {
			return a.SSCC == b.SSCC
		}
		return a.GLN == b.GLN && a.GLNExtension == b.GLNExtension
	}
	return equalData(a, b)
}

// FuzzExpiry: ParseExpiry and Resolve never panic; a resolved date renders
// back to the same YYMMDD unless the day was 00.
func FuzzExpiry(f *testing.F) {
	f.Add("261231", 2026)
	f.Add("280200", 2026)
	f.Add("000229", 2080)
	f.Fuzz(func(t *testing.T, s string, year int) {
		if year < 0 || year > 9999 {
			return
		}
		e, err := ParseExpiry(s)
		if err != nil {
			return
		}
		d, err := e.Resolve(year)
		if err != nil {
			return
		}
		back, err := ExpiryFromDate(d)
		if err != nil {
			t.Fatal(err)
		}
		if !e.DayUnspecified() && back != e {
			t.Fatalf("%q → %v → %q", e, d, back)
		}
	})
}
