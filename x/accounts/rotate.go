package accounts

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// Key rotation. An account's address is fixed when it registers (the
// address of its first signing key) and stays its identity; the account
// stores its current signing and encryption keys. A key that is not the
// first one is bound to its account in the signing-key index
// (PrefixSigningKey), so a transaction signed by it is the account's. Bound
// keys are never unbound: a retired key cannot be registered again as a new
// account, and a key never serves two accounts.

// TypeRotateKeys is the message type of a key rotation.
const TypeRotateKeys = "accounts/rotate_keys"

// RotateDomain starts the bytes a rotation's proof of possession covers.
const RotateDomain = "medchain/rotate-keys/v1"

// Errors of key rotation and key binding; codes are stable.
var (
	ErrKeyInUse  = sm.Register(Codespace, 20, "signing key already belongs to an account or session")
	ErrBadProof  = sm.Register(Codespace, 21, "proof of possession of the new signing key does not verify")
	ErrStaleKey  = sm.Register(Codespace, 22, "signing key is not the account's current key")
	ErrNotOwnKey = sm.Register(Codespace, 23, "only the account's current key may do this")
)

// Kinds of bound signing keys (the first byte of an index value).
const (
	BoundRotated byte = 1 // a rotated account key
	BoundSession byte = 2 // a session key (x/session)
)

func signingKeyKey(pub crypto.PubKey) []byte {
	return append([]byte{sm.PrefixSigningKey}, pub[:]...)
}

// SigningKeyKey is the store key of a bound signing key (for proofs).
func SigningKeyKey(pub crypto.PubKey) []byte { return signingKeyKey(pub) }

// BoundKey returns the kind and account a signing key is bound to, or ok
// false when it is not bound.
func BoundKey(kv store.Reader, pub crypto.PubKey) (kind byte, addr crypto.Address, ok bool) {
	b := kv.Get(signingKeyKey(pub))
	if b == nil {
		return 0, addr, false
	}
	if len(b) != 1+crypto.AddressSize {
		store.Check(codec.ErrTooLong) // state we wrote ourselves must decode
	}
	copy(addr[:], b[1:])
	return b[0], addr, true
}

// BindKey binds a signing key to an account (kind BoundRotated or
// BoundSession). The caller checked KeyInUse.
func BindKey(kv store.KV, pub crypto.PubKey, kind byte, addr crypto.Address) {
	kv.Set(signingKeyKey(pub), append([]byte{kind}, addr[:]...))
}

// KeyInUse reports whether pub has ever signed for anything: it is bound,
// or an account exists at its own address.
func KeyInUse(kv store.Reader, pub crypto.PubKey) bool {
	if _, _, ok := BoundKey(kv, pub); ok {
		return true
	}
	return GetAccount(kv, pub.Address()) != nil
}

// KeyAccount returns the address of the account pub signs for when it is an
// account key (not a session key): the bound account, else its own
// address.
func KeyAccount(kv store.Reader, pub crypto.PubKey) (crypto.Address, bool) {
	kind, addr, ok := BoundKey(kv, pub)
	switch {
	case !ok:
		return pub.Address(), true
	case kind == BoundRotated:
		return addr, true
	}
	return crypto.Address{}, false
}

// MsgRotateKeys, signed by an account's current key, replaces the account's
// signing and encryption keys. Proof is the new signing key's signature
// over RotateSignBytes, so nobody can name a key they do not hold.
type MsgRotateKeys struct {
	NewPubKey crypto.PubKey
	NewEncKey crypto.EncKey
	Proof     [crypto.SignatureSize]byte
}

func (m *MsgRotateKeys) Type() string { return TypeRotateKeys }
func (m *MsgRotateKeys) Encode(w *codec.Writer) {
	w.Fixed(m.NewPubKey[:])
	w.Fixed(m.NewEncKey[:])
	w.Fixed(m.Proof[:])
}
func (m *MsgRotateKeys) ValidateBasic() error {
	if m.NewPubKey == (crypto.PubKey{}) {
		return sm.Wrapf(sm.ErrInvalidMsg, "new public key is zero")
	}
	return validEncKey(m.NewEncKey)
}
func decodeRotateKeys(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRotateKeys {
		m := &MsgRotateKeys{NewPubKey: sm.ReadKey32(r, "new_pub_key"), NewEncKey: sm.ReadKey32(r, "new_enc_key")}
		r.Into("proof", m.Proof[:])
		return m
	})
}

// RotateSignBytes are the bytes the new key signs: RotateDomain ‖ 0x00 ‖
// the canonical encoding of chain id, account address, current public key,
// new public key and new encryption key. Naming the current key makes a
// proof good for one rotation step only.
func RotateSignBytes(chainID string, addr crypto.Address, oldPub, newPub crypto.PubKey, newEnc crypto.EncKey) []byte {
	w := codec.NewWriter(160)
	w.Fixed([]byte(RotateDomain))
	w.Fixed([]byte{0})
	w.String(chainID)
	w.Fixed(addr[:])
	w.Fixed(oldPub[:])
	w.Fixed(newPub[:])
	w.Fixed(newEnc[:])
	return w.Bytes()
}

// NewRotateKeys builds a rotation of the account at addr from its current
// key to next.
func NewRotateKeys(chainID string, addr crypto.Address, current crypto.PubKey, next *crypto.PrivKey) *MsgRotateKeys {
	m := &MsgRotateKeys{NewPubKey: next.PubKey(), NewEncKey: next.EncKey()}
	copy(m.Proof[:], next.Sign(RotateSignBytes(chainID, addr, current, m.NewPubKey, m.NewEncKey)))
	return m
}

func execRotateKeys(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRotateKeys)
	a := GetAccount(ctx.Store, ctx.Signer)
	if a == nil {
		return sm.Wrapf(ErrNotFound, "%s", ctx.Signer)
	}
	if a.PubKey != ctx.Key {
		return sm.Wrapf(ErrNotOwnKey, "a session key cannot rotate the account's keys")
	}
	if KeyInUse(ctx.Store, m.NewPubKey) {
		return sm.Wrapf(ErrKeyInUse, "%s", m.NewPubKey)
	}
	if !crypto.Verify(m.NewPubKey, RotateSignBytes(ctx.ChainID, a.Address, a.PubKey, m.NewPubKey, m.NewEncKey), m.Proof[:]) {
		return ErrBadProof
	}
	old := a.PubKey
	a.PubKey, a.EncKey = m.NewPubKey, m.NewEncKey
	PutAccount(ctx.Store, a)
	BindKey(ctx.Store, m.NewPubKey, BoundRotated, a.Address)
	ctx.Events.Emit("account_keys_rotated", sm.Attr{Key: "address", Value: a.Address.String()},
		sm.Attr{Key: "old_pub_key", Value: old.String()}, sm.Attr{Key: "new_pub_key", Value: m.NewPubKey.String()})
	return nil
}
