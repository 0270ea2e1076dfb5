package epcis

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/medchain/medchain/gs1"
)

// normaliseID rewrites a GS1 identifier — EPC URN, EPC class or pattern URN,
// or Digital Link on any host — as the constrained canonical Digital Link
// the event hash uses (CBV 2.0 §8.9: https://id.gs1.org, finest key level
// only, no CPV, no query). It follows the reference implementation's rules
// (its dl_normaliser), including what it leaves alone: a Digital Link whose
// values contain percent-escapes is not rewritten. ok is false for anything
// else.
func normaliseID(uri string) (string, bool) {
	if !strings.Contains(uri, ".") {
		return "", false
	}
	if strings.HasPrefix(uri, "urn:epc:") {
		if dl, ok, decided := fastEPC(uri); decided {
			return dl, ok
		}
		for _, r := range epcRules {
			if r.re.MatchString(uri) {
				return r.build(uri), true
			}
		}
		return "", false
	}
	return normaliseDL(uri)
}

// epcChar is one character of an EPC URI component (set 82 as written in an
// EPC URI, escapes included).
const epcChar = `(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]|[!')(*+,.0-9:;=A-Za-z_-])`

// cpi components use their own, smaller set.
const cpiChar = `(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])`

// split matches a GS1 Company Prefix of 6..12 digits, a dot and the rest of
// a total digits; last is what the 12-digit prefix alternative is written
// as (the reference implementation's patterns differ per scheme).
func split(total int, last string) string {
	var alts []string
	for cp := 6; cp <= 11; cp++ {
		alts = append(alts, `\d{`+strconv.Itoa(cp)+`}\.\d{`+strconv.Itoa(total-cp)+`}`)
	}
	return `(?:` + strings.Join(alts, "|") + `|` + last + `)`
}

// charsPerPrefix matches cp.rest where rest has 1..(max-(cp-6)) chars.
func charsPerPrefix(max int, ch string) string {
	var alts []string
	for cp := 6; cp <= 12; cp++ {
		alts = append(alts, `\d{`+strconv.Itoa(cp)+`}\.`+ch+`{1,`+strconv.Itoa(max-(cp-6))+`}`)
	}
	return `(?:` + strings.Join(alts, "|") + `)`
}

// webEncode percent-encodes the characters GS1 Digital Link requires
// encoded that an EPC URI may carry bare.
var webEncode = strings.NewReplacer("!", "%21", "(", "%28", ")", "%29", "*", "%2A", "+", "%2B", ",", "%2C", ":", "%3A").Replace

func withCheck(digits string) string { return digits + string(gs1.CheckDigit(digits)) }

// parts splits a URN body at the first dot after the scheme prefix.
func parts(uri, prefix string) (cp, rest string) {
	body := uri[len(prefix):]
	cp, rest, _ = strings.Cut(body, ".")
	return cp, rest
}

// gtinFrom rebuilds a GTIN from company prefix and indicator+item reference.
func gtinFrom(cp, ref string) string {
	return withCheck(ref[:1] + cp + ref[1:13-len(cp)])
}

type epcRule struct {
	re    *regexp.Regexp
	build func(string) string
}

const dlBase = "https://id.gs1.org"

var epcRules = []epcRule{
	{regexp.MustCompile(`^urn:epc:id:sgtin:` + split(13, `\d{12}\.\d{1}`) + `\.` + epcChar + `{1,20}$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:sgtin:")
		return dlBase + "/01/" + gtinFrom(cp, rest) + "/21/" + webEncode(u[32:])
	}},
	{regexp.MustCompile(`^urn:epc:id:sscc:` + split(17, `\d{12}\.\d{5}`) + `$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:sscc:")
		return dlBase + "/00/" + withCheck(rest[:1]+cp+rest[1:])
	}},
	{regexp.MustCompile(`^urn:epc:id:sgln:` + split(12, `\d{12}\.`) + `\.` + epcChar + `{1,20}$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:sgln:")
		gln := withCheck(cp + rest[:12-len(cp)])
		if ext := u[30:]; ext != "0" {
			return dlBase + "/414/" + gln + "/254/" + webEncode(ext)
		}
		return dlBase + "/414/" + gln
	}},
	{regexp.MustCompile(`^urn:epc:id:grai:` + split(12, `\d{12}\.\.`) + `\.` + epcChar + `{1,16}$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:grai:")
		return dlBase + "/8003/" + withCheck("0"+cp+rest[:12-len(cp)]) + webEncode(u[30:])
	}},
	{regexp.MustCompile(`^urn:epc:id:giai:` + charsPerPrefix(24, epcChar) + `$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:giai:")
		return dlBase + "/8004/" + cp + webEncode(rest)
	}},
	{regexp.MustCompile(`^urn:epc:id:gsrn:` + split(17, `\d{12}\.\d{5}`) + `$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:gsrn:")
		return dlBase + "/8018/" + withCheck(cp+rest)
	}},
	{regexp.MustCompile(`^urn:epc:id:gsrnp:` + split(17, `\d{12}\.\d{5}`) + `$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:gsrnp:")
		return dlBase + "/8017/" + withCheck(cp+rest)
	}},
	{regexp.MustCompile(`^urn:epc:id:gdti:` + split(12, `\d{12}\.\.`) + epcChar + `{1,20}$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:gdti:")
		return dlBase + "/253/" + withCheck(cp+rest[:12-len(cp)]) + webEncode(u[30:])
	}},
	{regexp.MustCompile(`^urn:epc:id:cpi:` + charsPerPrefix(24, cpiChar) + `\.\d{1,12}$`), func(u string) string {
		cp, _ := parts(u, "urn:epc:id:cpi:")
		dot := strings.Index(u, ".")
		last := strings.LastIndex(u, ".")
		return dlBase + "/8010/" + webEncode(cp+u[dot+1:last]) + "/8011/" + u[last+1:]
	}},
	{regexp.MustCompile(`^urn:epc:id:sgcn:` + split(12, `\d{12}\.`) + `\.\d{1,12}$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:sgcn:")
		return dlBase + "/255/" + withCheck(cp+rest[:12-len(cp)]) + u[30:]
	}},
	{regexp.MustCompile(`^urn:epc:id:ginc:` + charsPerPrefix(24, epcChar) + `$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:ginc:")
		return dlBase + "/401/" + cp + webEncode(rest)
	}},
	{regexp.MustCompile(`^urn:epc:id:gsin:` + split(16, `\d{12}\.\d{4}`) + `$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:gsin:")
		return dlBase + "/402/" + withCheck(cp+rest)
	}},
	{regexp.MustCompile(`^urn:epc:id:itip:` + split(13, `\d{12}\.\d{1}`) + `\.\d{2}\.\d{2}\.` + epcChar + `{1,20}$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:itip:")
		return dlBase + "/8006/" + gtinFrom(cp, rest) + u[31:33] + u[34:36] + "/21/" + webEncode(u[37:])
	}},
	{regexp.MustCompile(`^urn:epc:id:upui:` + split(13, `\d{12}\.\d{1}`) + `\.` + epcChar + `{1,28}$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:upui:")
		return dlBase + "/01/" + gtinFrom(cp, rest) + "/235/" + webEncode(u[31:])
	}},
	{regexp.MustCompile(`^urn:epc:id:pgln:` + split(12, `\d{12}\.`) + `$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:id:pgln:")
		return dlBase + "/417/" + withCheck(cp+rest[:12-len(cp)])
	}},
	{regexp.MustCompile(`^urn:epc:class:lgtin:` + split(13, `\d{12}\.\d{1}`) + `\.` + epcChar + `{1,20}$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:class:lgtin:")
		return dlBase + "/01/" + gtinFrom(cp, rest) + "/10/" + webEncode(u[35:])
	}},
	{regexp.MustCompile(`^urn:epc:idpat:sgtin:` + split(13, `\d{12}\.\d{1}`) + `\.\*$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:idpat:sgtin:")
		return dlBase + "/01/" + gtinFrom(cp, rest)
	}},
	{regexp.MustCompile(`^urn:epc:idpat:grai:` + split(12, `\d{12}\.\.`) + `\.\*$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:idpat:grai:")
		return dlBase + "/8003/" + withCheck("0"+cp+rest[:12-len(cp)])
	}},
	{regexp.MustCompile(`^urn:epc:idpat:gdti:` + split(12, `\d{12}\.\.`) + `\.\*$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:idpat:gdti:")
		return dlBase + "/253/" + withCheck(cp+rest[:12-len(cp)])
	}},
	{regexp.MustCompile(`^urn:epc:idpat:sgcn:` + split(12, `\d{12}\.\.`) + `\.\*$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:idpat:sgcn:")
		return dlBase + "/255/" + withCheck(cp+rest[:12-len(cp)])
	}},
	{regexp.MustCompile(`^urn:epc:idpat:cpi:` + charsPerPrefix(24, cpiChar) + `\.\*$`), func(u string) string {
		cp, _ := parts(u, "urn:epc:idpat:cpi:")
		dot := strings.Index(u, ".")
		last := strings.LastIndex(u, ".")
		return dlBase + "/8010/" + webEncode(cp+u[dot+1:last])
	}},
	{regexp.MustCompile(`^urn:epc:idpat:itip:` + split(13, `\d{12}\.\d{1}`) + `\.\d{2}\.\d{2}\.\*$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:idpat:itip:")
		return dlBase + "/8006/" + gtinFrom(cp, rest) + u[34:36] + u[37:39]
	}},
	{regexp.MustCompile(`^urn:epc:idpat:upui:` + split(13, `\d{12}\.\d{1}`) + `\.\*$`), func(u string) string {
		cp, rest := parts(u, "urn:epc:idpat:upui:")
		return dlBase + "/01/" + gtinFrom(cp, rest)
	}},
}

// fastEPC handles the four common schemes without regular expressions,
// accepting exactly what their rules in epcRules accept. decided is false
// for other schemes.
func fastEPC(uri string) (dl string, ok, decided bool) {
	var scheme, body string
	for _, p := range []string{"urn:epc:id:sgtin:", "urn:epc:id:sscc:", "urn:epc:id:sgln:", "urn:epc:class:lgtin:"} {
		if strings.HasPrefix(uri, p) {
			scheme, body = p, uri[len(p):]
		}
	}
	if scheme == "" {
		return "", false, false
	}
	cp, rest, found := strings.Cut(body, ".")
	if !found || len(cp) < 6 || len(cp) > 12 || !digits(cp) {
		return "", false, true
	}
	switch scheme {
	case "urn:epc:id:sscc:":
		if len(cp)+len(rest) != 17 || !digits(rest) {
			return "", false, true
		}
	default:
		total := 13
		if scheme == "urn:epc:id:sgln:" {
			total = 12
		}
		ref, comp, found := strings.Cut(rest, ".")
		if !found || len(cp)+len(ref) != total || !digits(ref) || !epcComponent(comp, 20) {
			return "", false, true
		}
	}
	for _, r := range epcRules {
		if strings.HasPrefix(r.re.String(), "^"+scheme) {
			return r.build(uri), true, true
		}
	}
	return "", false, true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// epcComponent matches epcChar{1,max}.
func epcComponent(s string, max int) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !epcEscape(s[i+1], s[i+2]) {
				return false
			}
			i += 2
		} else if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || strings.IndexByte("!')(*+,.:;=_-", c) >= 0) {
			return false
		}
		n++
	}
	return n >= 1 && n <= max
}

func epcEscape(a, b byte) bool {
	hexUpper := b >= 'A' && b <= 'F' || b >= 'a' && b <= 'f'
	switch a {
	case '2':
		return b == '1' || b == '2' || b >= '5' && b <= '9' || hexUpper
	case '3':
		return b >= '0' && b <= '9' || hexUpper
	case '4', '6':
		return b >= '1' && b <= '9' || hexUpper
	case '5':
		return b >= '0' && b <= '9' || b == 'A' || b == 'a' || b == 'F' || b == 'f'
	case '7':
		return b >= '0' && b <= '9' || b == 'A' || b == 'a'
	}
	return false
}

const dlKeys = `01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai`

var (
	dlShape  = regexp.MustCompile(`^https?:(?://(?:(?:[^/?#]*)@)?[^/?#:]*(?::[^/?#]*)?)?(?:(?:[^?#]*/(?:` + dlKeys + `)/\d{4}[^/]+(?:/[^/]+/[^/]+)?/?(?:\?[^?\n]*)?(?:#[^\n]*)?)|/[A-Za-z_-]{10}$)`)
	dlHosted = regexp.MustCompile(`^https://id.gs1.org/(?:01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/\d{4}[^/]+`)
	dlGTIN14 = regexp.MustCompile(`^https://id.gs1.org/01/\d{14}`)
	dlGTIN13 = regexp.MustCompile(`^https://id.gs1.org/01/\d{13}`)
	dlGTIN12 = regexp.MustCompile(`^https://id.gs1.org/01/\d{12}`)
	dlGTIN8  = regexp.MustCompile(`^https://id.gs1.org/01/\d{8}`)
	dlCPVEnd = regexp.MustCompile(`^https://id.gs1.org/(?:8006/\d{18}|01/\d{14})/22/` + dlC + `{0,20}$`)
	dlCPVMid = regexp.MustCompile(`^https://id.gs1.org/(?:8006/\d{18}|01/\d{14})/22/[/\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20}$`)
	dlLotSer = regexp.MustCompile(`^https://id.gs1.org/(?:8006/\d{18}|01/\d{14})/10/` + dlC + `{0,20}/21/` + dlC + `{0,20}$`)
	dlRehost = []string{"/00/", "/01/", "/253/", "/255/", "/401/", "/402/", "/414/", "/417/", "/8003/", "/8004/", "/8006/", "/8010/", "/8017/", "/8018/"}
	dlFinal  = regexp.MustCompile(`^https://id.gs1.org/(?:` + strings.Join([]string{
		`00/\d{18}`,
		`01/\d{14}/21/` + dlC + `{0,20}`,
		`01/\d{14}/10/` + dlC + `{0,20}`,
		`01/\d{14}`,
		`01/\d{14}/235/` + dlC + `{0,28}`,
		`253/\d{13}` + dlC + `{0,17}`,
		`255/\d{13}\d{0,12}`,
		`401/` + dlC + `{0,30}`,
		`402/\d{17}`,
		`414/\d{13}`,
		`414/\d{13}/254/` + dlC + `{0,20}`,
		`417/\d{13}`,
		`8003/\d{14}` + dlC + `{0,16}`,
		`8004/` + dlC + `{0,30}`,
		`8006/\d{18}/21/` + dlC + `{0,20}`,
		`8006/\d{18}/10/` + dlC + `{0,20}`,
		`8006/\d{18}`,
		`8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}/8011/\d{0,12}`,
		`8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}`,
		`8017/\d{18}`,
		`8018/\d{18}`,
	}, "|") + `)$`)
)

// dlC is the character class the reference implementation allows in
// canonical Digital Link values (no percent sign: escaped values stay as
// they were written).
const dlC = `[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]`

var dlAliasPairs = [][2]string{
	{"/gtin/", "/01/"}, {"/itip/", "/8006/"}, {"/cpid/", "/8010/"}, {"/gln/", "/414/"},
	{"/party/", "/417/"}, {"/gsrnp/", "/8017/"}, {"/gsrn/", "/8018/"}, {"/gcn/", "/255/"},
	{"/sscc/", "/00/"}, {"/gdti/", "/253/"}, {"/ginc/", "/401/"}, {"/gsin/", "/402/"},
	{"/grai/", "/8003/"}, {"/giai/", "/8004/"}, {"/cpv/", "/22/"}, {"/lot/", "/10/"}, {"/ser/", "/21/"},
}

var dlKeySegments = func() []string {
	var out []string
	for _, k := range strings.Split(dlKeys, "|") {
		out = append(out, "/"+k+"/")
	}
	return out
}()

// hasDLKey is a cheap necessary condition of dlShape: a /key/ segment.
func hasDLKey(uri string) bool {
	for _, k := range dlKeySegments {
		if strings.Contains(uri, k) {
			return true
		}
	}
	return false
}

func normaliseDL(uri string) (string, bool) {
	if !strings.HasPrefix(uri, "http:") && !strings.HasPrefix(uri, "https:") || !hasDLKey(uri) || !dlShape.MatchString(uri) {
		return "", false
	}
	if i := strings.Index(uri, "?"); i >= 0 {
		uri = uri[:i]
	}
	for _, p := range dlAliasPairs {
		uri = strings.ReplaceAll(uri, p[0], p[1])
	}
	if !dlHosted.MatchString(uri) {
		for _, k := range dlRehost {
			if i := strings.Index(uri, k); i >= 0 {
				uri = dlBase + uri[i:]
				break
			}
		}
	}
	if !dlGTIN14.MatchString(uri) {
		switch {
		case dlGTIN13.MatchString(uri):
			uri = strings.ReplaceAll(uri, "/01/", "/01/0")
		case dlGTIN12.MatchString(uri):
			uri = strings.ReplaceAll(uri, "/01/", "/01/00")
		case dlGTIN8.MatchString(uri):
			uri = strings.ReplaceAll(uri, "/01/", "/01/000000")
		}
	}
	i22 := strings.Index(uri, "/22/")
	x := uri[min(len(uri), i22+4):]
	if dlCPVEnd.MatchString(uri) {
		uri = uri[:i22]
	}
	if dlCPVMid.MatchString(uri) {
		if s := strings.Index(x, "/"); s >= 0 {
			uri = uri[:i22] + x[s:]
		} else {
			uri = uri[:i22] + x[len(x)-1:]
		}
	}
	if dlLotSer.MatchString(uri) {
		i10 := strings.Index(uri, "/10/")
		y := uri[i10+4:]
		uri = uri[:i10] + y[strings.Index(y, "/"):]
	}
	if dlFinal.MatchString(uri) {
		return uri, true
	}
	return "", false
}
