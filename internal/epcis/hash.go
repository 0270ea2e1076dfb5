package epcis

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The CBV 2.0 event hash ("Event Hash ID", CBV 2.0 §8.9) as GS1's reference
// implementation computes it (epcis-event-hash-generator 1.9.3): each event
// becomes a pre-hash string — the fields in the canonical order of the
// standard, values normalised (times to UTC at millisecond precision, CBV
// URNs and bare names to https://ref.gs1.org/cbv/ URIs, numbers without
// redundant digits, GS1 identifiers to canonical Digital Links), list values
// sorted, user extensions appended in sorted order — hashed with SHA-256 and
// written ni:///sha-256;<hex>?ver=CBV2.0.
//
// The pre-hash follows the reference implementation's conversion of JSON-LD
// to its XML-shaped tree, quirks included, since byte equality with it is
// the point: see docs/supply.md for the known differences.

// node is one element of the XML-shaped tree: a name, a text value and
// children. pair nodes stand for one entry of sourceList, destinationList or
// bizTransactionList (its first two members, in document order).
type node struct {
	name     string
	value    string
	children []*node
	pair     bool
}

type propOrder []propEntry

type propEntry struct {
	name string
	sub  propOrder
}

var quantityOrder = propOrder{{"epcClass", nil}, {"quantity", nil}, {"uom", nil}}

// canonicalOrder is the order of the event's standard fields in the
// pre-hash string (CBV 2.0 §8.9.2). Entries for the three pair lists never
// match a name, so those lists fall to the sorted remainder, as in the
// reference implementation.
var canonicalOrder = propOrder{
	{"eventTime", nil},
	{"eventTimeZoneOffset", nil},
	{"certificationInfo", nil},
	{"parentID", nil},
	{"epcList", propOrder{{"epc", nil}}},
	{"inputEPCList", propOrder{{"epc", nil}}},
	{"childEPCs", propOrder{{"epc", nil}}},
	{"quantityList", propOrder{{"quantityElement", quantityOrder}}},
	{"childQuantityList", propOrder{{"quantityElement", quantityOrder}}},
	{"inputQuantityList", propOrder{{"quantityElement", quantityOrder}}},
	{"outputEPCList", propOrder{{"epc", nil}}},
	{"outputQuantityList", propOrder{{"quantityElement", quantityOrder}}},
	{"action", nil},
	{"transformationID", nil},
	{"bizStep", nil},
	{"disposition", nil},
	{"persistentDisposition", propOrder{{"set", nil}, {"unset", nil}}},
	{"readPoint", propOrder{{"id", nil}}},
	{"bizLocation", propOrder{{"id", nil}}},
	{"\x00bizTransactionList", propOrder{}},
	{"\x00sourceList", propOrder{}},
	{"\x00destinationList", propOrder{}},
	{"sensorElementList", propOrder{{"sensorElement", propOrder{
		{"sensorMetadata", propOrder{
			{"time", nil}, {"startTime", nil}, {"endTime", nil}, {"deviceID", nil},
			{"deviceMetadata", nil}, {"rawData", nil}, {"dataProcessingMethod", nil}, {"bizRules", nil},
		}},
		{"sensorReport", propOrder{
			{"type", nil}, {"exception", nil}, {"deviceID", nil}, {"deviceMetadata", nil},
			{"rawData", nil}, {"dataProcessingMethod", nil}, {"time", nil}, {"microorganism", nil},
			{"chemicalSubstance", nil}, {"value", nil}, {"component", nil}, {"stringValue", nil},
			{"booleanValue", nil}, {"hexBinaryValue", nil}, {"uriValue", nil}, {"minValue", nil},
			{"maxValue", nil}, {"meanValue", nil}, {"sDev", nil}, {"percRank", nil},
			{"percValue", nil}, {"uom", nil}, {"coordinateReferenceSystem", nil},
		}},
	}}}},
}

// hasher carries the per-document state of the computation.
type hasher struct {
	namespaces map[string]string // JSON-LD prefix → "{iri}"
	// vocab is the document's expanded vocabulary: the reference
	// implementation replaces bare strings document-wide, so a term used in
	// one event can rewrite a value in another.
	vocab map[string]bool
}

// DocumentHashes computes the event hash of every event of an EPCIS 2.0
// JSON(-LD) document (EPCISDocument or EPCISQueryDocument body with
// eventList, or a body with one "event"), in document order.
func DocumentHashes(doc []byte) ([]string, error) {
	root, err := decodeTree(doc)
	if err != nil {
		return nil, err
	}
	events, err := documentEvents(root)
	if err != nil {
		return nil, err
	}
	h := newHasher(root)
	out := make([]string, len(events))
	for i, ev := range events {
		pre, err := h.prehash(ev)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out[i] = hashID(pre)
	}
	return out, nil
}

// PreHashes is DocumentHashes' pre-hash strings (for diagnosis).
func PreHashes(doc []byte) ([]string, error) {
	root, err := decodeTree(doc)
	if err != nil {
		return nil, err
	}
	events, err := documentEvents(root)
	if err != nil {
		return nil, err
	}
	h := newHasher(root)
	out := make([]string, len(events))
	for i, ev := range events {
		if out[i], err = h.prehash(ev); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return out, nil
}

func hashID(pre string) string {
	sum := sha256.Sum256([]byte(pre))
	return "ni:///sha-256;" + hex.EncodeToString(sum[:]) + "?ver=CBV2.0"
}

func documentEvents(root *jv) ([]*jv, error) {
	body := root.get("epcisBody")
	if body == nil {
		return nil, errors.New("no epcisBody")
	}
	if qr := body.get("queryResults"); qr != nil {
		body = qr.get("resultsBody")
	}
	if el := body.get("eventList"); el != nil {
		if el.kind != 'a' {
			return nil, errors.New("eventList is not an array")
		}
		return el.vals, nil
	}
	if ev := body.get("event"); ev != nil {
		return []*jv{ev}, nil
	}
	return nil, errors.New("epcisBody has neither eventList nor event")
}

func newHasher(root *jv) *hasher {
	h := &hasher{namespaces: map[string]string{}, vocab: expandedVocabulary(root)}
	ctx := root.get("@context")
	if ctx != nil && ctx.kind == 'a' {
		for _, c := range ctx.vals {
			switch c.kind {
			case 's':
				h.namespaces[c.str] = "{" + c.str + "}"
			case 'o':
				for i, k := range c.keys {
					if c.vals[i].kind == 's' {
						h.namespaces[k] = "{" + c.vals[i].str + "}"
					}
				}
			}
		}
	}
	return h
}

// prehash computes one event's pre-hash string.
func (h *hasher) prehash(ev *jv) (string, error) {
	if ev.kind != 'o' {
		return "", errors.New("event is not an object")
	}
	ev = replaceBareStrings(ev, h.vocab)
	tree := h.toTree(ev)
	tree, err := correctStructure(tree)
	if err != nil {
		return "", err
	}
	ordered, err := inOrder(&tree.children, canonicalOrder)
	if err != nil {
		return "", err
	}
	rest, err := remainder(tree.children)
	if err != nil {
		return "", err
	}
	return "eventType=" + tree.name + ordered + rest, nil
}

// expandedVocabulary lists the full CBV and GS1 vocabulary URIs a JSON-LD
// expansion of the document with the EPCIS 2.0 context would produce: bare CBV
// names and compact cbv:/gs1: IRIs of the @vocab-typed fields, and every
// string value already starting with https://ref.gs1.org/cbv or
// https://gs1.org/voc.
func expandedVocabulary(ev *jv) map[string]bool {
	out := map[string]bool{}
	var walk func(v *jv, key, parent string)
	walk = func(v *jv, key, parent string) {
		switch v.kind {
		case 'o':
			for i, k := range v.keys {
				walk(v.vals[i], k, key)
			}
		case 'a':
			for _, e := range v.vals {
				walk(e, key, parent)
			}
		case 's':
			s := v.str
			switch {
			case strings.HasPrefix(s, "https://ref.gs1.org/cbv"), strings.HasPrefix(s, "https://gs1.org/voc"):
				out[s] = true
			case strings.HasPrefix(s, "cbv:"):
				out["https://ref.gs1.org/cbv/"+s[4:]] = true
			case strings.HasPrefix(s, "gs1:"):
				out["https://gs1.org/voc/"+s[4:]] = true
			default:
				if u, ok := vocabTerm(key, s); ok {
					out[u] = true
				} else if key == "type" && parent == "sensorReport" && sensorTypeTerm.MatchString(s) {
					// The context's measurement types are GS1 Web
					// Vocabulary terms (gs1:Temperature, …).
					out["https://gs1.org/voc/"+s] = true
				}
			}
		}
	}
	walk(ev, "", "")
	return out
}

var sensorTypeTerm = regexp.MustCompile(`^[A-Z][A-Za-z]+$`)

// vocabTerm expands a bare term of an @vocab-typed field of the EPCIS 2.0
// context.
func vocabTerm(key, s string) (string, bool) {
	switch key {
	case "bizStep":
		if slices.Contains(cbvBizSteps, s) {
			return cbvPrefix + "BizStep-" + s, true
		}
	case "disposition", "set", "unset":
		if slices.Contains(cbvDispositions, s) {
			return cbvPrefix + "Disp-" + s, true
		}
	case "type":
		if slices.Contains(cbvBTTs, s) {
			return cbvPrefix + "BTT-" + s, true
		}
		if slices.Contains(cbvSDTs, s) {
			return cbvPrefix + "SDT-" + s, true
		}
	case "reason":
		if s == "did_not_occur" || s == "incorrect_data" {
			return cbvPrefix + "ER-" + s, true
		}
	case "exception":
		if s == "ALARM_CONDITION" || s == "ERROR_CONDITION" {
			return "https://gs1.org/voc/" + s, true
		}
	}
	return "", false
}

// replaceBareStrings replaces every string value that is the unique suffix
// (after "-" or "/") of an expanded vocabulary URI by that URI, as the
// reference implementation does. Returns a copy.
func replaceBareStrings(v *jv, vocab map[string]bool) *jv {
	if len(vocab) == 0 {
		return v
	}
	switch v.kind {
	case 'o', 'a':
		var c *jv
		for i, e := range v.vals {
			r := replaceBareStrings(e, vocab)
			if r == e {
				continue
			}
			if c == nil {
				c = &jv{kind: v.kind, keys: v.keys, vals: slices.Clone(v.vals)}
			}
			c.vals[i] = r
		}
		if c != nil {
			return c
		}
	case 's':
		match := ""
		n := 0
		for u := range vocab {
			if i := len(u) - len(v.str) - 1; i >= 0 && (u[i] == '-' || u[i] == '/') && u[i+1:] == v.str {
				match = u
				n++
			}
		}
		if n == 1 && match != v.str {
			return &jv{kind: 's', str: match}
		}
	}
	return v
}

// nsReplace writes a "prefix:rest" name or value with the prefix's IRI.
func (h *hasher) nsReplace(s string, isValue bool) string {
	prefix, rest, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	ns, found := h.namespaces[prefix]
	if !found {
		return s
	}
	if isValue {
		return strings.NewReplacer("{", "", "}", "").Replace(ns) + rest
	}
	return ns + rest
}

// toTree converts JSON to the XML-shaped tree: an object's members become
// children (an array member becomes one child per element, all with the
// member's name); children are sorted unless the object has a
// bizTransaction, source or destination member.
func (h *hasher) toTree(v *jv) *node {
	n := &node{}
	switch v.kind {
	case 'a':
		for _, e := range v.vals {
			n.children = append(n.children, h.toTree(e))
		}
	case 'o':
		if t := v.get("type"); t != nil {
			n.name = pyStr(h, t)
		}
		if t := v.get("#text"); t != nil {
			n.value = pyStr(h, t)
		}
		for i, k := range v.keys {
			if k == "#text" || k == "rdfs:comment" || k == "comment" || strings.HasPrefix(k, "@xmlns") {
				continue
			}
			val := v.vals[i]
			child := h.toTree(val)
			k = h.nsReplace(k, false)
			if val.kind == 'a' {
				for _, e := range child.children {
					n.children = append(n.children, &node{name: k, value: e.value, children: e.children})
				}
			} else {
				n.children = append(n.children, &node{name: k, value: child.value, children: child.children})
			}
		}
	default:
		return &node{value: pyStr(h, v)}
	}
	keep := false
	for _, k := range []string{"bizTransaction", "source", "destination"} {
		if v.kind == 'o' && v.has(k) {
			keep = true
		}
		if v.kind == 'a' {
			for _, e := range v.vals {
				if e.kind == 's' && e.str == k {
					keep = true
				}
			}
		}
	}
	if !keep {
		slices.SortStableFunc(n.children, compareNodes)
	}
	return n
}

// pyStr renders a scalar as Python's str() of its json.loads value.
func pyStr(h *hasher, v *jv) string {
	switch v.kind {
	case 's':
		return h.nsReplace(v.str, true)
	case 'n':
		return pyNumberLiteral(v.str)
	case 'b':
		if v.str == "true" {
			return "True"
		}
		return "False"
	case 'z':
		return "None"
	}
	// An object or array as a value of "type" or "#text": Python would use
	// its repr; such documents are not meaningful EPCIS.
	return ""
}

// compareNodes orders as Python orders (name, value, children) tuples.
func compareNodes(a, b *node) int {
	if a.name != b.name {
		return pyStrCompare(a.name, b.name)
	}
	if a.value != b.value {
		return pyStrCompare(a.value, b.value)
	}
	for i := 0; i < len(a.children) && i < len(b.children); i++ {
		if c := compareNodes(a.children[i], b.children[i]); c != 0 {
			return c
		}
	}
	return len(a.children) - len(b.children)
}

// pyStrCompare compares by code point, as Python compares str (Go's byte
// order of UTF-8 is the same order).
func pyStrCompare(a, b string) int { return strings.Compare(a, b) }

// correctStructure maps the JSON shape onto the XML one the pre-hash is
// defined on: xxxList members become one xxxList element with xxx children
// (pairs for sourceList, destinationList, bizTransactionList), childEPCs
// values become epc children, quantity objects become quantityElement.
func correctStructure(n *node) (*node, error) {
	var rest []*node
	type list struct {
		name  string
		elems []*node
	}
	var lists []*list
	for _, c := range n.children {
		if !c.pair && strings.HasSuffix(c.name, "List") {
			var l *list
			for _, x := range lists {
				if x.name == c.name {
					l = x
				}
			}
			if l == nil {
				l = &list{name: c.name}
				lists = append(lists, l)
			}
			l.elems = append(l.elems, &node{name: c.name[:len(c.name)-4], value: c.value, children: c.children})
			continue
		}
		rest = append(rest, c)
	}
	for _, l := range lists {
		switch l.name {
		case "sourceList", "destinationList", "bizTransactionList":
			var pairs []*node
			for _, e := range l.elems {
				if len(e.children) < 2 {
					return nil, fmt.Errorf("%s entry needs two members", l.name)
				}
				pairs = append(pairs, &node{pair: true, children: []*node{e.children[0], e.children[1]}})
			}
			rest = append(rest, &node{name: l.name, children: pairs})
		default:
			rest = append(rest, &node{name: l.name, children: l.elems})
		}
	}
	var epcs []*node
	kept := rest[:0:0]
	for _, c := range rest {
		if !c.pair && c.name == "childEPCs" {
			epcs = append(epcs, &node{name: "epc", value: c.value})
			continue
		}
		kept = append(kept, c)
	}
	if len(epcs) > 0 {
		kept = append(kept, &node{name: "childEPCs", children: epcs})
	}
	out := &node{name: n.name, value: n.value}
	for _, c := range kept {
		switch {
		case c.name == "sourceList" || c.name == "destinationList" || c.name == "bizTransactionList":
			out.children = append(out.children, c)
		default:
			cc, err := correctStructure(c)
			if err != nil {
				return nil, err
			}
			out.children = append(out.children, cc)
		}
	}
	switch {
	case out.name == "inputEPC" || out.name == "outputEPC":
		out.name = "epc"
	case out.name == "inputQuantity" || out.name == "outputQuantity" || out.name == "childQuantity" ||
		(out.name == "quantity" && len(out.children) > 0):
		out.name = "quantityElement"
	}
	return out, nil
}

// inOrder renders the children named in order, consuming (removing) the
// leaves it renders; user extension children ({ns/}name) of a nested
// element are appended after its standard ones.
func inOrder(list *[]*node, order propOrder) (string, error) {
	pre := ""
	ext, err := userExtensions(list)
	if err != nil {
		return "", err
	}
	for _, e := range order {
		var vals, matched []*node
		for _, c := range *list {
			if !c.pair && c.name == e.name {
				matched = append(matched, c)
			}
		}
		var strs []string
		for _, c := range matched {
			s, err := childPrehash(c, e.sub)
			if err != nil {
				return "", err
			}
			if s != "" {
				strs = append(strs, s)
			}
			if len(c.children) == 0 {
				vals = append(vals, c) // consumed
			}
		}
		if len(vals) > 0 {
			*list = slices.DeleteFunc(*list, func(x *node) bool { return slices.Contains(vals, x) })
		}
		slices.Sort(strs)
		pre += strings.Join(strs, "")
	}
	if len(ext) > 0 {
		s, err := generic(ext)
		if err != nil {
			return "", err
		}
		pre += s
	}
	return pre, nil
}

func childPrehash(c *node, sub propOrder) (string, error) {
	text, grand := "", ""
	if len(sub) > 0 {
		var err error
		if grand, err = inOrder(&c.children, sub); err != nil {
			return "", err
		}
	}
	if c.value != "" {
		text = pyStrip(c.value)
		lower := strings.ToLower(c.name)
		var err error
		if strings.Contains(lower, "time") && !strings.Contains(lower, "offset") {
			text, err = fixTimestamp(text)
		} else {
			text, err = canonicalValue(text)
		}
		if err != nil {
			return "", err
		}
		if text != "" {
			text = "=" + text
		}
	}
	if text != "" || grand != "" {
		return c.name + text + grand, nil
	}
	return "", nil
}

// userExtensions takes the {namespace/}name children out of a nested
// element's children (not at the event level, recognised by an eventTime
// or action child — "action" as a substring, so bizTransactionList counts).
func userExtensions(list *[]*node) ([]*node, error) {
	if len(*list) <= 1 {
		return nil, nil
	}
	for _, c := range *list {
		if !c.pair && (strings.Contains(c.name, "eventTime") || strings.Contains(c.name, "action")) {
			return nil, nil
		}
	}
	var ext, keep []*node
	for _, c := range *list {
		if !c.pair && strings.Contains(c.name, "{") && strings.Contains(c.name, "/}") {
			ext = append(ext, c)
		} else {
			keep = append(keep, c)
		}
	}
	if len(ext) > 0 {
		*list = keep
	}
	return ext, nil
}

// generic renders elements outside the canonical order: name=value and
// children, sorted unless they are source/destination/bizTransaction
// members.
func generic(children []*node) (string, error) {
	var vals []string
	for _, c := range children {
		if c.pair {
			s, err := generic(c.children)
			if err != nil {
				return "", err
			}
			vals = append(vals, s)
			continue
		}
		text := pyStrip(c.value)
		if text != "" {
			t, err := canonicalValue(text)
			if err != nil {
				return "", err
			}
			text = "=" + t
		}
		sub, err := generic(c.children)
		if err != nil {
			return "", err
		}
		vals = append(vals, c.name+text+sub)
	}
	sortIt := len(children) > 1
	for _, c := range children {
		if !c.pair && (c.name == "bizTransaction" || c.name == "source" || c.name == "destination") {
			sortIt = false
		}
	}
	if sortIt {
		slices.Sort(vals)
	}
	return strings.Join(vals, ""), nil
}

// remainder renders what the canonical order left, without the fields the
// hash ignores.
func remainder(children []*node) (string, error) {
	var keep []*node
	for _, c := range children {
		if !c.pair && (c.name == "recordTime" || c.name == "eventID" || c.name == "type" || c.name == "errorDeclaration") {
			continue
		}
		keep = append(keep, c)
	}
	if len(keep) == 0 {
		return "", nil
	}
	return generic(keep)
}

func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
	})
}

// canonicalValue: CBV URNs to web vocabulary, numbers as Python prints
// them, GS1 identifiers to canonical Digital Links.
func canonicalValue(s string) (string, error) {
	s = cbvURNReplacer.Replace(s)
	s, err := pyNumeric(s)
	if err != nil {
		return "", err
	}
	if dl, ok := normaliseID(s); ok {
		return dl, nil
	}
	return s, nil
}

var cbvURNReplacer = strings.NewReplacer(
	"urn:epcglobal:cbv:bizstep:", cbvPrefix+"BizStep-",
	"urn:epcglobal:cbv:disp:", cbvPrefix+"Disp-",
	"urn:epcglobal:cbv:btt:", cbvPrefix+"BTT-",
	"urn:epcglobal:cbv:sdt:", cbvPrefix+"SDT-",
	"urn:epcglobal:cbv:er:", cbvPrefix+"ER-",
)

// pyFloatSyntax is Python's float() literal syntax (after strip).
var pyFloatSyntax = regexp.MustCompile(`^[+-]?(?:(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?|(?i:inf|infinity|nan))$`)

// pyNumeric rewrites a number as Python's str(float(s)), integral values as
// integers; other text is returned unchanged. Infinity is an error, as it is
// (an uncaught OverflowError) in the reference implementation.
func pyNumeric(s string) (string, error) {
	if s == "" || !strings.ContainsRune("+-.0123456789iInN", rune(s[0])) || !pyFloatSyntax.MatchString(s) {
		return s, nil
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return s, nil
	}
	if math.IsNaN(f) {
		return s, nil
	}
	if math.IsInf(f, 0) {
		return "", fmt.Errorf("number %q is infinite", s)
	}
	if f == math.Trunc(f) {
		i, _ := new(big.Float).SetFloat64(f).Int(nil)
		return i.String(), nil
	}
	return pyRepr(f), nil
}

// pyRepr is Python's repr of a non-integral float.
func pyRepr(f float64) string {
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX, shortest
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	decpt := x + 1
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			return sign + "0." + strings.Repeat("0", -decpt) + digits
		case decpt >= len(digits):
			return sign + digits + strings.Repeat("0", decpt-len(digits)) + ".0"
		default:
			return sign + digits[:decpt] + "." + digits[decpt:]
		}
	}
	m := digits[:1]
	if len(digits) > 1 {
		m += "." + digits[1:]
	}
	es := "+"
	if x < 0 {
		es, x = "-", -x
	}
	xs := strconv.Itoa(x)
	if len(xs) < 2 {
		xs = "0" + xs
	}
	return sign + m + "e" + es + xs
}

// pyNumberLiteral is Python's str() of json.loads of a JSON number literal:
// integers stay exact, others print as float repr.
func pyNumberLiteral(lit string) string {
	if !strings.ContainsAny(lit, ".eE") {
		i, ok := new(big.Int).SetString(lit, 10)
		if ok {
			return i.String()
		}
		return lit
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		if math.IsInf(f, 0) {
			if f > 0 {
				return "inf"
			}
			return "-inf"
		}
		return lit
	}
	return pyRepr(f)
}

// fixTimestamp renders an ISO 8601 date-time in UTC with milliseconds,
// rounding microseconds half to even as Python's round(µs, -3) does; text
// that is not a date-time is returned unchanged.
func fixTimestamp(s string) (string, error) {
	t, ok := parseISOTime(s)
	if !ok {
		return s, nil
	}
	t = t.UTC()
	us := t.Nanosecond() / 1000
	ms := us / 1000
	rem := us % 1000
	if rem > 500 || (rem == 500 && ms%2 == 1) {
		ms++
	}
	if ms == 1000 {
		// Python raises here (microsecond out of range): the reference
		// implementation gives no hash for such an event.
		return "", fmt.Errorf("time %q rounds to the next second", s)
	}
	return t.Format("2006-01-02T15:04:05") + fmt.Sprintf(".%03dZ", ms), nil
}

var isoTime = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$`)

// parseISOTime reads the ISO 8601 date-times EPCIS uses. Fractions beyond
// microseconds are cut (as dateutil does); without an offset the time is
// taken as UTC.
func parseISOTime(s string) (time.Time, bool) {
	m := isoTime.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	num := func(x string) int { n, _ := strconv.Atoi(x); return n }
	frac := m[7]
	if len(frac) > 6 {
		frac = frac[:6]
	}
	us := 0
	if frac != "" {
		us = num(frac + strings.Repeat("0", 6-len(frac)))
	}
	loc := time.UTC
	if z := m[8]; z != "" && z != "Z" {
		sign := 1
		if z[0] == '-' {
			sign = -1
		}
		z = strings.ReplaceAll(z[1:], ":", "")
		off := num(z[:2]) * 3600
		if len(z) == 4 {
			off += num(z[2:]) * 60
		}
		loc = time.FixedZone("", sign*off)
	}
	y, mo, d, hh, mi, ss := num(m[1]), num(m[2]), num(m[3]), num(m[4]), num(m[5]), num(m[6])
	if mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mi > 59 || ss > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, hh, mi, ss, us*1000, loc)
	if t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}
