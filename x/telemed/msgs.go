package telemed

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// Message types.
const (
	TypeOffer    = "telemed/offer"
	TypeWithdraw = "telemed/withdraw"
	TypeBook     = "telemed/book"
	TypeDone     = "telemed/done"
	TypeConfirm  = "telemed/confirm"
	TypeCancel   = "telemed/cancel"
	TypeDispute  = "telemed/dispute"
	TypeResolve  = "telemed/resolve"
	TypeNoShow   = "telemed/noshow"
)

// MsgOffer, signed by a practitioner, publishes an offer.
type MsgOffer struct {
	Service      string
	Price        uint64
	Duration     int64
	Arbiter      string
	CancelBefore int64
	Grace        int64
}

func (m *MsgOffer) Type() string { return TypeOffer }
func (m *MsgOffer) Encode(w *codec.Writer) {
	w.String(m.Service)
	w.Uint(m.Price)
	w.Int(m.Duration)
	w.String(m.Arbiter)
	w.Int(m.CancelBefore)
	w.Int(m.Grace)
}

// ValidServiceCode reports whether s is a service code: 1 to MaxServiceLen
// characters of a-z, 0-9, '-', '_', '.', ':' (a code such as
// "snomed:11429006" or "general-consultation", never free text).
func ValidServiceCode(s string) bool {
	if s == "" || len(s) > MaxServiceLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func (m *MsgOffer) ValidateBasic() error {
	switch {
	case !ValidServiceCode(m.Service):
		return sm.Wrapf(ErrBadOffer, "service %q: a code of a-z, 0-9, '-', '_', '.', ':' up to %d characters", m.Service, MaxServiceLen)
	case m.Price == 0:
		return sm.Wrapf(ErrBadOffer, "price must be positive")
	case m.Duration < MinDuration || m.Duration > MaxDuration:
		return sm.Wrapf(ErrBadOffer, "duration %d s: want %d to %d", m.Duration, MinDuration, MaxDuration)
	case m.Arbiter == "" || len(m.Arbiter) > accounts.MaxIDLen:
		return sm.Wrapf(ErrBadOffer, "an arbiter organization is required")
	case m.CancelBefore < 0 || m.CancelBefore > MaxCancelBefore:
		return sm.Wrapf(ErrBadOffer, "cancel window %d s: want 0 to %d", m.CancelBefore, MaxCancelBefore)
	case m.Grace < 0 || m.Grace > MaxGrace:
		return sm.Wrapf(ErrBadOffer, "no-show grace %d s: want 0 to %d", m.Grace, MaxGrace)
	}
	return nil
}

func decodeOffer(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgOffer {
		m := &MsgOffer{Service: r.String("service", MaxServiceLen), Price: r.Uint("price"), Duration: r.Int("duration")}
		m.Arbiter = r.String("arbiter", accounts.MaxIDLen)
		m.CancelBefore = r.Int("cancel_before")
		m.Grace = r.Int("grace")
		return m
	})
}

// MsgWithdraw, signed by its provider, stops an offer taking bookings
// (existing bookings run their course).
type MsgWithdraw struct{ Offer uint64 }

func (m *MsgWithdraw) Type() string           { return TypeWithdraw }
func (m *MsgWithdraw) Encode(w *codec.Writer) { w.Uint(m.Offer) }
func (m *MsgWithdraw) ValidateBasic() error   { return nonZero(m.Offer, "offer") }
func decodeWithdraw(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgWithdraw { return &MsgWithdraw{Offer: r.Uint("offer")} })
}

// MsgBook, signed by a patient, books the slot starting at Start (block
// time, unix seconds) and pays the offer's price into escrow.
type MsgBook struct {
	Offer uint64
	Start int64
}

func (m *MsgBook) Type() string { return TypeBook }
func (m *MsgBook) Encode(w *codec.Writer) {
	w.Uint(m.Offer)
	w.Int(m.Start)
}
func (m *MsgBook) ValidateBasic() error {
	if m.Start <= 0 {
		return sm.Wrapf(ErrBadBooking, "start must be a block time")
	}
	return nonZero(m.Offer, "offer")
}
func decodeBook(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgBook { return &MsgBook{Offer: r.Uint("offer"), Start: r.Int("start")} })
}

// MsgBookingAction is the message of every action on a booking that takes
// nothing but its id: done, confirm, cancel, dispute and no-show.
type MsgBookingAction struct {
	Action  string // one of TypeDone, TypeConfirm, TypeCancel, TypeDispute, TypeNoShow
	Booking uint64
}

func (m *MsgBookingAction) Type() string           { return m.Action }
func (m *MsgBookingAction) Encode(w *codec.Writer) { w.Uint(m.Booking) }
func (m *MsgBookingAction) ValidateBasic() error   { return nonZero(m.Booking, "booking") }

func decodeAction(action string) func([]byte) (sm.Msg, error) {
	return func(b []byte) (sm.Msg, error) {
		return sm.DecodeMsg(b, func(r *codec.Reader) *MsgBookingAction {
			return &MsgBookingAction{Action: action, Booking: r.Uint("booking")}
		})
	}
}

// Done, Confirm, Cancel, Dispute and NoShow build the booking actions.
func Done(id uint64) *MsgBookingAction    { return &MsgBookingAction{TypeDone, id} }
func Confirm(id uint64) *MsgBookingAction { return &MsgBookingAction{TypeConfirm, id} }
func Cancel(id uint64) *MsgBookingAction  { return &MsgBookingAction{TypeCancel, id} }
func Dispute(id uint64) *MsgBookingAction { return &MsgBookingAction{TypeDispute, id} }
func NoShow(id uint64) *MsgBookingAction  { return &MsgBookingAction{TypeNoShow, id} }

// MsgResolve, signed by an admin of the booking's arbiter organization,
// splits a disputed escrow.
type MsgResolve struct {
	Booking    uint64
	ToProvider uint64
	ToPatient  uint64
}

func (m *MsgResolve) Type() string { return TypeResolve }
func (m *MsgResolve) Encode(w *codec.Writer) {
	w.Uint(m.Booking)
	w.Uint(m.ToProvider)
	w.Uint(m.ToPatient)
}
func (m *MsgResolve) ValidateBasic() error {
	if m.ToProvider+m.ToPatient < m.ToProvider {
		return sm.Wrapf(ErrBadSplit, "the parts overflow")
	}
	return nonZero(m.Booking, "booking")
}
func decodeResolve(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgResolve {
		return &MsgResolve{Booking: r.Uint("booking"), ToProvider: r.Uint("to_provider"), ToPatient: r.Uint("to_patient")}
	})
}

func nonZero(id uint64, what string) error {
	if id == 0 {
		return sm.Wrapf(ErrBadBooking, "%s id is required", what)
	}
	return nil
}
