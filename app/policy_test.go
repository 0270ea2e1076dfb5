package app_test

import (
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/telemed"
)

// TestAutomationReleasesEscrow: through the whole app, a patient's rule
// "when a consultation of mine is completed, release its escrow" fires in
// the end-of-block hook of the block in which the provider marks the
// booking done — once, with the patient's authority (telemed/confirm as
// the patient) — and a second app fed the same blocks reaches the same app
// hashes.
func TestAutomationReleasesEscrow(t *testing.T) {
	h := apptest.New(t)
	doctor, patient := k(apptest.HospitalDoctor), k(apptest.Patient1)
	h.DeliverOK(t, h.Sign(patient, &policy.MsgAddRule{Event: policy.EventConsultationCompleted,
		Condition: `attrs["provider"] != ""`, Action: policy.Action{Kind: policy.ActionReleaseEscrow}}))
	h.DeliverOK(t, h.Sign(doctor, &telemed.MsgOffer{Service: "general-consultation", Price: 900, Duration: 600, Arbiter: apptest.OrgLab}))
	h.DeliverOK(t, h.Sign(patient, &telemed.MsgBook{Offer: 1, Start: h.NextTime().Add(time.Minute).Unix()}))
	h.Advance(2 * time.Minute)
	resp := h.Finalize(t, h.Sign(doctor, telemed.Done(1)))
	b := telemed.GetBooking(h.State(), 1)
	if b.State != telemed.StateClosed || b.Outcome != telemed.OutcomeConfirmed || bank.PoolBalance(h.State(), telemed.Escrow(1)) != 0 {
		t.Fatalf("booking %+v", b)
	}
	fired := 0
	for _, e := range resp.Events {
		if e.Type == "policy_fired" {
			fired++
			for _, a := range e.Attributes {
				if a.Key == "outcome" && a.Value != policy.OutcomeOK {
					t.Fatalf("firing %v", e)
				}
			}
		}
	}
	if fired != 1 {
		t.Fatalf("%d firings among the block's events, want 1: %v", fired, resp.Events)
	}
	// Later blocks do not fire it again.
	h.Advance(time.Hour)
	for _, e := range h.Finalize(t).Events {
		if e.Type == "policy_fired" {
			t.Fatalf("fired again: %v", e)
		}
	}
	if r := policy.GetRule(h.State(), 1); r.Fired != 1 {
		t.Fatalf("rule %+v", r)
	}
	replay := apptest.New(t)
	for _, blk := range h.Blocks {
		replay.Advance(blk.Time.Sub(replay.NextTime()))
		if got := replay.Finalize(t, blk.Txs...); string(got.AppHash) != string(blk.Resp.AppHash) {
			t.Fatalf("block %d: app hash %X on replay, %X first", blk.Height, got.AppHash, blk.Resp.AppHash)
		}
	}
	// A node restarted before the firing block (a new app over its tree)
	// fires the same way.
	restart := apptest.New(t)
	for i, blk := range h.Blocks {
		if i == 3 {
			restart = apptest.Resume(t, restart.Tree, restart.Time, app.Options{})
		}
		restart.Advance(blk.Time.Sub(restart.NextTime()))
		if got := restart.Finalize(t, blk.Txs...); string(got.AppHash) != string(blk.Resp.AppHash) {
			t.Fatalf("block %d: app hash %X after a restart, %X first", blk.Height, got.AppHash, blk.Resp.AppHash)
		}
	}
}

// TestAutomationFeePerFiring: through the whole app (bank.CheckInvariant
// runs after every block), a firing charges policy.fee_per_firing to the
// rule's owner; an owner who cannot pay gets the rule paused with the
// reason, and the action does not run.
func TestAutomationFeePerFiring(t *testing.T) {
	for _, tc := range []struct {
		name string
		fee  uint64
		paid bool
	}{{"paid", 1000, true}, {"unpaid", 1 << 40, false}} {
		t.Run(tc.name, func(t *testing.T) {
			h := apptest.NewWithConfig(t, apptest.Config{Params: map[string]uint64{policy.ParamFeePerFiring: tc.fee}})
			doctor, patient := k(apptest.HospitalDoctor), k(apptest.Patient1)
			h.DeliverOK(t, h.Sign(patient, &policy.MsgAddRule{Event: policy.EventConsultationCompleted, Action: policy.Action{Kind: policy.ActionReleaseEscrow}}))
			h.DeliverOK(t, h.Sign(doctor, &telemed.MsgOffer{Service: "general-consultation", Price: 900, Duration: 600, Arbiter: apptest.OrgLab}))
			h.DeliverOK(t, h.Sign(patient, &telemed.MsgBook{Offer: 1, Start: h.NextTime().Add(time.Minute).Unix()}))
			h.Advance(2 * time.Minute)
			before := h.Account(patient).Balance
			resp := h.Finalize(t, h.Sign(doctor, telemed.Done(1)))
			r := policy.GetRule(h.State(), 1)
			b := telemed.GetBooking(h.State(), 1)
			var paused, fired int
			for _, e := range resp.Events {
				switch e.Type {
				case "policy_fired":
					fired++
				case "policy_rule_paused":
					paused++
				}
			}
			if tc.paid {
				if fired != 1 || paused != 0 || h.Account(patient).Balance != before-tc.fee || b.State != telemed.StateClosed || r.Fired != 1 {
					t.Fatalf("fired %d, paused %d, balance %d (was %d), booking %v, rule %+v", fired, paused, h.Account(patient).Balance, before, b.State, r)
				}
				return
			}
			if fired != 0 || paused != 1 || h.Account(patient).Balance != before || b.State == telemed.StateClosed ||
				!r.Paused || r.PauseReason != policy.PauseFeeUnpaid || bank.PoolBalance(h.State(), telemed.Escrow(1)) == 0 {
				t.Fatalf("fired %d, paused %d, balance %d (was %d), booking %v, rule %+v", fired, paused, h.Account(patient).Balance, before, b.State, r)
			}
		})
	}
}

// TestRuleRegistrationPaysItsFee: policy/add_rule is fee-bearing like every
// transaction type: below fees.min.policy/add_rule it is refused (and
// nothing is registered); at the minimum it is charged to the owner.
func TestRuleRegistrationPaysItsFee(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Config{Params: map[string]uint64{"fees.min." + policy.TypeAddRule: 70}})
	patient := k(apptest.Patient1)
	msg := &policy.MsgAddRule{Event: policy.EventEmergencyOpened, Action: policy.Action{Kind: policy.ActionNotify, To: consent.Org(apptest.OrgHospital), Topic: "emergency"}}
	if r := h.Check(t, h.SignFee(patient, 69, msg)); r.Code == abci.CodeTypeOK || r.Codespace != sm.ErrFeeTooLow.Codespace || r.Code != sm.ErrFeeTooLow.Code {
		t.Fatalf("fee 69: %s/%d %s", r.Codespace, r.Code, r.Log)
	}
	h.Resync(patient)
	before := h.Account(patient).Balance
	h.DeliverOK(t, h.SignFee(patient, 70, msg))
	if got := h.Account(patient).Balance; got != before-70 || policy.GetRule(h.State(), 1) == nil {
		t.Fatalf("balance %d (was %d), rule %v", got, before, policy.GetRule(h.State(), 1))
	}
}
