package accounts

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
)

// Message types.
const (
	TypeRegisterPatient  = "accounts/register_patient"
	TypeRegisterMember   = "accounts/register_member"
	TypeDeactivateMember = "accounts/deactivate_member"
	TypeSetGuardian      = "accounts/set_guardian"
	TypeRevokeGuardian   = "accounts/revoke_guardian"
	TypeSetOrgKey        = "accounts/set_org_key"
)

// MsgRegisterPatient registers the signer as a patient with an encryption key.
type MsgRegisterPatient struct {
	EncKey crypto.EncKey
}

func (m *MsgRegisterPatient) Type() string           { return TypeRegisterPatient }
func (m *MsgRegisterPatient) Encode(w *codec.Writer) { w.Fixed(m.EncKey[:]) }
func (m *MsgRegisterPatient) ValidateBasic() error   { return validEncKey(m.EncKey) }
func decodeRegisterPatient(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRegisterPatient {
		return &MsgRegisterPatient{EncKey: sm.ReadKey32(r, "enc_key")}
	})
}

func validEncKey(k crypto.EncKey) error {
	if k == (crypto.EncKey{}) {
		return sm.Wrapf(sm.ErrInvalidMsg, "encryption key is zero")
	}
	return nil
}

// MsgRegisterMember, signed by an org admin, registers a member of the
// signer's organization.
type MsgRegisterMember struct {
	PubKey crypto.PubKey
	EncKey crypto.EncKey
	Role   string
}

func (m *MsgRegisterMember) Type() string { return TypeRegisterMember }
func (m *MsgRegisterMember) Encode(w *codec.Writer) {
	w.Fixed(m.PubKey[:])
	w.Fixed(m.EncKey[:])
	w.String(m.Role)
}
func (m *MsgRegisterMember) ValidateBasic() error {
	if m.PubKey == (crypto.PubKey{}) {
		return sm.Wrapf(sm.ErrInvalidMsg, "public key is zero")
	}
	if !ValidRole(m.Role) {
		return sm.Wrapf(ErrBadRole, "%q, want one of %v", m.Role, Roles)
	}
	return validEncKey(m.EncKey)
}
func decodeRegisterMember(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRegisterMember {
		return &MsgRegisterMember{PubKey: sm.ReadKey32(r, "pub_key"), EncKey: sm.ReadKey32(r, "enc_key"), Role: r.String("role", 32)}
	})
}

// MsgDeactivateMember, signed by an org admin, deactivates a member of the
// signer's organization.
type MsgDeactivateMember struct{ Address crypto.Address }

func (m *MsgDeactivateMember) Type() string           { return TypeDeactivateMember }
func (m *MsgDeactivateMember) Encode(w *codec.Writer) { w.Fixed(m.Address[:]) }
func (m *MsgDeactivateMember) ValidateBasic() error   { return nil }
func decodeDeactivateMember(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgDeactivateMember {
		return &MsgDeactivateMember{Address: sm.ReadAddress(r, "address")}
	})
}

// MsgSetGuardian, signed by a patient, lets Guardian act for them.
type MsgSetGuardian struct{ Guardian crypto.Address }

func (m *MsgSetGuardian) Type() string           { return TypeSetGuardian }
func (m *MsgSetGuardian) Encode(w *codec.Writer) { w.Fixed(m.Guardian[:]) }
func (m *MsgSetGuardian) ValidateBasic() error   { return nil }
func decodeSetGuardian(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgSetGuardian {
		return &MsgSetGuardian{Guardian: sm.ReadAddress(r, "guardian")}
	})
}

// MsgRevokeGuardian, signed by a patient, ends a guardian delegation.
type MsgRevokeGuardian struct{ Guardian crypto.Address }

func (m *MsgRevokeGuardian) Type() string           { return TypeRevokeGuardian }
func (m *MsgRevokeGuardian) Encode(w *codec.Writer) { w.Fixed(m.Guardian[:]) }
func (m *MsgRevokeGuardian) ValidateBasic() error   { return nil }
func decodeRevokeGuardian(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRevokeGuardian {
		return &MsgRevokeGuardian{Guardian: sm.ReadAddress(r, "guardian")}
	})
}

// MsgSetOrgKey, signed by an org admin, sets the organization's encryption
// key (held by its gateway).
type MsgSetOrgKey struct{ EncKey crypto.EncKey }

func (m *MsgSetOrgKey) Type() string           { return TypeSetOrgKey }
func (m *MsgSetOrgKey) Encode(w *codec.Writer) { w.Fixed(m.EncKey[:]) }
func (m *MsgSetOrgKey) ValidateBasic() error   { return validEncKey(m.EncKey) }
func decodeSetOrgKey(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgSetOrgKey {
		return &MsgSetOrgKey{EncKey: sm.ReadKey32(r, "enc_key")}
	})
}
