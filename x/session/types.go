package session

import (
	"slices"
	"strings"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/consent"
)

// Codespace of the session module.
const Codespace = "session"

// Errors; codes are stable.
var (
	ErrNotFound   = sm.Register(Codespace, 1, "no such session")
	ErrExpired    = sm.Register(Codespace, 2, "session expired")
	ErrRevoked    = sm.Register(Codespace, 3, "session revoked")
	ErrNotAllowed = sm.Register(Codespace, 4, "message type not allowed for this session")
	ErrBadLimits  = sm.Register(Codespace, 5, "invalid session limits")
	ErrBadProof   = sm.Register(Codespace, 6, "proof of possession of the session key does not verify")
	ErrNotOwner   = sm.Register(Codespace, 7, "the session belongs to another account")
	ErrFromKey    = sm.Register(Codespace, 8, "sessions are delegated and revoked by the account's own key")
	ErrTooLong    = sm.Register(Codespace, 9, "session lifetime too long")
	ErrNotCovered = sm.Register(Codespace, 10, "record not covered by the session's limits")
)

// Limits of a delegation.
const (
	MaxTypes      = 16
	MaxRecords    = consent.MaxScopeRecords
	MaxResTypes   = consent.MaxScopeTypes
	MaxPurposeLen = 64
	// MaxLifetime bounds expiry - block time at delegation: a session is
	// short-lived by construction.
	MaxLifetime = 7 * 24 * 3600
	// AllTypes in ResourceTypes lets a session read every type the account
	// may read.
	AllTypes = "*"
)

// Limits are what a session may do.
type Limits struct {
	// Types are the message types it may sign, sorted and distinct; none of
	// accounts/* or session/*.
	Types []string
	// Records and ResourceTypes are what it may read (and write, for
	// records/add): a record listed, or any record of a listed type ("*":
	// every type). Records sorted and distinct; types sorted and distinct.
	Records       []consent.RecordID
	ResourceTypes []string
	Purpose       string
	Expires       int64 // block time, unix seconds: valid while block time < Expires
}

func (l *Limits) Encode(w *codec.Writer) {
	w.Strings(l.Types)
	w.Uint(uint64(len(l.Records)))
	for _, id := range l.Records {
		w.Fixed(id[:])
	}
	w.Strings(l.ResourceTypes)
	w.String(l.Purpose)
	w.Int(l.Expires)
}

func readLimits(r *codec.Reader) Limits {
	var l Limits
	l.Types = r.Strings("types", MaxTypes, sm.MaxTypeLen)
	n := r.Count("records", MaxRecords)
	for i := 0; i < n && r.Err() == nil; i++ {
		var id consent.RecordID
		r.Into("record", id[:])
		l.Records = append(l.Records, id)
	}
	l.ResourceTypes = r.Strings("resource_types", MaxResTypes, consent.MaxTypeLen)
	l.Purpose = r.String("purpose", MaxPurposeLen)
	l.Expires = r.Int("expires")
	return l
}

// ValidateBasic checks limits without state.
func (l *Limits) ValidateBasic() error {
	for i, t := range l.Types {
		mod, action, ok := strings.Cut(t, "/")
		if !ok || mod == "" || action == "" {
			return sm.Wrapf(ErrBadLimits, "message type %q: want module/action", t)
		}
		if mod == "accounts" || mod == Codespace {
			return sm.Wrapf(ErrBadLimits, "a session may not sign %s messages", mod)
		}
		if i > 0 && l.Types[i-1] >= t {
			return sm.Wrapf(ErrBadLimits, "message types must be sorted and distinct")
		}
	}
	for i := 1; i < len(l.Records); i++ {
		if string(l.Records[i-1][:]) >= string(l.Records[i][:]) {
			return sm.Wrapf(ErrBadLimits, "records must be sorted and distinct")
		}
	}
	for i, t := range l.ResourceTypes {
		if t != AllTypes && !consent.ValidResourceType(t) {
			return sm.Wrapf(ErrBadLimits, "resource type %q", t)
		}
		if i > 0 && l.ResourceTypes[i-1] >= t {
			return sm.Wrapf(ErrBadLimits, "resource types must be sorted and distinct")
		}
	}
	if l.Purpose == "" {
		return sm.Wrapf(ErrBadLimits, "purpose is required")
	}
	for _, c := range l.Purpose {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return sm.Wrapf(ErrBadLimits, "purpose %q: a code of a-z, 0-9, '-', '_', '.'", l.Purpose)
		}
	}
	if l.Expires <= 0 {
		return sm.Wrapf(ErrBadLimits, "expires must be a block time")
	}
	return nil
}

// Allows reports whether the limits allow signing a message type.
func (l *Limits) Allows(msgType string) bool {
	_, ok := slices.BinarySearch(l.Types, msgType)
	return ok
}

// Covers reports whether the limits allow reading a record of a type.
func (l *Limits) Covers(id consent.RecordID, resourceType string) bool {
	if _, ok := slices.BinarySearchFunc(l.Records, id, func(a, b consent.RecordID) int { return strings.Compare(string(a[:]), string(b[:])) }); ok {
		return true
	}
	if _, ok := slices.BinarySearch(l.ResourceTypes, AllTypes); ok {
		return true
	}
	_, ok := slices.BinarySearch(l.ResourceTypes, resourceType)
	return ok
}

// Session is a delegation as stored.
type Session struct {
	PubKey   crypto.PubKey
	EncKey   crypto.EncKey
	Account  crypto.Address
	Limits   Limits
	Created  int64  // block time
	Revoked  int64  // block time of revocation; 0 while not revoked
	Sequence uint64 // the sequence the session key's next transaction must carry
}

func (s *Session) Encode(w *codec.Writer) {
	w.Fixed(s.PubKey[:])
	w.Fixed(s.EncKey[:])
	w.Fixed(s.Account[:])
	s.Limits.Encode(w)
	w.Int(s.Created)
	w.Int(s.Revoked)
	w.Uint(s.Sequence)
}

// DecodeSession decodes a stored session.
func DecodeSession(b []byte) (*Session, error) {
	r := codec.NewReader(b)
	s := &Session{PubKey: sm.ReadKey32(r, "pub_key"), EncKey: sm.ReadKey32(r, "enc_key"), Account: sm.ReadAddress(r, "account")}
	s.Limits = readLimits(r)
	s.Created = r.Int("created")
	s.Revoked = r.Int("revoked")
	s.Sequence = r.Uint("sequence")
	return s, r.Done()
}

// Live reports whether the session may act at block time now.
func (s *Session) Live(now int64) error {
	if s.Revoked != 0 {
		return ErrRevoked
	}
	if now >= s.Limits.Expires {
		return ErrExpired
	}
	return nil
}

func sessionKey(pub crypto.PubKey) []byte { return append([]byte{sm.PrefixSession}, pub[:]...) }

// Key is the store key of a session (for proofs).
func Key(pub crypto.PubKey) []byte { return sessionKey(pub) }

// Get loads a session, or nil.
func Get(kv store.Reader, pub crypto.PubKey) *Session {
	b := kv.Get(sessionKey(pub))
	if b == nil {
		return nil
	}
	s, err := DecodeSession(b)
	store.Check(err)
	return s
}

// Put stores a session.
func Put(kv store.KV, s *Session) { kv.Set(sessionKey(s.PubKey), codec.Marshal(s)) }

// Active returns the session of pub when it is live at block time now.
func Active(kv store.Reader, pub crypto.PubKey, now int64) (*Session, error) {
	s := Get(kv, pub)
	if s == nil {
		return nil, sm.Wrapf(ErrNotFound, "%s", pub)
	}
	if err := s.Live(now); err != nil {
		return s, err
	}
	return s, nil
}
