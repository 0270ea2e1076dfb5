package blob

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHash(t *testing.T) {
	h := Sum([]byte("x"))
	s := HashString(h)
	if got, err := ParseHash(s); err != nil || got != h {
		t.Fatalf("ParseHash(%q) = %x, %v", s, got, err)
	}
	for name, bad := range map[string]string{
		"empty":      "",
		"short":      s[:62],
		"long":       s + "00",
		"upper case": strings.ToUpper(s),
		"not hex":    "g" + s[1:],
		"0x prefix":  "0x" + s[2:],
	} {
		if _, err := ParseHash(bad); !errors.Is(err, ErrBadHash) {
			t.Errorf("%s: ParseHash(%q): %v, want ErrBadHash", name, bad, err)
		}
	}
}

// FuzzParseHash checks that a parsed hash has exactly one text form.
func FuzzParseHash(f *testing.F) {
	s := HashString(Sum([]byte("x")))
	for _, seed := range []string{s, strings.ToUpper(s), s[:63], "", s + "0"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := ParseHash(in)
		if err != nil {
			if !errors.Is(err, ErrBadHash) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if HashString(h) != in {
			t.Fatalf("ParseHash(%q) = %s: not the canonical form", in, HashString(h))
		}
	})
}
