package telemed

import (
	"strconv"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/params"
)

// Parameters.
const (
	// ParamReleaseSeconds is how long after "done" (or a no-show claim) the
	// patient has to confirm or dispute before the escrow is released to
	// the provider.
	ParamReleaseSeconds = "telemed.release_seconds"
	// ParamMaxAdvanceSeconds bounds how far ahead a slot may be booked.
	ParamMaxAdvanceSeconds = "telemed.max_advance_seconds"
)

// ParamDefs are the parameters telemed declares.
var ParamDefs = []params.Def{
	{Name: ParamReleaseSeconds, Default: 72 * 3600, Min: 60, Max: 30 * 24 * 3600,
		Doc: "seconds after a consultation is marked done (or a patient no-show claimed) before its escrow is released to the provider without the patient's confirmation"},
	{Name: ParamMaxAdvanceSeconds, Default: 366 * 24 * 3600, Min: 3600, Max: 2 * 366 * 24 * 3600,
		Doc: "how far ahead of the block time a telemedicine slot may start"},
}

// MaxReleasesPerBlock bounds the automatic releases of one block; the rest
// are released in the next blocks (each is a few store writes).
const MaxReleasesPerBlock = 10_000

// Module plugs telemedicine payments into the state machine.
type Module struct{ Params *params.Registry }

var (
	_ sm.Module     = (*Module)(nil)
	_ sm.EndBlocker = (*Module)(nil)
)

func (*Module) Name() string { return Codespace }

func (m *Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeOffer, Decode: decodeOffer, Exec: execOffer},
		{Type: TypeWithdraw, Decode: decodeWithdraw, Exec: execWithdraw},
		{Type: TypeBook, Decode: decodeBook, Exec: m.execBook},
		{Type: TypeDone, Decode: decodeAction(TypeDone), Exec: m.execDone},
		{Type: TypeConfirm, Decode: decodeAction(TypeConfirm), Exec: execConfirm},
		{Type: TypeCancel, Decode: decodeAction(TypeCancel), Exec: execCancel},
		{Type: TypeDispute, Decode: decodeAction(TypeDispute), Exec: execDispute},
		{Type: TypeResolve, Decode: decodeResolve, Exec: execResolve},
		{Type: TypeNoShow, Decode: decodeAction(TypeNoShow), Exec: m.execNoShow},
	}
}

func idAttr(k string, id uint64) sm.Attr { return sm.Attr{Key: k, Value: strconv.FormatUint(id, 10)} }

func execOffer(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgOffer)
	p := accounts.ActiveMember(ctx.Store, ctx.Signer, accounts.RolePractitioner)
	if p == nil {
		return ErrNotProvider
	}
	if o := accounts.GetOrg(ctx.Store, m.Arbiter); o == nil || !o.Active {
		return sm.Wrapf(ErrBadArbiter, "%q", m.Arbiter)
	}
	if m.Arbiter == p.Org {
		return sm.Wrapf(ErrOwnArbiter, "%q", m.Arbiter)
	}
	o := &Offer{ID: nextID(ctx.Store, offerSeqKey), Provider: ctx.Signer, Org: p.Org, Service: m.Service, Price: m.Price,
		Duration: m.Duration, Arbiter: m.Arbiter, CancelBefore: m.CancelBefore, Grace: m.Grace, Created: ctx.Time.Unix()}
	putOffer(ctx.Store, o)
	ctx.Events.Emit("telemed_offer", idAttr("offer", o.ID), sm.Attr{Key: "provider", Value: o.Provider.String()},
		sm.Attr{Key: "service", Value: o.Service}, idAttr("price", o.Price))
	return nil
}

func execWithdraw(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgWithdraw)
	o := GetOffer(ctx.Store, m.Offer)
	if o == nil {
		return sm.Wrapf(ErrUnknownOffer, "%d", m.Offer)
	}
	if o.Provider != ctx.Signer {
		return sm.Wrapf(ErrNotOfferOwner, "offer %d", o.ID)
	}
	if o.Withdrawn != 0 {
		return sm.Wrapf(ErrWithdrawn, "offer %d", o.ID)
	}
	o.Withdrawn = ctx.Time.Unix()
	putOffer(ctx.Store, o)
	ctx.Events.Emit("telemed_withdrawn", idAttr("offer", o.ID))
	return nil
}

func (mod *Module) execBook(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgBook)
	kv, now := ctx.Store, ctx.Time.Unix()
	o := GetOffer(kv, m.Offer)
	if o == nil {
		return sm.Wrapf(ErrUnknownOffer, "%d", m.Offer)
	}
	if o.Withdrawn != 0 {
		return sm.Wrapf(ErrWithdrawn, "offer %d", o.ID)
	}
	if ctx.Signer == o.Provider {
		return sm.Wrapf(ErrSelfBooking, "offer %d", o.ID)
	}
	if a := accounts.GetAccount(kv, ctx.Signer); a == nil || a.Kind != accounts.KindPatient {
		return sm.Wrapf(ErrNotPatient, "%s", ctx.Signer)
	}
	if accounts.ActiveMember(kv, o.Provider, accounts.RolePractitioner) == nil {
		return sm.Wrapf(ErrProviderGone, "offer %d", o.ID)
	}
	if m.Start <= now {
		return sm.Wrapf(ErrStartPassed, "start %d, block time %d", m.Start, now)
	}
	if max := mod.Params.Get(kv, ParamMaxAdvanceSeconds); uint64(m.Start-now) > max {
		return sm.Wrapf(ErrTooFarAhead, "start %d is %d s ahead; at most %d", m.Start, m.Start-now, max)
	}
	if taken := overlapping(kv, o, m.Start); taken != 0 {
		return sm.Wrapf(ErrSlotTaken, "booking %d", taken)
	}
	b := &Booking{ID: nextID(kv, bookingSeqKey), Offer: o.ID, Patient: ctx.Signer, Provider: o.Provider, Arbiter: o.Arbiter,
		Price: o.Price, Start: m.Start, End: m.Start + o.Duration, CancelBefore: o.CancelBefore, Grace: o.Grace,
		State: StateBooked, Booked: now}
	if err := bank.Send(kv, ctx.Signer, Escrow(b.ID), b.Price); err != nil {
		return err
	}
	putBooking(kv, b)
	kv.Set(slotKey(b), []byte{1})
	kv.Set(partyKey(b.Patient, b.ID), []byte{1})
	kv.Set(partyKey(b.Provider, b.ID), []byte{1})
	// The event names the offer and booking, not the patient: the provider
	// and the patient learn the booking from their signed listings.
	ctx.Events.Emit("telemed_booked", idAttr("booking", b.ID), idAttr("offer", o.ID), idAttr("escrow", b.Price))
	return nil
}

// overlapping returns a live booking of the offer whose slot overlaps one
// starting at start, or 0. Slots of an offer all last its duration.
func overlapping(kv store.Reader, o *Offer, start int64) uint64 {
	p := slotPrefix(o.ID)
	lo := start - o.Duration + 1
	if lo < 0 {
		lo = 0
	}
	var found uint64
	kv.Iterate(u64(append([]byte(nil), p...), uint64(lo)), u64(append([]byte(nil), p...), uint64(start+o.Duration)), func(k, _ []byte) bool {
		found = beUint64(k[len(k)-8:])
		return false
	})
	return found
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// load returns the booking named by msg.
func load(kv store.Reader, id uint64) (*Booking, error) {
	b := GetBooking(kv, id)
	if b == nil {
		return nil, sm.Wrapf(ErrUnknownBooking, "%d", id)
	}
	return b, nil
}

func wrongState(b *Booking) error {
	return sm.Wrapf(ErrWrongState, "booking %d is %s", b.ID, StateName(b.State))
}

func (mod *Module) execDone(ctx sm.Context, msg sm.Msg) error {
	b, err := load(ctx.Store, msg.(*MsgBookingAction).Booking)
	if err != nil {
		return err
	}
	if ctx.Signer != b.Provider {
		return sm.Wrapf(ErrNotBookingProv, "booking %d", b.ID)
	}
	if b.State != StateBooked {
		return wrongState(b)
	}
	now := ctx.Time.Unix()
	if now < b.Start {
		return sm.Wrapf(ErrTooEarly, "the slot starts at %d, block time %d", b.Start, now)
	}
	mod.await(ctx, b, StateDone)
	return nil
}

// await moves b to a state released to the provider at now + the release
// time unless the patient confirms or disputes first.
func (mod *Module) await(ctx sm.Context, b *Booking, state uint8) {
	b.State = state
	b.Due = ctx.Time.Unix() + int64(mod.Params.Get(ctx.Store, ParamReleaseSeconds))
	ctx.Store.Set(dueKey(b.Due, b.ID), []byte{1})
	putBooking(ctx.Store, b)
	ctx.Events.Emit("telemed_"+StateName(state), idAttr("booking", b.ID), sm.Attr{Key: "release_at", Value: strconv.FormatInt(b.Due, 10)})
}

func execConfirm(ctx sm.Context, msg sm.Msg) error {
	b, err := load(ctx.Store, msg.(*MsgBookingAction).Booking)
	if err != nil {
		return err
	}
	if !accounts.CanActFor(ctx.Store, ctx.Signer, b.Patient) {
		return sm.Wrapf(ErrNotBookingPat, "booking %d", b.ID)
	}
	if b.State != StateDone && b.State != StateNoShow {
		return wrongState(b)
	}
	return settle(ctx, b, OutcomeConfirmed, b.Price, 0)
}

func execCancel(ctx sm.Context, msg sm.Msg) error {
	b, err := load(ctx.Store, msg.(*MsgBookingAction).Booking)
	if err != nil {
		return err
	}
	now := ctx.Time.Unix()
	switch {
	case ctx.Signer == b.Provider:
		if b.State != StateBooked {
			return wrongState(b)
		}
		return settle(ctx, b, OutcomeCancelledByPro, 0, b.Price)
	case accounts.CanActFor(ctx.Store, ctx.Signer, b.Patient):
		if b.State != StateBooked {
			return wrongState(b)
		}
		if now >= b.Start-b.CancelBefore {
			return sm.Wrapf(ErrCancelClosed, "cancellation closed at %d, block time %d", b.Start-b.CancelBefore, now)
		}
		return settle(ctx, b, OutcomeCancelledByPat, 0, b.Price)
	}
	return sm.Wrapf(ErrNotParty, "booking %d", b.ID)
}

func execDispute(ctx sm.Context, msg sm.Msg) error {
	b, err := load(ctx.Store, msg.(*MsgBookingAction).Booking)
	if err != nil {
		return err
	}
	if ctx.Signer != b.Provider && !accounts.CanActFor(ctx.Store, ctx.Signer, b.Patient) {
		return sm.Wrapf(ErrNotParty, "booking %d", b.ID)
	}
	now := ctx.Time.Unix()
	switch b.State {
	case StateBooked:
		if now < b.Start {
			return sm.Wrapf(ErrTooEarly, "the slot starts at %d: before it, cancel instead", b.Start)
		}
	case StateDone, StateNoShow:
		ctx.Store.Delete(dueKey(b.Due, b.ID))
		b.Due = 0
	default:
		return wrongState(b)
	}
	b.State, b.DisputedBy = StateDisputed, ctx.Signer
	putBooking(ctx.Store, b)
	ctx.Store.Set(disputeKey(b.Arbiter, b.ID), []byte{1})
	ctx.Events.Emit("telemed_disputed", idAttr("booking", b.ID), sm.Attr{Key: "arbiter", Value: b.Arbiter})
	return nil
}

func execResolve(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgResolve)
	b, err := load(ctx.Store, m.Booking)
	if err != nil {
		return err
	}
	if o := accounts.AdminOrg(ctx.Store, ctx.Signer); o == nil || !o.Active || o.ID != b.Arbiter {
		return sm.Wrapf(ErrNotArbiter, "booking %d is arbitrated by %q", b.ID, b.Arbiter)
	}
	if b.State != StateDisputed {
		return wrongState(b)
	}
	if m.ToProvider+m.ToPatient != b.Price {
		return sm.Wrapf(ErrBadSplit, "%d + %d, escrow %d", m.ToProvider, m.ToPatient, b.Price)
	}
	ctx.Store.Delete(disputeKey(b.Arbiter, b.ID))
	return settle(ctx, b, OutcomeResolved, m.ToProvider, m.ToPatient)
}

func (mod *Module) execNoShow(ctx sm.Context, msg sm.Msg) error {
	b, err := load(ctx.Store, msg.(*MsgBookingAction).Booking)
	if err != nil {
		return err
	}
	now := ctx.Time.Unix()
	switch {
	case ctx.Signer == b.Provider:
		if b.State != StateBooked {
			return wrongState(b)
		}
		if now < b.End {
			return sm.Wrapf(ErrTooEarly, "a patient no-show is claimed after the slot's end %d, block time %d", b.End, now)
		}
		mod.await(ctx, b, StateNoShow)
		return nil
	case accounts.CanActFor(ctx.Store, ctx.Signer, b.Patient):
		if b.State != StateBooked {
			return wrongState(b)
		}
		if now < b.End+b.Grace {
			return sm.Wrapf(ErrTooEarly, "a provider no-show is claimed after %d (slot end and grace), block time %d", b.End+b.Grace, now)
		}
		return settle(ctx, b, OutcomeProviderNoShow, 0, b.Price)
	}
	return sm.Wrapf(ErrNotParty, "booking %d", b.ID)
}

// settle empties b's escrow, toProvider to the provider and toPatient to
// the patient (summing to b.Price), and closes b.
func settle(ctx sm.Context, b *Booking, outcome string, toProvider, toPatient uint64) error {
	kv := ctx.Store
	pool := Escrow(b.ID)
	for _, part := range []struct {
		to  crypto.Address
		amt uint64
	}{{b.Provider, toProvider}, {b.Patient, toPatient}} {
		if part.amt == 0 {
			continue
		}
		if err := bank.Send(kv, pool, part.to, part.amt); err != nil {
			return err
		}
	}
	if b.Due != 0 {
		kv.Delete(dueKey(b.Due, b.ID))
	}
	kv.Delete(slotKey(b))
	b.State, b.Closed, b.Outcome, b.ToProvider, b.ToPatient, b.Due = StateClosed, ctx.Time.Unix(), outcome, toProvider, toPatient, 0
	putBooking(kv, b)
	ctx.Events.Emit("telemed_closed", idAttr("booking", b.ID), sm.Attr{Key: "outcome", Value: outcome},
		idAttr("to_provider", toProvider), idAttr("to_patient", toPatient))
	return nil
}

// EndBlock releases to their providers the escrows whose release time has
// come (done or no-show claimed, neither confirmed nor disputed).
func (mod *Module) EndBlock(ctx sm.Context) {
	now := ctx.Time.Unix()
	p := []byte{sm.PrefixTelemedDue}
	var due []uint64
	ctx.Store.Iterate(p, u64(append([]byte(nil), p...), uint64(now)+1), func(k, _ []byte) bool {
		due = append(due, beUint64(k[len(k)-8:]))
		return len(due) < MaxReleasesPerBlock
	})
	for _, id := range due {
		b := GetBooking(ctx.Store, id)
		if b == nil || (b.State != StateDone && b.State != StateNoShow) || b.Due > now {
			continue // settle and dispute delete the key with the state change
		}
		// The escrow holds exactly b.Price while b is open: the send cannot
		// fail on a sound state. Should it, the booking stays as it is and
		// the key is kept, so nothing is lost.
		_ = sm.Isolate(ctx, func(ctx sm.Context) error { return settle(ctx, b, OutcomeReleased, b.Price, 0) })
	}
}
