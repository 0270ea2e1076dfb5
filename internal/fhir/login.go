package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/medchain/medchain/crypto"
)

// LoginOptions shape a token request.
type LoginOptions struct {
	Scope   string        // space-separated SMART scopes
	TTL     time.Duration // DefaultTokenTTL when zero; at most MaxTokenTTL
	Patient string        // launch context for patient/ scopes ("" for a patient's own)
	// NoDelegation asks for a token without a session delegation: the node
	// can then serve only what its organization's key opens, and cannot write.
	NoDelegation bool
	// OrgKey, when set, returns the organization's encryption key as the
	// caller knows it (from the chain); a delegation is sealed only when the
	// node's key matches it.
	OrgKey func(ctx context.Context, org string) (crypto.EncKey, error)
	Now    func() time.Time
}

// Login gets a bearer token from the FHIR interface at base (".../fhir"):
// it asks for a challenge, signs the token request with key and, unless
// told not to, seals key's seeds to the organization as a session
// delegation.
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
	base = strings.TrimRight(base, "/")
	var ch ChallengeResponse
	if err := postJSON(ctx, hc, base+"/auth/challenge", nil, &ch); err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	challenge, err := b64.DecodeString(ch.Challenge)
	if err != nil || len(challenge) != ChallengeSize {
		return nil, fmt.Errorf("challenge: malformed")
	}
	req := TokenRequest{
		Address: key.Address().String(), Challenge: ch.Challenge, Scope: o.Scope,
		Expires: o.Now().Add(o.TTL).Unix(), Patient: o.Patient,
	}
	var digest []byte
	if !o.NoDelegation {
		orgKey, err := crypto.ParseEncKey(ch.OrgEncKey)
		if err != nil {
			return nil, fmt.Errorf("challenge: organization key: %w", err)
		}
		if o.OrgKey != nil {
			known, err := o.OrgKey(ctx, ch.Org)
			if err != nil {
				return nil, fmt.Errorf("organization %s: %w", ch.Org, err)
			}
			if known != orgKey {
				return nil, fmt.Errorf("the node's key for %s is not the organization's key on chain: not delegating", ch.Org)
			}
		}
		enc, ct, err := SealDelegation(nil, orgKey, key, ch.ChainID, ch.Org, challenge)
		if err != nil {
			return nil, fmt.Errorf("seal delegation: %w", err)
		}
		req.Delegation = &Delegation{Enc: b64.EncodeToString(enc), CT: b64.EncodeToString(ct)}
		digest = delegationDigest(enc, ct)
	}
	sig := key.Sign(TokenSignBytes(ch.ChainID, ch.Org, challenge, key.Address(), req.Scope, req.Expires, req.Patient, digest))
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
