package research

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/consent"
)

// Message types.
const (
	TypeOpen  = "research/open"
	TypeOptIn = "research/optin"
	TypeClose = "research/close"
)

// MsgOpen, signed by a researcher, opens a data request and escrows its
// budget.
type MsgOpen struct {
	Budget  uint64
	Price   uint64
	Types   []string // FHIR resource types, sorted and distinct
	Codes   []string // "system|code", sorted and distinct (may be empty)
	Purpose string
	End     int64
}

func (m *MsgOpen) Type() string { return TypeOpen }
func (m *MsgOpen) Encode(w *codec.Writer) {
	w.Uint(m.Budget)
	w.Uint(m.Price)
	w.Strings(m.Types)
	w.Strings(m.Codes)
	w.String(m.Purpose)
	w.Int(m.End)
}

func (m *MsgOpen) ValidateBasic() error {
	switch {
	case m.Price == 0:
		return sm.Wrapf(ErrBadRequest, "price must be positive")
	case m.Budget < m.Price:
		return sm.Wrapf(ErrBadRequest, "budget %d does not pay one patient (price %d)", m.Budget, m.Price)
	case len(m.Types) == 0:
		return sm.Wrapf(ErrBadRequest, "at least one resource type is required")
	case !ValidPurpose(m.Purpose):
		return sm.Wrapf(ErrBadRequest, "purpose %q: a code of a-z, 0-9, '-', '_', '.' up to %d characters", m.Purpose, MaxPurposeLen)
	case m.End <= 0:
		return sm.Wrapf(ErrBadRequest, "end must be a block time")
	}
	for i, t := range m.Types {
		if !consent.ValidResourceType(t) {
			return sm.Wrapf(ErrBadRequest, "resource type %q", t)
		}
		if i > 0 && m.Types[i-1] >= t {
			return sm.Wrapf(ErrBadRequest, "resource types must be sorted and distinct")
		}
	}
	for i, c := range m.Codes {
		if !ValidCode(c) {
			return sm.Wrapf(ErrBadRequest, "code %q: want system|code", c)
		}
		if i > 0 && m.Codes[i-1] >= c {
			return sm.Wrapf(ErrBadRequest, "codes must be sorted and distinct")
		}
	}
	return nil
}

func decodeOpen(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgOpen {
		m := &MsgOpen{Budget: r.Uint("budget"), Price: r.Uint("price")}
		m.Types = r.Strings("types", MaxTypes, consent.MaxTypeLen)
		m.Codes = r.Strings("codes", MaxCodes, MaxCodeLen)
		m.Purpose = r.String("purpose", MaxPurposeLen)
		m.End = r.Int("end")
		return m
	})
}

// MsgOptIn, signed by the patient or a guardian, links the patient's
// research consent to a request.
type MsgOptIn struct {
	Request uint64
	Patient crypto.Address
	Consent uint64
}

func (m *MsgOptIn) Type() string { return TypeOptIn }
func (m *MsgOptIn) Encode(w *codec.Writer) {
	w.Uint(m.Request)
	w.Fixed(m.Patient[:])
	w.Uint(m.Consent)
}
func (m *MsgOptIn) ValidateBasic() error {
	if m.Request == 0 || m.Consent == 0 || m.Patient.IsZero() {
		return ErrBadOptIn
	}
	return nil
}
func decodeOptIn(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgOptIn {
		return &MsgOptIn{Request: r.Uint("request"), Patient: sm.ReadAddress(r, "patient"), Consent: r.Uint("consent")}
	})
}

// MsgClose, signed by its researcher, ends a request now: accesses from now
// on are not paid; the rest of the escrow returns after the settle time. It
// is refused while a patient who opted in, with a consent still in force,
// has not been paid (that consent would let the researcher read unpaid).
type MsgClose struct{ Request uint64 }

func (m *MsgClose) Type() string           { return TypeClose }
func (m *MsgClose) Encode(w *codec.Writer) { w.Uint(m.Request) }
func (m *MsgClose) ValidateBasic() error {
	if m.Request == 0 {
		return ErrBadOptIn
	}
	return nil
}
func decodeClose(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgClose { return &MsgClose{Request: r.Uint("request")} })
}
