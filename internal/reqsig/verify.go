package reqsig

import (
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

	mu     sync.Mutex
	nonces nonceCache
}

// Verify checks r's signature headers against r's method, path and query,
// and body (the exact bytes of r's body, nil for none; the caller reads it,
// within its own size limit). It returns the signer's key. Each request is
// accepted once: a nonce is remembered until its request expires.
//
// Forwarding headers, if any, are ignored: use IsForwarded and
// VerifyForwarded to learn the forwarder.
func (v *Verifier) Verify(r *http.Request, body []byte) (crypto.PubKey, error) {
	if err := checkChainID(v.ChainID); err != nil {
		return crypto.PubKey{}, err
	}
	p, err := parseRequest(r.Header)
	if err != nil {
		return crypto.PubKey{}, err
	}
	now := v.now()
	if err := v.checkTime(p.expires, now); err != nil {
		return crypto.PubKey{}, err
	}
	if err := v.checkUser(r, p, body); err != nil {
		return crypto.PubKey{}, err
	}
	if err := v.remember(directKey(p.nonce), p.expires, now); err != nil {
		return crypto.PubKey{}, err
	}
	return p.signer, nil
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
	if err := checkChainID(v.ChainID); err != nil {
		return user, forwarderKey, err
	}
	p, err := parseRequest(r.Header)
	if err != nil {
		return user, forwarderKey, err
	}
	f, err := parseForwarder(r.Header)
	if err != nil {
		return user, forwarderKey, err
	}
	now := v.now()
	if err := v.checkTime(p.expires, now); err != nil {
		return user, forwarderKey, err
	}
	if err := v.checkUser(r, p, body); err != nil {
		return user, forwarderKey, err
	}
	if !crypto.Verify(f.key, ForwardSignBytes(v.ChainID, p.sigHex, p.expires), f.sig[:]) {
		return user, forwarderKey, fmt.Errorf("%w: %s", ErrBadSignature, HeaderForwarderSignature)
	}
	if err := v.remember(forwardKey(f.key, p.nonce), p.expires, now); err != nil {
		return user, forwarderKey, err
	}
	return p.signer, f.key, nil
}

func (v *Verifier) checkUser(r *http.Request, p signedRequest, body []byte) error {
	msg := SignBytes(v.ChainID, r.Method, r.URL.RequestURI(), p.expires, p.nonceHex, body)
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
