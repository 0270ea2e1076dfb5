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
	"github.com/medchain/medchain/x/session"
)

type loginOpts = fhir.LoginOptions

func loginErr(t testing.TB, name, scope string, o ...func(*loginOpts)) (*fhir.TokenResponse, error) {
	t.Helper()
	opts := loginOptions(t, name, scope)
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

// challengeFor asks for a challenge bound to the account at addr.
func challengeFor(t testing.TB, addr crypto.Address) (fhir.ChallengeResponse, []byte) {
	t.Helper()
	var ch fhir.ChallengeResponse
	r := postJSON(t, "/fhir/auth/challenge", fhir.ChallengeRequest{Address: addr.String()})
	if r.status != http.StatusOK {
		t.Fatalf("challenge: HTTP %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &ch); err != nil {
		t.Fatal(err)
	}
	c, _ := b64.DecodeString(ch.Challenge)
	return ch, c
}

// tokenRequest builds a token request by hand for the account of owner:
// with sk, for the session key sk (signed by signer, sealing sk); without,
// signed by signer with no session.
func tokenRequest(t testing.TB, signer, owner, sk *crypto.PrivKey, scope string) fhir.TokenRequest {
	t.Helper()
	ch, c := challengeFor(t, owner.Address())
	req := fhir.TokenRequest{Address: owner.Address().String(), Challenge: ch.Challenge, Scope: scope, Expires: time.Now().Add(time.Hour).Unix()}
	var digest, sess []byte
	if sk != nil {
		orgKey, _ := crypto.ParseEncKey(ch.OrgEncKey)
		enc, ct, err := fhir.SealDelegation(nil, orgKey, sk, owner.Address(), ch.ChainID, ch.Org, c)
		if err != nil {
			t.Fatal(err)
		}
		req.Session = sk.PubKey().String()
		req.Delegation = &fhir.Delegation{Enc: b64.EncodeToString(enc), CT: b64.EncodeToString(ct)}
		h := sha256Sum(append(append([]byte{}, enc...), ct...))
		digest = h[:]
		pub := sk.PubKey()
		sess = pub[:]
	}
	req.Signature = b64.EncodeToString(signer.Sign(fhir.TokenSignBytes(ch.ChainID, ch.Org, c, owner.Address(), scope, req.Expires, "", sess, digest)))
	return req
}

// delegate puts a session for sk on chain for the named account.
func delegate(t testing.TB, name string, sk *crypto.PrivKey, l session.Limits) {
	t.Helper()
	if err := loginOptions(t, name, "").Delegate(context.Background(), sk, l); err != nil {
		t.Fatalf("delegate: %v", err)
	}
}

func testChallengeRules(t *testing.T) {
	p1, p2 := key(t, "patient1"), key(t, "patient2")
	req := tokenRequest(t, p1, p1, nil, "patient/*.read")
	if r := postJSON(t, "/fhir/auth/token", req); r.status != http.StatusOK {
		t.Fatalf("first use: HTTP %d %s", r.status, r.body)
	}
	if r := postJSON(t, "/fhir/auth/token", req); r.status != http.StatusUnauthorized {
		t.Fatalf("replayed challenge: HTTP %d %s", r.status, r.body)
	}
	forged := tokenRequest(t, p1, p2, nil, "patient/*.read") // p1 signs for p2's challenge
	if r := postJSON(t, "/fhir/auth/token", forged); r.status != http.StatusUnauthorized {
		t.Fatalf("signature of another key: HTTP %d %s", r.status, r.body)
	}
	// A challenge made for p1 does not serve a request naming p2.
	other := tokenRequest(t, p1, p1, nil, "patient/*.read")
	other.Address = p2.Address().String()
	if r := postJSON(t, "/fhir/auth/token", other); r.status != http.StatusUnauthorized {
		t.Fatalf("challenge of another account: HTTP %d %s", r.status, r.body)
	}
	changed := tokenRequest(t, p1, p1, nil, "patient/*.read")
	changed.Scope = "patient/*.*" // not what was signed
	if r := postJSON(t, "/fhir/auth/token", changed); r.status != http.StatusUnauthorized {
		t.Fatalf("altered scope: HTTP %d %s", r.status, r.body)
	}
	// Handing the node the account's own seeds as a "session" is refused:
	// only a key delegated on chain is a session key.
	own := tokenRequest(t, p1, p1, p1, "patient/*.read")
	if r := postJSON(t, "/fhir/auth/token", own); r.status != http.StatusUnauthorized {
		t.Fatalf("account key as a session: HTTP %d %s", r.status, r.body)
	}
	// A session key that was never delegated.
	stray, _ := crypto.GenerateKey(nil)
	if r := postJSON(t, "/fhir/auth/token", tokenRequest(t, stray, p1, stray, "patient/*.read")); r.status != http.StatusUnauthorized {
		t.Fatalf("undelegated session: HTTP %d %s", r.status, r.body)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
