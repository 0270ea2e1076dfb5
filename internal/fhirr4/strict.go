package fhirr4

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest input Parse accepts, in bytes.
const MaxSize = 16 << 20

// MaxDepth is the deepest nesting of JSON objects and arrays Parse accepts.
// Deeply nested Questionnaire items inside a Bundle stay well within it.
const MaxDepth = 100

// checkJSON enforces the FHIR JSON rules that google/fhir/go lets through,
// before the library sees the document:
//
//   - one JSON object, valid UTF-8, at most MaxSize bytes and MaxDepth deep;
//   - no duplicate keys (the library keeps the last);
//   - keys start with a lower-case letter (the library lower-cases the first
//     letter, so it takes "Status" for "status");
//   - no empty strings, objects or arrays (the library drops them silently,
//     which changes the record) and no null (the library zeroes it, or reads
//     an empty element). The specification allows null as a placeholder in
//     an array of primitives whose "_name" twin carries extensions; the
//     library cannot read that form, so it is refused here with a clear
//     message rather than later with a puzzling one;
//   - numbers that fit a float64.
//
// contained reports whether any object has a "contained" key, so that Parse
// can skip looking for contained resources when there are none.
func checkJSON(data []byte) (bad *InvalidError, contained bool) {
	if len(data) > MaxSize {
		return invalid(Issue{Problem: fmt.Sprintf("document is larger than %d bytes", MaxSize)}), false
	}
	if !utf8.Valid(data) {
		return invalid(Issue{Problem: "invalid UTF-8"}), false
	}
	s := scanner{dec: json.NewDecoder(bytes.NewReader(data))}
	s.dec.UseNumber()
	if issue, ok := s.scan(); !ok {
		return invalid(issue), false
	}
	if len(s.found) == 0 {
		return nil, s.contained
	}
	issues := make([]Issue, len(s.found))
	for i, f := range s.found {
		issues[i] = Issue{Path: f.at.path(f.name), Problem: f.problem}
	}
	return invalid(issues...), false
}

// frame is an object or array being scanned.
type frame struct {
	parent *frame
	seg    string // how the parent names this container: "name" or "[3]"
	array  bool

	// objects
	wantKey bool
	key     string          // the key whose value comes next
	keys    map[string]bool // keys seen
	rtype   string          // the value of "resourceType", if it is a string

	// arrays
	n int // elements so far
}

// path names, in FHIR JSON terms, the element name inside f. Paths are built
// only after the scan, once every object's resourceType is known.
func (f *frame) path(name string) string {
	var segs []string
	for ; f != nil; f = f.parent {
		if f.rtype != "" {
			segs = append(segs, f.rtype)
		}
		if f.seg != "" {
			segs = append(segs, f.seg)
		}
	}
	slices.Reverse(segs)
	var b strings.Builder
	for _, s := range segs {
		if b.Len() > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	if name != "" {
		if b.Len() > 0 && !strings.HasPrefix(name, "[") {
			b.WriteByte('.')
		}
		b.WriteString(name)
	}
	return b.String()
}

type finding struct {
	at      *frame
	name    string
	problem string
}

type scanner struct {
	dec       *json.Decoder
	top       *frame
	depth     int
	found     []finding
	contained bool // a "contained" key was seen
}

func (s *scanner) report(at *frame, name, problem string) {
	if len(s.found) < maxIssues {
		s.found = append(s.found, finding{at, name, problem})
	}
}

// scan walks the document once. It returns ok=false with an issue for
// failures that stop the walk (bad syntax, too deep); other problems are
// collected in s.found.
func (s *scanner) scan() (Issue, bool) {
	first := true
	for {
		tok, err := s.dec.Token()
		if err == io.EOF && s.top == nil && !first {
			return Issue{}, true
		}
		if err != nil {
			return syntaxIssue(err), false
		}
		if s.top == nil && !first {
			return Issue{Problem: "invalid JSON: more than one value"}, false
		}
		if first {
			first = false
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return Issue{Problem: "a resource must be a JSON object"}, false
			}
		}
		if issue, ok := s.token(tok); !ok {
			return issue, false
		}
	}
}

func syntaxIssue(err error) Issue {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return Issue{Problem: fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Issue{Problem: "invalid JSON: unexpected end of input"}
	default:
		return Issue{Problem: "invalid JSON"}
	}
}

func (s *scanner) token(tok json.Token) (Issue, bool) {
	f := s.top
	if f != nil && !f.array && f.wantKey {
		if d, ok := tok.(json.Delim); ok && d == '}' {
			s.closeObject()
			return Issue{}, true
		}
		key, _ := tok.(string) // the decoder allows only strings here
		s.key(f, key)
		return Issue{}, true
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == ']' {
			s.closeArray()
			return Issue{}, true
		}
		// '{' or '[': the value is complete only when it closes. A '}'
		// never comes here: it is read where a key could be.
		f := s.open(v == '[')
		if s.depth > MaxDepth {
			return Issue{Path: f.path(""), Problem: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}, false
		}
		return Issue{}, true
	case string:
		if v == "" {
			s.reportValue(f, "empty string")
		} else if !f.array && f.key == "resourceType" {
			f.rtype = v
		}
	case json.Number:
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			s.reportValue(f, "number out of range")
		}
	case nil:
		s.reportValue(f, "null value")
	}
	s.valueDone(f)
	return Issue{}, true
}

// key records an object key and checks it.
func (s *scanner) key(f *frame, key string) {
	switch {
	case f.keys[key]:
		s.report(f, clip(key), "duplicate field")
	case startsUpper(key):
		s.report(f, clip(key), "unknown field")
	}
	f.keys[key] = true
	f.key = key
	f.wantKey = false
	if key == "contained" {
		s.contained = true
	}
}

func startsUpper(key string) bool {
	k := strings.TrimPrefix(key, "_")
	return k != "" && k[0] >= 'A' && k[0] <= 'Z'
}

// reportValue reports a problem with the value about to be stored in f.
func (s *scanner) reportValue(f *frame, problem string) {
	if f.array {
		s.report(f, "["+strconv.Itoa(f.n)+"]", problem)
	} else {
		s.report(f, clip(f.key), problem)
	}
}

func (s *scanner) open(array bool) *frame {
	f := &frame{parent: s.top, array: array}
	if p := s.top; p != nil {
		if p.array {
			f.seg = "[" + strconv.Itoa(p.n) + "]"
		} else {
			f.seg = clip(p.key)
		}
	}
	if !array {
		f.wantKey = true
		f.keys = make(map[string]bool)
	}
	s.top = f
	s.depth++
	return f
}

func (s *scanner) closeArray() {
	f := s.top
	if f.n == 0 {
		s.report(f, "", "empty array")
	}
	s.pop()
	s.valueDone(f.parent)
}

func (s *scanner) closeObject() {
	f := s.top
	if len(f.keys) == 0 {
		s.report(f, "", "empty object")
	}
	s.pop()
	s.valueDone(f.parent)
}

func (s *scanner) pop() {
	s.top = s.top.parent
	s.depth--
}

// valueDone moves f past the value just read.
func (s *scanner) valueDone(f *frame) {
	switch {
	case f == nil:
	case f.array:
		f.n++
	default:
		f.wantKey = true
	}
}
