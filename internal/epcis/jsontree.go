package epcis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// jv is a JSON value that keeps object member order and number literals:
// the event hash depends on both (GS1's reference implementation reads
// source/destination/bizTransaction members in document order, and prints
// numbers as Python does).
type jv struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys []string
	vals []*jv
	str  string // string value, number literal, "true"/"false"
}

func (v *jv) get(key string) *jv {
	if v == nil || v.kind != 'o' {
		return nil
	}
	for i, k := range v.keys {
		if k == key {
			return v.vals[i]
		}
	}
	return nil
}

func (v *jv) has(key string) bool { return v.get(key) != nil }

// decodeTree decodes one JSON document (RFC 8259) strictly: duplicate
// member names are refused (their meaning differs between readers), as is
// trailing data and nesting deeper than maxDepth. Strings decode as
// encoding/json decodes them (invalid UTF-8 and unpaired surrogates become
// U+FFFD); number literals are kept as written.
func decodeTree(data []byte) (*jv, error) {
	d := &decoder{b: data}
	d.space()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(d.b) {
		return nil, errors.New("data after the JSON document")
	}
	return v, nil
}

const maxDepth = 64

type decoder struct {
	b []byte
	i int
}

func (d *decoder) errorf(format string, a ...any) error {
	return fmt.Errorf("bad JSON at offset %d: %s", d.i, fmt.Sprintf(format, a...))
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (*jv, error) {
	if depth > maxDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	if d.i >= len(d.b) {
		return nil, d.errorf("unexpected end")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		d.i++
		o := &jv{kind: 'o'}
		d.space()
		if d.i < len(d.b) && d.b[d.i] == '}' {
			d.i++
			return o, nil
		}
		var seen map[string]bool
		for {
			d.space()
			if d.i >= len(d.b) || d.b[d.i] != '"' {
				return nil, d.errorf("want a member name")
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if seen == nil {
				seen = make(map[string]bool, 8)
			}
			if seen[k] {
				return nil, fmt.Errorf("duplicate member %q", k)
			}
			seen[k] = true
			d.space()
			if d.i >= len(d.b) || d.b[d.i] != ':' {
				return nil, d.errorf("want ':'")
			}
			d.i++
			d.space()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, k)
			o.vals = append(o.vals, v)
			d.space()
			if d.i >= len(d.b) {
				return nil, d.errorf("unexpected end")
			}
			if d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.b[d.i] == '}' {
				d.i++
				return o, nil
			}
			return nil, d.errorf("want ',' or '}'")
		}
	case c == '[':
		d.i++
		a := &jv{kind: 'a'}
		d.space()
		if d.i < len(d.b) && d.b[d.i] == ']' {
			d.i++
			return a, nil
		}
		for {
			d.space()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a.vals = append(a.vals, v)
			d.space()
			if d.i >= len(d.b) {
				return nil, d.errorf("unexpected end")
			}
			if d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.b[d.i] == ']' {
				d.i++
				return a, nil
			}
			return nil, d.errorf("want ',' or ']'")
		}
	case c == '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return &jv{kind: 's', str: s}, nil
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	default:
		for _, lit := range []struct {
			text string
			v    jv
		}{{"true", jv{kind: 'b', str: "true"}}, {"false", jv{kind: 'b', str: "false"}}, {"null", jv{kind: 'z'}}} {
			if bytes.HasPrefix(d.b[d.i:], []byte(lit.text)) {
				d.i += len(lit.text)
				v := lit.v
				return &v, nil
			}
		}
		return nil, d.errorf("unexpected character %q", c)
	}
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (d *decoder) number() (*jv, error) {
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.b[d.i] == '-' {
		d.i++
	}
	if d.i < len(d.b) && d.b[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return nil, d.errorf("bad number")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, d.errorf("bad number")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.errorf("bad number")
		}
	}
	return &jv{kind: 'n', str: string(d.b[start:d.i])}, nil
}

// str reads a string at d.i (which is '"').
func (d *decoder) str() (string, error) {
	d.i++
	start := d.i
	// Fast path: no escapes, valid UTF-8.
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			s := d.b[start:d.i]
			d.i++
			return validUTF8(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", d.errorf("control character in string")
		}
		d.i++
	}
	var out []byte
	out = append(out, d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return validUTF8(out), nil
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return "", d.errorf("unexpected end")
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					var ok2 bool
					if r2, ok2 = d.hex4(); !ok2 {
						return "", d.errorf("bad \\u escape")
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						continue
					}
					d.i = save // not a pair: the second escape stands alone
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", d.errorf("bad escape \\%c", e)
		}
	}
	return "", d.errorf("unterminated string")
}

// validUTF8 replaces each byte of invalid UTF-8 by U+FFFD, as
// encoding/json does.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out []byte
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// marshal re-encodes v compactly in member order (for keeping an event's
// original JSON).
func (v *jv) marshal(b *bytes.Buffer) {
	switch v.kind {
	case 'o':
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			ks, _ := json.Marshal(k)
			b.Write(ks)
			b.WriteByte(':')
			v.vals[i].marshal(b)
		}
		b.WriteByte('}')
	case 'a':
		b.WriteByte('[')
		for i, e := range v.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			e.marshal(b)
		}
		b.WriteByte(']')
	case 's':
		s, _ := json.Marshal(v.str)
		b.Write(s)
	case 'n', 'b':
		b.WriteString(v.str)
	default:
		b.WriteString("null")
	}
}
