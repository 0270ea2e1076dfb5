package reqsig

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/medchain/medchain/crypto"
)

// Verifier checks signed requests for one chain and remembers their nonces
// until they expire. Set the exported fields before the first call and do
// not copy a Verifier after it; it is safe for concurrent use.
type Verifier struct {
	// ChainID is the chain whose requests are accepted; required.
	ChainID string
	// MaxTTL is how far ahead of Now an expiry may be; 0 means DefaultMaxTTL.
	MaxTTL time.Duration
	// Now is the verifier's clock; nil means time.Now.
	Now func() time.Time
	// MaxNonces bounds the replay cache; 0 means DefaultMaxNonces. When it
	// is full of unexpired nonces, new requests fail with ErrBusy: forgetting
	// a nonce early would let its request be replayed.
	MaxNonces int
	// Authorize, when set, judges the claimed signer before anything else is
	// spent on the request: it runs after the headers and the expiry are
	// checked and before the signature is verified or the nonce remembered,
	// so keys without an account in good standing never reach the replay
	// cache. Its error is returned wrapped in ErrUnauthorized.
	Authorize func(signer crypto.PubKey) error
	// Admit, when set, runs once the signature is verified and before the
	// nonce is remembered: a per-key rate limit belongs here, where only the
	// key's holder can spend the key's budget. Its error is returned as is
	// (wrapped), so callers can tell a rate limit (internal/ratelimit) apart.
	Admit func(signer crypto.PubKey) error

	mu     sync.Mutex
	nonces nonceCache
}

// Verify checks r's signature headers against r's method, path and query,
// and body (the exact bytes of r's body, nil for none; the caller reads it,
// within its own size limit, after Precheck). It returns the signer's key.
// Each request is accepted once: a nonce is remembered until its request
// expires.
//
// Forwarding headers, if any, are ignored: use IsForwarded and
// VerifyForwarded to learn the forwarder.
func (v *Verifier) Verify(r *http.Request, body []byte) (crypto.PubKey, error) {
	return v.VerifyHash(r, sha256.Sum256(body))
}

// VerifyHash is Verify for a caller that knows the SHA-256 of the body
// before reading it: a blob upload, whose path names its content hash, is
// authenticated completely (signature and nonce included) before one byte
// of its body is read. The caller must then check that the body it reads
// hashes to bodyHash.
func (v *Verifier) VerifyHash(r *http.Request, bodyHash [sha256.Size]byte) (crypto.PubKey, error) {
	p, now, err := v.precheck(r)
	if err != nil {
		return crypto.PubKey{}, err
	}
	if err := v.checkUser(r, p, bodyHash); err != nil {
		return crypto.PubKey{}, err
	}
	if err := v.admit(p.signer); err != nil {
		return crypto.PubKey{}, err
	}
	if err := v.remember(directKey(p.nonce), p.expires, now); err != nil {
		return crypto.PubKey{}, err
	}
	return p.signer, nil
}

// Precheck runs the checks that need no body: the headers, the expiry and
// Authorize. A handler calls it before reading a request body, so a caller
// without a well-formed, unexpired request from a known key costs no more
// than its headers. It remembers nothing; Verify checks all of it again.
func (v *Verifier) Precheck(r *http.Request) (crypto.PubKey, error) {
	p, _, err := v.precheck(r)
	return p.signer, err
}

func (v *Verifier) precheck(r *http.Request) (signedRequest, time.Time, error) {
	if err := checkChainID(v.ChainID); err != nil {
		return signedRequest{}, time.Time{}, err
	}
	p, err := parseRequest(r.Header)
	if err != nil {
		return p, time.Time{}, err
	}
	now := v.now()
	if err := v.checkTime(p.expires, now); err != nil {
		return p, now, err
	}
	if v.Authorize != nil {
		if err := v.Authorize(p.signer); err != nil {
			return p, now, fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
	}
	return p, now, nil
}

func (v *Verifier) admit(signer crypto.PubKey) error {
	if v.Admit == nil {
		return nil
	}
	if err := v.Admit(signer); err != nil {
		return fmt.Errorf("reqsig: %w", err)
	}
	return nil
}

// VerifyForwarded checks a request a gateway forwarded: the end user's
// headers as in Verify, and the gateway's signature over the user's. It
// returns both keys. The user's nonce is remembered per forwarder, apart
// from requests that come directly, so the gateway (which verified the
// request directly) and this node each accept the same user request once,
// and no forwarder can make this node accept it twice.
//
// body is the forwarded request's body, which must equal what the user
// signed; nil for a GET.
func (v *Verifier) VerifyForwarded(r *http.Request, body []byte) (user, forwarderKey crypto.PubKey, err error) {
	return v.VerifyForwardedHash(r, sha256.Sum256(body))
}

// VerifyForwardedHash is VerifyForwarded with the body's SHA-256 given, as
// VerifyHash is for Verify.
func (v *Verifier) VerifyForwardedHash(r *http.Request, bodyHash [sha256.Size]byte) (user, forwarderKey crypto.PubKey, err error) {
	f, err := parseForwarder(r.Header)
	if err != nil {
		// Headers first, as for a direct request: a malformed forwarder
		// header costs no account lookup.
		if _, perr := parseRequest(r.Header); perr != nil {
			return user, forwarderKey, perr
		}
		return user, forwarderKey, err
	}
	p, now, err := v.precheck(r)
	if err != nil {
		return user, forwarderKey, err
	}
	if err := v.checkUser(r, p, bodyHash); err != nil {
		return user, forwarderKey, err
	}
	if !crypto.Verify(f.key, ForwardSignBytes(v.ChainID, p.sigHex, p.expires), f.sig[:]) {
		return user, forwarderKey, fmt.Errorf("%w: %s", ErrBadSignature, HeaderForwarderSignature)
	}
	if err := v.admit(p.signer); err != nil {
		return user, forwarderKey, err
	}
	if err := v.remember(forwardKey(f.key, p.nonce), p.expires, now); err != nil {
		return user, forwarderKey, err
	}
	return p.signer, f.key, nil
}

func (v *Verifier) checkUser(r *http.Request, p signedRequest, bodyHash [sha256.Size]byte) error {
	msg := signBytesHash(v.ChainID, r.Method, r.URL.RequestURI(), p.expires, p.nonceHex, bodyHash)
	if !crypto.Verify(p.signer, msg, p.sig[:]) {
		return fmt.Errorf("%w: %s", ErrBadSignature, HeaderSignature)
	}
	return nil
}

// checkTime accepts an expiry strictly after now and at most MaxTTL ahead.
func (v *Verifier) checkTime(expires int64, now time.Time) error {
	exp := time.Unix(expires, 0)
	if !exp.After(now) {
		return fmt.Errorf("%w: at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	if ahead, limit := exp.Sub(now), v.maxTTL(); ahead > limit {
		return fmt.Errorf("%w: %s ahead, limit %s", ErrTooFarAhead, ahead.Round(time.Second), limit)
	}
	return nil
}

func (v *Verifier) remember(k nonceKey, expires int64, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.nonces.add(k, expires, now.Unix(), v.maxNonces())
}

// Prune forgets the nonces of expired requests now. Verify does this as it
// goes; Prune frees the memory when requests stop coming.
func (v *Verifier) Prune() {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.nonces.evict(now.Unix())
}

// Len is the number of nonces remembered, for metrics and tests.
func (v *Verifier) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.nonces.len()
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

func (v *Verifier) maxTTL() time.Duration {
	if v.MaxTTL <= 0 {
		return DefaultMaxTTL
	}
	return v.MaxTTL
}

func (v *Verifier) maxNonces() int {
	if v.MaxNonces <= 0 {
		return DefaultMaxNonces
	}
	return v.MaxNonces
}
