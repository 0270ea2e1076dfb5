package app_test

import (
	"testing"
	"time"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/x/bank"
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
