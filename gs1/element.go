package gs1

import (
	"sort"
	"strings"
)

// GS is the ASCII group separator (0x1D) a scanner transmits for FNC1 when
// it ends a variable-length element.
const GS = '\x1d'

// Data is what a barcode, a Digital Link or an EPC names: the GS1 keys and
// attributes this package understands, each validated. Zero values mean
// absent. Other holds further application identifiers of the table below
// (sorted by AI) that the caller may want to keep; values are validated for
// format and length only.
type Data struct {
	GTIN         GTIN   // AI 01
	Serial       string // AI 21
	Lot          string // AI 10
	Expiry       Expiry // AI 17
	SSCC         SSCC   // AI 00
	GLN          GLN    // AI 414
	GLNExtension string // AI 254
	Other        []AIValue
}

// AIValue is one application identifier and its value.
type AIValue struct {
	AI    string
	Value string
}

// SGTIN returns the serialised GTIN when both AI 01 and AI 21 are present.
func (d Data) SGTIN() (SGTIN, bool) {
	if d.GTIN == "" || d.Serial == "" {
		return SGTIN{}, false
	}
	return SGTIN{GTIN: d.GTIN, Serial: d.Serial}, true
}

// LGTIN returns GTIN + lot when both AI 01 and AI 10 are present.
func (d Data) LGTIN() (LGTIN, bool) {
	if d.GTIN == "" || d.Lot == "" {
		return LGTIN{}, false
	}
	return LGTIN{GTIN: d.GTIN, Lot: d.Lot}, true
}

// SGLN returns the location when AI 414 is present.
func (d Data) SGLN() (SGLN, bool) {
	if d.GLN == "" {
		return SGLN{}, false
	}
	return SGLN{GLN: d.GLN, Extension: d.GLNExtension}, true
}

// aiSpec describes one application identifier: numeric or character set
// 82, and its length (fixed when min == max).
type aiSpec struct {
	numeric  bool
	min, max int
	name     string
}

// ais is the table of application identifiers this package reads (GS1
// General Specifications §3.2). The pharmaceutical keys and attributes, the
// logistic ones, and the national healthcare reimbursement numbers 710–715.
var ais = map[string]aiSpec{
	"00":   {true, 18, 18, "SSCC"},
	"01":   {true, 14, 14, "GTIN"},
	"02":   {true, 14, 14, "CONTENT"},
	"10":   {false, 1, 20, "BATCH/LOT"},
	"11":   {true, 6, 6, "PROD DATE"},
	"12":   {true, 6, 6, "DUE DATE"},
	"13":   {true, 6, 6, "PACK DATE"},
	"15":   {true, 6, 6, "BEST BEFORE"},
	"16":   {true, 6, 6, "SELL BY"},
	"17":   {true, 6, 6, "USE BY/EXPIRY"},
	"20":   {true, 2, 2, "VARIANT"},
	"21":   {false, 1, 20, "SERIAL"},
	"22":   {false, 1, 20, "CPV"},
	"30":   {true, 1, 8, "VAR. COUNT"},
	"37":   {true, 1, 8, "COUNT"},
	"240":  {false, 1, 30, "ADDITIONAL ID"},
	"241":  {false, 1, 30, "CUST. PART No."},
	"250":  {false, 1, 30, "SECONDARY SERIAL"},
	"254":  {false, 1, 20, "GLN EXTENSION COMPONENT"},
	"400":  {false, 1, 30, "ORDER NUMBER"},
	"410":  {true, 13, 13, "SHIP TO LOC"},
	"411":  {true, 13, 13, "BILL TO"},
	"412":  {true, 13, 13, "PURCHASE FROM"},
	"413":  {true, 13, 13, "SHIP FOR LOC"},
	"414":  {true, 13, 13, "LOC No."},
	"415":  {true, 13, 13, "PAY TO"},
	"416":  {true, 13, 13, "PROD/SERV LOC"},
	"417":  {true, 13, 13, "PARTY"},
	"710":  {false, 1, 20, "NHRN PZN"},
	"711":  {false, 1, 20, "NHRN CIP"},
	"712":  {false, 1, 20, "NHRN CN"},
	"713":  {false, 1, 20, "NHRN DRN"},
	"714":  {false, 1, 20, "NHRN AIM"},
	"715":  {false, 1, 20, "NHRN NDC"},
	"7003": {true, 10, 10, "EXPIRY TIME"},
}

// predefinedLength lists the AI prefixes of GS1 General Specifications
// figure 7.8.5-2: elements whose length is fixed by their first two digits,
// which are never followed by a separator. Every other element is followed
// by FNC1 (GS) unless it is the last.
var predefinedLength = map[string]int{
	"00": 18, "01": 14, "02": 14, "03": 14, "04": 16,
	"11": 6, "12": 6, "13": 6, "14": 6, "15": 6, "16": 6, "17": 6, "18": 6, "19": 6,
	"20": 2, "31": 6, "32": 6, "33": 6, "34": 6, "35": 6, "36": 6, "41": 13,
}

// lookupAI finds the AI at the start of s (2, 3 or 4 digits: the table has
// no AI that is a prefix of another).
func lookupAI(s string) (string, aiSpec, bool) {
	for n := 2; n <= 4 && n <= len(s); n++ {
		if spec, ok := ais[s[:n]]; ok {
			return s[:n], spec, true
		}
	}
	return "", aiSpec{}, false
}

// set validates one AI value and stores it in d.
func (d *Data) set(ai, v string) error {
	spec, ok := ais[ai]
	if !ok {
		return fault("AI ("+ai+")", v, ErrUnknownAI, "")
	}
	switch ai {
	case "01":
		if d.GTIN != "" {
			return fault("AI (01)", v, ErrDuplicateAI, "")
		}
		g, err := ParseGTIN(v)
		if err != nil {
			return err
		}
		d.GTIN = g
		return nil
	case "00":
		if d.SSCC != "" {
			return fault("AI (00)", v, ErrDuplicateAI, "")
		}
		s, err := ParseSSCC(v)
		if err != nil {
			return err
		}
		d.SSCC = s
		return nil
	case "414":
		if d.GLN != "" {
			return fault("AI (414)", v, ErrDuplicateAI, "")
		}
		g, err := ParseGLN(v)
		if err != nil {
			return err
		}
		d.GLN = g
		return nil
	case "17":
		if d.Expiry != "" {
			return fault("AI (17)", v, ErrDuplicateAI, "")
		}
		e, err := ParseExpiry(v)
		if err != nil {
			return err
		}
		d.Expiry = e
		return nil
	case "21", "10", "254":
		var dst *string
		var check func(string) error
		switch ai {
		case "21":
			dst, check = &d.Serial, ValidateSerial
		case "10":
			dst, check = &d.Lot, ValidateLot
		default:
			dst, check = &d.GLNExtension, ValidateGLNExtension
		}
		if *dst != "" {
			return fault("AI ("+ai+")", v, ErrDuplicateAI, "")
		}
		if err := check(v); err != nil {
			return err
		}
		*dst = v
		return nil
	}
	what := "AI (" + ai + ")"
	if len(v) < spec.min || len(v) > spec.max {
		return fault(what, v, ErrLength, "")
	}
	if spec.numeric && !allDigits(v) {
		return fault(what, v, ErrNotDigits, "")
	}
	if !spec.numeric {
		if err := checkCSet82(what, v, spec.max); err != nil {
			return err
		}
	}
	for _, o := range d.Other {
		if o.AI == ai {
			return fault(what, v, ErrDuplicateAI, "")
		}
	}
	d.Other = append(d.Other, AIValue{AI: ai, Value: v})
	sort.Slice(d.Other, func(i, j int) bool { return d.Other[i].AI < d.Other[j].AI })
	return nil
}

// check applies the pairing rules between AIs (GS1 General Specifications
// §4.13): a serial, lot or expiry needs a GTIN; a GLN extension needs a GLN;
// and something must be identified.
func (d *Data) check(what, input string) error {
	if d.GTIN == "" && d.SSCC == "" && d.GLN == "" {
		return fault(what, input, ErrMissingKey, "want AI 01, 00 or 414")
	}
	if d.GTIN == "" && (d.Serial != "" || d.Lot != "" || d.Expiry != "") {
		return fault(what, input, ErrConflict, "serial, lot and expiry need a GTIN (AI 01)")
	}
	if d.GLN == "" && d.GLNExtension != "" {
		return fault(what, input, ErrConflict, "AI 254 needs a GLN (AI 414)")
	}
	return nil
}

// ParseElementString parses barcode contents: either the raw form a scanner
// transmits — AIs concatenated, variable-length elements ended by GS (0x1D),
// optionally preceded by a symbology identifier such as "]d2", "]C1", "]Q3"
// or a leading GS for the initial FNC1 — or the human-readable form
// "(01)09506000134352(17)261231(10)AB12(21)X1".
func ParseElementString(s string) (Data, error) {
	const what = "element string"
	if s == "" {
		return Data{}, fault(what, s, ErrEmpty, "")
	}
	if len(s) > 512 {
		return Data{}, fault(what, s[:64], ErrLength, "longer than 512 bytes")
	}
	var d Data
	var err error
	if s[0] == '(' {
		err = d.parseBracketed(s)
	} else {
		err = d.parseRaw(s)
	}
	if err != nil {
		return Data{}, err
	}
	if err := d.check(what, s); err != nil {
		return Data{}, err
	}
	return d, nil
}

func (d *Data) parseBracketed(s string) error {
	const what = "element string"
	for len(s) > 0 {
		if s[0] != '(' {
			return fault(what, s, ErrSyntax, "want ( before an AI")
		}
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return fault(what, s, ErrSyntax, "unclosed (")
		}
		ai := s[1:end]
		if _, ok := ais[ai]; !ok {
			return fault("AI ("+ai+")", s, ErrUnknownAI, "")
		}
		s = s[end+1:]
		// A value runs to the next "(": set 82 contains "(", so a value with
		// "(" cannot be written in this form; scanners send the raw form.
		next := strings.IndexByte(s, '(')
		if next < 0 {
			next = len(s)
		}
		if err := d.set(ai, s[:next]); err != nil {
			return err
		}
		s = s[next:]
	}
	return nil
}

func (d *Data) parseRaw(s string) error {
	const what = "element string"
	if len(s) >= 3 && s[0] == ']' {
		s = s[3:] // symbology identifier, e.g. ]d2 (GS1 DataMatrix)
	}
	for len(s) > 0 && s[0] == GS {
		s = s[1:]
	}
	for len(s) > 0 {
		ai, spec, ok := lookupAI(s)
		if !ok {
			n := 4
			if len(s) < n {
				n = len(s)
			}
			return fault("AI ("+s[:n]+"…)", s, ErrUnknownAI, "")
		}
		s = s[len(ai):]
		var v string
		if n, fixed := predefinedLength[ai[:2]]; fixed && n == spec.max {
			if len(s) < n {
				return fault("AI ("+ai+")", s, ErrLength, "truncated")
			}
			v, s = s[:n], s[n:]
			if len(s) > 0 && s[0] == GS {
				s = s[1:] // tolerated, though not needed
			}
		} else {
			end := strings.IndexByte(s, GS)
			if end < 0 {
				end = len(s)
			}
			v, s = s[:end], s[end:]
			if len(s) > 0 {
				s = s[1:]
			}
		}
		if err := d.set(ai, v); err != nil {
			return err
		}
	}
	return nil
}

// ElementString renders d in the raw barcode form: fixed-length elements
// first (GTIN/SSCC/GLN, then expiry), variable-length ones separated by GS.
func (d Data) ElementString() string {
	return d.render(false)
}

// HumanReadable renders d as "(01)…(17)…(10)…(21)…".
func (d Data) HumanReadable() string {
	return d.render(true)
}

func (d Data) render(hri bool) string {
	type el struct{ ai, v string }
	var els []el
	add := func(ai, v string) {
		if v != "" {
			els = append(els, el{ai, v})
		}
	}
	add("00", string(d.SSCC))
	add("01", string(d.GTIN))
	add("414", string(d.GLN))
	add("17", string(d.Expiry))
	for _, o := range d.Other {
		if n, ok := predefinedLength[o.AI[:2]]; ok && n == len(o.Value) && ais[o.AI].max == n {
			add(o.AI, o.Value)
		}
	}
	add("10", d.Lot)
	add("254", d.GLNExtension)
	for _, o := range d.Other {
		if n, ok := predefinedLength[o.AI[:2]]; !(ok && n == len(o.Value) && ais[o.AI].max == n) {
			add(o.AI, o.Value)
		}
	}
	add("21", d.Serial)
	var b strings.Builder
	for i, e := range els {
		if hri {
			b.WriteString("(" + e.ai + ")" + e.v)
			continue
		}
		b.WriteString(e.ai + e.v)
		if _, fixed := predefinedLength[e.ai[:2]]; !fixed && i < len(els)-1 {
			b.WriteByte(GS)
		}
	}
	return b.String()
}
