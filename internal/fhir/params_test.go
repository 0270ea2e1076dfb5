package fhir

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/x/records"
)

func TestParseDate(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		in     string
		lo, hi string
		bad    bool
	}{
		{in: "2024", lo: "2024-01-01T00:00:00Z", hi: "2025-01-01T00:00:00Z"},
		{in: "2024-02", lo: "2024-02-01T00:00:00Z", hi: "2024-03-01T00:00:00Z"},
		{in: "2024-02-29", lo: "2024-02-29T00:00:00Z", hi: "2024-03-01T00:00:00Z"},
		{in: "2024-02-29T10:30", lo: "2024-02-29T10:30:00Z", hi: "2024-02-29T10:31:00Z"},
		{in: "2024-02-29T10:30:05Z", lo: "2024-02-29T10:30:05Z", hi: "2024-02-29T10:30:06Z"},
		{in: "2024-02-29T10:30:05+02:00", lo: "2024-02-29T08:30:05Z", hi: "2024-02-29T08:30:06Z"},
		{in: "2024-02-29T10:30:05.250-05:00", lo: "2024-02-29T15:30:05.25Z", hi: "2024-02-29T15:30:05.251Z"},
		{in: "2024-02-29T10:30:05", lo: "2024-02-29T10:30:05Z", hi: "2024-02-29T10:30:06Z"},
		{in: "24-02-29", bad: true},
		{in: "2024-13", bad: true},
		{in: "2024-02-29T25:00:00Z", bad: true},
		{in: "yesterday", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			iv, err := parseDate(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted: %v", iv)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !iv.lo.Equal(utc(tt.lo)) || !iv.hi.Equal(utc(tt.hi)) {
				t.Fatalf("[%s, %s), want [%s, %s)", iv.lo, iv.hi, tt.lo, tt.hi)
			}
		})
	}
}

func TestDatePrefixes(t *testing.T) {
	// The target: 2024-06-15 (a day); searches against it.
	day, _ := parseDate("2024-06-15")
	span, _ := valueInterval(map[string]any{"start": "2024-06-10", "end": "2024-06-20"})
	open, _ := valueInterval(map[string]any{"start": "2024-06-10"})
	tests := []struct {
		search string
		target interval
		want   bool
	}{
		{"2024-06-15", day, true},
		{"eq2024-06", day, true},
		{"eq2024-06-15T10:00:00Z", day, false}, // the day is wider than the second
		{"ne2024-05", day, true},
		{"gt2024-06-14", day, true},
		{"gt2024-06-15", day, false},
		{"ge2024-06-15", day, true},
		{"lt2024-06-16", day, true},
		{"lt2024-06-15", day, false},
		{"le2024-06-15", day, true},
		{"sa2024-06-14", day, true},
		{"eb2024-06-16", day, true},
		{"eb2024-06-15", day, false},
		{"ge2024-06-18", span, true}, // the period reaches past it
		{"eq2024-06", span, true},
		{"lt2024-06-11", span, true},
		{"gt2099", open, true}, // no end: goes on
	}
	for _, tt := range tests {
		c, err := parseDateCond(tt.search)
		if err != nil {
			t.Fatalf("%s: %v", tt.search, err)
		}
		if got := c.matches(tt.target); got != tt.want {
			t.Errorf("%s on [%s, %s): %v, want %v", tt.search, tt.target.lo, tt.target.hi, got, tt.want)
		}
	}
	if _, err := parseDateCond("ap2024"); err == nil {
		t.Error("prefix ap accepted")
	}
}

func TestTokens(t *testing.T) {
	cc := map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "2339-0"}}}
	ident := []any{map[string]any{"system": "urn:x", "value": "42"}}
	tests := []struct {
		tok  string
		v    any
		want bool
	}{
		{"http://loinc.org|2339-0", cc, true},
		{"2339-0", cc, true},
		{"http://loinc.org|", cc, true},
		{"|2339-0", cc, false}, // the coding has a system
		{"http://snomed.info/sct|2339-0", cc, false},
		{"urn:x|42", ident, true},
		{"42", ident, true},
		{"final", "final", true},
		{"|final", "final", true},
		{"x|final", "final", false},
		{"amended", "final", false},
	}
	for _, tt := range tests {
		tok, err := parseToken(tt.tok)
		if err != nil {
			t.Fatalf("%s: %v", tt.tok, err)
		}
		if got := tok.matchValue(tt.v); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.tok, got, tt.want)
		}
	}
	for _, bad := range []string{"", "|"} {
		if _, err := parseToken(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestScopes(t *testing.T) {
	var p1, p2 crypto.Address
	p1[0], p2[0] = 1, 2
	tests := []struct {
		scopes  string
		typ     string
		perm    perm
		patient crypto.Address
		want    bool
	}{
		{"patient/*.read", "Observation", permRead, p1, true},
		{"patient/*.read", "Observation", permRead, p2, false},
		{"patient/*.read", "Observation", permCreate, p1, false},
		{"user/Observation.write", "Observation", permUpdate, p2, true},
		{"user/Observation.write", "Condition", permCreate, p2, false},
		{"user/Condition.rs", "Condition", permSearch, p2, true},
		{"user/Condition.rs", "Condition", permCreate, p2, false},
		{"launch/patient openid patient/Observation.cruds", "Observation", permDelete, p1, true},
		{"user/*.*", "Immunization", permDelete, p2, true},
	}
	for _, tt := range tests {
		ss, _, err := parseScopes(tt.scopes)
		if err != nil {
			t.Fatalf("%s: %v", tt.scopes, err)
		}
		if got := grants(ss, tt.typ, tt.perm, tt.patient, p1); got != tt.want {
			t.Errorf("%s on %s %b: %v, want %v", tt.scopes, tt.typ, tt.perm, got, tt.want)
		}
	}
	for _, bad := range []string{"", "openid", "patient/Widget.read", "system/*.read", "user/*.rc", "user/*.x", "user/Observation", "nurse/*.read"} {
		if _, _, err := parseScopes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDelegationIsBound(t *testing.T) {
	org, _ := crypto.GenerateKey(nil)
	user, _ := crypto.GenerateKey(nil)
	other, _ := crypto.GenerateKey(nil)
	challenge := bytes.Repeat([]byte{7}, ChallengeSize)
	enc, ct, err := SealDelegation(nil, org.EncKey(), user, "chain", "org-a", challenge)
	if err != nil {
		t.Fatal(err)
	}
	seeds, err := openDelegation(org, enc, ct, "chain", "org-a", challenge, user.Address())
	if err != nil {
		t.Fatal(err)
	}
	s, e := user.Seeds()
	if !bytes.Equal(seeds, append(s, e...)) {
		t.Fatal("seeds differ")
	}
	other2 := bytes.Repeat([]byte{8}, ChallengeSize)
	for name, try := range map[string]func() error{
		"another chain": func() error {
			_, err := openDelegation(org, enc, ct, "chain2", "org-a", challenge, user.Address())
			return err
		},
		"another org": func() error {
			_, err := openDelegation(org, enc, ct, "chain", "org-b", challenge, user.Address())
			return err
		},
		"another challenge": func() error {
			_, err := openDelegation(org, enc, ct, "chain", "org-a", other2, user.Address())
			return err
		},
		"another account": func() error {
			_, err := openDelegation(org, enc, ct, "chain", "org-a", challenge, other.Address())
			return err
		},
		"another org key": func() error {
			_, err := openDelegation(other, enc, ct, "chain", "org-a", challenge, user.Address())
			return err
		},
	} {
		if try() == nil {
			t.Errorf("%s: the delegation opened", name)
		}
	}
}

func TestTokenSignBytesBindEverything(t *testing.T) {
	var a crypto.Address
	base := TokenSignBytes("c", "o", []byte{1}, a, "user/*.read", 100, "", nil)
	digest := sha256.Sum256([]byte("d"))
	for name, b := range map[string][]byte{
		"chain":      TokenSignBytes("c2", "o", []byte{1}, a, "user/*.read", 100, "", nil),
		"org":        TokenSignBytes("c", "o2", []byte{1}, a, "user/*.read", 100, "", nil),
		"challenge":  TokenSignBytes("c", "o", []byte{2}, a, "user/*.read", 100, "", nil),
		"scope":      TokenSignBytes("c", "o", []byte{1}, a, "user/*.write", 100, "", nil),
		"expiry":     TokenSignBytes("c", "o", []byte{1}, a, "user/*.read", 101, "", nil),
		"patient":    TokenSignBytes("c", "o", []byte{1}, a, "user/*.read", 100, "mc00", nil),
		"delegation": TokenSignBytes("c", "o", []byte{1}, a, "user/*.read", 100, "", digest[:]),
	} {
		if bytes.Equal(b, base) {
			t.Errorf("%s is not bound", name)
		}
	}
}

func TestTokensExpireAndAreWiped(t *testing.T) {
	a := newAuthStore(4, 2)
	now := time.Now()
	k, _ := crypto.GenerateKey(nil)
	s := &session{expires: now.Add(50 * time.Millisecond), seeds: []byte{1, 2, 3}}
	s.key.Store(k)
	tok, err := a.add(s, now)
	if err != nil {
		t.Fatal(err)
	}
	if a.lookup(tok, now) != s {
		t.Fatal("live token not found")
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.count() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("expired token still held")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.delegated() != nil || s.seeds != nil {
		t.Fatal("delegated key not wiped at expiry")
	}
	if a.lookup(tok, now) != nil {
		t.Fatal("expired token accepted")
	}
	// Bounded: a full store answers errFull until tokens expire.
	for range 2 {
		if _, err := a.add(&session{expires: now.Add(time.Hour)}, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.add(&session{expires: now.Add(time.Hour)}, now); err != errFull {
		t.Fatalf("third token: %v", err)
	}
	a.close()
}

func TestRender(t *testing.T) {
	in := []byte(`{"id":"ab","meta":{"profile":["http://x"]},"resourceType":"Observation","valueQuantity":{"value":4.0}}`)
	out, err := render(in, &records.Version{Version: 3, Created: 1700000000})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["meta"]) != `{"lastUpdated":"2023-11-14T22:13:20Z","profile":["http://x"],"versionId":"3"}` {
		t.Fatalf("meta %s", m["meta"])
	}
	if string(m["valueQuantity"]) != `{"value":4.0}` {
		t.Fatalf("decimal changed: %s", m["valueQuantity"])
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2024", "2024-02", "2024-02-29", "2024-02-29T10:30", "2024-02-29T10:30:05.250-05:00", "ge2024", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if iv, err := parseDate(s); err == nil && !iv.lo.Before(iv.hi) {
			t.Fatalf("%q: empty interval", s)
		}
		_, _ = parseDateCond(s)
	})
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"patient/*.read", "user/Observation.cruds openid", "user/*.rc", "system/*.*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ss, text, err := parseScopes(s)
		if err != nil {
			return
		}
		again, text2, err := parseScopes(text)
		if err != nil || len(again) != len(ss) || text2 != text {
			t.Fatalf("%q: normalized %q does not parse back the same", s, text)
		}
	})
}
