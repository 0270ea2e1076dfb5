package links

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// Message types.
const (
	TypeLink   = "links/link"
	TypeUnlink = "links/unlink"
)

// Approval is a patient's (or guardian's) signed consent to one link.
type Approval struct {
	Approver  crypto.Address // the patient or a guardian
	Expires   int64          // block time: valid while block time < Expires
	Signature [crypto.SignatureSize]byte
}

// ApprovalSignBytes are the bytes an approval signs: ApprovalDomain ‖ 0x00
// ‖ the canonical encoding of chain id, org, MAC (32 bytes), patient
// address (20 bytes), approver address (20 bytes) and expiry.
func ApprovalSignBytes(chainID, org string, mac MAC, patient, approver crypto.Address, expires int64) []byte {
	w := codec.NewWriter(160)
	w.Fixed([]byte(ApprovalDomain))
	w.Fixed([]byte{0})
	w.String(chainID)
	w.String(org)
	w.Fixed(mac[:])
	w.Fixed(patient[:])
	w.Fixed(approver[:])
	w.Int(expires)
	return w.Bytes()
}

// Approve signs an approval with the approver's key.
func Approve(k *crypto.PrivKey, chainID, org string, mac MAC, patient crypto.Address, expires int64) Approval {
	a := Approval{Approver: k.Address(), Expires: expires}
	copy(a.Signature[:], k.Sign(ApprovalSignBytes(chainID, org, mac, patient, a.Approver, expires)))
	return a
}

// MsgLink, signed by an admin, staff or gateway member of Org, links the
// identifier whose MAC is given to Patient. With Approval nil the patient
// must have an active consent to Org.
type MsgLink struct {
	Org      string
	MAC      MAC
	Patient  crypto.Address
	Approval *Approval
}

func (m *MsgLink) Type() string { return TypeLink }
func (m *MsgLink) Encode(w *codec.Writer) {
	w.String(m.Org)
	w.Fixed(m.MAC[:])
	w.Fixed(m.Patient[:])
	w.Bool(m.Approval != nil)
	if a := m.Approval; a != nil {
		w.Fixed(a.Approver[:])
		w.Int(a.Expires)
		w.Fixed(a.Signature[:])
	}
}
func (m *MsgLink) ValidateBasic() error {
	if err := accounts.ValidateOrgID(m.Org); err != nil {
		return sm.Wrapf(sm.ErrInvalidMsg, "org: %v", err)
	}
	if m.MAC == (MAC{}) {
		return sm.Wrapf(sm.ErrInvalidMsg, "the MAC must not be zero")
	}
	if m.Patient.IsZero() {
		return sm.Wrapf(sm.ErrInvalidMsg, "patient is required")
	}
	if a := m.Approval; a != nil && (a.Approver.IsZero() || a.Expires <= 0) {
		return sm.Wrapf(sm.ErrInvalidMsg, "an approval names its approver and an expiry")
	}
	return nil
}
func decodeLink(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgLink {
		m := &MsgLink{Org: r.String("org", accounts.MaxIDLen)}
		r.Into("mac", m.MAC[:])
		m.Patient = sm.ReadAddress(r, "patient")
		if r.Bool("approval") {
			a := &Approval{Approver: sm.ReadAddress(r, "approval.approver"), Expires: r.Int("approval.expires")}
			r.Into("approval.signature", a.Signature[:])
			m.Approval = a
		}
		return m
	})
}

// MsgUnlink removes a link: signed by an admin, staff or gateway member of
// Org, or by the linked patient or a guardian.
type MsgUnlink struct {
	Org string
	MAC MAC
}

func (m *MsgUnlink) Type() string { return TypeUnlink }
func (m *MsgUnlink) Encode(w *codec.Writer) {
	w.String(m.Org)
	w.Fixed(m.MAC[:])
}
func (m *MsgUnlink) ValidateBasic() error {
	if err := accounts.ValidateOrgID(m.Org); err != nil {
		return sm.Wrapf(sm.ErrInvalidMsg, "org: %v", err)
	}
	return nil
}
func decodeUnlink(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgUnlink {
		m := &MsgUnlink{Org: r.String("org", accounts.MaxIDLen)}
		r.Into("mac", m.MAC[:])
		return m
	})
}
