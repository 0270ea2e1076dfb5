package gs1

import (
	"strconv"
)

// GTIN is a Global Trade Item Number (AI 01), always held as GTIN-14: 14
// digits with a valid check digit. GTIN-8, -12 and -13 are padded on the left
// with zeros, which is how the GS1 General Specifications (§3.3.2) carry
// them in AI 01; the padded form is the one every EPCIS event, Digital Link
// and EPC URN of the item maps to.
type GTIN string

// SSCC is a Serial Shipping Container Code (AI 00): 18 digits with a valid
// check digit.
type SSCC string

// GLN is a Global Location Number (AI 414): 13 digits with a valid check
// digit.
type GLN string

// SGTIN is a serialised trade item: GTIN plus serial number (AI 21).
type SGTIN struct {
	GTIN   GTIN
	Serial string
}

// LGTIN is a trade item class restricted to one lot (AI 01 + AI 10).
type LGTIN struct {
	GTIN GTIN
	Lot  string
}

// SGLN is a location with an optional extension (AI 414 + AI 254). An empty
// Extension means the GLN itself.
type SGLN struct {
	GLN       GLN
	Extension string
}

// CheckDigit computes the GS1 mod-10 check digit of digits (the payload
// without its check digit): weights 3 and 1 alternate from the right.
// digits must be ASCII digits.
func CheckDigit(digits string) byte {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkNumericKey validates a fixed-length numeric key ending in a check digit.
func checkNumericKey(what, s string, lengths ...int) error {
	if s == "" {
		return fault(what, s, ErrEmpty, "")
	}
	ok := false
	for _, n := range lengths {
		ok = ok || len(s) == n
	}
	if !ok {
		want := ""
		for i, n := range lengths {
			if i > 0 {
				want += ", "
			}
			want += strconv.Itoa(n)
		}
		return fault(what, s, ErrLength, "has "+strconv.Itoa(len(s))+" characters, want "+want+" digits")
	}
	if !allDigits(s) {
		return fault(what, s, ErrNotDigits, "")
	}
	if c := CheckDigit(s[:len(s)-1]); c != s[len(s)-1] {
		return fault(what, s, ErrCheckDigit, "want "+string(c))
	}
	return nil
}

// ParseGTIN validates a GTIN-8, -12, -13 or -14 and returns it as GTIN-14.
func ParseGTIN(s string) (GTIN, error) {
	if err := checkNumericKey("GTIN", s, 8, 12, 13, 14); err != nil {
		return "", err
	}
	return GTIN(zeros[:14-len(s)] + s), nil
}

const zeros = "00000000000000"

// Indicator is the GTIN-14's first digit (packaging level; 0 for GTIN-8/12/13).
func (g GTIN) Indicator() byte { return g[0] }

// String returns the 14 digits.
func (g GTIN) String() string { return string(g) }

// ParseSSCC validates an SSCC: 18 digits, check digit.
func ParseSSCC(s string) (SSCC, error) {
	if err := checkNumericKey("SSCC", s, 18); err != nil {
		return "", err
	}
	return SSCC(s), nil
}

// String returns the 18 digits.
func (s SSCC) String() string { return string(s) }

// ParseGLN validates a GLN: 13 digits, check digit.
func ParseGLN(s string) (GLN, error) {
	if err := checkNumericKey("GLN", s, 13); err != nil {
		return "", err
	}
	return GLN(s), nil
}

// String returns the 13 digits.
func (g GLN) String() string { return string(g) }

// IsCSet82 reports whether c is in the GS1 AI encodable character set 82
// (GS1 General Specifications, figure 7.11-1): ! " % & ' ( ) * + , - . / 0-9
// : ; < = > ? A-Z _ a-z.
func IsCSet82(c byte) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_':
		return true
	case c >= '%' && c <= '?': // % & ' ( ) * + , - . / 0-9 : ; < = > ?
		return true
	case c == '!', c == '"':
		return true
	}
	return false
}

// checkCSet82 validates a variable-length alphanumeric AI value of 1..max
// characters from character set 82.
func checkCSet82(what, s string, max int) error {
	if s == "" {
		return fault(what, s, ErrEmpty, "")
	}
	if len(s) > max {
		return fault(what, s, ErrLength, "has "+strconv.Itoa(len(s))+" characters, at most "+strconv.Itoa(max))
	}
	for i := 0; i < len(s); i++ {
		if !IsCSet82(s[i]) {
			return fault(what, s, ErrCharset, "character "+strconv.QuoteRune(rune(s[i]))+" at "+strconv.Itoa(i))
		}
	}
	return nil
}

// ValidateSerial checks a serial number (AI 21): 1..20 characters of set 82.
func ValidateSerial(s string) error { return checkCSet82("serial (AI 21)", s, 20) }

// ValidateLot checks a batch/lot number (AI 10): 1..20 characters of set 82.
func ValidateLot(s string) error { return checkCSet82("lot (AI 10)", s, 20) }

// ValidateGLNExtension checks a GLN extension component (AI 254): 1..20
// characters of set 82.
func ValidateGLNExtension(s string) error { return checkCSet82("GLN extension (AI 254)", s, 20) }

// NewSGTIN validates both parts of a serialised GTIN.
func NewSGTIN(gtin, serial string) (SGTIN, error) {
	g, err := ParseGTIN(gtin)
	if err != nil {
		return SGTIN{}, err
	}
	if err := ValidateSerial(serial); err != nil {
		return SGTIN{}, err
	}
	return SGTIN{GTIN: g, Serial: serial}, nil
}

// NewLGTIN validates both parts of a GTIN + lot.
func NewLGTIN(gtin, lot string) (LGTIN, error) {
	g, err := ParseGTIN(gtin)
	if err != nil {
		return LGTIN{}, err
	}
	if err := ValidateLot(lot); err != nil {
		return LGTIN{}, err
	}
	return LGTIN{GTIN: g, Lot: lot}, nil
}

// NewSGLN validates a GLN and an optional extension ("" for none).
func NewSGLN(gln, ext string) (SGLN, error) {
	g, err := ParseGLN(gln)
	if err != nil {
		return SGLN{}, err
	}
	if ext != "" {
		if err := ValidateGLNExtension(ext); err != nil {
			return SGLN{}, err
		}
	}
	return SGLN{GLN: g, Extension: ext}, nil
}

// String renders the element string "(01)…(21)…".
func (s SGTIN) String() string { return "(01)" + string(s.GTIN) + "(21)" + s.Serial }

// String renders the element string "(01)…(10)…".
func (l LGTIN) String() string { return "(01)" + string(l.GTIN) + "(10)" + l.Lot }

// String renders the element string "(414)…[(254)…]".
func (s SGLN) String() string {
	if s.Extension == "" {
		return "(414)" + string(s.GLN)
	}
	return "(414)" + string(s.GLN) + "(254)" + s.Extension
}
