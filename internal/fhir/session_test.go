package fhir_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/session"
)

const conditionJSON = `{"resourceType":"Condition","subject":{"reference":"%s"},
	"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},"onsetDateTime":"2022-05-01"}`

// TestSessionTokens: a FHIR token stands for an on-chain session, never for
// the account's key. The node decrypts with the session's key only what the
// session's limits cover, and a revoked or expired session ends the token
// and every token request made with the session key.
func TestSessionTokens(t *testing.T) {
	me := newPatient(t, "session")
	ref := "Patient/" + addr(t, me).String()
	writer := login(t, me, "patient/*.read patient/*.write")
	if !writer.Delegated || writer.Session == "" {
		t.Fatalf("token without a session: %+v", writer)
	}
	if writer.Session == key(t, me).PubKey().String() {
		t.Fatal("the session key is the account key")
	}
	obs := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Observation", writer.AccessToken,
		observationJSON(ref, "2339-0", "Glucose", "2024-03-01T08:30:00Z", "98")), http.StatusCreated))
	cond := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Condition", writer.AccessToken, fmt.Sprintf(conditionJSON, ref)), http.StatusCreated))
	// The writing session reads back what it wrote.
	want(t, do(t, http.MethodGet, "/fhir/Condition/"+cond, writer.AccessToken, nil), http.StatusOK)

	// A new session for Observations only: the client re-wrapped the
	// Observation's key to it, so the node opens it with the session key.
	reader := login(t, me, "patient/Observation.read")
	want(t, do(t, http.MethodGet, "/fhir/Observation/"+obs, reader.AccessToken, nil), http.StatusOK)
	want(t, do(t, http.MethodGet, "/fhir/Condition/"+cond, reader.AccessToken, nil), http.StatusForbidden)
	if r := do(t, http.MethodPost, "/fhir/Observation", reader.AccessToken, observationJSON(ref, "2339-0", "Glucose", "2024-03-02T08:30:00Z", "99")); r.status != http.StatusForbidden {
		t.Fatalf("write through a read session: HTTP %d %s", r.status, r.body)
	}

	// A token cannot ask for more than its session covers.
	sk, _ := crypto.GenerateKey(nil)
	delegate(t, me, sk, session.Limits{ResourceTypes: []string{"Observation"}, Purpose: "fhir", Expires: time.Now().Add(time.Hour).Unix()})
	if r := postJSON(t, "/fhir/auth/token", tokenRequest(t, sk, key(t, me), sk, "patient/*.read")); r.status != http.StatusForbidden {
		t.Fatalf("token wider than its session: HTTP %d %s", r.status, r.body)
	}
	if r := postJSON(t, "/fhir/auth/token", tokenRequest(t, sk, key(t, me), sk, "patient/Observation.write")); r.status != http.StatusForbidden {
		t.Fatalf("write token on a read-only session: HTTP %d %s", r.status, r.body)
	}
	// The request is good for one challenge: a recorded one replayed is refused.
	rec := tokenRequest(t, sk, key(t, me), sk, "patient/Observation.read")
	first := postJSON(t, "/fhir/auth/token", rec)
	if first.status != http.StatusOK {
		t.Fatalf("session token: HTTP %d %s", first.status, first.body)
	}
	if r := postJSON(t, "/fhir/auth/token", rec); r.status != http.StatusUnauthorized {
		t.Fatalf("replayed token request: HTTP %d %s", r.status, r.body)
	}

	// Revocation ends the token at the next block, and whoever holds the
	// session key (the organization's gateway) can make no new token.
	c := client.New(devNode(t))
	if _, err := c.Send(context.Background(), key(t, me), &session.MsgRevoke{PubKey: mustPub(t, reader.Session)}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if r := do(t, http.MethodGet, "/fhir/Observation/"+obs, reader.AccessToken, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("revoked session's token: HTTP %d %s", r.status, r.body)
	}
	if _, err := c.Send(context.Background(), key(t, me), &session.MsgRevoke{PubKey: sk.PubKey()}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if r := postJSON(t, "/fhir/auth/token", tokenRequest(t, sk, key(t, me), sk, "patient/Observation.read")); r.status != http.StatusUnauthorized {
		t.Fatalf("new token for a revoked session: HTTP %d %s", r.status, r.body)
	}
	// The writer's session is untouched.
	want(t, do(t, http.MethodGet, "/fhir/Observation/"+obs, writer.AccessToken, nil), http.StatusOK)
}

// TestSessionExpiresInBlockTime: a token asked for longer than its session
// ends with the session.
func TestSessionExpiresInBlockTime(t *testing.T) {
	me := newPatient(t, "short-session")
	sk, _ := crypto.GenerateKey(nil)
	delegate(t, me, sk, session.Limits{ResourceTypes: []string{session.AllTypes}, Purpose: "fhir", Expires: time.Now().Add(3 * time.Second).Unix()})
	r := postJSON(t, "/fhir/auth/token", tokenRequest(t, sk, key(t, me), sk, "patient/*.read"))
	if r.status != http.StatusOK {
		t.Skipf("the session expired before its token was asked for: HTTP %d %s", r.status, r.body)
	}
	tok, _ := r.json(t)["access_token"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := do(t, http.MethodGet, "/fhir/Observation?patient=Patient/"+addr(t, me).String(), tok, nil)
		if got.status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token of an expired session still answered: HTTP %d", got.status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := postJSON(t, "/fhir/auth/token", tokenRequest(t, sk, key(t, me), sk, "patient/*.read")); r.status != http.StatusUnauthorized {
		t.Fatalf("token for an expired session: HTTP %d %s", r.status, r.body)
	}
}

// TestChallengeFloodFromOneClient: requests from one address cannot take
// the challenges others need; an unknown account gets none at all.
func TestChallengeFloodFromOneClient(t *testing.T) {
	devNode(t)
	stranger, _ := crypto.GenerateKey(nil)
	if r := postJSON(t, "/fhir/auth/challenge", map[string]string{"address": stranger.Address().String()}); r.status != http.StatusUnauthorized {
		t.Fatalf("challenge for an unknown account: HTTP %d %s", r.status, r.body)
	}
	if r := postJSON(t, "/fhir/auth/challenge", nil); r.status != http.StatusBadRequest {
		t.Fatalf("anonymous challenge: HTTP %d %s", r.status, r.body)
	}
	flooder := newPatient(t, "flooder")
	throttled := 0
	for range 200 {
		r := postJSON(t, "/fhir/auth/challenge", map[string]string{"address": addr(t, flooder).String()})
		if r.status == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled < 190 {
		t.Fatalf("one account got %d of 200 challenges", 200-throttled)
	}
	// Another account still logs in.
	token(t, "doctor1", "user/*.read")
}

func mustPub(t testing.TB, s string) crypto.PubKey {
	t.Helper()
	p, err := crypto.ParsePubKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoginWithARevokedConsent: a grantee whose consent was revoked can
// still open a session; the client's signed listing of that patient's
// records is refused, and the login skips the patient instead of failing.
func TestLoginWithARevokedConsent(t *testing.T) {
	owner := newPatient(t, "revoked-owner")
	grantee := newPatient(t, "revoked-grantee")
	id := grant(t, owner, consent.MsgGrant{Grantee: consent.Account(addr(t, grantee)), Actions: consent.ActRead, Types: []string{"Observation"}})
	revoke(t, owner, id)
	if tok := login(t, grantee, "patient/*.read"); !tok.Delegated {
		t.Fatalf("token without a session: %+v", tok)
	}
}
