package records

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/session"
)

// Re-wrapping of data keys. The chain cannot check what a wrapped key
// opens (it never sees a data key); it checks who may register one: only an
// account for itself (records/rewrap, after a key rotation), and only an
// account for a live session of its own that covers the record
// (records/session_keys). Either way the signer must already hold a key of
// that version, so it can only pass on what it can read.

// Message types.
const (
	TypeRewrap      = "records/rewrap"
	TypeSessionKeys = "records/session_keys"
)

// Errors of re-wrapping; codes are stable.
var (
	ErrNoKeyHeld = sm.Register(Codespace, 20, "signer holds no key of this version")
	ErrRekeyFrom = sm.Register(Codespace, 21, "data keys are re-wrapped by the account's own key")
	ErrRekeyList = sm.Register(Codespace, 22, "re-wrapped keys must be sorted by record and version, distinct")
)

// MaxRekeys bounds the keys of one re-wrap message.
const MaxRekeys = 256

// Rekey is one version's data key wrapped anew.
type Rekey struct {
	ID      consent.RecordID
	Version uint32
	Enc     [WrappedEncLen]byte
	CT      [WrappedCTLen]byte
}

func (k *Rekey) Encode(w *codec.Writer) {
	w.Fixed(k.ID[:])
	w.Uint(uint64(k.Version))
	w.Fixed(k.Enc[:])
	w.Fixed(k.CT[:])
}

func writeRekeys(w *codec.Writer, ks []Rekey) {
	w.Uint(uint64(len(ks)))
	for i := range ks {
		ks[i].Encode(w)
	}
}

func readRekeys(r *codec.Reader) []Rekey {
	n := r.Count("keys", MaxRekeys)
	out := make([]Rekey, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		var k Rekey
		r.Into("id", k.ID[:])
		k.Version = readVersion(r)
		r.Into("enc", k.Enc[:])
		r.Into("ct", k.CT[:])
		out = append(out, k)
	}
	return out
}

func checkRekeys(ks []Rekey) error {
	if len(ks) == 0 {
		return sm.Wrapf(sm.ErrInvalidMsg, "no keys")
	}
	for i := range ks {
		if ks[i].Version == 0 {
			return sm.Wrapf(ErrBadVersion, "version 0")
		}
		if i > 0 && rekeyCompare(ks[i-1], ks[i]) >= 0 {
			return ErrRekeyList
		}
	}
	return nil
}

func rekeyCompare(a, b Rekey) int {
	if c := bytes.Compare(a.ID[:], b.ID[:]); c != 0 {
		return c
	}
	return int(a.Version) - int(b.Version)
}

// SortRekeys puts keys in the order the messages require.
func SortRekeys(ks []Rekey) { slices.SortFunc(ks, rekeyCompare) }

// MsgRewrap, signed by an account's current key, replaces the account's own
// wrapped keys (after a key rotation, wrapped to its new encryption key).
type MsgRewrap struct{ Keys []Rekey }

func (m *MsgRewrap) Type() string           { return TypeRewrap }
func (m *MsgRewrap) Encode(w *codec.Writer) { writeRekeys(w, m.Keys) }
func (m *MsgRewrap) ValidateBasic() error   { return checkRekeys(m.Keys) }
func decodeRewrap(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRewrap { return &MsgRewrap{Keys: readRekeys(r)} })
}

// MsgSessionKeys, signed by an account's current key, registers data keys
// wrapped to one of its live sessions' encryption key, for records the
// session covers and the account may read now.
type MsgSessionKeys struct {
	Session crypto.PubKey
	Keys    []Rekey
}

func (m *MsgSessionKeys) Type() string { return TypeSessionKeys }
func (m *MsgSessionKeys) Encode(w *codec.Writer) {
	w.Fixed(m.Session[:])
	writeRekeys(w, m.Keys)
}
func (m *MsgSessionKeys) ValidateBasic() error { return checkRekeys(m.Keys) }
func decodeSessionKeys(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgSessionKeys {
		return &MsgSessionKeys{Session: sm.ReadKey32(r, "session"), Keys: readRekeys(r)}
	})
}

func sessionDataKeyPrefix(id consent.RecordID, v uint32) []byte {
	k := append([]byte{sm.PrefixSessionDataKey}, id[:]...)
	return binary.BigEndian.AppendUint32(k, v)
}

func sessionDataKeyKey(id consent.RecordID, v uint32, pub crypto.PubKey) []byte {
	return append(sessionDataKeyPrefix(id, v), pub[:]...)
}

// SessionDataKeyKey is the store key of a data key wrapped to a session (for proofs).
func SessionDataKeyKey(id consent.RecordID, v uint32, pub crypto.PubKey) []byte {
	return sessionDataKeyKey(id, v, pub)
}

// GetSessionKey returns the data key of a version wrapped to a session key,
// or nil. The caller checks that the session is live and covers the record.
func GetSessionKey(kv store.Reader, id consent.RecordID, v uint32, pub crypto.PubKey) *WrappedKey {
	b := kv.Get(sessionDataKeyKey(id, v, pub))
	if b == nil {
		return nil
	}
	r := codec.NewReader(b)
	k := readWrappedKey(r)
	store.Check(r.Done())
	return &k
}

// ownAccount returns the signer's account when it signed with its current key.
func ownAccount(ctx sm.Context) (*accounts.Account, error) {
	a := accounts.GetAccount(ctx.Store, ctx.Signer)
	if a == nil || a.PubKey != ctx.Key {
		return nil, ErrRekeyFrom
	}
	return a, nil
}

// heldVersion checks that the record version exists, is not erased, and that
// the signer holds its own wrapped key of it.
func heldVersion(kv store.Reader, signer crypto.Address, id consent.RecordID, v uint32) (*Record, error) {
	rec := GetRecord(kv, id)
	if rec == nil {
		return nil, sm.Wrapf(ErrNotFound, "%x", id)
	}
	if rec.Erased != 0 {
		return nil, sm.Wrapf(ErrErased, "%x", id)
	}
	if v > rec.Version {
		return nil, sm.Wrapf(ErrBadVersion, "%x: %d of %d", id, v, rec.Version)
	}
	if GetKey(kv, id, v, consent.Account(signer)) == nil {
		return nil, sm.Wrapf(ErrNoKeyHeld, "%x v%d", id, v)
	}
	return rec, nil
}

func execRewrap(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRewrap)
	a, err := ownAccount(ctx)
	if err != nil {
		return err
	}
	me := consent.Account(a.Address)
	for i := range m.Keys {
		k := &m.Keys[i]
		if _, err := heldVersion(ctx.Store, a.Address, k.ID, k.Version); err != nil {
			return err
		}
		ctx.Store.Set(wrappedKeyKey(k.ID, k.Version, me), codec.Marshal(&WrappedKey{Recipient: me, Enc: k.Enc, CT: k.CT}))
	}
	ctx.Events.Emit("record_keys_rewrapped", sm.Attr{Key: "account", Value: a.Address.String()},
		sm.Attr{Key: "keys", Value: strconv.Itoa(len(m.Keys))})
	return nil
}

func execSessionKeys(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgSessionKeys)
	a, err := ownAccount(ctx)
	if err != nil {
		return err
	}
	now := ctx.Time.Unix()
	s, err := session.Active(ctx.Store, m.Session, now)
	if err != nil {
		return err
	}
	if s.Account != a.Address {
		return session.ErrNotOwner
	}
	for i := range m.Keys {
		k := &m.Keys[i]
		rec, err := heldVersion(ctx.Store, a.Address, k.ID, k.Version)
		if err != nil {
			return err
		}
		if !s.Limits.Covers(rec.ID, rec.Type) {
			return sm.Wrapf(session.ErrNotCovered, "%s/%x", rec.Type, rec.ID)
		}
		if d := consent.MayRead(ctx.Store, now, a.Address, consent.Target{Patient: rec.Patient, Record: rec.ID, Type: rec.Type}); !d.Allowed {
			return sm.Wrapf(ErrNotEntitled, "%s may no longer read %x: %v", a.Address, rec.ID, d.Err)
		}
		ctx.Store.Set(sessionDataKeyKey(k.ID, k.Version, m.Session),
			codec.Marshal(&WrappedKey{Recipient: consent.Account(a.Address), Enc: k.Enc, CT: k.CT}))
	}
	ctx.Events.Emit("session_keys_registered", sm.Attr{Key: "account", Value: a.Address.String()},
		sm.Attr{Key: "session", Value: m.Session.String()}, sm.Attr{Key: "keys", Value: strconv.Itoa(len(m.Keys))})
	return nil
}

// eraseSessionKeys deletes the session-wrapped keys of a version (erasure).
func eraseSessionKeys(kv store.KV, id consent.RecordID, v uint32) {
	var dead [][]byte
	p := sessionDataKeyPrefix(id, v)
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		dead = append(dead, bytes.Clone(k))
		return true
	})
	for _, k := range dead {
		kv.Delete(k)
	}
}

// sessionCovers refuses a message signed by a session key (the app
// authorized its type already) for a record outside the session's limits.
func sessionCovers(ctx sm.Context, id consent.RecordID, typ string) error {
	s := session.Get(ctx.Store, ctx.Key)
	if s == nil || s.Account != ctx.Signer {
		return nil
	}
	if !s.Limits.Covers(id, typ) {
		return sm.Wrapf(session.ErrNotCovered, "%s/%x", typ, id)
	}
	return nil
}
