package app_test

import (
	"testing"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/mint"
	"github.com/medchain/medchain/x/staking"
)

// TestMintSchedule: with an inflation rate in genesis, every block mints
// exactly the scheduled provision of the supply (carry included) into the
// provision pool, staking hands all of it to the rewards pool in the same
// block, and over many blocks what the validators hold in rewards is to
// the unit what was minted. Governance can then change the rate.
func TestMintSchedule(t *testing.T) {
	const bps, bpy = 700, 1000
	h := apptest.NewWithConfig(t, apptest.Config{Params: map[string]uint64{mint.ParamInflationBps: bps, mint.ParamBlocksPerYear: bpy}})
	supply := bank.Supply(h.State())
	genesis := supply
	var carry uint64
	for i := range 300 {
		var want uint64
		want, carry = mint.Provision(supply, bps, bpy, carry)
		h.Finalize(t)
		st := h.State()
		if got := bank.Supply(st); got != supply+want {
			t.Fatalf("block %d: supply %d, want %d + %d", i+1, got, supply, want)
		}
		if mint.Carry(st) != carry {
			t.Fatalf("block %d: carry %d, want %d", i+1, mint.Carry(st), carry)
		}
		if p := bank.PoolBalance(st, mint.ProvisionPool); p != 0 {
			t.Fatalf("block %d: %d left in the provision pool", i+1, p)
		}
		supply += want
	}
	if minted, rewards := supply-genesis, bank.PoolBalance(h.State(), staking.RewardsPool); minted == 0 || rewards != minted {
		t.Fatalf("minted %d, rewards pool %d", minted, rewards)
	}
	// Governance sets the rate to 0: minting stops.
	h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), &gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: mint.ParamInflationBps, Value: 0}}))
	h.DeliverOK(t, h.Sign(k(apptest.LabAdmin), &gov.MsgVote{ProposalID: 1, Approve: true}))
	if got := h.App.Params().Get(h.State(), mint.ParamInflationBps); got != 0 {
		t.Fatalf("rate %d after the vote", got)
	}
	stopped := bank.Supply(h.State())
	for range 5 {
		h.Finalize(t)
	}
	if got := bank.Supply(h.State()); got != stopped {
		t.Fatalf("supply %d, %d when the rate went to 0", got, stopped)
	}
}
