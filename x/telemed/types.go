package telemed

import (
	"encoding/binary"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
)

// Codespace of the telemed module.
const Codespace = "telemed"

// Errors; codes are stable, one per refusal reason.
var (
	ErrBadOffer       = sm.Register(Codespace, 1, "invalid offer")
	ErrNotProvider    = sm.Register(Codespace, 2, "signer is not an active practitioner of an active member organization")
	ErrBadArbiter     = sm.Register(Codespace, 3, "arbiter is not an active member organization")
	ErrOwnArbiter     = sm.Register(Codespace, 4, "the arbiter must not be the provider's own organization")
	ErrUnknownOffer   = sm.Register(Codespace, 5, "no such offer")
	ErrNotOfferOwner  = sm.Register(Codespace, 6, "only the offer's provider may withdraw it")
	ErrWithdrawn      = sm.Register(Codespace, 7, "offer withdrawn")
	ErrSelfBooking    = sm.Register(Codespace, 8, "a provider cannot book its own offer")
	ErrNotPatient     = sm.Register(Codespace, 9, "signer is not a registered patient")
	ErrProviderGone   = sm.Register(Codespace, 10, "the offer's provider is no longer an active practitioner")
	ErrStartPassed    = sm.Register(Codespace, 11, "slot start is not after the block time")
	ErrTooFarAhead    = sm.Register(Codespace, 12, "slot start is further ahead than telemed.max_advance_seconds allows")
	ErrSlotTaken      = sm.Register(Codespace, 13, "the slot overlaps a live booking of this offer")
	ErrUnknownBooking = sm.Register(Codespace, 14, "no such booking")
	ErrNotBookingProv = sm.Register(Codespace, 15, "only the booking's provider may do this")
	ErrNotBookingPat  = sm.Register(Codespace, 16, "only the booking's patient (or their guardian) may do this")
	ErrNotParty       = sm.Register(Codespace, 17, "signer is neither the booking's patient nor its provider")
	ErrWrongState     = sm.Register(Codespace, 18, "the booking is not in a state that allows this")
	ErrTooEarly       = sm.Register(Codespace, 19, "too early for this")
	ErrCancelClosed   = sm.Register(Codespace, 20, "the patient's cancellation window has closed")
	ErrNotArbiter     = sm.Register(Codespace, 21, "signer is not an admin of the booking's arbiter organization")
	ErrBadSplit       = sm.Register(Codespace, 22, "the split does not sum to the escrow")
	ErrBadBooking     = sm.Register(Codespace, 23, "invalid message: an offer or booking id is missing, or the start is not a time")
)

// Limits of an offer.
const (
	MaxServiceLen   = 64
	MinDuration     = 60
	MaxDuration     = 24 * 3600
	MaxCancelBefore = 30 * 24 * 3600
	MaxGrace        = 7 * 24 * 3600
)

// Booking states.
const (
	StateBooked   uint8 = 1 // escrow held; the slot is ahead or running
	StateDone     uint8 = 2 // the provider marked it done; release at Due
	StateNoShow   uint8 = 3 // the provider claimed a patient no-show; release at Due
	StateDisputed uint8 = 4 // frozen until the arbiter resolves
	StateClosed   uint8 = 5 // the escrow has left (Outcome says where)
)

// StateName names a booking state.
func StateName(s uint8) string {
	switch s {
	case StateBooked:
		return "booked"
	case StateDone:
		return "done"
	case StateNoShow:
		return "patient_no_show_claimed"
	case StateDisputed:
		return "disputed"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// Outcomes of a closed booking.
const (
	OutcomeConfirmed      = "confirmed" // the patient confirmed: to the provider
	OutcomeReleased       = "released"  // no confirmation nor dispute in time: to the provider
	OutcomeCancelledByPat = "cancelled_by_patient"
	OutcomeCancelledByPro = "cancelled_by_provider"
	OutcomeProviderNoShow = "provider_no_show" // the patient reclaimed the escrow
	OutcomeResolved       = "resolved"         // the arbiter split it
)

// Offer is a provider's published service.
type Offer struct {
	ID           uint64
	Provider     crypto.Address
	Org          string // the provider's organization at publication
	Service      string // a service code, never free text
	Price        uint64
	Duration     int64 // seconds
	Arbiter      string
	CancelBefore int64 // the patient may cancel until Start − CancelBefore
	Grace        int64 // the patient may reclaim after Start + Duration + Grace
	Created      int64
	Withdrawn    int64 // 0: bookable
}

func (o *Offer) Encode(w *codec.Writer) {
	w.Uint(o.ID)
	w.Fixed(o.Provider[:])
	w.String(o.Org)
	w.String(o.Service)
	w.Uint(o.Price)
	w.Int(o.Duration)
	w.String(o.Arbiter)
	w.Int(o.CancelBefore)
	w.Int(o.Grace)
	w.Int(o.Created)
	w.Int(o.Withdrawn)
}

// DecodeOffer decodes a stored offer.
func DecodeOffer(b []byte) (*Offer, error) {
	r := codec.NewReader(b)
	o := &Offer{ID: r.Uint("id"), Provider: sm.ReadAddress(r, "provider")}
	o.Org = r.String("org", accounts.MaxIDLen)
	o.Service = r.String("service", MaxServiceLen)
	o.Price = r.Uint("price")
	o.Duration = r.Int("duration")
	o.Arbiter = r.String("arbiter", accounts.MaxIDLen)
	o.CancelBefore = r.Int("cancel_before")
	o.Grace = r.Int("grace")
	o.Created = r.Int("created")
	o.Withdrawn = r.Int("withdrawn")
	return o, r.Done()
}

// Booking is a patient's paid slot of an offer.
type Booking struct {
	ID           uint64
	Offer        uint64
	Patient      crypto.Address
	Provider     crypto.Address
	Arbiter      string
	Price        uint64 // escrowed at booking
	Start, End   int64
	CancelBefore int64
	Grace        int64
	State        uint8
	Booked       int64
	Due          int64          // StateDone, StateNoShow: when EndBlock releases to the provider
	DisputedBy   crypto.Address // StateDisputed (and after resolution)
	Closed       int64
	Outcome      string
	ToProvider   uint64 // once closed: what each party received
	ToPatient    uint64
}

func (b *Booking) Encode(w *codec.Writer) {
	w.Uint(b.ID)
	w.Uint(b.Offer)
	w.Fixed(b.Patient[:])
	w.Fixed(b.Provider[:])
	w.String(b.Arbiter)
	w.Uint(b.Price)
	w.Int(b.Start)
	w.Int(b.End)
	w.Int(b.CancelBefore)
	w.Int(b.Grace)
	w.Uint(uint64(b.State))
	w.Int(b.Booked)
	w.Int(b.Due)
	w.Fixed(b.DisputedBy[:])
	w.Int(b.Closed)
	w.String(b.Outcome)
	w.Uint(b.ToProvider)
	w.Uint(b.ToPatient)
}

// DecodeBooking decodes a stored booking.
func DecodeBooking(raw []byte) (*Booking, error) {
	r := codec.NewReader(raw)
	b := &Booking{ID: r.Uint("id"), Offer: r.Uint("offer"), Patient: sm.ReadAddress(r, "patient"), Provider: sm.ReadAddress(r, "provider")}
	b.Arbiter = r.String("arbiter", accounts.MaxIDLen)
	b.Price = r.Uint("price")
	b.Start = r.Int("start")
	b.End = r.Int("end")
	b.CancelBefore = r.Int("cancel_before")
	b.Grace = r.Int("grace")
	if st := r.Uint("state"); st < uint64(StateBooked) || st > uint64(StateClosed) {
		r.Fixed("state "+strconv.FormatUint(st, 10), -1) // forces an error
	} else {
		b.State = uint8(st)
	}
	b.Booked = r.Int("booked")
	b.Due = r.Int("due")
	b.DisputedBy = sm.ReadAddress(r, "disputed_by")
	b.Closed = r.Int("closed")
	b.Outcome = r.String("outcome", 32)
	b.ToProvider = r.Uint("to_provider")
	b.ToPatient = r.Uint("to_patient")
	return b, r.Done()
}

// Escrow is the pool address holding a booking's escrow.
func Escrow(id uint64) crypto.Address {
	return bank.ModuleAddress(Codespace, "booking/"+strconv.FormatUint(id, 10))
}

// Keys.
func u64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func offerKey(id uint64) []byte   { return u64([]byte{sm.PrefixTelemedOffer}, id) }
func bookingKey(id uint64) []byte { return u64([]byte{sm.PrefixTelemedBooking}, id) }

// OfferKey and BookingKey are the store keys (for proofs).
func OfferKey(id uint64) []byte   { return offerKey(id) }
func BookingKey(id uint64) []byte { return bookingKey(id) }

var (
	offerSeqKey   = []byte{sm.PrefixTelemedSeq, 1}
	bookingSeqKey = []byte{sm.PrefixTelemedSeq, 2}
)

func slotPrefix(offer uint64) []byte { return u64([]byte{sm.PrefixTelemedSlot}, offer) }
func slotKey(b *Booking) []byte {
	return u64(u64(slotPrefix(b.Offer), uint64(b.Start)), b.ID)
}
func dueKey(due int64, id uint64) []byte {
	return u64(u64([]byte{sm.PrefixTelemedDue}, uint64(due)), id)
}
func partyKey(a crypto.Address, id uint64) []byte {
	return u64(append([]byte{sm.PrefixTelemedByParty}, a[:]...), id)
}
func disputePrefix(org string) []byte {
	return append(append([]byte{sm.PrefixTelemedDisputes}, org...), 0)
}
func disputeKey(org string, id uint64) []byte { return u64(disputePrefix(org), id) }

func nextID(kv store.KV, key []byte) uint64 {
	id := uint64(1)
	if b := kv.Get(key); len(b) == 8 {
		id = binary.BigEndian.Uint64(b)
	}
	kv.Set(key, binary.BigEndian.AppendUint64(nil, id+1))
	return id
}

// GetOffer loads an offer, or nil.
func GetOffer(kv store.Reader, id uint64) *Offer {
	b := kv.Get(offerKey(id))
	if b == nil {
		return nil
	}
	o, err := DecodeOffer(b)
	store.Check(err)
	return o
}

func putOffer(kv store.KV, o *Offer) { kv.Set(offerKey(o.ID), codec.Marshal(o)) }

// GetBooking loads a booking, or nil.
func GetBooking(kv store.Reader, id uint64) *Booking {
	b := kv.Get(bookingKey(id))
	if b == nil {
		return nil
	}
	bk, err := DecodeBooking(b)
	store.Check(err)
	return bk
}

func putBooking(kv store.KV, b *Booking) { kv.Set(bookingKey(b.ID), codec.Marshal(b)) }

// Offers lists offers in id order; with provider non-zero only that
// provider's, and with live only those not withdrawn.
func Offers(kv store.Reader, provider crypto.Address, live bool) []*Offer {
	var out []*Offer
	p := []byte{sm.PrefixTelemedOffer}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		o, err := DecodeOffer(v)
		store.Check(err)
		if (provider.IsZero() || o.Provider == provider) && (!live || o.Withdrawn == 0) {
			out = append(out, o)
		}
		return true
	})
	return out
}

// BookingsOf lists the bookings of a patient or a provider, in id order.
func BookingsOf(kv store.Reader, party crypto.Address) []*Booking {
	return listed(kv, append([]byte{sm.PrefixTelemedByParty}, party[:]...), func(b *Booking) bool {
		return b.Patient == party || b.Provider == party
	})
}

// Disputes lists the open disputes an arbiter organization must resolve.
func Disputes(kv store.Reader, org string) []*Booking {
	return listed(kv, disputePrefix(org), func(b *Booking) bool { return b.Arbiter == org && b.State == StateDisputed })
}

func listed(kv store.Reader, prefix []byte, keep func(*Booking) bool) []*Booking {
	var out []*Booking
	kv.Iterate(prefix, store.PrefixEnd(prefix), func(k, _ []byte) bool {
		if len(k) != len(prefix)+8 {
			return true
		}
		if b := GetBooking(kv, binary.BigEndian.Uint64(k[len(prefix):])); b != nil && keep(b) {
			out = append(out, b)
		}
		return true
	})
	return out
}
