package reqsig

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// forward builds the request a gateway sends a peer for the user's request.
func forward(t *testing.T, user *http.Request, body []byte, gateway byte, chainID string) *http.Request {
	t.Helper()
	out := httptest.NewRequest(user.Method, user.URL.RequestURI(), bytes.NewReader(body))
	CopyHeaders(out.Header, user.Header)
	if err := SignForward(out, testKey(t, gateway), chainID); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestForwardRoundTrip(t *testing.T) {
	userKey := testKey(t, 1)
	c := newClock(t0)
	gateway, peer := newVerifier(c), newVerifier(c)
	for _, tc := range []struct {
		name, method string
		body         []byte
	}{
		{"get", http.MethodGet, nil},
		{"put", http.MethodPut, []byte("ciphertext")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := signed(t, userKey, tc.method, blobPath+"?purpose=treatment", tc.body)

			// The gateway checks the user's request itself, once.
			if _, err := gateway.Verify(req, tc.body); err != nil {
				t.Fatal(err)
			}
			out := forward(t, req, tc.body, 7, testChain)
			if !IsForwarded(out) || IsForwarded(req) {
				t.Fatal("IsForwarded is wrong")
			}

			// The peer learns both keys, once.
			user, fwd, err := peer.VerifyForwarded(out, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if user != userKey.PubKey() || fwd != testKey(t, 7).PubKey() {
				t.Fatalf("VerifyForwarded = %s, %s", user, fwd)
			}
			if _, _, err := peer.VerifyForwarded(out, tc.body); !errors.Is(err, ErrReplay) {
				t.Fatalf("forwarded twice: %v, want ErrReplay", err)
			}

			// Another gateway forwarding the same request has its own
			// namespace; a direct request too.
			if _, _, err := peer.VerifyForwarded(forward(t, req, tc.body, 8, testChain), tc.body); err != nil {
				t.Fatalf("second gateway: %v", err)
			}
			if _, err := peer.Verify(req, tc.body); err != nil {
				t.Fatalf("direct after forwarded: %v", err)
			}
			if _, err := peer.Verify(req, tc.body); !errors.Is(err, ErrReplay) {
				t.Fatalf("direct twice: %v, want ErrReplay", err)
			}
		})
	}
}

func TestForwardRejects(t *testing.T) {
	userKey := testKey(t, 1)
	body := []byte("ciphertext")
	tests := []struct {
		name    string
		edit    func(r *http.Request) []byte
		wantErr error
	}{
		{"no forwarder", func(r *http.Request) []byte { r.Header.Del(HeaderForwarder); return body }, ErrMissing},
		{"no forwarder signature", func(r *http.Request) []byte { r.Header.Del(HeaderForwarderSignature); return body }, ErrMissing},
		{"no user signature", func(r *http.Request) []byte { r.Header.Del(HeaderSignature); return body }, ErrMissing},
		{"malformed forwarder", func(r *http.Request) []byte {
			r.Header.Set(HeaderForwarder, strings.ToUpper(r.Header.Get(HeaderForwarder)))
			return body
		}, ErrMalformed},
		{"forwarder twice", func(r *http.Request) []byte {
			r.Header.Add(HeaderForwarder, testKey(t, 8).PubKey().String())
			return body
		}, ErrMalformed},
		{"forwarder key swapped", func(r *http.Request) []byte {
			r.Header.Set(HeaderForwarder, testKey(t, 8).PubKey().String())
			return body
		}, ErrBadSignature},
		{"forwarder signature from another request", func(r *http.Request) []byte {
			other := forward(t, signed(t, userKey, http.MethodPut, blobPath, body), body, 7, testChain)
			r.Header.Set(HeaderForwarderSignature, other.Header.Get(HeaderForwarderSignature))
			return body
		}, ErrBadSignature},
		{"body changed by the gateway", func(r *http.Request) []byte { return []byte("other") }, ErrBadSignature},
		{"path changed by the gateway", func(r *http.Request) []byte { r.URL.Path += "x"; return body }, ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			peer := newVerifier(newClock(t0))
			out := forward(t, signed(t, userKey, http.MethodPut, blobPath, body), body, 7, testChain)
			got := tc.edit(out)
			if _, _, err := peer.VerifyForwarded(out, got); !errors.Is(err, tc.wantErr) {
				t.Fatalf("VerifyForwarded: %v, want %v", err, tc.wantErr)
			}
			if n := peer.Len(); n != 0 {
				t.Fatalf("a rejected request left %d nonces", n)
			}
		})
	}

	t.Run("forwarder signed for another chain", func(t *testing.T) {
		peer := newVerifier(newClock(t0))
		out := forward(t, signed(t, userKey, http.MethodPut, blobPath, body), body, 7, "medchain-other")
		if _, _, err := peer.VerifyForwarded(out, body); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("VerifyForwarded: %v, want ErrBadSignature", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		c := newClock(t0)
		peer := newVerifier(c)
		out := forward(t, signed(t, userKey, http.MethodPut, blobPath, body), body, 7, testChain)
		c.Advance(DefaultMaxTTL)
		if _, _, err := peer.VerifyForwarded(out, body); !errors.Is(err, ErrExpired) {
			t.Fatalf("VerifyForwarded: %v, want ErrExpired", err)
		}
	})
	t.Run("sign forward without the user's headers", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, blobPath, nil)
		if err := SignForward(req, testKey(t, 7), testChain); !errors.Is(err, ErrMissing) {
			t.Fatalf("SignForward: %v, want ErrMissing", err)
		}
	})
}
