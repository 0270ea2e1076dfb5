package app_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/params"
)

// approveUpgrade proposes and approves an upgrade plan (two of the three
// member organizations).
func approveUpgrade(t *testing.T, h *apptest.Harness, a gov.Action) uint64 {
	t.Helper()
	h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), &gov.MsgPropose{Action: a}))
	id := uint64(len(gov.Proposals(h.State())))
	h.DeliverOK(t, h.Sign(k(apptest.PharmacyAdmin), &gov.MsgVote{ProposalID: id, Approve: true}))
	if p := gov.GetProposal(h.State(), id); p.Status != gov.StatusPassed {
		t.Fatalf("proposal %d: %s %s", id, p.Status, p.Result)
	}
	return id
}

// finalizeRaw runs FinalizeBlock at the next height without the harness's
// bookkeeping, for a block the app may refuse.
func finalizeRaw(h *apptest.Harness) (*abci.ResponseFinalizeBlock, error) {
	return h.App.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: h.Height + 1, Time: h.NextTime()})
}

// setVotingPeriod is the migration of the test's "v2" release: it changes
// a parameter, so that whether it ran shows in state.
func setVotingPeriod(reg *params.Registry) app.Migration {
	return func(kv store.KV, _ int64) error { return reg.Set(kv, gov.ParamVotingPeriod, 3600) }
}

// An upgrade end to end over one on-disk state: the old binary (no handler)
// refuses the block at the plan's height and writes nothing; the new one
// (handler registered), started on the same state, migrates at that height
// and goes on.
func TestUpgradeOldHaltsNewMigrates(t *testing.T) {
	dir := t.TempDir()
	tree, err := merkle.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	var halts []*app.UpgradeHalt
	old := apptest.NewWithConfig(t, apptest.Config{Tree: tree, Options: app.Options{OnHalt: func(h *app.UpgradeHalt) { halts = append(halts, h) }}})
	old.DeliverOK(t)
	plan := gov.Plan{Name: "v2", Height: old.Height + 5, Info: "medchain 0.2.0"}
	approveUpgrade(t, old, gov.Action{Kind: gov.KindUpgrade, Upgrade: plan})
	if got := gov.PendingUpgrade(old.State()); got == nil || *got != plan {
		t.Fatalf("pending plan %+v, want %+v", got, plan)
	}
	for old.Height < plan.Height-1 {
		old.DeliverOK(t)
	}
	hashBefore, lastTime := old.Tree.Hash(), old.Time

	_, err = finalizeRaw(old)
	var halt *app.UpgradeHalt
	if !errors.Is(err, app.ErrUpgradeNeeded) || !errors.As(err, &halt) || halt.Plan != plan || halt.Height != plan.Height {
		t.Fatalf("FinalizeBlock at the upgrade height: %v, want an upgrade halt", err)
	}
	if len(halts) != 1 || old.App.Halted() == nil {
		t.Fatalf("OnHalt calls %d, Halted %v", len(halts), old.App.Halted())
	}
	if !bytes.Equal(tree.WorkingHash(), hashBefore) || tree.Version() != plan.Height-1 {
		t.Fatal("the refused block left writes in the working state")
	}
	// Asked again (CometBFT's replay after a restart of the old binary), it refuses again.
	if _, err := finalizeRaw(old); !errors.Is(err, app.ErrUpgradeNeeded) {
		t.Fatalf("second attempt: %v", err)
	}
	if err := tree.Close(); err != nil {
		t.Fatal(err)
	}

	tree, err = merkle.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tree.Close() })
	if tree.Version() != plan.Height-1 || !bytes.Equal(tree.Hash(), hashBefore) {
		t.Fatalf("state after the halt: v%d, want v%d with the same hash", tree.Version(), plan.Height-1)
	}
	_, reg := app.NewCore()
	next := apptest.Resume(t, tree, lastTime, app.Options{Upgrades: app.Upgrades{"v2": setVotingPeriod(reg)}})
	resp := next.Finalize(t)
	if !hasBlockEvent(resp, "upgrade_applied") {
		t.Fatal("no upgrade_applied event in the upgrade block")
	}
	if got := next.App.Params().Get(next.State(), gov.ParamVotingPeriod); got != 3600 {
		t.Fatalf("voting period %d after the migration, want 3600", got)
	}
	if h, ok := gov.UpgradeApplied(next.State(), "v2"); !ok || h != plan.Height {
		t.Fatalf("applied at %d %v, want %d", h, ok, plan.Height)
	}
	if gov.PendingUpgrade(next.State()) != nil {
		t.Fatal("the plan is still pending after it ran")
	}
	next.Finalize(t) // and the chain goes on
	// The same name cannot be scheduled again.
	next.DeliverOK(t, next.Sign(k(apptest.HospitalAdmin), &gov.MsgPropose{Action: gov.Action{Kind: gov.KindUpgrade, Upgrade: gov.Plan{Name: "v2", Height: next.Height + 10}}}))
	id := uint64(len(gov.Proposals(next.State())))
	next.DeliverOK(t, next.Sign(k(apptest.PharmacyAdmin), &gov.MsgVote{ProposalID: id, Approve: true}))
	if p := gov.GetProposal(next.State(), id); p.Status != gov.StatusFailed || !bytes.Contains([]byte(p.Result), []byte(gov.ErrUpgradeDone.Error())) {
		t.Fatalf("re-scheduling an applied upgrade: %s %q", p.Status, p.Result)
	}
}

func hasBlockEvent(r *abci.ResponseFinalizeBlock, typ string) bool {
	for _, e := range r.Events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// Two nodes that disagree on a migration would fork; a node whose migration
// fails stops instead, with nothing written.
func TestUpgradeMigrationFailureHalts(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Config{Options: app.Options{Upgrades: app.Upgrades{
		"v2": func(kv store.KV, _ int64) error {
			kv.Set([]byte{0x10, 'x'}, []byte("partial"))
			return errors.New("disk says no")
		},
	}}})
	plan := gov.Plan{Name: "v2", Height: 5}
	approveUpgrade(t, h, gov.Action{Kind: gov.KindUpgrade, Upgrade: plan})
	for h.Height < plan.Height-1 {
		h.DeliverOK(t)
	}
	want := h.Tree.Hash()
	_, err := finalizeRaw(h)
	var halt *app.UpgradeHalt
	if !errors.As(err, &halt) || halt.Err == nil || errors.Is(err, app.ErrUpgradeNeeded) {
		t.Fatalf("failed migration: %v", err)
	}
	if !bytes.Equal(h.Tree.WorkingHash(), want) || h.Tree.Get([]byte{0x10, 'x'}) != nil {
		t.Fatal("a failed migration's writes were kept")
	}
}

func TestUpgradeProposals(t *testing.T) {
	h := apptest.New(t)
	hosp := k(apptest.HospitalAdmin)
	propose := func(a gov.Action) *abci.ExecTxResult {
		return h.Deliver(t, h.Sign(hosp, &gov.MsgPropose{Action: a}))[0]
	}
	for _, tc := range []struct {
		name string
		a    gov.Action
	}{
		{"no name", gov.Action{Kind: gov.KindUpgrade, Upgrade: gov.Plan{Height: 10}}},
		{"bad name", gov.Action{Kind: gov.KindUpgrade, Upgrade: gov.Plan{Name: "V 2", Height: 10}}},
		{"no height", gov.Action{Kind: gov.KindUpgrade, Upgrade: gov.Plan{Name: "v2"}}},
		{"cancel with a height", gov.Action{Kind: gov.KindCancelUpgrade, Upgrade: gov.Plan{Name: "v2", Height: 3}}},
	} {
		wantCode(t, tc.name, h.Check(t, h.Sign(hosp, &gov.MsgPropose{Action: tc.a})), gov.ErrBadProposal)
		h.Resync(hosp)
	}

	// Another kind's encoding carries no plan; its ValidateBasic refuses one.
	other := gov.Action{Kind: gov.KindSetParam, Param: app.ParamMinFee, Value: 1, Upgrade: gov.Plan{Name: "v2"}}
	if err := other.ValidateBasic(); !errors.Is(err, gov.ErrBadProposal) {
		t.Fatalf("set_param with a plan: %v", err)
	}

	// A passed proposal whose plan cannot be applied fails with the reason.
	failed := func(what string, a gov.Action, want error) {
		t.Helper()
		wantCode(t, what, propose(a), nil)
		id := uint64(len(gov.Proposals(h.State())))
		h.DeliverOK(t, h.Sign(k(apptest.PharmacyAdmin), &gov.MsgVote{ProposalID: id, Approve: true}))
		p := gov.GetProposal(h.State(), id)
		if p.Status != gov.StatusFailed || !bytes.Contains([]byte(p.Result), []byte(want.Error())) {
			t.Fatalf("%s: %s %q, want failed with %v", what, p.Status, p.Result, want)
		}
	}
	failed("height passed", gov.Action{Kind: gov.KindUpgrade, Upgrade: gov.Plan{Name: "v2", Height: 2}}, gov.ErrUpgradeHeight)
	failed("cancel nothing", gov.Action{Kind: gov.KindCancelUpgrade, Upgrade: gov.Plan{Name: "v2"}}, gov.ErrNoUpgrade)

	approveUpgrade(t, h, gov.Action{Kind: gov.KindUpgrade, Upgrade: gov.Plan{Name: "v2", Height: 100}})
	failed("second plan", gov.Action{Kind: gov.KindUpgrade, Upgrade: gov.Plan{Name: "v3", Height: 200}}, gov.ErrUpgradePending)
	failed("cancel another name", gov.Action{Kind: gov.KindCancelUpgrade, Upgrade: gov.Plan{Name: "v3"}}, gov.ErrNoUpgrade)
	approveUpgrade(t, h, gov.Action{Kind: gov.KindCancelUpgrade, Upgrade: gov.Plan{Name: "v2"}})
	if gov.PendingUpgrade(h.State()) != nil {
		t.Fatal("cancelled plan still pending")
	}
	// A cancelled plan stops nothing: an app without handlers passes its height.
	for h.Height < 101 {
		h.DeliverOK(t)
	}
}
