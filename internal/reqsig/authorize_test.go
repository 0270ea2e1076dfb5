package reqsig

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/ratelimit"
)

// knownOnly authorizes only the given keys, as the node's account check does.
func knownOnly(keys ...*crypto.PrivKey) func(crypto.PubKey) error {
	return func(pub crypto.PubKey) error {
		for _, k := range keys {
			if k.PubKey() == pub {
				return nil
			}
		}
		return errors.New("no account")
	}
}

// TestUnknownKeysDoNotFillNonceCache is the replay-cache flood: requests
// correctly signed by made-up keys are refused before their nonces are
// stored, so the cache stays empty and a real account is never told busy.
func TestUnknownKeysDoNotFillNonceCache(t *testing.T) {
	c := newClock(t0)
	v := newVerifier(c)
	v.MaxNonces = 4
	member := testKey(t, 1)
	v.Authorize = knownOnly(member)
	for i := range 16 {
		stranger := testKey(t, byte(100+i))
		_, err := v.Verify(signed(t, stranger, http.MethodGet, blobPath, nil), nil)
		if !errors.Is(err, ErrUnauthorized) || StatusCode(err) != http.StatusForbidden {
			t.Fatalf("stranger %d: %v (HTTP %d), want ErrUnauthorized (403)", i, err, StatusCode(err))
		}
	}
	if n := v.Len(); n != 0 {
		t.Fatalf("nonce cache holds %d entries after a flood of unknown keys, want 0", n)
	}
	if _, err := v.Verify(signed(t, member, http.MethodGet, blobPath, nil), nil); err != nil {
		t.Fatalf("a member after the flood: %v", err)
	}
}

// TestAuthorizeBeforeSignature: Authorize sees the claimed key even when the
// signature is garbage, so a forged request costs a lookup, not a nonce.
func TestAuthorizeBeforeSignature(t *testing.T) {
	c := newClock(t0)
	v := newVerifier(c)
	called := 0
	v.Authorize = func(crypto.PubKey) error { called++; return errors.New("no account") }
	req := signed(t, testKey(t, 2), http.MethodGet, blobPath, nil)
	req.Header.Set(HeaderSignature, string(make([]byte, 128)))
	if _, err := v.Verify(req, nil); !errors.Is(err, ErrMalformed) || called != 0 {
		t.Fatalf("malformed header: %v after %d Authorize calls, want ErrMalformed before Authorize", err, called)
	}
	req = signed(t, testKey(t, 2), http.MethodGet, blobPath, nil)
	sig := []byte(req.Header.Get(HeaderSignature))
	// Another hex digit, so the header stays well-formed ('a' ^ 1 would not).
	if sig[0] == '0' {
		sig[0] = '1'
	} else {
		sig[0] = '0'
	}
	req.Header.Set(HeaderSignature, string(sig))
	if _, err := v.Verify(req, nil); !errors.Is(err, ErrUnauthorized) || called != 1 {
		t.Fatalf("bad signature from an unknown key: %v, want ErrUnauthorized", err)
	}
}

// TestPrecheckNeedsNoBody: the headers, expiry and account are judged
// without the body, and nothing is remembered.
func TestPrecheckNeedsNoBody(t *testing.T) {
	c := newClock(t0)
	v := newVerifier(c)
	member := testKey(t, 1)
	v.Authorize = knownOnly(member)
	body := []byte("ciphertext")
	req := signed(t, member, http.MethodPut, blobPath, body)
	if pub, err := v.Precheck(req); err != nil || pub != member.PubKey() {
		t.Fatalf("Precheck of a member's request: %v, %v", pub, err)
	}
	if v.Len() != 0 {
		t.Fatal("Precheck remembered a nonce")
	}
	if _, err := v.Precheck(signed(t, testKey(t, 9), http.MethodPut, blobPath, body)); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Precheck of a stranger: %v, want ErrUnauthorized", err)
	}
	c.Advance(2 * time.Minute)
	if _, err := v.Precheck(req); !errors.Is(err, ErrExpired) {
		t.Fatalf("Precheck after expiry: %v, want ErrExpired", err)
	}
}

// TestVerifyHash authenticates an upload from the hash its path names: the
// same signature as over the body itself.
func TestVerifyHash(t *testing.T) {
	c := newClock(t0)
	v := newVerifier(c)
	body := []byte("ciphertext")
	key := testKey(t, 1)
	if _, err := v.VerifyHash(signed(t, key, http.MethodPut, blobPath, body), sha256.Sum256(body)); err != nil {
		t.Fatalf("VerifyHash with the body's hash: %v", err)
	}
	if _, err := v.VerifyHash(signed(t, key, http.MethodPut, blobPath, body), sha256.Sum256([]byte("other"))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VerifyHash with another hash: %v, want ErrBadSignature", err)
	}
}

// TestAdmitRateLimit: a per-key limit runs after the signature, answers 429,
// and stores no nonce for the refused request.
func TestAdmitRateLimit(t *testing.T) {
	c := newClock(t0)
	v := newVerifier(c)
	lim := ratelimit.New("key", 1, 1, 16, c.Now)
	v.Admit = func(pub crypto.PubKey) error { return lim.Allow(string(pub[:])) }
	key := testKey(t, 1)
	if _, err := v.Verify(signed(t, key, http.MethodGet, blobPath, nil), nil); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(signed(t, key, http.MethodGet, blobPath, nil), nil)
	if !errors.Is(err, ratelimit.ErrLimited) || StatusCode(err) != http.StatusTooManyRequests {
		t.Fatalf("second request within a second: %v (HTTP %d), want 429", err, StatusCode(err))
	}
	if v.Len() != 1 {
		t.Fatalf("nonce cache holds %d, want 1 (the refused request's nonce not stored)", v.Len())
	}
}
