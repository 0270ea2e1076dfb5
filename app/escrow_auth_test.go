package app_test

import (
	"testing"
	"time"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/research"
	"github.com/medchain/medchain/x/telemed"
)

// Rows of the authorization table for telemedicine payments and paid
// research. The doctor (org A) offers a consultation arbitrated by org B;
// patient 1 books it (booking 1); patient 3 is patient 1's guardian.
// The table has no researcher (and no way to fund one yet): research/open
// is refused to every role, and research/optin and research/close meet no
// request; x/research's tests cover their allowed paths.

// only allows the listed roles and refuses the others with refused.
func only(refused *sm.Error, allowed ...string) map[string]*sm.Error {
	m := map[string]*sm.Error{}
	for _, r := range roles {
		m[r] = refused
	}
	m[roleDeactivated], m[roleNewcomer] = sm.ErrInactive, sm.ErrUnknownSigner
	for _, r := range allowed {
		m[r] = nil
	}
	return m
}

const authPrice = 500

func authOffer(t *testing.T, h *apptest.Harness) {
	h.DeliverOK(t, h.Sign(k(apptest.HospitalDoctor), &telemed.MsgOffer{Service: "general-consultation", Price: authPrice, Duration: 1800,
		Arbiter: apptest.OrgLab, Grace: 600}))
}

// authBooking: offer 1 and booking 1 of patient 1, starting an hour after
// the next block.
func authBooking(t *testing.T, h *apptest.Harness) {
	authOffer(t, h)
	h.DeliverOK(t, h.Sign(k(apptest.Patient1), &telemed.MsgBook{Offer: 1, Start: h.NextTime().Add(time.Hour).Unix()}))
}

// authStarted: booking 1's slot has started.
func authStarted(t *testing.T, h *apptest.Harness) {
	authBooking(t, h)
	h.Advance(time.Hour + time.Minute)
}

func bookingClosed(outcome string) func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
	return func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
		b := telemed.GetBooking(h.State(), 1)
		if b.State != telemed.StateClosed || b.Outcome != outcome || bank.PoolBalance(h.State(), telemed.Escrow(1)) != 0 {
			t.Fatalf("booking %+v", b)
		}
	}
}

func init() {
	rows := map[string]authRow{
		telemed.TypeOffer: {
			msg:  fixedMsg(&telemed.MsgOffer{Service: "general-consultation", Price: authPrice, Duration: 1800, Arbiter: apptest.OrgLab}),
			want: only(telemed.ErrNotProvider, rolePractitioner),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if o := telemed.GetOffer(h.State(), 1); o == nil || o.Provider != signer.Address() {
					t.Fatalf("offer %+v", o)
				}
			},
		},
		telemed.TypeWithdraw: {setup: authOffer, msg: fixedMsg(&telemed.MsgWithdraw{Offer: 1}), want: only(telemed.ErrNotOfferOwner, rolePractitioner)},
		telemed.TypeBook: {
			setup: authOffer,
			msg: func(h *apptest.Harness) sm.Msg {
				return &telemed.MsgBook{Offer: 1, Start: h.NextTime().Add(time.Hour).Unix()}
			},
			want: func() map[string]*sm.Error {
				w := only(telemed.ErrNotPatient, rolePatient, roleOtherPatient, roleGuardian)
				w[rolePractitioner] = telemed.ErrSelfBooking
				return w
			}(),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if b := telemed.GetBooking(h.State(), 1); b == nil || b.Patient != signer.Address() || bank.PoolBalance(h.State(), telemed.Escrow(1)) != authPrice {
					t.Fatalf("booking %+v", b)
				}
			},
		},
		telemed.TypeDone: {setup: authStarted, msg: fixedMsg(telemed.Done(1)), want: only(telemed.ErrNotBookingProv, rolePractitioner)},
		telemed.TypeConfirm: {
			setup: func(t *testing.T, h *apptest.Harness) {
				authStarted(t, h)
				h.DeliverOK(t, h.Sign(k(apptest.HospitalDoctor), telemed.Done(1)))
			},
			msg: fixedMsg(telemed.Confirm(1)), want: only(telemed.ErrNotBookingPat, rolePatient, roleGuardian),
			check: bookingClosed(telemed.OutcomeConfirmed),
		},
		telemed.TypeCancel:  {setup: authBooking, msg: fixedMsg(telemed.Cancel(1)), want: only(telemed.ErrNotParty, rolePatient, roleGuardian, rolePractitioner)},
		telemed.TypeDispute: {setup: authStarted, msg: fixedMsg(telemed.Dispute(1)), want: only(telemed.ErrNotParty, rolePatient, roleGuardian, rolePractitioner)},
		telemed.TypeResolve: {
			setup: func(t *testing.T, h *apptest.Harness) {
				authStarted(t, h)
				h.DeliverOK(t, h.Sign(k(apptest.Patient1), telemed.Dispute(1)))
			},
			msg: fixedMsg(&telemed.MsgResolve{Booking: 1, ToProvider: 200, ToPatient: authPrice - 200}), want: only(telemed.ErrNotArbiter, roleAdminB),
			check: bookingClosed(telemed.OutcomeResolved),
		},
		telemed.TypeNoShow: {
			setup: func(t *testing.T, h *apptest.Harness) {
				authBooking(t, h)
				h.Advance(2 * time.Hour)
			},
			msg: fixedMsg(telemed.NoShow(1)), want: only(telemed.ErrNotParty, rolePatient, roleGuardian, rolePractitioner),
		},
		research.TypeOpen: {
			msg: fixedMsg(&research.MsgOpen{Budget: 1000, Price: 100, Types: []string{"Observation"}, Purpose: "outcomes",
				End: apptest.GenesisTime.Add(30 * 24 * time.Hour).Unix()}),
			want: only(research.ErrNotResearcher),
		},
		research.TypeOptIn: {
			msg: fixedMsg(&research.MsgOptIn{Request: 1, Patient: k(apptest.Patient1).Address(), Consent: 1}),
			want: func() map[string]*sm.Error {
				w := only(research.ErrNotPatient)
				w[rolePatient], w[roleGuardian] = research.ErrUnknownRequest, research.ErrUnknownRequest
				return w
			}(),
		},
		research.TypeClose: {msg: fixedMsg(&research.MsgClose{Request: 1}), want: only(research.ErrUnknownRequest)},
	}
	for typ, r := range rows {
		authRows[typ] = r
	}
}
