package epcis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// decodeStd is the reference: the same tree built from encoding/json's
// tokens.
func decodeStd(data []byte) (*jv, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readStd(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON document")
	}
	return v, nil
}

func readStd(dec *json.Decoder, depth int) (*jv, error) {
	if depth > maxDepth {
		return nil, errors.New("deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			o := &jv{kind: 'o'}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				if seen[k] {
					return nil, errors.New("dup")
				}
				seen[k] = true
				v, err := readStd(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, k), append(o.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		}
		a := &jv{kind: 'a'}
		for dec.More() {
			v, err := readStd(dec, depth+1)
			if err != nil {
				return nil, err
			}
			a.vals = append(a.vals, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return a, nil
	case string:
		return &jv{kind: 's', str: t}, nil
	case json.Number:
		return &jv{kind: 'n', str: string(t)}, nil
	case bool:
		return &jv{kind: 'b', str: fmt.Sprint(t)}, nil
	}
	return &jv{kind: 'z'}, nil
}

func sameTree(a, b *jv) bool {
	if a.kind != b.kind || a.str != b.str || len(a.keys) != len(b.keys) || len(a.vals) != len(b.vals) {
		return false
	}
	for i := range a.keys {
		if a.keys[i] != b.keys[i] {
			return false
		}
	}
	for i := range a.vals {
		if !sameTree(a.vals[i], b.vals[i]) {
			return false
		}
	}
	return true
}

func FuzzDecodeTree(f *testing.F) {
	docs, _ := filepath.Glob("testdata/*/*.json*")
	for _, d := range docs {
		b, _ := os.ReadFile(d)
		f.Add(b)
	}
	for _, s := range []string{`"\ud83d\ude00"`, `"\ud83d"`, `"\ud83d\u0041"`, "\"a\xffb\"", `[1,-0.5e+3,0]`, `{"a":1,"a":2}`, `01`, `[1,]`, `"\u00e9\/"`, " \t[true,false,null] \n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err1 := decodeTree(b)
		want, err2 := decodeStd(b)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("%q: decodeTree err %v, encoding/json err %v", b, err1, err2)
		}
		if err1 == nil && !sameTree(got, want) {
			t.Fatalf("%q: trees differ", b)
		}
	})
}
