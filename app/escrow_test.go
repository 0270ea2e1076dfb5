package app_test

import (
	"testing"
	"time"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/telemed"
)

// TestTelemedReleaseInEndBlock: through the whole app, a booking marked
// done is released to the provider by the end-of-block hook once
// telemed.release_seconds (a genesis parameter here) have passed, in a
// block without transactions; the release is among the block's events,
// and a second app fed the same blocks reaches the same app hash.
func TestTelemedReleaseInEndBlock(t *testing.T) {
	cfg := apptest.Config{Params: map[string]uint64{telemed.ParamReleaseSeconds: 600}}
	h := apptest.NewWithConfig(t, cfg)
	doctor, patient := k(apptest.HospitalDoctor), k(apptest.Patient1)
	h.DeliverOK(t, h.Sign(doctor, &telemed.MsgOffer{Service: "general-consultation", Price: 900, Duration: 600, Arbiter: apptest.OrgLab}))
	h.DeliverOK(t, h.Sign(patient, &telemed.MsgBook{Offer: 1, Start: h.NextTime().Add(time.Minute).Unix()}))
	h.Advance(2 * time.Minute)
	h.DeliverOK(t, h.Sign(doctor, telemed.Done(1)))
	h.Advance(590 * time.Second) // not yet: done + 600 s is after this block
	h.Finalize(t)
	if b := telemed.GetBooking(h.State(), 1); b.State != telemed.StateDone {
		t.Fatalf("released early: %+v", b)
	}
	h.Advance(10 * time.Second)
	resp := h.Finalize(t)
	b := telemed.GetBooking(h.State(), 1)
	if b.State != telemed.StateClosed || b.Outcome != telemed.OutcomeReleased || bank.PoolBalance(h.State(), telemed.Escrow(1)) != 0 {
		t.Fatalf("booking %+v", b)
	}
	if h.Account(doctor).Balance != apptest.Balance+900 || h.Account(patient).Balance != apptest.Balance-900 {
		t.Fatalf("doctor %d, patient %d", h.Account(doctor).Balance, h.Account(patient).Balance)
	}
	found := false
	for _, e := range resp.Events {
		if e.Type == "telemed_closed" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no telemed_closed among the block's events: %v", resp.Events)
	}
	replay := apptest.NewWithConfig(t, cfg)
	for _, blk := range h.Blocks {
		replay.Advance(blk.Time.Sub(replay.NextTime()))
		if got := replay.Finalize(t, blk.Txs...); string(got.AppHash) != string(blk.Resp.AppHash) {
			t.Fatalf("block %d: app hash %X on replay, %X first", blk.Height, got.AppHash, blk.Resp.AppHash)
		}
	}
}
