package session

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
)

// Message types.
const (
	TypeDelegate = "session/delegate"
	TypeRevoke   = "session/revoke"
)

// DelegateDomain starts the bytes a delegation's proof of possession covers.
const DelegateDomain = "medchain/session-delegate/v1"

// MsgDelegate, signed by an account's current key, delegates to a session
// key within limits. Proof is the session key's signature over
// DelegateSignBytes: only whoever holds the session key can have it named.
type MsgDelegate struct {
	PubKey crypto.PubKey
	EncKey crypto.EncKey
	Limits Limits
	Proof  [crypto.SignatureSize]byte
}

func (m *MsgDelegate) Type() string { return TypeDelegate }
func (m *MsgDelegate) Encode(w *codec.Writer) {
	w.Fixed(m.PubKey[:])
	w.Fixed(m.EncKey[:])
	m.Limits.Encode(w)
	w.Fixed(m.Proof[:])
}
func (m *MsgDelegate) ValidateBasic() error {
	if m.PubKey == (crypto.PubKey{}) || m.EncKey == (crypto.EncKey{}) {
		return sm.Wrapf(sm.ErrInvalidMsg, "session keys must not be zero")
	}
	return m.Limits.ValidateBasic()
}
func decodeDelegate(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgDelegate {
		m := &MsgDelegate{PubKey: sm.ReadKey32(r, "pub_key"), EncKey: sm.ReadKey32(r, "enc_key")}
		m.Limits = readLimits(r)
		r.Into("proof", m.Proof[:])
		return m
	})
}

// DelegateSignBytes are the bytes the session key signs: DelegateDomain ‖
// 0x00 ‖ the canonical encoding of chain id, account address, session
// public key, session encryption key and limits.
func DelegateSignBytes(chainID string, account crypto.Address, pub crypto.PubKey, enc crypto.EncKey, l *Limits) []byte {
	w := codec.NewWriter(256)
	w.Fixed([]byte(DelegateDomain))
	w.Fixed([]byte{0})
	w.String(chainID)
	w.Fixed(account[:])
	w.Fixed(pub[:])
	w.Fixed(enc[:])
	l.Encode(w)
	return w.Bytes()
}

// NewDelegate builds the delegation of account to the session key sk.
func NewDelegate(chainID string, account crypto.Address, sk *crypto.PrivKey, l Limits) *MsgDelegate {
	m := &MsgDelegate{PubKey: sk.PubKey(), EncKey: sk.EncKey(), Limits: l}
	copy(m.Proof[:], sk.Sign(DelegateSignBytes(chainID, account, m.PubKey, m.EncKey, &m.Limits)))
	return m
}

// MsgRevoke, signed by the account's current key or by the session key
// itself, ends a session at once.
type MsgRevoke struct{ PubKey crypto.PubKey }

func (m *MsgRevoke) Type() string           { return TypeRevoke }
func (m *MsgRevoke) Encode(w *codec.Writer) { w.Fixed(m.PubKey[:]) }
func (m *MsgRevoke) ValidateBasic() error   { return nil }
func decodeRevoke(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRevoke {
		return &MsgRevoke{PubKey: sm.ReadKey32(r, "pub_key")}
	})
}
