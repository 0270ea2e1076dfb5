package fhir_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/fhir"
)

type loginOpts = fhir.LoginOptions

func loginErr(t testing.TB, name, scope string, o ...func(*loginOpts)) (*fhir.TokenResponse, error) {
	t.Helper()
	opts := fhir.LoginOptions{Scope: scope}
	for _, f := range o {
		f(&opts)
	}
	return fhir.Login(context.Background(), nil, devNode(t)+"/fhir", key(t, name), opts)
}

var b64 = base64.RawURLEncoding

func postJSON(t testing.TB, path string, v any) reply {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := hc.Post(devNode(t)+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
}

// tokenRequest builds a signed token request by hand: signer signs,
// owner's seeds are delegated (nil: no delegation).
func tokenRequest(t testing.TB, signer, owner *crypto.PrivKey, scope string) fhir.TokenRequest {
	t.Helper()
	var ch fhir.ChallengeResponse
	if err := json.Unmarshal(postJSON(t, "/fhir/auth/challenge", nil).body, &ch); err != nil {
		t.Fatal(err)
	}
	c, _ := b64.DecodeString(ch.Challenge)
	req := fhir.TokenRequest{Address: signer.Address().String(), Challenge: ch.Challenge, Scope: scope, Expires: time.Now().Add(time.Hour).Unix()}
	var digest []byte
	if owner != nil {
		orgKey, _ := crypto.ParseEncKey(ch.OrgEncKey)
		// The seeds are owner's, the info binds signer's address.
		enc, ct, err := fhir.SealDelegation(nil, orgKey, owner, ch.ChainID, ch.Org, c)
		if err != nil {
			t.Fatal(err)
		}
		req.Delegation = &fhir.Delegation{Enc: b64.EncodeToString(enc), CT: b64.EncodeToString(ct)}
		digest = append(append([]byte{}, enc...), ct...)
		h := sha256Sum(digest)
		digest = h[:]
	}
	req.Signature = b64.EncodeToString(signer.Sign(fhir.TokenSignBytes(ch.ChainID, ch.Org, c, signer.Address(), scope, req.Expires, "", digest)))
	return req
}

func testChallengeRules(t *testing.T) {
	p1, p2 := key(t, "patient1"), key(t, "patient2")
	req := tokenRequest(t, p1, p1, "patient/*.read")
	if r := postJSON(t, "/fhir/auth/token", req); r.status != http.StatusOK {
		t.Fatalf("first use: HTTP %d %s", r.status, r.body)
	}
	if r := postJSON(t, "/fhir/auth/token", req); r.status != http.StatusUnauthorized {
		t.Fatalf("replayed challenge: HTTP %d %s", r.status, r.body)
	}
	forged := tokenRequest(t, p1, nil, "patient/*.read")
	forged.Address = p2.Address().String() // p1's signature claimed for p2
	if r := postJSON(t, "/fhir/auth/token", forged); r.status != http.StatusUnauthorized {
		t.Fatalf("signature of another key: HTTP %d %s", r.status, r.body)
	}
	wrongSeeds := tokenRequest(t, p1, p2, "patient/*.read")
	if r := postJSON(t, "/fhir/auth/token", wrongSeeds); r.status != http.StatusUnauthorized {
		t.Fatalf("another account's seeds: HTTP %d %s", r.status, r.body)
	}
	changed := tokenRequest(t, p1, nil, "patient/*.read")
	changed.Scope = "patient/*.*" // not what was signed
	if r := postJSON(t, "/fhir/auth/token", changed); r.status != http.StatusUnauthorized {
		t.Fatalf("altered scope: HTTP %d %s", r.status, r.body)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
