package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/session"
)

// Proof kinds: what the accessor signed that asked for the access.
const (
	// ProofRequest is a signed HTTP request (internal/reqsig, version 1):
	// GET of a record version's ciphertext or of a record's key.
	ProofRequest uint8 = 1
	// ProofSession is the signed request of a FHIR bearer token (the
	// token grant of internal/fhir, TokenSignBytes): the accessor opened a
	// session at the reporting gateway's organization, and the access
	// happened while it was valid.
	ProofSession uint8 = 2
)

// Limits of a proof.
const (
	MaxTargetLen = 256
	MaxScopeLen  = 2048
	MaxOrgLen    = 64
	NonceSize    = 16
	// MaxRequestTTL bounds how long before its request's expiry an access
	// may be: a gateway accepts requests expiring at most 5 minutes ahead
	// (reqsig.DefaultMaxTTL); the margin covers a node configured wider.
	MaxRequestTTL = 600
	// MaxSessionTTL bounds how long before its token's expiry an access
	// may be: a FHIR token lives at most 8 hours (fhir.MaxTokenTTL) plus a
	// minute of clock allowance.
	MaxSessionTTL = 8*3600 + 60
)

// Signing domains of the accessor's signatures; they must equal those of
// internal/reqsig and internal/fhir (a test checks).
const (
	requestDomain = "medchain/request/v1"
	sessionDomain = "medchain/fhir-token/v2"
)

// emptyBodyHash is the lowercase hex SHA-256 of no bytes: a GET's body hash.
const emptyBodyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Proof is the accessor's signed request behind an access event: enough of
// it to check the signature on chain against the accessor's account key and
// to see that it asked for this record. It holds no health data: a path of
// hex identifiers, times, random bytes, a scope and signatures.
type Proof struct {
	Kind    uint8
	Expires int64 // unix seconds: the request's or the token's expiry
	Sig     [crypto.SignatureSize]byte

	// ProofRequest: the request target as signed (path and query) and the
	// nonce. The method is GET and the body empty. Key is the key that
	// signed it when it is not the accessor's current account key: a
	// session key of the accessor, or a key the accessor has since rotated
	// away from (empty: the current key).
	Target string
	Nonce  [NonceSize]byte
	Key    []byte

	// ProofSession: the token grant's fields besides chain id, address and
	// expiry (the chain supplies those).
	Org       string
	Challenge [32]byte
	Scope     string
	Launch    string // the token request's patient launch context, as sent
	// Session is the on-chain session key (x/session) that signed the token
	// request, when the token stands for a session: the chain checks it is
	// bound to the accessor. Empty: the accessor's account key signed.
	Session []byte
	Digest  []byte // the delegation digest: empty, or 32 bytes
}

// Encode writes the proof's canonical bytes.
func (p *Proof) Encode(w *codec.Writer) {
	w.Uint(uint64(p.Kind))
	w.Int(p.Expires)
	w.Fixed(p.Sig[:])
	switch p.Kind {
	case ProofRequest:
		w.String(p.Target)
		w.Fixed(p.Nonce[:])
		w.Blob(p.Key)
	case ProofSession:
		w.String(p.Org)
		w.Fixed(p.Challenge[:])
		w.String(p.Scope)
		w.String(p.Launch)
		w.Blob(p.Session)
		w.Blob(p.Digest)
	}
}

func readProof(r *codec.Reader) Proof {
	var p Proof
	kind := r.Uint("proof.kind")
	p.Expires = r.Int("proof.expires")
	r.Into("proof.sig", p.Sig[:])
	switch kind {
	case uint64(ProofRequest):
		p.Kind = ProofRequest
		p.Target = r.String("proof.target", MaxTargetLen)
		r.Into("proof.nonce", p.Nonce[:])
		p.Key = r.Blob("proof.key", crypto.PubKeySize)
		if len(p.Key) == 0 {
			p.Key = nil
		}
	case uint64(ProofSession):
		p.Kind = ProofSession
		p.Org = r.String("proof.org", MaxOrgLen)
		r.Into("proof.challenge", p.Challenge[:])
		p.Scope = r.String("proof.scope", MaxScopeLen)
		p.Launch = r.String("proof.launch", 64)
		p.Session = r.Blob("proof.session", crypto.PubKeySize)
		if len(p.Session) == 0 {
			p.Session = nil
		}
		p.Digest = r.Blob("proof.digest", 32)
		if len(p.Digest) == 0 {
			p.Digest = nil
		}
	default:
		r.Fixed(fmt.Sprintf("proof kind %d (want 1 or 2)", kind), -1) // forces an error
	}
	return p
}

// Hash is the SHA-256 of the proof's canonical bytes: stored events name
// their proof by it.
func (p *Proof) Hash() [32]byte { return sha256.Sum256(codec.Marshal(p)) }

// ValidateBasic checks a proof without state.
func (p *Proof) ValidateBasic() error {
	switch p.Kind {
	case ProofRequest:
		if p.Target == "" {
			return fmt.Errorf("request proof without a target")
		}
		if len(p.Key) != 0 && len(p.Key) != crypto.PubKeySize {
			return fmt.Errorf("request proof: signing key of %d bytes", len(p.Key))
		}
	case ProofSession:
		if p.Org == "" || p.Scope == "" {
			return fmt.Errorf("session proof without organization or scope")
		}
		if len(p.Session) != 0 && len(p.Session) != crypto.PubKeySize {
			return fmt.Errorf("session proof: session key of %d bytes", len(p.Session))
		}
		if len(p.Digest) != 0 && len(p.Digest) != 32 {
			return fmt.Errorf("session proof: delegation digest of %d bytes", len(p.Digest))
		}
	default:
		return fmt.Errorf("proof kind %d", p.Kind)
	}
	if p.Expires <= 0 {
		return fmt.Errorf("proof without an expiry")
	}
	return nil
}

// RequestSignBytes are the bytes of a signed GET without a body
// (internal/reqsig, version 1): seven fields joined with 0x00.
func RequestSignBytes(chainID, target string, expires int64, nonce [NonceSize]byte) []byte {
	return []byte(strings.Join([]string{requestDomain, chainID, "GET", target,
		strconv.FormatInt(expires, 10), hex.EncodeToString(nonce[:]), emptyBodyHash}, "\x00"))
}

// SessionSignBytes are the bytes a FHIR token request's signature covers
// (internal/fhir, TokenSignBytes).
func SessionSignBytes(chainID string, p *Proof, accessor crypto.Address) []byte {
	w := codec.NewWriter(256)
	w.Fixed([]byte(sessionDomain))
	w.Fixed([]byte{0})
	w.String(chainID)
	w.String(p.Org)
	w.Blob(p.Challenge[:])
	w.Fixed(accessor[:])
	w.String(p.Scope)
	w.Int(p.Expires)
	w.String(p.Launch)
	w.Blob(p.Session)
	w.Blob(p.Digest)
	return w.Bytes()
}

// SignerKey is the key whose signature the proof carries, which must be
// one the accessor signs with: its account key; for a request, the key it
// names when that is a key the accessor has rotated away from (its
// original key, or one a rotation bound) or a session key of the
// accessor; for a token, the session key it names. A session's limits and
// end are checked against the event by covers.
func (p *Proof) SignerKey(kv store.Reader, accessor *accounts.Account) (crypto.PubKey, error) {
	var named []byte
	switch p.Kind {
	case ProofRequest:
		named = p.Key
	case ProofSession:
		named = p.Session
	}
	if len(named) == 0 {
		return accessor.PubKey, nil
	}
	var pub crypto.PubKey
	copy(pub[:], named)
	if pub == accessor.PubKey || pub.Address() == accessor.Address {
		return pub, nil
	}
	kind, addr, ok := accounts.BoundKey(kv, pub)
	if !ok || addr != accessor.Address || (kind == accounts.BoundRotated && p.Kind != ProofRequest) {
		return pub, fmt.Errorf("key %s does not sign for %s", pub, accessor.Address)
	}
	return pub, nil
}

// SignBytes are the bytes the accessor signed, for the proof's kind.
func (p *Proof) SignBytes(chainID string, accessor crypto.Address) []byte {
	if p.Kind == ProofSession {
		return SessionSignBytes(chainID, p, accessor)
	}
	return RequestSignBytes(chainID, p.Target, p.Expires, p.Nonce)
}

// covers reports why a proof does not cover an event of a record version
// (nil when it does), at block state kv; org is the reporting gateway's
// organization. The signature is checked by the caller.
func (p *Proof) covers(kv store.Reader, e *Event, org string) error {
	switch p.Kind {
	case ProofRequest:
		if e.Time > p.Expires || e.Time < p.Expires-MaxRequestTTL {
			return fmt.Errorf("access at %d outside its request's validity (expires %d)", e.Time, p.Expires)
		}
		if err := sessionCovers(kv, p.Key, e); err != nil {
			return err
		}
		return requestNames(kv, p.Target, e.Record, e.Version)
	case ProofSession:
		if p.Org != org {
			return fmt.Errorf("session opened at %q, reported by %q", p.Org, org)
		}
		if e.Time > p.Expires || e.Time < p.Expires-MaxSessionTTL {
			return fmt.Errorf("access at %d outside its session (expires %d)", e.Time, p.Expires)
		}
		return sessionCovers(kv, p.Session, e)
	}
	return fmt.Errorf("proof kind %d", p.Kind)
}

// sessionCovers checks an access made with key, when key is an on-chain
// session key (x/session), against the session: the event's record is
// within its limits, and the access happened before the session ended
// (expiry, revocation). Any other key (none, an account key) passes: it has
// no such limits.
func sessionCovers(kv store.Reader, key []byte, e *Event) error {
	if len(key) == 0 {
		return nil
	}
	var pub crypto.PubKey
	copy(pub[:], key)
	if kind, _, ok := accounts.BoundKey(kv, pub); !ok || kind != accounts.BoundSession {
		return nil
	}
	s := session.Get(kv, pub)
	if s == nil {
		return fmt.Errorf("no session %s", pub)
	}
	if e.Time >= s.Limits.Expires || (s.Revoked != 0 && e.Time >= s.Revoked) {
		return fmt.Errorf("access at %d after session %s ended", e.Time, pub)
	}
	rec := records.GetRecord(kv, e.Record)
	if rec == nil || !s.Limits.Covers(rec.ID, rec.Type) {
		return fmt.Errorf("record %x is outside session %s's limits", e.Record, pub)
	}
	return nil
}

// requestNames checks that a signed GET asked for this record version: its
// ciphertext (/v1/blobs/{content hash}) or its key
// (/v1/records/{id}/key, with ?version=n naming this version when given).
func requestNames(kv store.Reader, target string, id consent.RecordID, version uint32) error {
	path, query, _ := strings.Cut(target, "?")
	if h, ok := strings.CutPrefix(path, "/v1/blobs/"); ok {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 || query != "" {
			return fmt.Errorf("request %q is not a blob read", target)
		}
		v := records.GetVersion(kv, id, version)
		if v == nil || !bytes.Equal(v.ContentHash[:], b) {
			return fmt.Errorf("request %q is not for version %d of record %x", target, version, id)
		}
		return nil
	}
	rest, ok := strings.CutPrefix(path, "/v1/records/")
	if !ok {
		return fmt.Errorf("request %q reads neither a blob nor a record key", target)
	}
	idHex, ok := strings.CutSuffix(rest, "/key")
	b, err := hex.DecodeString(idHex)
	if !ok || err != nil || len(b) != consent.RecordIDSize || consent.RecordID(b) != id {
		return fmt.Errorf("request %q is not for record %x", target, id)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return fmt.Errorf("request %q: %v", target, err)
	}
	if vs := q.Get("version"); vs != "" {
		n, err := strconv.ParseUint(vs, 10, 32)
		if err != nil || uint32(n) != version {
			return fmt.Errorf("request %q is not for version %d", target, version)
		}
	}
	return nil
}
