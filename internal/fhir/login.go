package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/medchain/medchain/crypto"
	xsession "github.com/medchain/medchain/x/session"
)

// LoginOptions shape a token request.
type LoginOptions struct {
	Scope   string        // space-separated SMART scopes
	TTL     time.Duration // DefaultTokenTTL when zero; at most MaxTokenTTL
	Patient string        // launch context for patient/ scopes ("" for a patient's own)
	// Account is the account the key signs for; zero means the key's own
	// address (set it after a key rotation).
	Account crypto.Address
	// NoDelegation asks for a token without a session: the node can then
	// serve only what its organization's key opens, and cannot write.
	NoDelegation bool
	// OrgKey returns the organization's encryption key as proven from the
	// chain (internal/lightproof), not as this node says it; the session
	// key is sealed only when the node's key matches it. Required unless
	// NoDelegation.
	OrgKey func(ctx context.Context, org string) (crypto.EncKey, error)
	// Delegate puts the session on chain before the token is asked for: it
	// submits session/delegate for sk with limits l, signed by the
	// account's key, and records/session_keys with the data keys the
	// account can re-wrap for it, and waits for their blocks
	// (internal/client.StartSession). Required unless NoDelegation.
	Delegate func(ctx context.Context, sk *crypto.PrivKey, l xsession.Limits) error
	Now      func() time.Time
	Rand     io.Reader // session key and HPKE randomness; crypto/rand when nil
}

// Login gets a bearer token from the FHIR interface at base (".../fhir").
// Unless told not to, it makes a fresh session key, has it delegated on
// chain within limits derived from the scopes (o.Delegate), seals the
// session key (never key) to the organization, whose key it checks with
// o.OrgKey, and signs the token request with the session key.
func Login(ctx context.Context, hc *http.Client, base string, key *crypto.PrivKey, o LoginOptions) (*TokenResponse, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TTL == 0 {
		o.TTL = DefaultTokenTTL
	}
	if o.TTL < time.Second || o.TTL > MaxTokenTTL {
		return nil, fmt.Errorf("token lifetime %s: between 1s and %s", o.TTL, MaxTokenTTL)
	}
	if o.Account.IsZero() {
		o.Account = key.Address()
	}
	if !o.NoDelegation && (o.OrgKey == nil || o.Delegate == nil) {
		return nil, errors.New("a session token needs OrgKey (a proven organization key) and Delegate (the on-chain delegation)")
	}
	base = strings.TrimRight(base, "/")
	expires := o.Now().Add(o.TTL).Unix()
	var lim xsession.Limits
	if !o.NoDelegation {
		var err error
		if lim, err = SessionLimits(o.Scope, expires); err != nil {
			return nil, fmt.Errorf("scope: %w", err)
		}
	}
	var ch ChallengeResponse
	if err := postJSON(ctx, hc, base+"/auth/challenge", ChallengeRequest{Address: o.Account.String()}, &ch); err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	challenge, err := b64.DecodeString(ch.Challenge)
	if err != nil || len(challenge) != ChallengeSize {
		return nil, fmt.Errorf("challenge: malformed")
	}
	req := TokenRequest{Address: o.Account.String(), Challenge: ch.Challenge, Scope: o.Scope, Expires: expires, Patient: o.Patient}
	signer := key
	var digest, sessKey []byte
	if !o.NoDelegation {
		// The organization's key is checked before anything is delegated:
		// a node that lies about it gets nothing, not even a session.
		orgKey, err := crypto.ParseEncKey(ch.OrgEncKey)
		if err != nil {
			return nil, fmt.Errorf("challenge: organization key: %w", err)
		}
		known, err := o.OrgKey(ctx, ch.Org)
		if err != nil {
			return nil, fmt.Errorf("organization %s: %w", ch.Org, err)
		}
		if known != orgKey {
			return nil, fmt.Errorf("the node's key for %s is not the organization's key on chain: not handing it a session", ch.Org)
		}
		sk, err := crypto.GenerateKey(o.Rand)
		if err != nil {
			return nil, err
		}
		// The challenge lasts ChallengeTTL: a delegation with very many data
		// keys to re-wrap may outlast it (then log in again; the session
		// registered stays usable by nobody and expires).
		if err := o.Delegate(ctx, sk, lim); err != nil {
			return nil, fmt.Errorf("delegate the session on chain: %w", err)
		}
		enc, ct, err := SealDelegation(o.Rand, orgKey, sk, o.Account, ch.ChainID, ch.Org, challenge)
		if err != nil {
			return nil, fmt.Errorf("seal the session key: %w", err)
		}
		pub := sk.PubKey()
		req.Session = pub.String()
		req.Delegation = &Delegation{Enc: b64.EncodeToString(enc), CT: b64.EncodeToString(ct)}
		digest, sessKey, signer = delegationDigest(enc, ct), pub[:], sk
	}
	sig := signer.Sign(TokenSignBytes(ch.ChainID, ch.Org, challenge, o.Account, req.Scope, req.Expires, req.Patient, sessKey, digest))
	req.Signature = b64.EncodeToString(sig)
	var tok TokenResponse
	if err := postJSON(ctx, hc, base+"/auth/token", req, &tok); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return &tok, nil
}

// postJSON posts v (nil: no body) and decodes the answer; an
// OperationOutcome answer becomes an error with its diagnostics.
func postJSON(ctx context.Context, hc *http.Client, url string, v, out any) error {
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return err
	}
	if v != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var oo struct {
			Issue []struct {
				Diagnostics string `json:"diagnostics"`
			} `json:"issue"`
		}
		if json.Unmarshal(b, &oo) == nil && len(oo.Issue) > 0 {
			return fmt.Errorf("HTTP %d: %s", resp.StatusCode, oo.Issue[0].Diagnostics)
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}
