package records

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
)

// Message types.
const (
	TypeAdd   = "records/add"
	TypeShare = "records/share"
	TypeErase = "records/erase"
)

// MsgAdd registers a record, or a new version of it, with its wrapped keys.
type MsgAdd struct {
	ID           RecordID
	Patient      crypto.Address
	ResourceType string
	ContentHash  [32]byte
	Size         uint64
	Keys         []WrappedKey // sorted by recipient party key
}

func (m *MsgAdd) Type() string { return TypeAdd }
func (m *MsgAdd) Encode(w *codec.Writer) {
	w.Fixed(m.ID[:])
	w.Fixed(m.Patient[:])
	w.String(m.ResourceType)
	w.Fixed(m.ContentHash[:])
	w.Uint(m.Size)
	writeKeys(w, m.Keys)
}

func checkKeysSorted(ks []WrappedKey) error {
	for i := 1; i < len(ks); i++ {
		if bytes.Compare(ks[i-1].Recipient.Key(), ks[i].Recipient.Key()) >= 0 {
			return sm.Wrapf(ErrKeySet, "keys must be sorted by recipient and distinct")
		}
	}
	return nil
}

func (m *MsgAdd) ValidateBasic() error {
	if !consent.ValidResourceType(m.ResourceType) {
		return sm.Wrapf(ErrBadType, "%q", m.ResourceType)
	}
	if m.ContentHash == ([32]byte{}) {
		return ErrBadHash
	}
	if m.Size == 0 || m.Size > MaxBlobBytes {
		return sm.Wrapf(ErrBadSize, "%d bytes, allowed 1..%d", m.Size, MaxBlobBytes)
	}
	if len(m.Keys) == 0 {
		return sm.Wrapf(ErrKeySet, "at least the patient's key is required")
	}
	return checkKeysSorted(m.Keys)
}

func decodeAdd(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgAdd {
		m := &MsgAdd{}
		r.Into("id", m.ID[:])
		m.Patient = sm.ReadAddress(r, "patient")
		m.ResourceType = r.String("resource_type", consent.MaxTypeLen)
		r.Into("content_hash", m.ContentHash[:])
		m.Size = r.Uint("size")
		m.Keys = readKeys(r)
		return m
	})
}

// MsgShare, by the patient or a guardian, adds wrapped keys of an existing
// version for parties newly entitled to read it.
type MsgShare struct {
	ID      RecordID
	Version uint32
	Keys    []WrappedKey
}

func (m *MsgShare) Type() string { return TypeShare }
func (m *MsgShare) Encode(w *codec.Writer) {
	w.Fixed(m.ID[:])
	w.Uint(uint64(m.Version))
	writeKeys(w, m.Keys)
}
func (m *MsgShare) ValidateBasic() error {
	if len(m.Keys) == 0 {
		return sm.Wrapf(ErrKeySet, "no keys")
	}
	return checkKeysSorted(m.Keys)
}
func decodeShare(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgShare {
		m := &MsgShare{}
		r.Into("id", m.ID[:])
		m.Version = readVersion(r)
		m.Keys = readKeys(r)
		return m
	})
}

// MsgErase, by the patient or a guardian, erases a record: a tombstone on
// chain; every node deletes the ciphertext.
type MsgErase struct{ ID RecordID }

func (m *MsgErase) Type() string           { return TypeErase }
func (m *MsgErase) Encode(w *codec.Writer) { w.Fixed(m.ID[:]) }
func (m *MsgErase) ValidateBasic() error   { return nil }
func decodeErase(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgErase {
		m := &MsgErase{}
		r.Into("id", m.ID[:])
		return m
	})
}

// Module plugs records into the state machine.
type Module struct{}

var _ sm.Module = Module{}

func (Module) Name() string { return "records" }

func (Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeAdd, Decode: decodeAdd, Exec: execAdd},
		{Type: TypeShare, Decode: decodeShare, Exec: execShare},
		{Type: TypeErase, Decode: decodeErase, Exec: execErase},
		{Type: TypeRewrap, Decode: decodeRewrap, Exec: execRewrap},
		{Type: TypeSessionKeys, Decode: decodeSessionKeys, Exec: execSessionKeys},
	}
}

func idAttr(id RecordID) sm.Attr { return sm.Attr{Key: "id", Value: hex.EncodeToString(id[:])} }

// expectedRecipients are the key holders that can receive a key.
func expectedRecipients(kv store.Reader, now int64, t consent.Target) []consent.Party {
	var out []consent.Party
	for _, p := range consent.KeyHolders(kv, now, t) {
		if _, ok := consent.EncKeyOf(kv, p); ok {
			out = append(out, p)
		}
	}
	return out
}

func execAdd(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgAdd)
	p := accounts.GetAccount(ctx.Store, m.Patient)
	if p == nil || p.Kind != accounts.KindPatient {
		return sm.Wrapf(ErrNotPatient, "%s", m.Patient)
	}
	if err := sessionCovers(ctx, m.ID, m.ResourceType); err != nil {
		return err
	}
	now := ctx.Time.Unix()
	t := consent.Target{Patient: m.Patient, Record: m.ID, Type: m.ResourceType}
	if d := consent.MayWrite(ctx.Store, now, ctx.Signer, t); !d.Allowed {
		return sm.Wrapf(ErrNoWriteConsent, "%s may not write %s for %s: %v", ctx.Signer, m.ResourceType, m.Patient, d.Err)
	}
	if ctx.Store.Get(byHashKey(m.ContentHash)) != nil {
		return sm.Wrapf(ErrDuplicateHash, "%x", m.ContentHash)
	}
	want := expectedRecipients(ctx.Store, now, t)
	if len(want) != len(m.Keys) {
		return sm.Wrapf(ErrKeySet, "%d keys given, %d entitled parties: %v", len(m.Keys), len(want), want)
	}
	for i := range want {
		if !bytes.Equal(want[i].Key(), m.Keys[i].Recipient.Key()) {
			return sm.Wrapf(ErrKeySet, "key %d is for %s, expected %s", i, m.Keys[i].Recipient, want[i])
		}
	}
	rec := GetRecord(ctx.Store, m.ID)
	if rec == nil {
		rec = &Record{ID: m.ID, Patient: m.Patient, Type: m.ResourceType, Created: now}
		ctx.Store.Set(byPatientKey(m.Patient, m.ID), []byte{1})
	} else {
		if rec.Erased != 0 {
			return sm.Wrapf(ErrErased, "%x", m.ID)
		}
		if rec.Patient != m.Patient || rec.Type != m.ResourceType {
			return ErrMismatch
		}
	}
	rec.Version++
	v := &Version{Record: m.ID, Version: rec.Version, Author: ctx.Signer, ContentHash: m.ContentHash, Size: m.Size, Created: now}
	ctx.Store.Set(recordKey(m.ID), codec.Marshal(rec))
	ctx.Store.Set(versionKey(m.ID, v.Version), codec.Marshal(v))
	ctx.Store.Set(byHashKey(m.ContentHash), binary.BigEndian.AppendUint32(append([]byte{}, m.ID[:]...), v.Version))
	for i := range m.Keys {
		ctx.Store.Set(wrappedKeyKey(m.ID, v.Version, m.Keys[i].Recipient), codec.Marshal(&m.Keys[i]))
	}
	ctx.Events.Emit("record_added", idAttr(m.ID), sm.Attr{Key: "version", Value: strconv.FormatUint(uint64(v.Version), 10)},
		sm.Attr{Key: "patient", Value: m.Patient.String()}, sm.Attr{Key: "type", Value: m.ResourceType},
		sm.Attr{Key: "author", Value: ctx.Signer.String()}, sm.Attr{Key: "content_hash", Value: hex.EncodeToString(m.ContentHash[:])})
	return nil
}

func execShare(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgShare)
	rec := GetRecord(ctx.Store, m.ID)
	if rec == nil {
		return sm.Wrapf(ErrNotFound, "%x", m.ID)
	}
	if rec.Erased != 0 {
		return sm.Wrapf(ErrErased, "%x", m.ID)
	}
	if !accounts.CanActFor(ctx.Store, ctx.Signer, rec.Patient) {
		return ErrNotOwner
	}
	if err := sessionCovers(ctx, rec.ID, rec.Type); err != nil {
		return err
	}
	if m.Version == 0 || m.Version > rec.Version {
		return sm.Wrapf(ErrBadVersion, "%d of %d", m.Version, rec.Version)
	}
	now := ctx.Time.Unix()
	entitled := map[string]bool{}
	for _, p := range expectedRecipients(ctx.Store, now, rec.Target()) {
		entitled[string(p.Key())] = true
	}
	for i := range m.Keys {
		r := m.Keys[i].Recipient
		if !entitled[string(r.Key())] {
			return sm.Wrapf(ErrNotEntitled, "%s", r)
		}
		if ctx.Store.Get(wrappedKeyKey(m.ID, m.Version, r)) != nil {
			return sm.Wrapf(ErrKeyExists, "%s", r)
		}
		ctx.Store.Set(wrappedKeyKey(m.ID, m.Version, r), codec.Marshal(&m.Keys[i]))
	}
	ctx.Events.Emit("record_shared", idAttr(m.ID), sm.Attr{Key: "version", Value: strconv.FormatUint(uint64(m.Version), 10)},
		sm.Attr{Key: "keys", Value: strconv.Itoa(len(m.Keys))})
	return nil
}

func execErase(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgErase)
	rec := GetRecord(ctx.Store, m.ID)
	if rec == nil {
		return sm.Wrapf(ErrNotFound, "%x", m.ID)
	}
	if !accounts.CanActFor(ctx.Store, ctx.Signer, rec.Patient) {
		return ErrNotOwner
	}
	if err := sessionCovers(ctx, rec.ID, rec.Type); err != nil {
		return err
	}
	if rec.Erased != 0 {
		return sm.Wrapf(ErrErased, "%x", m.ID)
	}
	rec.Erased = ctx.Time.Unix()
	ctx.Store.Set(recordKey(rec.ID), codec.Marshal(rec))
	var hashes []string
	for v := uint32(1); v <= rec.Version; v++ {
		var dead [][]byte
		p := wrappedKeyPrefix(rec.ID, v)
		ctx.Store.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
			dead = append(dead, bytes.Clone(k))
			return true
		})
		for _, k := range dead {
			ctx.Store.Delete(k)
		}
		eraseSessionKeys(ctx.Store, rec.ID, v)
		if ver := GetVersion(ctx.Store, rec.ID, v); ver != nil {
			hashes = append(hashes, hex.EncodeToString(ver.ContentHash[:]))
		}
	}
	attrs := []sm.Attr{idAttr(rec.ID), {Key: "patient", Value: rec.Patient.String()}}
	for _, h := range hashes {
		attrs = append(attrs, sm.Attr{Key: "content_hash", Value: h})
	}
	ctx.Events.Emit("record_erased", attrs...)
	return nil
}
