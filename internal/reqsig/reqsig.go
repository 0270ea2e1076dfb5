package reqsig

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medchain/medchain/crypto"
)

// Header names. Go canonicalizes them; on the wire they are case-insensitive.
const (
	HeaderSigner             = "X-Medchain-Signer"
	HeaderExpires            = "X-Medchain-Expires"
	HeaderNonce              = "X-Medchain-Nonce"
	HeaderSignature          = "X-Medchain-Signature"
	HeaderForwarder          = "X-Medchain-Forwarder"
	HeaderForwarderSignature = "X-Medchain-Forwarder-Signature"
)

// Domain-separation tags, the first field of the signed bytes.
const (
	RequestDomain = "medchain/request/v1"
	ForwardDomain = "medchain/forward/v1"
)

const (
	// NonceSize is the size of a request nonce in bytes (32 hex digits).
	NonceSize = 16
	// DefaultMaxTTL is how far ahead of the verifier's clock an expiry may be
	// unless Verifier.MaxTTL says otherwise.
	DefaultMaxTTL = 5 * time.Minute
	// DefaultMaxNonces bounds the replay cache unless Verifier.MaxNonces says
	// otherwise.
	DefaultMaxNonces = 1 << 20
	// maxExpiresDigits keeps the expiry within int64.
	maxExpiresDigits = 18
)

// Errors returned by Verify and VerifyForwarded, wrapped with detail; test
// with errors.Is. Details name headers, never their values' secrets (there
// are none: every header is public).
var (
	ErrMissing      = errors.New("reqsig: missing signature header")
	ErrMalformed    = errors.New("reqsig: malformed signature header")
	ErrExpired      = errors.New("reqsig: request expired")
	ErrTooFarAhead  = errors.New("reqsig: request expiry too far ahead")
	ErrBadSignature = errors.New("reqsig: bad signature")
	ErrReplay       = errors.New("reqsig: request already seen")
	ErrBusy         = errors.New("reqsig: too many requests in flight, retry later")
	// ErrUnauthorized: the claimed signer was refused by Verifier.Authorize
	// (no account, inactive, or a key that is not the account's).
	ErrUnauthorized = errors.New("reqsig: signer not allowed")
)

// SignBytes returns the bytes a requester signs (see the package doc).
// requestURI is the path with its query exactly as sent, as returned by
// (*url.URL).RequestURI.
func SignBytes(chainID, method, requestURI string, expires int64, nonceHex string, body []byte) []byte {
	return signBytesHash(chainID, method, requestURI, expires, nonceHex, sha256.Sum256(body))
}

func signBytesHash(chainID, method, requestURI string, expires int64, nonceHex string, bodyHash [sha256.Size]byte) []byte {
	return joinFields(RequestDomain, chainID, method, requestURI,
		strconv.FormatInt(expires, 10), nonceHex, hex.EncodeToString(bodyHash[:]))
}

// ForwardSignBytes returns the bytes a forwarding gateway signs: it vouches
// for the end user's request by its signature.
func ForwardSignBytes(chainID, signatureHex string, expires int64) []byte {
	return joinFields(ForwardDomain, chainID, signatureHex, strconv.FormatInt(expires, 10))
}

func joinFields(fields ...string) []byte {
	n := len(fields) - 1
	for _, f := range fields {
		n += len(f)
	}
	b := make([]byte, 0, n)
	for i, f := range fields {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, f...)
	}
	return b
}

// checkChainID rejects chain ids that would make the signed bytes ambiguous.
func checkChainID(chainID string) error {
	if chainID == "" || strings.IndexByte(chainID, 0) >= 0 {
		return fmt.Errorf("reqsig: chain id %q: want a non-empty string without NUL bytes", chainID)
	}
	return nil
}

// Sign signs req for chainID, valid until now+ttl, and sets the four
// request headers (replacing any already there). body must be the exact
// bytes req will send (nil for none); Sign does not set req.Body. The nonce
// comes from crypto/rand.
func Sign(req *http.Request, key *crypto.PrivKey, chainID string, now time.Time, ttl time.Duration, body []byte) error {
	if err := checkChainID(chainID); err != nil {
		return err
	}
	if ttl < time.Second {
		return fmt.Errorf("reqsig: ttl %v: want at least 1s (expiry has whole-second resolution)", ttl)
	}
	if req.URL == nil {
		return errors.New("reqsig: request has no URL")
	}
	var nonce [NonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return fmt.Errorf("reqsig: nonce: %w", err)
	}
	signWith(req, key, chainID, now.Add(ttl).Unix(), nonce, body)
	return nil
}

// signWith is Sign with the expiry and nonce given, for test vectors.
func signWith(req *http.Request, key *crypto.PrivKey, chainID string, expires int64, nonce [NonceSize]byte, body []byte) {
	nonceHex := hex.EncodeToString(nonce[:])
	msg := SignBytes(chainID, method(req), req.URL.RequestURI(), expires, nonceHex, body)
	pub := key.PubKey()
	req.Header.Set(HeaderSigner, hex.EncodeToString(pub[:]))
	req.Header.Set(HeaderExpires, strconv.FormatInt(expires, 10))
	req.Header.Set(HeaderNonce, nonceHex)
	req.Header.Set(HeaderSignature, hex.EncodeToString(key.Sign(msg)))
}

// SignForward adds a gateway's signature to a request that already carries
// an end user's signature headers (copied unchanged with CopyHeaders), so
// that the peer it goes to knows which node forwards it.
func SignForward(req *http.Request, gatewayKey *crypto.PrivKey, chainID string) error {
	if err := checkChainID(chainID); err != nil {
		return err
	}
	p, err := parseRequest(req.Header)
	if err != nil {
		return err
	}
	pub := gatewayKey.PubKey()
	sig := gatewayKey.Sign(ForwardSignBytes(chainID, p.sigHex, p.expires))
	req.Header.Set(HeaderForwarder, hex.EncodeToString(pub[:]))
	req.Header.Set(HeaderForwarderSignature, hex.EncodeToString(sig))
	return nil
}

// CopyHeaders copies the end user's four signature headers from src to dst,
// for a gateway building the request it forwards.
func CopyHeaders(dst, src http.Header) {
	for _, name := range []string{HeaderSigner, HeaderExpires, HeaderNonce, HeaderSignature} {
		dst[name] = append([]string(nil), src.Values(name)...)
	}
}

// IsForwarded reports whether r carries a forwarder's headers, so is to be
// checked with VerifyForwarded rather than Verify.
func IsForwarded(r *http.Request) bool {
	return len(r.Header.Values(HeaderForwarder)) > 0 || len(r.Header.Values(HeaderForwarderSignature)) > 0
}

// StatusCode maps an error from Verify or VerifyForwarded to an HTTP status:
// 503 for ErrBusy (the client may retry), 429 for a rate limit from Admit,
// 403 for a signer Authorize refused, 401 for every other rejection.
func StatusCode(err error) int {
	var lim interface{ RetryAfterDuration() time.Duration }
	switch {
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable
	case errors.As(err, &lim):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrUnauthorized):
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// method is what the request is sent with: Go's client sends "" as GET.
func method(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}

// signedRequest is the parsed form of the four request headers. The hex
// texts are kept because the signed bytes contain them as sent.
type signedRequest struct {
	signer   crypto.PubKey
	expires  int64
	nonce    [NonceSize]byte
	nonceHex string
	sig      [crypto.SignatureSize]byte
	sigHex   string
}

// forwarder is the parsed form of the two forwarding headers.
type forwarder struct {
	key crypto.PubKey
	sig [crypto.SignatureSize]byte
}

func parseRequest(h http.Header) (signedRequest, error) {
	var p signedRequest
	signer, err := header(h, HeaderSigner)
	if err != nil {
		return p, err
	}
	expires, err := header(h, HeaderExpires)
	if err != nil {
		return p, err
	}
	nonce, err := header(h, HeaderNonce)
	if err != nil {
		return p, err
	}
	sig, err := header(h, HeaderSignature)
	if err != nil {
		return p, err
	}
	if err := decodeLowerHex(HeaderSigner, signer, p.signer[:]); err != nil {
		return p, err
	}
	if p.expires, err = parseExpires(expires); err != nil {
		return p, err
	}
	if err := decodeLowerHex(HeaderNonce, nonce, p.nonce[:]); err != nil {
		return p, err
	}
	if err := decodeLowerHex(HeaderSignature, sig, p.sig[:]); err != nil {
		return p, err
	}
	p.nonceHex, p.sigHex = nonce, sig
	return p, nil
}

func parseForwarder(h http.Header) (forwarder, error) {
	var f forwarder
	key, err := header(h, HeaderForwarder)
	if err != nil {
		return f, err
	}
	sig, err := header(h, HeaderForwarderSignature)
	if err != nil {
		return f, err
	}
	if err := decodeLowerHex(HeaderForwarder, key, f.key[:]); err != nil {
		return f, err
	}
	if err := decodeLowerHex(HeaderForwarderSignature, sig, f.sig[:]); err != nil {
		return f, err
	}
	return f, nil
}

// header returns the single value of a header: absent is ErrMissing,
// repeated is ErrMalformed (which copy was signed would be ambiguous).
func header(h http.Header, name string) (string, error) {
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrMissing, name)
	case 1:
		return vs[0], nil
	default:
		return "", fmt.Errorf("%w: %s given %d times", ErrMalformed, name, len(vs))
	}
}

// decodeLowerHex decodes exactly 2*len(dst) lowercase hex digits, so that
// each value has one text form.
func decodeLowerHex(name, s string, dst []byte) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%w: %s: want %d lowercase hex digits, got %d characters", ErrMalformed, name, 2*len(dst), len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("%w: %s: want %d lowercase hex digits", ErrMalformed, name, 2*len(dst))
		}
	}
	_, _ = hex.Decode(dst, []byte(s))
	return nil
}

// parseExpires accepts a decimal number of seconds without sign or leading
// zeros, so that the signed text and the number are one-to-one.
func parseExpires(s string) (int64, error) {
	bad := func() (int64, error) {
		return 0, fmt.Errorf("%w: %s: want unix seconds in decimal, no sign or leading zeros", ErrMalformed, HeaderExpires)
	}
	if len(s) == 0 || len(s) > maxExpiresDigits || (s[0] == '0' && len(s) > 1) {
		return bad()
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return bad()
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return bad()
	}
	return n, nil
}
