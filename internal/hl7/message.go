package hl7

import (
	"errors"
	"fmt"
	"strings"
)

// MaxMessageBytes bounds a message (and an MLLP frame).
const MaxMessageBytes = 4 << 20

// Encoding is a message's delimiters, from MSH-1 and MSH-2.
type Encoding struct {
	Field, Component, Repetition, Escape, Subcomponent byte
	// Truncation is the v2.7 truncation character (0 when MSH-2 has four).
	Truncation byte
}

// DefaultEncoding is |^~\&.
var DefaultEncoding = Encoding{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&'}

// MSH2 is the encoding characters as MSH-2 writes them.
func (e Encoding) MSH2() string {
	s := string([]byte{e.Component, e.Repetition, e.Escape, e.Subcomponent})
	if e.Truncation != 0 {
		s += string(e.Truncation)
	}
	return s
}

// Message is a parsed HL7 v2 message.
type Message struct {
	Enc      Encoding
	Segments []*Segment
}

// Segment is one segment. Fields[0] is HL7 field 1 (for MSH, the field
// separator; Fields[1] is MSH-2, the encoding characters, kept verbatim).
type Segment struct {
	Name   string
	Fields []Field
}

// Field is a field's repetitions.
type Field []Rep

// Rep is one repetition's components.
type Rep []Component

// Component is one component's subcomponents, decoded.
type Component []string

// ParseError is a message that cannot be parsed or lacks what every
// message needs. Code is the HL7 error code (table 0357) a NAK carries;
// Segment and Field locate it (ERR-2) when known.
type ParseError struct {
	Code    int
	Segment string
	Seq     int // the segment's position, 1-based; 0 when unknown
	Field   int
	Msg     string
}

func (e *ParseError) Error() string {
	loc := ""
	if e.Segment != "" {
		loc = e.Segment
		if e.Field > 0 {
			loc += fmt.Sprintf("-%d", e.Field)
		}
		loc += ": "
	}
	return loc + e.Msg
}

// HL7 error codes (table 0357) this package reports.
const (
	CodeSegmentSequence   = 100
	CodeRequiredMissing   = 101
	CodeDataType          = 102
	CodeTableValue        = 103
	CodeUnsupportedType   = 200
	CodeUnsupportedEvent  = 201
	CodeUnsupportedProcID = 202
	CodeUnsupportedVer    = 203
	CodeUnknownKey        = 204
	CodeDuplicateKey      = 205
	CodeInternal          = 207
)

var errEmpty = errors.New("empty")

// Parse parses an ER7-encoded message. Segments end with CR; LF and CRLF
// are accepted too (files edited on other systems), and empty lines are
// skipped.
func Parse(raw []byte) (*Message, error) {
	if len(raw) > MaxMessageBytes {
		return nil, &ParseError{Code: CodeInternal, Msg: fmt.Sprintf("message larger than %d bytes", MaxMessageBytes)}
	}
	s := strings.ReplaceAll(string(raw), "\r\n", "\r")
	s = strings.ReplaceAll(s, "\n", "\r")
	if !strings.HasPrefix(s, "MSH") || len(s) < 8 {
		return nil, &ParseError{Code: CodeSegmentSequence, Segment: "MSH", Seq: 1, Msg: "a message starts with an MSH segment and its encoding characters"}
	}
	enc, err := parseEncoding(s)
	if err != nil {
		return nil, err
	}
	m := &Message{Enc: enc}
	for _, line := range strings.Split(s, "\r") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		seg, err := parseSegment(line, enc, len(m.Segments)+1)
		if err != nil {
			return nil, err
		}
		m.Segments = append(m.Segments, seg)
	}
	if err := m.checkHeader(); err != nil {
		return nil, err
	}
	return m, nil
}

func parseEncoding(s string) (Encoding, error) {
	bad := func(msg string) (Encoding, error) {
		return Encoding{}, &ParseError{Code: CodeDataType, Segment: "MSH", Seq: 1, Field: 2, Msg: msg}
	}
	e := Encoding{Field: s[3]}
	end := strings.IndexByte(s[4:], e.Field)
	if end < 0 {
		return bad("MSH-2 (encoding characters) is not followed by a field separator")
	}
	chars := s[4 : 4+end]
	if len(chars) != 4 && len(chars) != 5 {
		return bad(fmt.Sprintf("MSH-2 has %d encoding characters, want 4 (^~\\&) or 5", len(chars)))
	}
	e.Component, e.Repetition, e.Escape, e.Subcomponent = chars[0], chars[1], chars[2], chars[3]
	if len(chars) == 5 {
		e.Truncation = chars[4]
	}
	all := string(e.Field) + chars
	for i := 0; i < len(all); i++ {
		c := all[i]
		if c <= ' ' || c >= 0x7f || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z') {
			return bad(fmt.Sprintf("delimiter %q is not a printable punctuation character", c))
		}
		if strings.IndexByte(all[i+1:], c) >= 0 {
			return bad(fmt.Sprintf("delimiter %q is used twice", c))
		}
	}
	return e, nil
}

func validName(n string) bool {
	if len(n) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		c := n[i]
		if !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') {
			return false
		}
	}
	return n[0] >= 'A' && n[0] <= 'Z'
}

func parseSegment(line string, enc Encoding, seq int) (*Segment, error) {
	parts := strings.Split(line, string(enc.Field))
	name := parts[0]
	if !validName(name) {
		return nil, &ParseError{Code: CodeSegmentSequence, Seq: seq, Msg: fmt.Sprintf("segment %d: %q is not a segment name (three capitals or digits)", seq, trunc(name, 12))}
	}
	seg := &Segment{Name: name}
	rest := parts[1:]
	if name == "MSH" {
		if seq != 1 {
			return nil, &ParseError{Code: CodeSegmentSequence, Segment: "MSH", Seq: seq, Msg: "a second MSH segment"}
		}
		// MSH-1 is the separator itself; MSH-2 is taken verbatim.
		seg.Fields = append(seg.Fields, Field{Rep{Component{string(enc.Field)}}}, Field{Rep{Component{rest[0]}}})
		rest = rest[1:]
	}
	for i, f := range rest {
		fld, err := parseField(f, enc)
		if err != nil {
			n := len(seg.Fields) + 1
			_ = i
			return nil, &ParseError{Code: CodeDataType, Segment: name, Seq: seq, Field: n, Msg: err.Error()}
		}
		seg.Fields = append(seg.Fields, fld)
	}
	return seg, nil
}

func parseField(f string, enc Encoding) (Field, error) {
	var out Field
	for _, r := range strings.Split(f, string(enc.Repetition)) {
		var rep Rep
		for _, c := range strings.Split(r, string(enc.Component)) {
			var comp Component
			for _, sc := range strings.Split(c, string(enc.Subcomponent)) {
				v, err := Unescape(sc, enc)
				if err != nil {
					return nil, err
				}
				comp = append(comp, v)
			}
			rep = append(rep, comp)
		}
		out = append(out, rep)
	}
	return out, nil
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Segment returns the first segment named name, or nil.
func (m *Message) Segment(name string) *Segment {
	for _, s := range m.Segments {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// All returns every segment named name, in order.
func (m *Message) All(name string) []*Segment {
	var out []*Segment
	for _, s := range m.Segments {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// Field returns field n (1-based), or nil.
func (s *Segment) Field(n int) Field {
	if s == nil || n < 1 || n > len(s.Fields) {
		return nil
	}
	return s.Fields[n-1]
}

// Get returns field n, repetition rep, component comp, subcomponent sub (all
// 1-based), or "".
func (s *Segment) Get(n, rep, comp, sub int) string {
	f := s.Field(n)
	if rep < 1 || rep > len(f) {
		return ""
	}
	r := f[rep-1]
	if comp < 1 || comp > len(r) {
		return ""
	}
	c := r[comp-1]
	if sub < 1 || sub > len(c) {
		return ""
	}
	return c[sub-1]
}

// Value is the first repetition's first component's first subcomponent of
// field n: what a simple field holds.
func (s *Segment) Value(n int) string { return s.Get(n, 1, 1, 1) }

// Comp is component c of the first repetition of field n.
func (s *Segment) Comp(n, c int) string { return s.Get(n, 1, c, 1) }

// Get returns component comp (1-based) of a repetition, or "".
func (r Rep) Get(comp int) string {
	if comp < 1 || comp > len(r) || len(r[comp-1]) == 0 {
		return ""
	}
	return r[comp-1][0]
}

// Empty reports whether a field has no value at all.
func (f Field) Empty() bool {
	for _, r := range f {
		for _, c := range r {
			for _, sc := range c {
				if sc != "" {
					return false
				}
			}
		}
	}
	return true
}

// Header is what every message's MSH says.
type Header struct {
	SendingApp, SendingFacility     string // MSH-3.1, MSH-4.1
	ReceivingApp, ReceivingFacility string // MSH-5.1, MSH-6.1
	Type, Event, Structure          string // MSH-9.1, 9.2, 9.3
	ControlID                       string // MSH-10
	ProcessingID                    string // MSH-11.1: P, T or D
	Version                         string // MSH-12.1
	Time                            string // MSH-7
}

// Header reads the message header.
func (m *Message) Header() Header {
	h := m.Segments[0]
	return Header{
		SendingApp: h.Comp(3, 1), SendingFacility: h.Comp(4, 1),
		ReceivingApp: h.Comp(5, 1), ReceivingFacility: h.Comp(6, 1),
		Time: h.Comp(7, 1),
		Type: h.Comp(9, 1), Event: h.Comp(9, 2), Structure: h.Comp(9, 3),
		ControlID: h.Value(10), ProcessingID: h.Comp(11, 1), Version: h.Comp(12, 1),
	}
}

// checkHeader checks the MSH fields every message needs.
func (m *Message) checkHeader() error {
	msh := m.Segments[0]
	missing := func(n int, what string) error {
		return &ParseError{Code: CodeRequiredMissing, Segment: "MSH", Seq: 1, Field: n, Msg: what + " is required"}
	}
	h := m.Header()
	switch {
	case h.Type == "":
		return missing(9, "MSH-9 (message type)")
	case h.ControlID == "":
		return missing(10, "MSH-10 (message control id)")
	case h.ProcessingID == "":
		return missing(11, "MSH-11 (processing id)")
	case h.Version == "":
		return missing(12, "MSH-12 (version id)")
	}
	if len(h.ControlID) > 199 {
		return &ParseError{Code: CodeDataType, Segment: "MSH", Seq: 1, Field: 10, Msg: "MSH-10 longer than 199 characters"}
	}
	if !strings.HasPrefix(h.Version, "2.") {
		return &ParseError{Code: CodeUnsupportedVer, Segment: "MSH", Seq: 1, Field: 12, Msg: fmt.Sprintf("version %q: HL7 v2.x only", trunc(h.Version, 12))}
	}
	_ = msh
	return nil
}
