package fhir

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/hpke"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
)

// The token protocol. Both the node (checking) and clients (signing,
// sealing) use these definitions; docs/fhir.md specifies them byte by byte.
const (
	// TokenDomain starts the bytes a token request's signature covers.
	TokenDomain = "medchain/fhir-token/v1"
	// SessionLabel starts the HPKE info of a session delegation.
	SessionLabel = "medchain/fhir-session/v1"
	// ChallengeSize is the size of a challenge, in bytes.
	ChallengeSize = 32
	// ChallengeTTL is how long a challenge may be answered.
	ChallengeTTL = 2 * time.Minute
	// MaxTokenTTL bounds a token's lifetime.
	MaxTokenTTL = 8 * time.Hour
	// DefaultTokenTTL is the lifetime clients ask for by default.
	DefaultTokenTTL = time.Hour
	// TokenSize is the size of a bearer token's random bytes.
	TokenSize = 32
	// DelegationSize is the size of a delegation's plaintext: the signing
	// seed then the encryption seed.
	DelegationSize = 2 * crypto.SeedSize
)

var (
	b64 = base64.RawURLEncoding
	// the delegation suite is the record envelope's: X25519, HKDF-SHA256, AES-256-GCM
	suite     = hpke.NewSuite(hpke.KEM_X25519_HKDF_SHA256, hpke.KDF_HKDF_SHA256, hpke.AEAD_AES256GCM)
	kemScheme = hpke.KEM_X25519_HKDF_SHA256.Scheme()
)

// ChallengeResponse is the answer of POST /fhir/auth/challenge.
type ChallengeResponse struct {
	Challenge string    `json:"challenge"` // base64url, no padding
	Expires   time.Time `json:"expires"`
	ChainID   string    `json:"chain_id"`
	Org       string    `json:"org"`         // the organization whose gateway serves this node's FHIR interface
	OrgEncKey string    `json:"org_enc_key"` // its X25519 key (hex): seal delegations to it
	Gateway   string    `json:"gateway"`     // the gateway account's address
}

// Delegation is a session delegation: the user's key seeds sealed (HPKE)
// to the organization's key. Both fields are base64url without padding.
type Delegation struct {
	Enc string `json:"enc"`
	CT  string `json:"ct"`
}

// TokenRequest is the body of POST /fhir/auth/token.
type TokenRequest struct {
	Address    string      `json:"address"`
	Challenge  string      `json:"challenge"`
	Scope      string      `json:"scope"`
	Expires    int64       `json:"expires"`           // unix seconds
	Patient    string      `json:"patient,omitempty"` // launch context for patient/ scopes
	Delegation *Delegation `json:"delegation,omitempty"`
	Signature  string      `json:"signature"` // base64url Ed25519 over TokenSignBytes
}

// TokenResponse is the answer of POST /fhir/auth/token.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	Patient     string `json:"patient,omitempty"`
	Address     string `json:"address"`
	Delegated   bool   `json:"delegated"`
}

// delegationDigest is SHA-256(enc ‖ ct), or nil without a delegation.
func delegationDigest(enc, ct []byte) []byte {
	if enc == nil && ct == nil {
		return nil
	}
	h := sha256.New()
	h.Write(enc)
	h.Write(ct)
	return h.Sum(nil)
}

// TokenSignBytes are the bytes a token request's Ed25519 signature covers:
// TokenDomain ‖ 0x00 ‖ the canonical encoding (codec) of chain id, org,
// challenge, address, scope, expires, patient and the delegation digest
// (SHA-256 of enc ‖ ct; empty without a delegation).
func TokenSignBytes(chainID, org string, challenge []byte, addr crypto.Address, scope string, expires int64, patient string, digest []byte) []byte {
	w := codec.NewWriter(256)
	w.Fixed([]byte(TokenDomain))
	w.Fixed([]byte{0})
	w.String(chainID)
	w.String(org)
	w.Blob(challenge)
	w.Fixed(addr[:])
	w.String(scope)
	w.Int(expires)
	w.String(patient)
	w.Blob(digest)
	return w.Bytes()
}

// sessionInfo is the HPKE info of a delegation: SessionLabel ‖ 0x00 ‖ the
// canonical encoding of chain id, org, challenge and address.
func sessionInfo(chainID, org string, challenge []byte, addr crypto.Address) []byte {
	w := codec.NewWriter(128)
	w.Fixed([]byte(SessionLabel))
	w.Fixed([]byte{0})
	w.String(chainID)
	w.String(org)
	w.Blob(challenge)
	w.Fixed(addr[:])
	return w.Bytes()
}

// SealDelegation seals key's two seeds to the organization's key, bound to
// the chain, the organization, the challenge and the key's address. r is the
// HPKE randomness (crypto/rand when nil).
func SealDelegation(r io.Reader, orgKey crypto.EncKey, key *crypto.PrivKey, chainID, org string, challenge []byte) (enc, ct []byte, err error) {
	pk, err := kemScheme.UnmarshalBinaryPublicKey(orgKey[:])
	if err != nil {
		return nil, nil, fmt.Errorf("organization key: %w", err)
	}
	sender, err := suite.NewSender(pk, sessionInfo(chainID, org, challenge, key.Address()))
	if err != nil {
		return nil, nil, err
	}
	if r == nil {
		r = rand.Reader
	}
	enc, sealer, err := sender.Setup(r)
	if err != nil {
		return nil, nil, err
	}
	sign, encSeed := key.Seeds()
	pt := make([]byte, 0, DelegationSize)
	pt = append(append(pt, sign...), encSeed...)
	defer clear(pt)
	ct, err = sealer.Seal(pt, nil)
	return enc, ct, err
}

// openDelegation opens a delegation with the organization's private key and
// returns the 64 seed bytes (the caller zeroes them).
func openDelegation(gw *crypto.PrivKey, enc, ct []byte, chainID, org string, challenge []byte, addr crypto.Address) ([]byte, error) {
	sk, err := kemScheme.UnmarshalBinaryPrivateKey(gw.ECDH().Bytes())
	if err != nil {
		return nil, err
	}
	recv, err := suite.NewReceiver(sk, sessionInfo(chainID, org, challenge, addr))
	if err != nil {
		return nil, err
	}
	opener, err := recv.Setup(enc)
	if err != nil {
		return nil, errors.New("delegation does not open")
	}
	pt, err := opener.Open(ct, nil)
	if err != nil || len(pt) != DelegationSize {
		clear(pt)
		return nil, errors.New("delegation does not open")
	}
	return pt, nil
}

// session is what a bearer token stands for.
type session struct {
	addr    crypto.Address
	kind    accounts.Kind
	org     string // the account's organization (members)
	scopes  []scope
	scope   string
	patient crypto.Address // launch context; zero when none
	expires time.Time
	grant   *audit.Proof // the signed token request: backs the session's access events on chain

	mu    sync.Mutex
	seeds []byte                         // the delegated seeds; zeroed at expiry
	key   atomic.Pointer[crypto.PrivKey] // built from seeds; nil without delegation or after expiry
	keys  *keyCache                      // data keys opened with key; wiped at expiry
	timer *time.Timer
}

// delegated returns the user's key, or nil.
func (s *session) delegated() *crypto.PrivKey { return s.key.Load() }

// wipe forgets the delegated key: the seed bytes this package holds are
// zeroed; the key objects derived from them (Go's ed25519 and crypto/ecdh
// keep their own copies, which Go offers no way to wipe) are released.
func (s *session) wipe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.seeds)
	s.seeds = nil
	s.key.Store(nil)
	s.keys.wipe()
	if s.timer != nil {
		s.timer.Stop()
	}
}

// authStore keeps challenges and tokens in memory, bounded.
type authStore struct {
	mu         sync.Mutex
	challenges map[string]time.Time // challenge bytes → expiry
	tokens     map[[32]byte]*session
	maxChall   int
	maxTokens  int
}

func newAuthStore(maxChall, maxTokens int) *authStore {
	return &authStore{challenges: map[string]time.Time{}, tokens: map[[32]byte]*session{}, maxChall: maxChall, maxTokens: maxTokens}
}

var errFull = errors.New("too many outstanding challenges or tokens on this node; try again later")

func (a *authStore) newChallenge(now time.Time) ([]byte, time.Time, error) {
	c := make([]byte, ChallengeSize)
	if _, err := rand.Read(c); err != nil {
		return nil, time.Time{}, err
	}
	exp := now.Add(ChallengeTTL)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.challenges) >= a.maxChall {
		for k, e := range a.challenges {
			if !now.Before(e) {
				delete(a.challenges, k)
			}
		}
		if len(a.challenges) >= a.maxChall {
			return nil, time.Time{}, errFull
		}
	}
	a.challenges[string(c)] = exp
	return c, exp, nil
}

// takeChallenge consumes a challenge: each is answered at most once, and a
// failed answer uses it up too.
func (a *authStore) takeChallenge(c []byte, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.challenges[string(c)]
	delete(a.challenges, string(c))
	return ok && now.Before(exp)
}

func tokenKey(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

// add stores a session and returns its token. The session is removed and
// its key wiped when it expires.
func (a *authStore) add(s *session, now time.Time) (string, error) {
	raw := make([]byte, TokenSize)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := b64.EncodeToString(raw)
	k := tokenKey(tok)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.tokens) >= a.maxTokens {
		for key, old := range a.tokens {
			if !now.Before(old.expires) {
				delete(a.tokens, key)
				old.wipe()
			}
		}
		if len(a.tokens) >= a.maxTokens {
			return "", errFull
		}
	}
	a.tokens[k] = s
	s.mu.Lock()
	s.timer = time.AfterFunc(s.expires.Sub(now), func() { a.remove(k) })
	s.mu.Unlock()
	return tok, nil
}

func (a *authStore) remove(k [32]byte) {
	a.mu.Lock()
	s := a.tokens[k]
	delete(a.tokens, k)
	a.mu.Unlock()
	if s != nil {
		s.wipe()
	}
}

// lookup returns the live session of a token.
func (a *authStore) lookup(tok string, now time.Time) *session {
	k := tokenKey(tok)
	a.mu.Lock()
	s := a.tokens[k]
	a.mu.Unlock()
	if s == nil {
		return nil
	}
	if !now.Before(s.expires) {
		a.remove(k)
		return nil
	}
	return s
}

// close wipes every session (node shutdown).
func (a *authStore) close() {
	a.mu.Lock()
	all := a.tokens
	a.tokens = map[[32]byte]*session{}
	a.mu.Unlock()
	for _, s := range all {
		s.wipe()
	}
}

// count reports the live tokens (tests).
func (a *authStore) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.tokens)
}
