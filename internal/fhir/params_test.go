package fhir

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/x/consent"
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
	sk, _ := crypto.GenerateKey(nil)
	other, _ := crypto.GenerateKey(nil)
	acct := user.Address()
	challenge := bytes.Repeat([]byte{7}, ChallengeSize)
	enc, ct, err := SealDelegation(nil, org.EncKey(), sk, acct, "chain", "org-a", challenge)
	if err != nil {
		t.Fatal(err)
	}
	seeds, err := openDelegation(org, enc, ct, "chain", "org-a", challenge, acct, sk.PubKey())
	if err != nil {
		t.Fatal(err)
	}
	s, e := sk.Seeds()
	if !bytes.Equal(seeds, append(s, e...)) {
		t.Fatal("seeds differ")
	}
	us, ue := user.Seeds()
	if bytes.Contains(seeds, us) || bytes.Contains(seeds, ue) {
		t.Fatal("the sealed plaintext holds the account's seeds")
	}
	other2 := bytes.Repeat([]byte{8}, ChallengeSize)
	for name, try := range map[string]func() error{
		"another chain": func() error {
			_, err := openDelegation(org, enc, ct, "chain2", "org-a", challenge, acct, sk.PubKey())
			return err
		},
		"another org": func() error {
			_, err := openDelegation(org, enc, ct, "chain", "org-b", challenge, acct, sk.PubKey())
			return err
		},
		"another challenge": func() error {
			_, err := openDelegation(org, enc, ct, "chain", "org-a", other2, acct, sk.PubKey())
			return err
		},
		"another account": func() error {
			_, err := openDelegation(org, enc, ct, "chain", "org-a", challenge, other.Address(), sk.PubKey())
			return err
		},
		"another session key": func() error {
			_, err := openDelegation(org, enc, ct, "chain", "org-a", challenge, acct, other.PubKey())
			return err
		},
		"another org key": func() error {
			_, err := openDelegation(other, enc, ct, "chain", "org-a", challenge, acct, sk.PubKey())
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
	base := TokenSignBytes("c", "o", []byte{1}, a, "user/*.read", 100, "", nil, nil)
	digest := sha256.Sum256([]byte("d"))
	for name, b := range map[string][]byte{
		"chain":      TokenSignBytes("c2", "o", []byte{1}, a, "user/*.read", 100, "", nil, nil),
		"org":        TokenSignBytes("c", "o2", []byte{1}, a, "user/*.read", 100, "", nil, nil),
		"challenge":  TokenSignBytes("c", "o", []byte{2}, a, "user/*.read", 100, "", nil, nil),
		"scope":      TokenSignBytes("c", "o", []byte{1}, a, "user/*.write", 100, "", nil, nil),
		"expiry":     TokenSignBytes("c", "o", []byte{1}, a, "user/*.read", 101, "", nil, nil),
		"patient":    TokenSignBytes("c", "o", []byte{1}, a, "user/*.read", 100, "mc00", nil, nil),
		"session":    TokenSignBytes("c", "o", []byte{1}, a, "user/*.read", 100, "", make([]byte, 32), nil),
		"delegation": TokenSignBytes("c", "o", []byte{1}, a, "user/*.read", 100, "", nil, digest[:]),
	} {
		if bytes.Equal(b, base) {
			t.Errorf("%s is not bound", name)
		}
	}
}

func testLimits(tokens, perAccount int) authLimits {
	return authLimits{challenges: 100, challengesPerAccount: 4, challengesPerIP: 8, tokens: tokens, tokensPerAccount: perAccount}
}

// TestChallengeFloodCannotLockOthersOut: one client (one IP, or one
// account from many IPs) asking for challenges as fast as it can fills only
// its own quota; others still get challenges and answer them. Today's store
// took any anonymous request until 10,000 were outstanding.
func TestChallengeFloodCannotLockOthersOut(t *testing.T) {
	a := newAuthStore(testLimits(10, 10))
	now := time.Now()
	var flooder, victim crypto.Address
	flooder[0], victim[0] = 1, 2
	// One IP, many accounts: stops at the per-IP cap.
	n := 0
	for i := range 1000 {
		var acct crypto.Address
		acct[0], acct[1] = 3, byte(i)
		if _, _, err := a.newChallenge(acct, "10.0.0.1", now); err == nil {
			n++
		} else if err != errIPBusy && err != errAccountBusy {
			t.Fatalf("flood %d: %v", i, err)
		}
	}
	if n != 8 {
		t.Fatalf("one IP got %d challenges, cap 8", n)
	}
	// One account, many IPs: stops at the per-account cap.
	n = 0
	for i := range 1000 {
		if _, _, err := a.newChallenge(flooder, fmt.Sprintf("10.1.%d.%d", i/256, i%256), now); err == nil {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("one account got %d challenges, cap 4", n)
	}
	// Another account from another IP still logs in.
	c, _, err := a.newChallenge(victim, "192.0.2.7", now)
	if err != nil {
		t.Fatalf("victim locked out: %v", err)
	}
	// A challenge answers only for the account it was made for.
	if a.takeChallenge(c, flooder, now) {
		t.Fatal("a challenge was taken by another account")
	}
	if !a.takeChallenge(c, victim, now) || a.takeChallenge(c, victim, now) {
		t.Fatal("a challenge is answered exactly once by its account")
	}
	// Expired challenges free their quota.
	later := now.Add(ChallengeTTL + time.Second)
	if _, _, err := a.newChallenge(flooder, "10.0.0.1", later); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

// TestTokenSlotsPerAccount: one account logging in again and again keeps at
// most its quota of tokens (its oldest goes); it never takes another
// account's slot. Today one free patient account could hold every slot.
func TestTokenSlotsPerAccount(t *testing.T) {
	a := newAuthStore(testLimits(6, 3))
	defer a.close()
	now := time.Now()
	var greedy, other crypto.Address
	greedy[0], other[0] = 1, 2
	var toks []string
	for range 50 {
		tok, err := a.add(&session{addr: greedy, expires: now.Add(time.Hour)}, now)
		if err != nil {
			t.Fatalf("greedy login: %v", err)
		}
		toks = append(toks, tok)
	}
	if a.count() != 3 {
		t.Fatalf("%d tokens held, per-account cap 3", a.count())
	}
	if a.lookup(toks[0], now) != nil || a.lookup(toks[49], now) == nil {
		t.Fatal("the oldest token should go, the newest stay")
	}
	for i := range 3 {
		if _, err := a.add(&session{addr: other, expires: now.Add(time.Hour)}, now); err != nil {
			t.Fatalf("other account's login %d: %v", i, err)
		}
	}
}

func TestTokensExpireAndAreWiped(t *testing.T) {
	a := newAuthStore(testLimits(2, 2))
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
	for i := range 2 {
		if _, err := a.add(&session{addr: crypto.Address{byte(i + 1)}, expires: now.Add(time.Hour)}, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.add(&session{addr: crypto.Address{9}, expires: now.Add(time.Hour)}, now); err != errFull {
		t.Fatalf("third token: %v", err)
	}
	a.close()
}

func TestRender(t *testing.T) {
	in := []byte(`{"id":"ab","meta":{"profile":["http://x"]},"resourceType":"Observation","valueQuantity":{"value":4.0}}`)
	out, err := render(in, &records.Version{Record: consent.RecordID{0xab}, Version: 3, Created: 1700000000})
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
	if string(m["id"]) != `"ab000000000000000000000000000000"` {
		t.Fatalf("id %s: the record id, whatever the content carried", m["id"])
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

// TestKeyCacheZeroesWhatItHeld: eviction and wipe zero the key bytes the
// cache held, not copies.
func TestKeyCacheZeroesWhatItHeld(t *testing.T) {
	c := newKeyCache(1)
	one, two := [32]byte{1}, [32]byte{2}
	c.put(consent.RecordID{1}, 1, one)
	held := c.m[versionRef{consent.RecordID{1}, 1}]
	c.put(consent.RecordID{2}, 1, two) // evicts the first
	if *held != ([32]byte{}) {
		t.Fatal("evicted key not zeroed")
	}
	held = c.m[versionRef{consent.RecordID{2}, 1}]
	c.wipe()
	if *held != ([32]byte{}) || len(c.m) != 0 {
		t.Fatal("wiped key not zeroed")
	}
}

// TestTokensNeverLookLikeFlags: a token is given on command lines
// (medchain fhir revoke TOKEN), where one starting with '-' would be read
// as a flag. Without the redraw about one token in 64 did.
func TestTokensNeverLookLikeFlags(t *testing.T) {
	a := newAuthStore(testLimits(5000, 5000))
	defer a.close()
	now := time.Now()
	var acct crypto.Address
	firsts := map[byte]bool{}
	for range 4000 {
		tok, err := a.add(&session{addr: acct, expires: now.Add(time.Hour)}, now)
		if err != nil {
			t.Fatal(err)
		}
		if tok[0] == '-' {
			t.Fatalf("token %q starts with '-'", tok)
		}
		if raw, err := b64.DecodeString(tok); err != nil || len(raw) != TokenSize {
			t.Fatalf("token %q: %d bytes, %v", tok, len(raw), err)
		}
		firsts[tok[0]] = true
	}
	// Every other first character still occurs: the redraw removed '-' and
	// nothing else.
	if len(firsts) != 63 || firsts['-'] {
		t.Fatalf("%d distinct first characters, want the 63 that are not '-'", len(firsts))
	}
}
