package epcis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// decodeTree decodes one JSON document strictly: duplicate member names are
// refused (their meaning differs between readers), as is trailing data and
// nesting deeper than maxDepth.
func decodeTree(data []byte) (*jv, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON document")
	}
	return v, nil
}

const maxDepth = 64

func readValue(dec *json.Decoder, depth int) (*jv, error) {
	if depth > maxDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &jv{kind: 'o'}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("bad JSON: %w", err)
				}
				k, _ := kt.(string)
				if seen[k] {
					return nil, fmt.Errorf("duplicate member %q", k)
				}
				seen[k] = true
				v, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, k)
				o.vals = append(o.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("bad JSON: %w", err)
			}
			return o, nil
		case '[':
			a := &jv{kind: 'a'}
			for dec.More() {
				v, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a.vals = append(a.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("bad JSON: %w", err)
			}
			return a, nil
		}
	case string:
		return &jv{kind: 's', str: t}, nil
	case json.Number:
		return &jv{kind: 'n', str: string(t)}, nil
	case bool:
		if t {
			return &jv{kind: 'b', str: "true"}, nil
		}
		return &jv{kind: 'b', str: "false"}, nil
	case nil:
		return &jv{kind: 'z'}, nil
	}
	return nil, errors.New("bad JSON")
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
