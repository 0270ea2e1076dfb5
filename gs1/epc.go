package gs1

import (
	"strconv"
	"strings"
)

// EPC pure identity URNs (EPC Tag Data Standard 2.x, §6.3):
//
//	urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial
//	urn:epc:id:sscc:CompanyPrefix.ExtensionSerialRef
//	urn:epc:id:sgln:CompanyPrefix.LocationRef.Extension   ("0" = no extension)
//	urn:epc:class:lgtin:CompanyPrefix.IndicatorItemRef.Lot
//
// Going from a GS1 key to a URN needs the length of the GS1 Company Prefix
// (6 to 12 digits), which the key itself does not tell: GS1 Member
// Organisations assign prefixes of different lengths. The caller passes it
// (x/supply records it per manufacturer or location owner). Going from a URN
// to a key needs no length: the URN's first component is the prefix.
//
// Serials, lots and extensions are written with the TDS escaping of §5:
// the characters " % & / < > ? of set 82 become %22 %25 %26 %2F %3C %3E %3F;
// every other character of set 82 is written as itself.

func checkPrefixLen(n, keyDigits int) error {
	if n < 6 || n > 12 || n > keyDigits {
		return fault("GS1 Company Prefix length", strconv.Itoa(n), ErrPrefixLength, "")
	}
	return nil
}

// EscapeEPC escapes a set-82 value for an EPC URI component.
func EscapeEPC(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '%', '&', '/', '<', '>', '?':
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(strconv.FormatInt(int64(c), 16)))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapeEPC reverses EscapeEPC. Only the escapes of the seven characters
// above are meaningful; TDS lets writers escape any set-82 character, so any
// %XX of a set-82 character is accepted (hex digits in either case).
func UnescapeEPC(what, s string) (string, error) {
	if !strings.Contains(s, "%") {
		for i := 0; i < len(s); i++ {
			if !IsCSet82(s[i]) || s[i] == '"' || s[i] == '&' || s[i] == '/' || s[i] == '<' || s[i] == '>' || s[i] == '?' {
				return "", fault(what, s, ErrCharset, "character "+strconv.QuoteRune(rune(s[i]))+" must be escaped or is not allowed")
			}
		}
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if !IsCSet82(c) || c == '"' || c == '&' || c == '/' || c == '<' || c == '>' || c == '?' {
				return "", fault(what, s, ErrCharset, "character "+strconv.QuoteRune(rune(c))+" must be escaped or is not allowed")
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", fault(what, s, ErrEscape, "truncated %")
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil || !IsCSet82(byte(v)) {
			return "", fault(what, s, ErrEscape, "%"+s[i+1:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// EPCURN renders the SGTIN as urn:epc:id:sgtin:, the GS1 Company Prefix
// being the first prefixLen digits after the indicator.
func (s SGTIN) EPCURN(prefixLen int) (string, error) {
	if err := checkPrefixLen(prefixLen, 12); err != nil {
		return "", err
	}
	g := string(s.GTIN)
	return "urn:epc:id:sgtin:" + g[1:1+prefixLen] + "." + g[0:1] + g[1+prefixLen:13] + "." + EscapeEPC(s.Serial), nil
}

// EPCURN renders the LGTIN as urn:epc:class:lgtin:.
func (l LGTIN) EPCURN(prefixLen int) (string, error) {
	if err := checkPrefixLen(prefixLen, 12); err != nil {
		return "", err
	}
	g := string(l.GTIN)
	return "urn:epc:class:lgtin:" + g[1:1+prefixLen] + "." + g[0:1] + g[1+prefixLen:13] + "." + EscapeEPC(l.Lot), nil
}

// EPCURN renders the SSCC as urn:epc:id:sscc:.
func (s SSCC) EPCURN(prefixLen int) (string, error) {
	if err := checkPrefixLen(prefixLen, 12); err != nil {
		return "", err
	}
	v := string(s)
	return "urn:epc:id:sscc:" + v[1:1+prefixLen] + "." + v[0:1] + v[1+prefixLen:17], nil
}

// EPCURN renders the location as urn:epc:id:sgln: (extension "0" when none).
func (s SGLN) EPCURN(prefixLen int) (string, error) {
	if err := checkPrefixLen(prefixLen, 12); err != nil {
		return "", err
	}
	v := string(s.GLN)
	ext := "0"
	if s.Extension != "" {
		ext = EscapeEPC(s.Extension)
	}
	return "urn:epc:id:sgln:" + v[:prefixLen] + "." + v[prefixLen:12] + "." + ext, nil
}

// EPC kinds ParseEPCURN returns.
const (
	KindSGTIN = "sgtin"
	KindSSCC  = "sscc"
	KindSGLN  = "sgln"
	KindLGTIN = "lgtin"
)

// ParseEPCURN parses one of the four URN forms above into Data, with the
// GS1 Company Prefix length it used (so the caller can check it against the
// one on record), and the kind.
func ParseEPCURN(s string) (d Data, kind string, prefixLen int, err error) {
	const what = "EPC URN"
	if len(s) > 256 {
		return Data{}, "", 0, fault(what, s, ErrLength, "longer than 256 bytes")
	}
	var body string
	switch {
	case strings.HasPrefix(s, "urn:epc:id:sgtin:"):
		kind, body = KindSGTIN, s[len("urn:epc:id:sgtin:"):]
	case strings.HasPrefix(s, "urn:epc:id:sscc:"):
		kind, body = KindSSCC, s[len("urn:epc:id:sscc:"):]
	case strings.HasPrefix(s, "urn:epc:id:sgln:"):
		kind, body = KindSGLN, s[len("urn:epc:id:sgln:"):]
	case strings.HasPrefix(s, "urn:epc:class:lgtin:"):
		kind, body = KindLGTIN, s[len("urn:epc:class:lgtin:"):]
	default:
		return Data{}, "", 0, fault(what, s, ErrSyntax, "want urn:epc:id:sgtin:, sscc:, sgln: or urn:epc:class:lgtin:")
	}
	parts := strings.Split(body, ".")
	want := 3
	if kind == KindSSCC {
		want = 2
	}
	// Serials may contain "."; only the first separators split.
	if len(parts) > want {
		parts = append(parts[:want-1], strings.Join(parts[want-1:], "."))
	}
	if len(parts) != want {
		return Data{}, "", 0, fault(what, s, ErrSyntax, "want "+strconv.Itoa(want)+" dot-separated components")
	}
	cp := parts[0]
	prefixLen = len(cp)
	if !allDigits(cp) || prefixLen < 6 || prefixLen > 12 {
		return Data{}, "", 0, fault(what, s, ErrPrefixLength, "company prefix "+strconv.Quote(cp))
	}
	switch kind {
	case KindSGTIN, KindLGTIN:
		ref := parts[1]
		if len(cp)+len(ref) != 13 || !allDigits(ref) {
			return Data{}, "", 0, fault(what, s, ErrLength, "company prefix and indicator+item reference must have 13 digits")
		}
		body := ref[:1] + cp + ref[1:]
		g := GTIN(body + string(CheckDigit(body)))
		d.GTIN = g
		label := "serial (AI 21)"
		if kind == KindLGTIN {
			label = "lot (AI 10)"
		}
		v, err := UnescapeEPC(label, parts[2])
		if err != nil {
			return Data{}, "", 0, err
		}
		if kind == KindSGTIN {
			if err := ValidateSerial(v); err != nil {
				return Data{}, "", 0, err
			}
			d.Serial = v
		} else {
			if err := ValidateLot(v); err != nil {
				return Data{}, "", 0, err
			}
			d.Lot = v
		}
	case KindSSCC:
		ref := parts[1]
		if len(cp)+len(ref) != 17 || !allDigits(ref) {
			return Data{}, "", 0, fault(what, s, ErrLength, "company prefix and extension+serial reference must have 17 digits")
		}
		body := ref[:1] + cp + ref[1:]
		d.SSCC = SSCC(body + string(CheckDigit(body)))
	case KindSGLN:
		ref := parts[1]
		if len(cp)+len(ref) != 12 || !allDigits(ref) {
			return Data{}, "", 0, fault(what, s, ErrLength, "company prefix and location reference must have 12 digits")
		}
		body := cp + ref
		d.GLN = GLN(body + string(CheckDigit(body)))
		if parts[2] != "0" {
			v, err := UnescapeEPC("GLN extension (AI 254)", parts[2])
			if err != nil {
				return Data{}, "", 0, err
			}
			if err := ValidateGLNExtension(v); err != nil {
				return Data{}, "", 0, err
			}
			d.GLNExtension = v
		}
	}
	return d, kind, prefixLen, nil
}

// Parse reads any of the forms this package knows — Digital Link URI, EPC
// URN, element string (raw or human-readable) — by its shape.
func Parse(s string) (Data, error) {
	switch {
	case strings.HasPrefix(s, "urn:epc:"):
		d, _, _, err := ParseEPCURN(s)
		return d, err
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		return ParseDigitalLink(s)
	default:
		return ParseElementString(s)
	}
}
