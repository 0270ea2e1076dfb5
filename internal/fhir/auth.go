package fhir

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/hpke"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"

	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/records"
	xsession "github.com/medchain/medchain/x/session"
)

// The token protocol. Both the node (checking) and clients (signing,
// sealing) use these definitions; docs/fhir.md specifies them byte by byte.
const (
	// TokenDomain starts the bytes a token request's signature covers.
	TokenDomain = "medchain/fhir-token/v2"
	// SessionLabel starts the HPKE info of a sealed session key.
	SessionLabel = "medchain/fhir-session/v2"
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
	// DelegationSize is the size of a sealed session key's plaintext: the
	// session's signing seed then its encryption seed. They are the
	// session key's, never the account's.
	DelegationSize = 2 * crypto.SeedSize
)

var (
	b64 = base64.RawURLEncoding
	// the delegation suite is the record envelope's: X25519, HKDF-SHA256, AES-256-GCM
	suite     = hpke.NewSuite(hpke.KEM_X25519_HKDF_SHA256, hpke.KDF_HKDF_SHA256, hpke.AEAD_AES256GCM)
	kemScheme = hpke.KEM_X25519_HKDF_SHA256.Scheme()
)

// ChallengeRequest is the body of POST /fhir/auth/challenge: a challenge is
// bound to the account that will answer it.
type ChallengeRequest struct {
	Address string `json:"address"`
}

// ChallengeResponse is the answer of POST /fhir/auth/challenge.
type ChallengeResponse struct {
	Challenge string    `json:"challenge"` // base64url, no padding
	Expires   time.Time `json:"expires"`
	ChainID   string    `json:"chain_id"`
	Org       string    `json:"org"`         // the organization whose gateway serves this node's FHIR interface
	OrgEncKey string    `json:"org_enc_key"` // its X25519 key (hex): seal session keys to it once proven
	Gateway   string    `json:"gateway"`     // the gateway account's address
}

// Delegation is a session key's seeds sealed (HPKE) to the organization's
// key. Both fields are base64url without padding.
type Delegation struct {
	Enc string `json:"enc"`
	CT  string `json:"ct"`
}

// TokenRequest is the body of POST /fhir/auth/token. With Session set, the
// request is signed by that session key, which must be delegated on chain
// by Address and live, and Delegation carries its seeds; without it, the
// request is signed by the account's current key and the node can act only
// with its organization's key.
type TokenRequest struct {
	Address    string      `json:"address"`
	Challenge  string      `json:"challenge"`
	Scope      string      `json:"scope"`
	Expires    int64       `json:"expires"`           // unix seconds
	Patient    string      `json:"patient,omitempty"` // launch context for patient/ scopes
	Session    string      `json:"session,omitempty"` // the session's Ed25519 public key (hex)
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
	Session     string `json:"session,omitempty"` // the session public key (hex)
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
// challenge, address, scope, expires, patient, the session public key
// (empty blob without a session) and the delegation digest (SHA-256 of
// enc ‖ ct; empty without a delegation).
func TokenSignBytes(chainID, org string, challenge []byte, addr crypto.Address, scope string, expires int64, patient string, sessionKey []byte, digest []byte) []byte {
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
	w.Blob(sessionKey)
	w.Blob(digest)
	return w.Bytes()
}

// sessionInfo is the HPKE info of a sealed session key: SessionLabel ‖ 0x00
// ‖ the canonical encoding of chain id, org, challenge, account address and
// session public key.
func sessionInfo(chainID, org string, challenge []byte, addr crypto.Address, pub crypto.PubKey) []byte {
	w := codec.NewWriter(160)
	w.Fixed([]byte(SessionLabel))
	w.Fixed([]byte{0})
	w.String(chainID)
	w.String(org)
	w.Blob(challenge)
	w.Fixed(addr[:])
	w.Fixed(pub[:])
	return w.Bytes()
}

// SealDelegation seals a session key's two seeds to the organization's key,
// bound to the chain, the organization, the challenge, the account and the
// session public key. r is the HPKE randomness (crypto/rand when nil).
func SealDelegation(r io.Reader, orgKey crypto.EncKey, sk *crypto.PrivKey, account crypto.Address, chainID, org string, challenge []byte) (enc, ct []byte, err error) {
	pk, err := kemScheme.UnmarshalBinaryPublicKey(orgKey[:])
	if err != nil {
		return nil, nil, fmt.Errorf("organization key: %w", err)
	}
	sender, err := suite.NewSender(pk, sessionInfo(chainID, org, challenge, account, sk.PubKey()))
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
	sign, encSeed := sk.Seeds()
	pt := make([]byte, 0, DelegationSize)
	pt = append(append(pt, sign...), encSeed...)
	defer clear(pt)
	ct, err = sealer.Seal(pt, nil)
	return enc, ct, err
}

// openDelegation opens a sealed session key with the organization's private
// key and returns the 64 seed bytes (the caller zeroes them).
func openDelegation(gw *crypto.PrivKey, enc, ct []byte, chainID, org string, challenge []byte, addr crypto.Address, pub crypto.PubKey) ([]byte, error) {
	sk, err := kemScheme.UnmarshalBinaryPrivateKey(gw.ECDH().Bytes())
	if err != nil {
		return nil, err
	}
	recv, err := suite.NewReceiver(sk, sessionInfo(chainID, org, challenge, addr, pub))
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
	// pub is the on-chain session key (zero without a delegation). Every
	// request re-checks on the latest state that it is live (not revoked,
	// not expired in block time).
	pub   crypto.PubKey
	grant *audit.Proof // the signed token request: backs the session's access events on chain

	mu    sync.Mutex
	seeds []byte                         // the session key's seeds; zeroed at expiry
	key   atomic.Pointer[crypto.PrivKey] // the session key; nil without delegation or after expiry
	keys  *keyCache                      // data keys opened with key; wiped at expiry
	timer *time.Timer
	tok   [32]byte // the token's key in the store
}

// delegated returns the session key, or nil. It signs as the session (a
// key the chain bounds by the session's limits), never as the account.
func (s *session) delegated() *crypto.PrivKey { return s.key.Load() }

// live checks, on the state a request is judged on, that the token's
// on-chain session may still act: a revoked or expired session ends every
// token made for it from the next block on.
func (s *session) live(kv store.Reader, now int64) error {
	if s.pub == (crypto.PubKey{}) {
		return nil
	}
	c, err := xsession.Active(kv, s.pub, now)
	if err != nil {
		return err
	}
	if c.Account != s.addr {
		return xsession.ErrNotOwner
	}
	return nil
}

// wrappedKey returns the data key of a record version wrapped to the
// session key (x/records session keys), when the session is live and its
// limits cover the record; nil otherwise. A session never opens keys wrapped
// to the account: the node never holds the account's key.
func (s *session) wrappedKey(kv store.Reader, now int64, rec *records.Record, v uint32) *records.WrappedKey {
	if s.pub == (crypto.PubKey{}) {
		return nil
	}
	c, err := xsession.Active(kv, s.pub, now)
	if err != nil || c.Account != s.addr || !c.Limits.Covers(rec.ID, rec.Type) {
		return nil
	}
	return records.GetSessionKey(kv, rec.ID, v, s.pub)
}

// covers reports whether the session's on-chain limits allow reading the
// record (always, for a token without a session: it can only use the
// organization's key, under consent).
func (s *session) covers(kv store.Reader, now int64, rec *records.Record) bool {
	if s.pub == (crypto.PubKey{}) {
		return true
	}
	c, err := xsession.Active(kv, s.pub, now)
	return err == nil && c.Account == s.addr && c.Limits.Covers(rec.ID, rec.Type)
}

// wipe forgets the session key: the seed bytes this package holds are
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

// Limits of the authentication stores.
type authLimits struct {
	challenges           int // outstanding challenges on the node
	challengesPerAccount int
	challengesPerIP      int
	tokens               int // live tokens on the node
	tokensPerAccount     int
}

// challengeEntry is an outstanding challenge: bound to the account that
// asked for it, counted against it and against the client's IP.
type challengeEntry struct {
	addr    crypto.Address
	ip      string
	expires time.Time
}

// authStore keeps challenges and tokens in memory, bounded globally, per
// account and (challenges) per client IP. A challenge is only made for an
// active account, so a flood of challenges must name real accounts, and
// each account, and each IP, holds at most a few: nobody can take the
// slots others need to log in. An account at its token cap loses its own
// oldest token, never another account's.
type authStore struct {
	mu         sync.Mutex
	lim        authLimits
	challenges map[string]challengeEntry // challenge bytes → entry
	byAccount  map[crypto.Address]int    // outstanding challenges per account
	byIP       map[string]int            // outstanding challenges per IP
	tokens     map[[32]byte]*session
	tokensOf   map[crypto.Address][]*session // live tokens per account, oldest first
	// onRemove, when set, is called after a token is removed (expiry,
	// revocation, an ended session), outside mu: the token file is saved.
	onRemove func()
}

func newAuthStore(lim authLimits) *authStore {
	return &authStore{lim: lim, challenges: map[string]challengeEntry{}, byAccount: map[crypto.Address]int{}, byIP: map[string]int{},
		tokens: map[[32]byte]*session{}, tokensOf: map[crypto.Address][]*session{}}
}

var (
	errFull            = errors.New("too many outstanding challenges or tokens on this node; try again later")
	errAccountBusy     = errors.New("too many outstanding challenges for this account; answer or let them expire (2 minutes)")
	errIPBusy          = errors.New("too many outstanding challenges from this address; answer or let them expire (2 minutes)")
	errTooManyAccounts = errFull
)

// dropChallenge removes an entry and its counts. Call with mu held.
func (a *authStore) dropChallenge(k string, e challengeEntry) {
	delete(a.challenges, k)
	if a.byAccount[e.addr]--; a.byAccount[e.addr] <= 0 {
		delete(a.byAccount, e.addr)
	}
	if a.byIP[e.ip]--; a.byIP[e.ip] <= 0 {
		delete(a.byIP, e.ip)
	}
}

// expireChallenges drops expired challenges. Call with mu held.
func (a *authStore) expireChallenges(now time.Time) {
	for k, e := range a.challenges {
		if !now.Before(e.expires) {
			a.dropChallenge(k, e)
		}
	}
}

func (a *authStore) newChallenge(addr crypto.Address, ip string, now time.Time) ([]byte, time.Time, error) {
	c := make([]byte, ChallengeSize)
	if _, err := rand.Read(c); err != nil {
		return nil, time.Time{}, err
	}
	exp := now.Add(ChallengeTTL)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.challenges) >= a.lim.challenges || a.byAccount[addr] >= a.lim.challengesPerAccount || a.byIP[ip] >= a.lim.challengesPerIP {
		a.expireChallenges(now)
	}
	switch {
	case a.byAccount[addr] >= a.lim.challengesPerAccount:
		return nil, time.Time{}, errAccountBusy
	case a.byIP[ip] >= a.lim.challengesPerIP:
		return nil, time.Time{}, errIPBusy
	case len(a.challenges) >= a.lim.challenges:
		return nil, time.Time{}, errTooManyAccounts
	}
	a.challenges[string(c)] = challengeEntry{addr: addr, ip: ip, expires: exp}
	a.byAccount[addr]++
	a.byIP[ip]++
	return c, exp, nil
}

// takeChallenge consumes a challenge of addr: each is answered at most
// once, and a failed answer uses it up too. A challenge made for another
// account is not consumed by a request naming this one.
func (a *authStore) takeChallenge(c []byte, addr crypto.Address, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.challenges[string(c)]
	if !ok || e.addr != addr {
		return false
	}
	a.dropChallenge(string(c), e)
	return now.Before(e.expires)
}

func tokenKey(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

// add stores a session and returns its token. The session is removed and
// its key wiped when it expires. An account at its cap loses its oldest
// token.
func (a *authStore) add(s *session, now time.Time) (string, error) {
	raw := make([]byte, TokenSize)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	// A token never starts with '-' (base64url's 62), so that a command
	// line takes it as an argument, not a flag (medchain fhir revoke
	// TOKEN): the first byte is drawn again, at a cost of 1/64 of a bit.
	for raw[0]>>2 == 62 {
		if _, err := rand.Read(raw[:1]); err != nil {
			return "", err
		}
	}
	tok := b64.EncodeToString(raw)
	k := tokenKey(tok)
	var evicted []*session
	defer func() {
		for _, old := range evicted {
			old.wipe()
		}
	}()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.tokens) >= a.lim.tokens || len(a.tokensOf[s.addr]) >= a.lim.tokensPerAccount {
		for key, old := range a.tokens {
			if !now.Before(old.expires) {
				a.dropToken(key, old)
				evicted = append(evicted, old)
			}
		}
	}
	for len(a.tokensOf[s.addr]) >= a.lim.tokensPerAccount {
		old := a.tokensOf[s.addr][0]
		a.dropToken(old.tok, old)
		evicted = append(evicted, old)
	}
	if len(a.tokens) >= a.lim.tokens {
		return "", errFull
	}
	s.tok = k
	a.tokens[k] = s
	a.tokensOf[s.addr] = append(a.tokensOf[s.addr], s)
	s.mu.Lock()
	s.timer = time.AfterFunc(s.expires.Sub(now), func() { a.remove(k) })
	s.mu.Unlock()
	return tok, nil
}

// dropToken forgets a token. Call with mu held; the caller wipes.
func (a *authStore) dropToken(k [32]byte, s *session) {
	if a.tokens[k] != s {
		return
	}
	delete(a.tokens, k)
	list := a.tokensOf[s.addr]
	for i, o := range list {
		if o == s {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(a.tokensOf, s.addr)
	} else {
		a.tokensOf[s.addr] = list
	}
}

func (a *authStore) remove(k [32]byte) {
	a.mu.Lock()
	s := a.tokens[k]
	if s != nil {
		a.dropToken(k, s)
	}
	onRemove := a.onRemove
	a.mu.Unlock()
	if s != nil {
		s.wipe()
		if onRemove != nil {
			onRemove()
		}
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
	a.onRemove = nil // the token file keeps them for the next start
	all := a.tokens
	a.tokens = map[[32]byte]*session{}
	a.tokensOf = map[crypto.Address][]*session{}
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

// sessionLimitsFor are the on-chain limits a client asks for a FHIR
// session with the given scopes: the resource types of the scopes (every
// type for "*"), records/add and records/erase when a scope writes, purpose
// "fhir", expiring at expires (block time).
func sessionLimitsFor(scopes []scope, expires int64) xsession.Limits {
	types := map[string]bool{}
	var write, erase bool
	for _, sc := range scopes {
		types[sc.typ] = true
		write = write || sc.perms&(permCreate|permUpdate) != 0
		erase = erase || sc.perms&permDelete != 0
	}
	l := xsession.Limits{Purpose: "fhir", Expires: expires}
	if types["*"] {
		l.ResourceTypes = []string{xsession.AllTypes}
	} else {
		for t := range types {
			l.ResourceTypes = append(l.ResourceTypes, t)
		}
		sort.Strings(l.ResourceTypes)
	}
	if write {
		l.Types = append(l.Types, records.TypeAdd)
	}
	if erase {
		l.Types = append(l.Types, records.TypeErase) // sorts after records/add
	}
	return l
}

// SessionLimits returns the on-chain limits Login delegates for a scope
// text (see sessionLimitsFor).
func SessionLimits(scopeText string, expires int64) (xsession.Limits, error) {
	scopes, _, err := parseScopes(scopeText)
	if err != nil {
		return xsession.Limits{}, err
	}
	return sessionLimitsFor(scopes, expires), nil
}

// scopesWithin checks that a token's scopes stay inside its session's
// limits: every type it names is covered, and writes need records/add.
func scopesWithin(scopes []scope, l xsession.Limits) error {
	all := false
	for _, t := range l.ResourceTypes {
		if t == xsession.AllTypes {
			all = true
		}
	}
	for _, sc := range scopes {
		if !all && len(l.Records) == 0 {
			if sc.typ == "*" {
				return fmt.Errorf("the session covers %v, not every type: name them in the scope", l.ResourceTypes)
			}
			if i := sort.SearchStrings(l.ResourceTypes, sc.typ); i == len(l.ResourceTypes) || l.ResourceTypes[i] != sc.typ {
				return fmt.Errorf("the session does not cover %s", sc.typ)
			}
		}
		if sc.perms&(permCreate|permUpdate) != 0 && !l.Allows(records.TypeAdd) {
			return fmt.Errorf("scope %s writes, but the session may not sign %s", sc.typ, records.TypeAdd)
		}
		if sc.perms&permDelete != 0 && !l.Allows(records.TypeErase) {
			return fmt.Errorf("scope %s deletes, but the session may not sign %s", sc.typ, records.TypeErase)
		}
	}
	return nil
}

// signingKey is the key the chain will see on a transaction written for the
// request: the session key, which x/records bounds by the session's limits.
func signingKey(rq *request, acct *accounts.Account) crypto.PubKey {
	if k := rq.sess.delegated(); k != nil {
		return k.PubKey()
	}
	return acct.PubKey
}

// holders are the accounts among a version's key recipients.
func holders(ks []records.WrappedKey) []crypto.Address {
	var out []crypto.Address
	for _, k := range ks {
		if k.Recipient.Kind == consent.PartyAccount {
			out = append(out, k.Recipient.Address)
		}
	}
	return out
}

// shareKey hands a data key this node just wrapped for a record version's
// holders to the live sessions of those accounts on this node: the session
// was given no wrapped key for a version written after it began, and this
// node legitimately knows the key (it encrypted the version).
func (a *authStore) shareKey(accts []crypto.Address, id consent.RecordID, v uint32, dk [envelope.DataKeySize]byte) {
	a.mu.Lock()
	var to []*session
	for _, addr := range accts {
		to = append(to, a.tokensOf[addr]...)
	}
	a.mu.Unlock()
	for _, s := range to {
		if s.delegated() != nil {
			s.keys.put(id, v, dk)
		}
	}
}
