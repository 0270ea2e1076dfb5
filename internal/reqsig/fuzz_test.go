package reqsig

import (
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// FuzzParseHeaders feeds arbitrary header values (an empty string is an
// absent header) to the parsers and to both verify paths. Parsing must
// either fail with ErrMissing or ErrMalformed or give values whose text form
// is exactly the input (one text form per value); verifying must fail with a
// sentinel error and remember nothing. Seeds: testdata/fuzz/FuzzParseHeaders
// and the table below.
func FuzzParseHeaders(f *testing.F) {
	key, fwd := testKey(f, 1), testKey(f, 7)
	req := httptest.NewRequest(http.MethodGet, blobPath, nil)
	signWith(req, key, testChain, t0.Add(time.Minute).Unix(), [NonceSize]byte{9, 8, 7}, nil) // as in the checked-in valid-* seeds
	if err := SignForward(req, fwd, testChain); err != nil {
		f.Fatal(err)
	}
	h := req.Header
	valid := []string{h.Get(HeaderSigner), h.Get(HeaderExpires), h.Get(HeaderNonce), h.Get(HeaderSignature), h.Get(HeaderForwarder), h.Get(HeaderForwarderSignature)}
	f.Add(valid[0], valid[1], valid[2], valid[3], valid[4], valid[5])
	f.Add(valid[0], valid[1], valid[2], valid[3], "", "")
	f.Add("", "", "", "", "", "")
	f.Add(valid[0], "0"+valid[1], valid[2], valid[3], valid[4], valid[5])
	f.Add(valid[0], "-1", valid[2], valid[3], valid[4], valid[5])
	f.Add(valid[0], "99999999999999999999", valid[2], valid[3], valid[4], valid[5])

	names := []string{HeaderSigner, HeaderExpires, HeaderNonce, HeaderSignature, HeaderForwarder, HeaderForwarderSignature}
	f.Fuzz(func(t *testing.T, signer, expires, nonce, sig, forwarder, forwarderSig string) {
		req := httptest.NewRequest(http.MethodGet, blobPath, nil)
		for i, v := range []string{signer, expires, nonce, sig, forwarder, forwarderSig} {
			if v != "" {
				req.Header[names[i]] = []string{v}
			}
		}
		if p, err := parseRequest(req.Header); err != nil {
			if !errors.Is(err, ErrMissing) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("parseRequest: unexpected error %v", err)
			}
		} else if hex.EncodeToString(p.signer[:]) != signer || strconv.FormatInt(p.expires, 10) != expires ||
			hex.EncodeToString(p.nonce[:]) != nonce || p.nonceHex != nonce ||
			hex.EncodeToString(p.sig[:]) != sig || p.sigHex != sig {
			t.Fatalf("parseRequest accepted a non-canonical form: %+v", p)
		}
		if fw, err := parseForwarder(req.Header); err != nil {
			if !errors.Is(err, ErrMissing) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("parseForwarder: unexpected error %v", err)
			}
		} else if hex.EncodeToString(fw.key[:]) != forwarder || hex.EncodeToString(fw.sig[:]) != forwarderSig {
			t.Fatalf("parseForwarder accepted a non-canonical form: %+v", fw)
		}

		// Verifying succeeds only for the seed's exact valid headers.
		isValid := signer == valid[0] && expires == valid[1] && nonce == valid[2] && sig == valid[3]
		v := newVerifier(newClock(t0))
		_, err := v.Verify(req, nil)
		checkVerifyErr(t, "Verify", err, isValid, v)
		v = newVerifier(newClock(t0))
		_, _, err = v.VerifyForwarded(req, nil)
		checkVerifyErr(t, "VerifyForwarded", err, isValid && forwarder == valid[4] && forwarderSig == valid[5], v)
	})
}

func checkVerifyErr(t *testing.T, what string, err error, wantOK bool, v *Verifier) {
	t.Helper()
	if wantOK {
		if err != nil {
			t.Fatalf("%s of valid headers: %v", what, err)
		}
		return
	}
	if err == nil {
		t.Fatalf("%s accepted fuzzed headers", what)
	}
	known := false
	for _, s := range []error{ErrMissing, ErrMalformed, ErrExpired, ErrTooFarAhead, ErrBadSignature} {
		known = known || errors.Is(err, s)
	}
	if !known {
		t.Fatalf("%s: unexpected error %v", what, err)
	}
	if v.Len() != 0 {
		t.Fatalf("%s remembered a nonce of a rejected request", what)
	}
}
