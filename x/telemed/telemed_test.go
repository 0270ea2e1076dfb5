package telemed_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/telemed"
)

const (
	clinic   = "clinic"
	arb      = "arb"
	doctor   = "doctor"
	doctor2  = "doctor2"
	nurse    = "nurse" // staff, not a practitioner
	adminC   = "adminC"
	adminArb = "adminArb"
	pat      = "pat"
	pat2     = "pat2"
	gina     = "gina" // pat's guardian
	stranger = "stranger"

	price    = 300
	duration = 1800
	cancelB  = 3600
	grace    = 900
	release  = 72 * 3600
	startBal = 10_000
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

type env struct {
	*smtest.Env
	mod    *telemed.Module
	supply uint64
}

func newEnv(t testing.TB) *env {
	t.Helper()
	mod := &telemed.Module{Params: params.NewRegistry(telemed.ParamDefs...)}
	e := &env{Env: smtest.NewEnv(t, "telemed-test", t0, accounts.Module{}, mod), mod: mod}
	member := func(name, org, role string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "member", Org: org, Role: role, Balance: startBal}
	}
	patient := func(name string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "patient", Balance: startBal}
	}
	e.Genesis(accounts.Module{}, accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: clinic, Name: "Clinic", Type: "clinic", EncKey: e.Key("org:" + clinic).EncKey()},
			{ID: arb, Name: "Arbiter", Type: "insurer", EncKey: e.Key("org:" + arb).EncKey()},
		},
		Accounts: []accounts.GenesisAccount{
			member(doctor, clinic, accounts.RolePractitioner), member(doctor2, clinic, accounts.RolePractitioner),
			member(nurse, clinic, accounts.RoleStaff), member(adminC, clinic, accounts.RoleAdmin), member(adminArb, arb, accounts.RoleAdmin),
			patient(pat), patient(pat2), patient(gina), patient(stranger),
		},
	})
	e.OK(pat, &accounts.MsgSetGuardian{Guardian: e.Addr(gina)})
	e.supply = e.total()
	return e
}

// total sums every account balance, every module pool and the fee pool:
// what the supply invariant adds up.
func (e *env) total() uint64 {
	var sum uint64
	e.KV.Iterate([]byte{sm.PrefixAccount}, store.PrefixEnd([]byte{sm.PrefixAccount}), func(_, v []byte) bool {
		a, err := accounts.DecodeAccount(v)
		if err != nil {
			e.T.Fatalf("account: %v", err)
		}
		sum += a.Balance
		return true
	})
	e.KV.Iterate([]byte{sm.PrefixPool}, store.PrefixEnd([]byte{sm.PrefixPool}), func(k, _ []byte) bool {
		var a [20]byte
		copy(a[:], k[1:])
		sum += bank.PoolBalance(e.KV, a)
		return true
	})
	return sum + accounts.FeePool(e.KV)
}

// conserved fails unless the tokens still add up, and every booking's
// escrow holds its price while open and nothing once closed.
func (e *env) conserved() {
	e.T.Helper()
	if got := e.total(); got != e.supply {
		e.T.Fatalf("tokens not conserved: %d, want %d", got, e.supply)
	}
	for id := uint64(1); ; id++ {
		b := telemed.GetBooking(e.KV, id)
		if b == nil {
			break
		}
		want := b.Price
		if b.State == telemed.StateClosed {
			want = 0
			if b.ToProvider+b.ToPatient != b.Price {
				e.T.Fatalf("booking %d closed with %d + %d of %d", id, b.ToProvider, b.ToPatient, b.Price)
			}
		}
		if got := bank.PoolBalance(e.KV, telemed.Escrow(id)); got != want {
			e.T.Fatalf("booking %d (%s): escrow %d, want %d", id, telemed.StateName(b.State), got, want)
		}
	}
}

func (e *env) bal(name string) uint64 { return bank.Balance(e.KV, e.Addr(name)) }

func (e *env) at(d time.Duration) { e.Now = t0.Add(d) }

func (e *env) endBlock() {
	e.mod.EndBlock(sm.Context{ChainID: "test", Height: 3, Time: e.Now, Store: e.KV, Events: e.Events})
}

func (e *env) offer() uint64 {
	e.T.Helper()
	e.OK(doctor, &telemed.MsgOffer{Service: "general-consultation", Price: price, Duration: duration, Arbiter: arb, CancelBefore: cancelB, Grace: grace})
	return uint64(len(telemed.Offers(e.KV, [20]byte{}, false)))
}

// book books the offer's slot starting 1 day after t0 and returns its id.
func (e *env) book(offer uint64) uint64 {
	e.T.Helper()
	e.OK(pat, &telemed.MsgBook{Offer: offer, Start: t0.Add(24 * time.Hour).Unix()})
	bs := telemed.BookingsOf(e.KV, e.Addr(pat))
	return bs[len(bs)-1].ID
}

func wantErr(t testing.TB, got error, want *sm.Error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("error %v, want %s/%d (%s)", got, want.Codespace, want.Code, want.Desc)
	}
}

const (
	slotStart = 24 * time.Hour
	slotEnd   = slotStart + duration*time.Second
)

// TestEveryPathConservesTokens runs each way an escrow can end and checks
// who got what, the outcome, and that no token appeared or vanished.
func TestEveryPathConservesTokens(t *testing.T) {
	for _, tc := range []struct {
		name             string
		run              func(e *env, id uint64)
		outcome          string
		provider, patent uint64 // what each received from the escrow
	}{
		{"done then confirmed", func(e *env, id uint64) {
			e.at(slotStart + time.Minute)
			e.OK(doctor, telemed.Done(id))
			e.OK(pat, telemed.Confirm(id))
		}, telemed.OutcomeConfirmed, price, 0},
		{"done then confirmed by the guardian", func(e *env, id uint64) {
			e.at(slotEnd)
			e.OK(doctor, telemed.Done(id))
			e.OK(gina, telemed.Confirm(id))
		}, telemed.OutcomeConfirmed, price, 0},
		{"done then released after the timeout", func(e *env, id uint64) {
			e.at(slotEnd)
			e.OK(doctor, telemed.Done(id))
			e.at(slotEnd + release*time.Second - time.Second)
			e.endBlock()
			if b := telemed.GetBooking(e.KV, id); b.State != telemed.StateDone {
				t.Fatalf("released early: %s", telemed.StateName(b.State))
			}
			e.at(slotEnd + release*time.Second)
			e.endBlock()
		}, telemed.OutcomeReleased, price, 0},
		{"cancelled by the patient in time", func(e *env, id uint64) {
			e.at(slotStart - cancelB*time.Second - time.Second)
			e.OK(pat, telemed.Cancel(id))
		}, telemed.OutcomeCancelledByPat, 0, price},
		{"cancelled by the provider after the start", func(e *env, id uint64) {
			e.at(slotStart + time.Minute)
			e.OK(doctor, telemed.Cancel(id))
		}, telemed.OutcomeCancelledByPro, 0, price},
		{"patient no-show claimed, then released", func(e *env, id uint64) {
			e.at(slotEnd)
			e.OK(doctor, telemed.NoShow(id))
			e.at(slotEnd + release*time.Second)
			e.endBlock()
		}, telemed.OutcomeReleased, price, 0},
		{"patient no-show acknowledged by the patient", func(e *env, id uint64) {
			e.at(slotEnd)
			e.OK(doctor, telemed.NoShow(id))
			e.OK(pat, telemed.Confirm(id))
		}, telemed.OutcomeConfirmed, price, 0},
		{"provider no-show reclaimed after the grace", func(e *env, id uint64) {
			e.at(slotEnd + grace*time.Second)
			e.OK(pat, telemed.NoShow(id))
		}, telemed.OutcomeProviderNoShow, 0, price},
		{"dispute after done, split by the arbiter", func(e *env, id uint64) {
			e.at(slotEnd)
			e.OK(doctor, telemed.Done(id))
			e.OK(pat, telemed.Dispute(id))
			e.at(slotEnd + 2*release*time.Second)
			e.endBlock() // a dispute stops the release
			if b := telemed.GetBooking(e.KV, id); b.State != telemed.StateDisputed {
				t.Fatalf("disputed booking is %s", telemed.StateName(b.State))
			}
			if ds := telemed.Disputes(e.KV, arb); len(ds) != 1 || ds[0].ID != id {
				t.Fatalf("arbiter's disputes: %v", ds)
			}
			e.OK(adminArb, &telemed.MsgResolve{Booking: id, ToProvider: 100, ToPatient: 200})
			if ds := telemed.Disputes(e.KV, arb); len(ds) != 0 {
				t.Fatalf("a resolved dispute is still listed")
			}
		}, telemed.OutcomeResolved, 100, 200},
		{"dispute by the provider during the slot, all to the provider", func(e *env, id uint64) {
			e.at(slotStart)
			e.OK(doctor, telemed.Dispute(id))
			e.OK(adminArb, &telemed.MsgResolve{Booking: id, ToProvider: price})
		}, telemed.OutcomeResolved, price, 0},
		{"dispute of a no-show claim, all back to the patient", func(e *env, id uint64) {
			e.at(slotEnd)
			e.OK(doctor, telemed.NoShow(id))
			e.OK(gina, telemed.Dispute(id))
			e.OK(adminArb, &telemed.MsgResolve{Booking: id, ToPatient: price})
		}, telemed.OutcomeResolved, 0, price},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.book(e.offer())
			if e.bal(pat) != startBal-price {
				t.Fatalf("booking took %d", startBal-e.bal(pat))
			}
			e.conserved()
			tc.run(e, id)
			e.conserved()
			b := telemed.GetBooking(e.KV, id)
			if b.State != telemed.StateClosed || b.Outcome != tc.outcome {
				t.Fatalf("booking %s / %q, want closed / %q", telemed.StateName(b.State), b.Outcome, tc.outcome)
			}
			if got := [2]uint64{e.bal(doctor) - startBal, e.bal(pat) - (startBal - price)}; got != [2]uint64{tc.provider, tc.patent} {
				t.Fatalf("provider got %d, patient got back %d; want %d, %d", got[0], got[1], tc.provider, tc.patent)
			}
			// A closed booking takes no further action.
			for _, act := range []struct {
				who string
				msg sm.Msg
			}{{doctor, telemed.Done(id)}, {pat, telemed.Confirm(id)}, {pat, telemed.Cancel(id)}, {doctor, telemed.Dispute(id)}, {doctor, telemed.NoShow(id)},
				{adminArb, &telemed.MsgResolve{Booking: id, ToProvider: price}}} {
				wantErr(t, e.Run(act.who, act.msg), telemed.ErrWrongState)
			}
			e.conserved()
		})
	}
}

// TestRefusals gives each refusal its code, and checks that a refused
// message changes nothing.
func TestRefusals(t *testing.T) {
	type step struct {
		at  time.Duration
		who string
		msg sm.Msg
	}
	okOffer := func() *telemed.MsgOffer {
		return &telemed.MsgOffer{Service: "general-consultation", Price: price, Duration: duration, Arbiter: arb, CancelBefore: cancelB, Grace: grace}
	}
	edit := func(f func(*telemed.MsgOffer)) *telemed.MsgOffer { m := okOffer(); f(m); return m }
	start := t0.Add(slotStart).Unix()
	for _, tc := range []struct {
		name  string
		setup []step // run after an offer (id 1) and a booking (id 1) of pat at slotStart
		at    time.Duration
		who   string
		msg   sm.Msg
		want  *sm.Error
	}{
		{name: "offer: free-text service", who: doctor, msg: edit(func(m *telemed.MsgOffer) { m.Service = "Consultation for John" }), want: telemed.ErrBadOffer},
		{name: "offer: zero price", who: doctor, msg: edit(func(m *telemed.MsgOffer) { m.Price = 0 }), want: telemed.ErrBadOffer},
		{name: "offer: duration too short", who: doctor, msg: edit(func(m *telemed.MsgOffer) { m.Duration = 59 }), want: telemed.ErrBadOffer},
		{name: "offer: grace too long", who: doctor, msg: edit(func(m *telemed.MsgOffer) { m.Grace = telemed.MaxGrace + 1 }), want: telemed.ErrBadOffer},
		{name: "offer: cancel window too long", who: doctor, msg: edit(func(m *telemed.MsgOffer) { m.CancelBefore = telemed.MaxCancelBefore + 1 }), want: telemed.ErrBadOffer},
		{name: "offer: by staff", who: nurse, msg: okOffer(), want: telemed.ErrNotProvider},
		{name: "offer: by a patient", who: pat, msg: okOffer(), want: telemed.ErrNotProvider},
		{name: "offer: unknown arbiter", who: doctor, msg: edit(func(m *telemed.MsgOffer) { m.Arbiter = "nobody" }), want: telemed.ErrBadArbiter},
		{name: "offer: own organization arbitrates", who: doctor, msg: edit(func(m *telemed.MsgOffer) { m.Arbiter = clinic }), want: telemed.ErrOwnArbiter},
		{name: "withdraw: unknown offer", who: doctor, msg: &telemed.MsgWithdraw{Offer: 9}, want: telemed.ErrUnknownOffer},
		{name: "withdraw: not the provider", who: doctor2, msg: &telemed.MsgWithdraw{Offer: 1}, want: telemed.ErrNotOfferOwner},
		{name: "withdraw: twice", setup: []step{{0, doctor, &telemed.MsgWithdraw{Offer: 1}}}, who: doctor, msg: &telemed.MsgWithdraw{Offer: 1}, want: telemed.ErrWithdrawn},
		{name: "book: no offer id", who: pat2, msg: &telemed.MsgBook{Start: start + 7200}, want: telemed.ErrBadBooking},
		{name: "book: unknown offer", who: pat2, msg: &telemed.MsgBook{Offer: 9, Start: start + 7200}, want: telemed.ErrUnknownOffer},
		{name: "book: withdrawn offer", setup: []step{{0, doctor, &telemed.MsgWithdraw{Offer: 1}}}, who: pat2, msg: &telemed.MsgBook{Offer: 1, Start: start + 7200}, want: telemed.ErrWithdrawn},
		{name: "book: self-booking", who: doctor, msg: &telemed.MsgBook{Offer: 1, Start: start + 7200}, want: telemed.ErrSelfBooking},
		{name: "book: by a member", who: doctor2, msg: &telemed.MsgBook{Offer: 1, Start: start + 7200}, want: telemed.ErrNotPatient},
		{name: "book: provider deactivated", setup: []step{{0, adminC, &accounts.MsgDeactivateMember{Address: smtest.Key("telemed-test", doctor).Address()}}},
			who: pat2, msg: &telemed.MsgBook{Offer: 1, Start: start + 7200}, want: telemed.ErrProviderGone},
		{name: "book: start passed", who: pat2, msg: &telemed.MsgBook{Offer: 1, Start: t0.Unix()}, want: telemed.ErrStartPassed},
		{name: "book: too far ahead", who: pat2, msg: &telemed.MsgBook{Offer: 1, Start: t0.Unix() + 367*24*3600}, want: telemed.ErrTooFarAhead},
		{name: "book: overlapping slot", who: pat2, msg: &telemed.MsgBook{Offer: 1, Start: start + duration - 1}, want: telemed.ErrSlotTaken},
		{name: "book: overlapping slot before", who: pat2, msg: &telemed.MsgBook{Offer: 1, Start: start - duration + 1}, want: telemed.ErrSlotTaken},
		{name: "book: insufficient funds", who: pat2, msg: &telemed.MsgBook{Offer: 2, Start: start}, want: bank.ErrFunds,
			setup: []step{{0, doctor2, &telemed.MsgOffer{Service: "surgery-consult", Price: startBal + 1, Duration: 600, Arbiter: arb}}}},
		{name: "done: unknown booking", who: doctor, at: slotStart, msg: telemed.Done(7), want: telemed.ErrUnknownBooking},
		{name: "done: by another practitioner", who: doctor2, at: slotStart, msg: telemed.Done(1), want: telemed.ErrNotBookingProv},
		{name: "done: by the patient", who: pat, at: slotStart, msg: telemed.Done(1), want: telemed.ErrNotBookingProv},
		{name: "done: before the start", who: doctor, at: slotStart - time.Second, msg: telemed.Done(1), want: telemed.ErrTooEarly},
		{name: "done: twice", setup: []step{{slotStart, doctor, telemed.Done(1)}}, who: doctor, at: slotStart, msg: telemed.Done(1), want: telemed.ErrWrongState},
		{name: "confirm: not done yet", who: pat, at: slotStart, msg: telemed.Confirm(1), want: telemed.ErrWrongState},
		{name: "confirm: by the provider", setup: []step{{slotStart, doctor, telemed.Done(1)}}, who: doctor, at: slotStart, msg: telemed.Confirm(1), want: telemed.ErrNotBookingPat},
		{name: "confirm: by another patient", setup: []step{{slotStart, doctor, telemed.Done(1)}}, who: pat2, at: slotStart, msg: telemed.Confirm(1), want: telemed.ErrNotBookingPat},
		{name: "cancel: by a stranger", who: stranger, msg: telemed.Cancel(1), want: telemed.ErrNotParty},
		{name: "cancel: patient too late", who: pat, at: slotStart - cancelB*time.Second, msg: telemed.Cancel(1), want: telemed.ErrCancelClosed},
		{name: "cancel: provider after done", setup: []step{{slotStart, doctor, telemed.Done(1)}}, who: doctor, at: slotStart, msg: telemed.Cancel(1), want: telemed.ErrWrongState},
		{name: "cancel: patient after done", setup: []step{{slotStart, doctor, telemed.Done(1)}}, who: pat, at: slotStart, msg: telemed.Cancel(1), want: telemed.ErrWrongState},
		{name: "dispute: by a stranger", who: stranger, at: slotStart, msg: telemed.Dispute(1), want: telemed.ErrNotParty},
		{name: "dispute: by the arbiter", who: adminArb, at: slotStart, msg: telemed.Dispute(1), want: telemed.ErrNotParty},
		{name: "dispute: before the start", who: pat, at: slotStart - time.Second, msg: telemed.Dispute(1), want: telemed.ErrTooEarly},
		{name: "dispute: twice", setup: []step{{slotStart, pat, telemed.Dispute(1)}}, who: doctor, at: slotStart, msg: telemed.Dispute(1), want: telemed.ErrWrongState},
		{name: "resolve: not disputed", who: adminArb, at: slotStart, msg: &telemed.MsgResolve{Booking: 1, ToProvider: price}, want: telemed.ErrWrongState},
		{name: "resolve: by the provider's admin", setup: []step{{slotStart, pat, telemed.Dispute(1)}}, who: adminC, at: slotStart,
			msg: &telemed.MsgResolve{Booking: 1, ToProvider: price}, want: telemed.ErrNotArbiter},
		{name: "resolve: by a party", setup: []step{{slotStart, pat, telemed.Dispute(1)}}, who: pat, at: slotStart,
			msg: &telemed.MsgResolve{Booking: 1, ToPatient: price}, want: telemed.ErrNotArbiter},
		{name: "resolve: split short", setup: []step{{slotStart, pat, telemed.Dispute(1)}}, who: adminArb, at: slotStart,
			msg: &telemed.MsgResolve{Booking: 1, ToProvider: 100, ToPatient: 100}, want: telemed.ErrBadSplit},
		{name: "resolve: split over", setup: []step{{slotStart, pat, telemed.Dispute(1)}}, who: adminArb, at: slotStart,
			msg: &telemed.MsgResolve{Booking: 1, ToProvider: price, ToPatient: 1}, want: telemed.ErrBadSplit},
		{name: "resolve: overflowing split", who: adminArb, at: slotStart, msg: &telemed.MsgResolve{Booking: 1, ToProvider: 1 << 63, ToPatient: 1 << 63}, want: telemed.ErrBadSplit},
		{name: "noshow: provider during the slot", who: doctor, at: slotEnd - time.Second, msg: telemed.NoShow(1), want: telemed.ErrTooEarly},
		{name: "noshow: patient within the grace", who: pat, at: slotEnd + grace*time.Second - time.Second, msg: telemed.NoShow(1), want: telemed.ErrTooEarly},
		{name: "noshow: patient after done", setup: []step{{slotEnd, doctor, telemed.Done(1)}}, who: pat, at: slotEnd + 2*grace*time.Second, msg: telemed.NoShow(1), want: telemed.ErrWrongState},
		{name: "noshow: by a stranger", who: stranger, at: slotEnd + 2*grace*time.Second, msg: telemed.NoShow(1), want: telemed.ErrNotParty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.book(e.offer())
			for _, s := range tc.setup {
				e.at(s.at)
				e.OK(s.who, s.msg)
			}
			e.at(tc.at)
			before := snapshot(e.KV)
			wantErr(t, e.Run(tc.who, tc.msg), tc.want)
			if !bytes.Equal(before, snapshot(e.KV)) {
				t.Fatal("a refused message changed the state")
			}
			e.conserved()
		})
	}
}

func snapshot(kv *store.Memory) []byte {
	var b bytes.Buffer
	kv.Iterate(nil, nil, func(k, v []byte) bool {
		b.Write(k)
		b.WriteByte(0xff)
		b.Write(v)
		b.WriteByte(0xfe)
		return true
	})
	return b.Bytes()
}

// TestSlotsFreeAgain: a cancelled booking's slot can be booked again;
// adjacent slots do not overlap.
func TestSlotsFreeAgain(t *testing.T) {
	e := newEnv(t)
	offer := e.offer()
	id := e.book(offer)
	start := t0.Add(slotStart).Unix()
	e.OK(pat2, &telemed.MsgBook{Offer: offer, Start: start + duration})
	e.OK(pat2, &telemed.MsgBook{Offer: offer, Start: start - duration})
	wantErr(t, e.Run(pat2, &telemed.MsgBook{Offer: offer, Start: start}), telemed.ErrSlotTaken)
	e.OK(pat, telemed.Cancel(id))
	e.OK(pat2, &telemed.MsgBook{Offer: offer, Start: start})
	if n := len(telemed.BookingsOf(e.KV, e.Addr(doctor))); n != 4 {
		t.Fatalf("provider lists %d bookings", n)
	}
	if n := len(telemed.BookingsOf(e.KV, e.Addr(pat2))); n != 3 {
		t.Fatalf("pat2 lists %d bookings", n)
	}
	e.conserved()
}

// TestRandomOperationsConserve runs thousands of random actions by random
// signers at random times, and checks after each that every token is
// accounted for and every escrow holds exactly its open booking's price.
func TestRandomOperationsConserve(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(13, 13))
	e.offer()
	e.OK(doctor2, &telemed.MsgOffer{Service: "follow-up", Price: 77, Duration: 600, Arbiter: arb, Grace: 60})
	signers := []string{doctor, doctor2, pat, pat2, gina, stranger, adminArb, adminC}
	clock := time.Duration(0)
	n := 3000
	if testing.Short() {
		n = 500
	}
	booked := uint64(0)
	for i := 0; i < n; i++ {
		clock += time.Duration(rng.IntN(1800)) * time.Second
		e.at(clock)
		for telemed.GetBooking(e.KV, booked+1) != nil {
			booked++
		}
		id := uint64(rng.IntN(int(booked)+1)) + 1 // sometimes one that does not exist
		who := signers[rng.IntN(len(signers))]
		var msg sm.Msg
		switch rng.IntN(8) {
		case 0, 1:
			msg = &telemed.MsgBook{Offer: uint64(rng.IntN(2)) + 1, Start: e.Now.Unix() + int64(rng.IntN(3*24*3600))}
		case 2:
			msg = telemed.Done(id)
		case 3:
			msg = telemed.Confirm(id)
		case 4:
			msg = telemed.Cancel(id)
		case 5:
			msg = telemed.Dispute(id)
		case 6:
			msg = telemed.NoShow(id)
		case 7:
			b := telemed.GetBooking(e.KV, id)
			p := uint64(0)
			if b != nil {
				p = b.Price
			}
			to := uint64(rng.IntN(int(p) + 1))
			msg = &telemed.MsgResolve{Booking: id, ToProvider: to, ToPatient: p - to + uint64(rng.IntN(2))}
			who = adminArb
		}
		_ = e.Run(who, msg)
		if rng.IntN(3) == 0 {
			e.endBlock()
		}
		e.conserved()
	}
	outcomes := map[string]int{}
	for id := uint64(1); telemed.GetBooking(e.KV, id) != nil; id++ {
		outcomes[telemed.GetBooking(e.KV, id).Outcome]++
	}
	for _, o := range []string{telemed.OutcomeConfirmed, telemed.OutcomeReleased, telemed.OutcomeCancelledByPat, telemed.OutcomeCancelledByPro,
		telemed.OutcomeProviderNoShow, telemed.OutcomeResolved} {
		if outcomes[o] == 0 {
			t.Errorf("no booking ended %s: the random walk missed a path (%v)", o, outcomes)
		}
	}
}

func seedMsgs() []sm.Msg {
	return []sm.Msg{
		&telemed.MsgOffer{Service: "general-consultation", Price: 300, Duration: 1800, Arbiter: "arb", CancelBefore: 3600, Grace: 900},
		&telemed.MsgWithdraw{Offer: 1},
		&telemed.MsgBook{Offer: 1, Start: 1_800_000_000},
		telemed.Done(1), telemed.Confirm(1), telemed.Cancel(1), telemed.Dispute(1), telemed.NoShow(1),
		&telemed.MsgResolve{Booking: 1, ToProvider: 100, ToPatient: 200},
	}
}

func TestSeedsCoverEveryRoute(t *testing.T) {
	have := map[string]bool{}
	for _, m := range seedMsgs() {
		have[m.Type()] = true
		if err := m.ValidateBasic(); err != nil {
			t.Errorf("seed %s: %v", m.Type(), err)
		}
	}
	for _, rt := range (&telemed.Module{}).Routes() {
		if !have[rt.Type] {
			t.Errorf("route %s has no fuzz seed", rt.Type)
		}
		if rt.NewSigner {
			t.Errorf("route %s accepts a new signer", rt.Type)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range seedMsgs() {
		f.Add(codec.Marshal(m))
	}
	f.Add(codec.Marshal(&telemed.Booking{ID: 1, Offer: 1, State: telemed.StateDisputed, Price: 5, Outcome: "x"}))
	f.Add(codec.Marshal(&telemed.Offer{ID: 1, Service: "a", Price: 1}))
	routes := (&telemed.Module{}).Routes()
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, routes, b)
		smtest.FuzzCanonical(t, "booking", b, telemed.DecodeBooking)
		smtest.FuzzCanonical(t, "offer", b, telemed.DecodeOffer)
	})
}
