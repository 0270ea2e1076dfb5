package gs1

import (
	"net/url"
	"strings"
)

// Digital Link (GS1 Digital Link URI Syntax 1.x): the uncompressed form
//
//	https://any.host[/custom/path]/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}][?17=YYMMDD&…]
//	https://any.host[/custom/path]/00/{sscc}
//	https://any.host[/custom/path]/414/{gln}[/254/{ext}]
//
// Path elements are read from the right (the standard's rule, so a custom
// path before the key may contain anything). The convenience short names of
// Digital Link 1.1 (gtin, cpv, lot, ser, sscc, gln, glnx) are accepted for
// the numeric AIs. Query parameters that are application identifiers of this
// package's table (17, 7003, …) become attributes; others (linkType, …) are
// ignored. Compressed Digital Links are not read.

var dlAlias = map[string]string{
	"gtin": "01", "cpv": "22", "lot": "10", "ser": "21",
	"sscc": "00", "gln": "414", "glnx": "254",
}

// dlQualifiers lists, per primary key, its key qualifiers in the order they
// must appear.
var dlQualifiers = map[string][]string{
	"01":  {"22", "10", "21"},
	"00":  nil,
	"414": {"254"},
}

// ParseDigitalLink parses an uncompressed GS1 Digital Link URI on any host.
func ParseDigitalLink(s string) (Data, error) {
	const what = "Digital Link"
	if s == "" {
		return Data{}, fault(what, s, ErrEmpty, "")
	}
	if len(s) > 2048 {
		return Data{}, fault(what, s, ErrLength, "longer than 2048 bytes")
	}
	u, err := url.Parse(s)
	if err != nil {
		return Data{}, fault(what, s, ErrSyntax, err.Error())
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return Data{}, fault(what, s, ErrSyntax, "want http(s)://host/…")
	}
	raw := u.EscapedPath()
	segs := strings.Split(strings.Trim(raw, "/"), "/")
	// From the right: pairs (AI, value) while the AI is a qualifier, then the
	// primary key pair.
	type pair struct{ ai, v string }
	var pairs []pair
	j := len(segs)
	for {
		if j < 2 {
			return Data{}, fault(what, s, ErrMissingKey, "no /01/, /00/ or /414/ path")
		}
		ai := dlAI(segs[j-2])
		v, err := url.PathUnescape(segs[j-1])
		if err != nil {
			return Data{}, fault(what, segs[j-1], ErrEscape, "")
		}
		pairs = append([]pair{{ai, v}}, pairs...)
		j -= 2
		if _, primary := dlQualifiers[ai]; primary {
			break
		}
	}
	key := pairs[0].ai
	allowed := dlQualifiers[key]
	var d Data
	next := 0
	for _, p := range pairs[1:] {
		i := next
		for i < len(allowed) && allowed[i] != p.ai {
			i++
		}
		if i == len(allowed) {
			return Data{}, fault(what, s, ErrSyntax, "AI "+p.ai+" is not a key qualifier of AI "+key+" here")
		}
		next = i + 1
	}
	for _, p := range pairs {
		if err := d.set(p.ai, p.v); err != nil {
			return Data{}, err
		}
	}
	// Query attributes. url.ParseQuery sorts nothing: it keeps order per key,
	// and duplicate AIs are refused.
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Data{}, fault(what, u.RawQuery, ErrEscape, "")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		ai := dlAI(k)
		if !allDigits(ai) {
			continue // linkType, context, … are not identifiers
		}
		if _, ok := ais[ai]; !ok {
			return Data{}, fault("AI ("+ai+")", s, ErrUnknownAI, "in the query")
		}
		if len(q[k]) > 1 {
			return Data{}, fault("AI ("+ai+")", s, ErrDuplicateAI, "")
		}
		if _, isKey := dlQualifiers[ai]; isKey || ai == "21" || ai == "10" || ai == "22" || ai == "254" {
			return Data{}, fault(what, s, ErrSyntax, "AI "+ai+" belongs in the path")
		}
		if err := d.set(ai, q[k][0]); err != nil {
			return Data{}, err
		}
	}
	if err := d.check(what, s); err != nil {
		return Data{}, err
	}
	return d, nil
}

func dlAI(seg string) string {
	if ai, ok := dlAlias[seg]; ok {
		return ai
	}
	return seg
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// DigitalLink renders d as an uncompressed Digital Link on base (for
// example "https://id.gs1.org"; a trailing slash is dropped): the primary
// key GTIN (with lot and serial), else SSCC, else GLN (with extension), in
// the path, and the expiry and other attributes in the query. Values are
// percent-encoded except for RFC 3986 unreserved characters.
func (d Data) DigitalLink(base string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(base, "/"))
	seg := func(ai, v string) {
		if v != "" {
			b.WriteString("/" + ai + "/" + escapeUnreserved(v))
		}
	}
	switch {
	case d.GTIN != "":
		seg("01", string(d.GTIN))
		for _, o := range d.Other {
			if o.AI == "22" {
				seg("22", o.Value)
			}
		}
		seg("10", d.Lot)
		seg("21", d.Serial)
	case d.SSCC != "":
		seg("00", string(d.SSCC))
	case d.GLN != "":
		seg("414", string(d.GLN))
		seg("254", d.GLNExtension)
	}
	sep := "?"
	attr := func(ai, v string) {
		if v != "" {
			b.WriteString(sep + ai + "=" + escapeUnreserved(v))
			sep = "&"
		}
	}
	attr("17", string(d.Expiry))
	for _, o := range d.Other {
		if o.AI != "22" {
			attr(o.AI, o.Value)
		}
	}
	return b.String()
}

func escapeUnreserved(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
