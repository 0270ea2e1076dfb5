package gs1

import (
	"errors"
	"strings"
	"testing"
)

func TestParseGTIN(t *testing.T) {
	tests := []struct {
		name, in string
		want     GTIN
		wantErr  error
	}{
		// GS1's example GTIN (GS1 General Specifications, Digital Link standard).
		{name: "GTIN-14 GS1 example", in: "09506000134352", want: "09506000134352"},
		{name: "GTIN-13 padded", in: "9506000134352", want: "09506000134352"},
		{name: "GTIN-13 TDS example", in: "4012345111118", want: "04012345111118"},
		{name: "GTIN-12 padded", in: "614141123452", want: "00614141123452"},
		{name: "GTIN-8 padded", in: "96385074", want: "00000096385074"},
		{name: "indicator digit kept", in: "80614141123458", want: "80614141123458"},
		{name: "bad check digit", in: "09506000134353", wantErr: ErrCheckDigit},
		{name: "eleven digits", in: "12345678901", wantErr: ErrLength},
		{name: "letters", in: "0950600013435X", wantErr: ErrNotDigits},
		{name: "empty", in: "", wantErr: ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGTIN(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorNamesTheFault(t *testing.T) {
	_, err := ParseGTIN("09506000134353")
	if got, want := err.Error(), `gs1: GTIN "09506000134353": wrong check digit (want 2)`; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.What != "GTIN" {
		t.Fatalf("not an *Error naming the GTIN: %#v", err)
	}
}

func TestSSCCAndGLN(t *testing.T) {
	if _, err := ParseSSCC("106141412345678908"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSSCC("106141412345678909"); !errors.Is(err, ErrCheckDigit) {
		t.Fatalf("bad SSCC check digit: %v", err)
	}
	if _, err := ParseSSCC("10614141234567890"); !errors.Is(err, ErrLength) {
		t.Fatalf("17-digit SSCC: %v", err)
	}
	if _, err := ParseGLN("0614141123452"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseGLN("0614141123453"); !errors.Is(err, ErrCheckDigit) {
		t.Fatalf("bad GLN check digit: %v", err)
	}
}

func TestSerialLotExtension(t *testing.T) {
	tests := []struct {
		name    string
		check   func(string) error
		in      string
		wantErr error
	}{
		{"serial all of set 82", ValidateSerial, `!"%&'()*+,-./:;<=>?_z`[:20], nil},
		{"serial 20 chars", ValidateSerial, strings.Repeat("9", 20), nil},
		{"serial 21 chars", ValidateSerial, strings.Repeat("9", 21), ErrLength},
		{"serial with space", ValidateSerial, "AB 12", ErrCharset},
		{"serial with #", ValidateSerial, "AB#12", ErrCharset},
		{"serial non-ASCII", ValidateSerial, "Ä1", ErrCharset},
		{"serial empty", ValidateSerial, "", ErrEmpty},
		{"lot", ValidateLot, "L-2026/04", nil},
		{"lot 21 chars", ValidateLot, strings.Repeat("A", 21), ErrLength},
		{"extension", ValidateGLNExtension, "dock-3", nil},
		{"extension with tab", ValidateGLNExtension, "a\tb", ErrCharset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.check(tt.in); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		year    int // current year for the century rule
		want    Date
		wantErr error
	}{
		{name: "plain", in: "261231", year: 2026, want: Date{2026, 12, 31}},
		{name: "DD=00 is the month's last day", in: "270200", year: 2026, want: Date{2027, 2, 28}},
		{name: "DD=00 in a leap February", in: "280200", year: 2026, want: Date{2028, 2, 29}},
		{name: "29 February of a leap year", in: "280229", year: 2026, want: Date{2028, 2, 29}},
		{name: "29 February of a common year", in: "270229", year: 2026, wantErr: ErrDate},
		{name: "31 April", in: "260431", year: 2026, wantErr: ErrDate},
		{name: "month 13", in: "261301", year: 2026, wantErr: ErrDate},
		{name: "month 00", in: "260001", year: 2026, wantErr: ErrDate},
		{name: "five digits", in: "26123", year: 2026, wantErr: ErrLength},
		{name: "letters", in: "26A231", year: 2026, wantErr: ErrNotDigits},
		// Century rule: d = YY − current YY.
		{name: "d=+50 stays in this century", in: "760101", year: 2026, want: Date{2076, 1, 1}},
		{name: "d=+51 is the previous century", in: "770101", year: 2026, want: Date{1977, 1, 1}},
		{name: "d=-49 stays in this century", in: "310101", year: 2080, want: Date{2031, 1, 1}},
		{name: "d=-50 is the next century", in: "300101", year: 2080, want: Date{2130, 1, 1}},
		{name: "2100 is not a leap year", in: "000229", year: 2080, wantErr: ErrDate},
		{name: "2000 is a leap year", in: "000229", year: 2026, want: Date{2000, 2, 29}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpiry(tt.in)
			var got Date
			if err == nil {
				got, err = e.Resolve(tt.year)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	if !Expiry("270200").DayUnspecified() || Expiry("270201").DayUnspecified() {
		t.Fatal("DayUnspecified")
	}
	if e, err := ExpiryFromDate(Date{2027, 3, 31}); err != nil || e != "270331" {
		t.Fatalf("ExpiryFromDate = %q, %v", e, err)
	}
	if d, err := ParseISODate("2027-03-31"); err != nil || d != (Date{2027, 3, 31}) {
		t.Fatalf("ParseISODate = %v, %v", d, err)
	}
	if _, err := ParseISODate("2027-02-30"); !errors.Is(err, ErrDate) {
		t.Fatalf("ParseISODate 30 Feb: %v", err)
	}
}

// sameKeys is the expected reading of the equivalent forms below.
var sgtinData = Data{GTIN: "09506000134352", Serial: "12345XYZ", Lot: "ABC123", Expiry: "261231"}

func TestElementStrings(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Data
		wantErr error
	}{
		{name: "human readable", in: "(01)09506000134352(17)261231(10)ABC123(21)12345XYZ", want: sgtinData},
		{name: "raw with GS", in: "0109506000134352172612311" + "0ABC123\x1d2112345XYZ", want: sgtinData},
		{name: "raw with symbology id and leading FNC1", in: "]d2\x1d01095060001343521726123110ABC123\x1d2112345XYZ", want: sgtinData},
		{name: "raw serial first", in: "01095060001343522112345XYZ\x1d10ABC123\x1d17261231", want: sgtinData},
		{name: "SSCC", in: "(00)106141412345678908", want: Data{SSCC: "106141412345678908"}},
		{name: "GLN with extension", in: "414061414112345225" + "4dock-3", want: Data{GLN: "0614141123452", GLNExtension: "dock-3"}},
		{name: "other AIs kept", in: "(01)09506000134352(21)1(710)PZN1234", want: Data{GTIN: "09506000134352", Serial: "1", Other: []AIValue{{"710", "PZN1234"}}}},
		{name: "bad GTIN check digit", in: "(01)09506000134353(21)1", wantErr: ErrCheckDigit},
		{name: "duplicate AI", in: "(01)09506000134352(21)1(21)2", wantErr: ErrDuplicateAI},
		{name: "unknown AI", in: "(99)ABC(01)09506000134352", wantErr: ErrUnknownAI},
		{name: "serial without GTIN", in: "(21)123", wantErr: ErrMissingKey},
		{name: "lot with SSCC only", in: "(00)106141412345678908(10)A", wantErr: ErrConflict},
		{name: "truncated GTIN", in: "010950600013", wantErr: ErrLength},
		{name: "bad date", in: "(01)09506000134352(17)261331", wantErr: ErrDate},
		{name: "serial too long", in: "(01)09506000134352(21)" + strings.Repeat("1", 21), wantErr: ErrLength},
		{name: "empty", in: "", wantErr: ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseElementString(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !equalData(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRenderElementString(t *testing.T) {
	if got, want := sgtinData.HumanReadable(), "(01)09506000134352(17)261231(10)ABC123(21)12345XYZ"; got != want {
		t.Fatalf("HumanReadable = %q, want %q", got, want)
	}
	if got, want := sgtinData.ElementString(), "010950600013435217261231"+"10ABC123\x1d2112345XYZ"; got != want {
		t.Fatalf("ElementString = %q, want %q", got, want)
	}
}

func TestDigitalLinks(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Data
		wantErr error
	}{
		{name: "id.gs1.org", in: "https://id.gs1.org/01/09506000134352/10/ABC123/21/12345XYZ?17=261231", want: sgtinData},
		{name: "any host, custom path, linkType ignored", in: "https://example.com/some/01/path/01/09506000134352/10/ABC123/21/12345XYZ?17=261231&linkType=gs1:pip", want: sgtinData},
		{name: "short GTIN normalised", in: "https://example.com/01/9506000134352/21/12345XYZ", want: Data{GTIN: "09506000134352", Serial: "12345XYZ"}},
		{name: "convenience alphas", in: "https://example.com/gtin/09506000134352/lot/ABC123/ser/12345XYZ?17=261231", want: sgtinData},
		// TDS / translator example: urn:epc:id:sgtin:4012345.011111.987
		{name: "translator example", in: "https://id.gs1.org/01/04012345111118/21/987", want: Data{GTIN: "04012345111118", Serial: "987"}},
		{name: "percent-encoded serial", in: "https://id.gs1.org/01/09506000134352/21/A%2FB%25C%3F", want: Data{GTIN: "09506000134352", Serial: "A/B%C?"}},
		{name: "SSCC", in: "https://id.gs1.org/00/106141412345678908", want: Data{SSCC: "106141412345678908"}},
		{name: "GLN and extension", in: "https://id.gs1.org/414/0614141123452/254/400", want: Data{GLN: "0614141123452", GLNExtension: "400"}},
		{name: "qualifiers out of order", in: "https://id.gs1.org/01/09506000134352/21/1/10/A", wantErr: ErrSyntax},
		{name: "serial in the query", in: "https://id.gs1.org/01/09506000134352?21=1", wantErr: ErrSyntax},
		{name: "no key", in: "https://id.gs1.org/foo/bar", wantErr: ErrMissingKey},
		{name: "bad check digit", in: "https://id.gs1.org/01/09506000134353/21/1", wantErr: ErrCheckDigit},
		{name: "bad escape", in: "https://id.gs1.org/01/09506000134352/21/%zz", wantErr: ErrSyntax},
		{name: "serial with space", in: "https://id.gs1.org/01/09506000134352/21/a%20b", wantErr: ErrCharset},
		{name: "not http", in: "ftp://id.gs1.org/01/09506000134352", wantErr: ErrSyntax},
		{name: "duplicate query AI", in: "https://id.gs1.org/01/09506000134352?17=261231&17=261230", wantErr: ErrDuplicateAI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDigitalLink(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !equalData(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if got, want := sgtinData.DigitalLink("https://id.gs1.org/"), "https://id.gs1.org/01/09506000134352/10/ABC123/21/12345XYZ?17=261231"; got != want {
		t.Fatalf("DigitalLink = %q, want %q", got, want)
	}
	d := Data{GTIN: "09506000134352", Serial: "A/B%C?"}
	if got, want := d.DigitalLink("https://x.example"), "https://x.example/01/09506000134352/21/A%2FB%25C%3F"; got != want {
		t.Fatalf("DigitalLink = %q, want %q", got, want)
	}
}

// Known-good pairs from the EPC Tag Data Standard's examples.
func TestEPCURNs(t *testing.T) {
	tests := []struct {
		name      string
		urn       string
		prefixLen int
		kind      string
		data      Data
	}{
		{"sgtin", "urn:epc:id:sgtin:0614141.812345.6789", 7, KindSGTIN, Data{GTIN: "80614141123458", Serial: "6789"}},
		{"sgtin translator example", "urn:epc:id:sgtin:4012345.011111.987", 7, KindSGTIN, Data{GTIN: "04012345111118", Serial: "987"}},
		{"sgtin escaped serial", "urn:epc:id:sgtin:0614141.712345.32a%2Fb", 7, KindSGTIN, Data{GTIN: "70614141123451", Serial: "32a/b"}},
		{"sgtin 12-digit prefix", "urn:epc:id:sgtin:950600013435.0.1", 12, KindSGTIN, Data{GTIN: "09506000134352", Serial: "1"}},
		{"sscc", "urn:epc:id:sscc:0614141.1234567890", 7, KindSSCC, Data{SSCC: "106141412345678908"}},
		{"sgln with extension", "urn:epc:id:sgln:0614141.12345.400", 7, KindSGLN, Data{GLN: "0614141123452", GLNExtension: "400"}},
		{"sgln without extension", "urn:epc:id:sgln:0614141.12345.0", 7, KindSGLN, Data{GLN: "0614141123452"}},
		{"lgtin", "urn:epc:class:lgtin:4012345.012345.998877", 7, KindLGTIN, Data{GTIN: "04012345123456", Lot: "998877"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, kind, n, err := ParseEPCURN(tt.urn)
			if err != nil {
				t.Fatal(err)
			}
			if kind != tt.kind || n != tt.prefixLen || !equalData(d, tt.data) {
				t.Fatalf("got %v %d %+v", kind, n, d)
			}
			var back string
			switch kind {
			case KindSGTIN:
				s, _ := d.SGTIN()
				back, err = s.EPCURN(n)
			case KindLGTIN:
				l, _ := d.LGTIN()
				back, err = l.EPCURN(n)
			case KindSSCC:
				back, err = d.SSCC.EPCURN(n)
			case KindSGLN:
				s, _ := d.SGLN()
				back, err = s.EPCURN(n)
			}
			if err != nil || back != tt.urn {
				t.Fatalf("back to URN: %q, %v; want %q", back, err, tt.urn)
			}
		})
	}
	bad := []struct {
		name, urn string
		wantErr   error
	}{
		{"prefix too short", "urn:epc:id:sgtin:01234.12345678.1", ErrPrefixLength},
		{"digits do not add up", "urn:epc:id:sgtin:0614141.8123456.1", ErrLength},
		{"unescaped slash", "urn:epc:id:sgtin:0614141.812345.a/b", ErrCharset},
		{"escape of a character outside set 82", "urn:epc:id:sgtin:0614141.812345.a%20b", ErrEscape},
		{"truncated escape", "urn:epc:id:sgtin:0614141.812345.a%2", ErrEscape},
		{"missing component", "urn:epc:id:sgtin:0614141.812345", ErrSyntax},
		{"other scheme", "urn:epc:id:grai:0614141.12345.400", ErrSyntax},
		{"serial too long", "urn:epc:id:sgtin:0614141.812345." + strings.Repeat("1", 21), ErrLength},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := ParseEPCURN(tt.urn); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	s := SGTIN{GTIN: "09506000134352", Serial: `a"%&/<>?b`}
	if got, err := s.EPCURN(7); err != nil || got != "urn:epc:id:sgtin:9506000.013435.a%22%25%26%2F%3C%3E%3Fb" {
		t.Fatalf("escaping: %q %v", got, err)
	}
	if _, err := s.EPCURN(13); !errors.Is(err, ErrPrefixLength) {
		t.Fatalf("prefix 13: %v", err)
	}
}

// The same unit written four ways reads as the same Data.
func TestFormsAgree(t *testing.T) {
	forms := []string{
		"(01)80614141123458(21)6789",
		"0180614141123458216789",
		"https://example.org/01/80614141123458/21/6789",
		"urn:epc:id:sgtin:0614141.812345.6789",
	}
	want := Data{GTIN: "80614141123458", Serial: "6789"}
	for _, f := range forms {
		got, err := Parse(f)
		if err != nil || !equalData(got, want) {
			t.Errorf("Parse(%q) = %+v, %v", f, got, err)
		}
	}
}

func equalData(a, b Data) bool {
	if len(a.Other) != len(b.Other) {
		return false
	}
	for i := range a.Other {
		if a.Other[i] != b.Other[i] {
			return false
		}
	}
	return a.GTIN == b.GTIN && a.Serial == b.Serial && a.Lot == b.Lot && a.Expiry == b.Expiry &&
		a.SSCC == b.SSCC && a.GLN == b.GLN && a.GLNExtension == b.GLNExtension
}
