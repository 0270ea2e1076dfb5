package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/testnet"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/staking"
)

// TestSlashingOfARealNetwork: five validators and a full node. A stopped
// validator misses blocks until x/staking jails it for downtime (and burns
// slashing.downtime_slash_bps of its stake); then the full node is
// restarted with another validator's consensus key, so that two processes
// sign with one key: CometBFT's evidence of the duplicate vote reaches
// FinalizeBlock, and the validator is slashed, tombstoned and leaves the
// set while the chain goes on.
func TestSlashingOfARealNetwork(t *testing.T) {
	needNetwork(t)
	nw := testnet.Start(t, testnet.Options{Validators: 5, FullNodes: 1})
	ctx := within(t, 4*time.Minute)
	observer := nw.Nodes[0]
	down, twin, full := nw.Nodes[4], nw.Nodes[3], nw.Nodes[5]
	downKey, err := down.ValidatorKey()
	if err != nil {
		t.Fatal(err)
	}
	twinKey, err := twin.ValidatorKey()
	if err != nil {
		t.Fatal(err)
	}
	// Downtime windows of 10 blocks (5 must be signed), so the test is short.
	passProposal(t, ctx, nw, gov.Action{Kind: gov.KindSetParam, Param: staking.ParamSignedWindow, Value: 10})
	for _, d := range []struct {
		val    crypto.PubKey
		amount uint64
	}{{downKey.PubKey, 1_000_000}, {twinKey.PubKey, 2_000_000}} {
		res, err := observer.Client().Send(ctx, nw.Key(t, "patient1"), &staking.MsgDelegate{Validator: d.val, Amount: d.amount})
		if err == nil {
			err = committedOK(res)
		}
		if err != nil {
			t.Fatalf("delegate: %v", err)
		}
	}

	// Downtime.
	down.Kill()
	var v api.StakingValidatorView
	if err := testnet.Poll(within(t, 90*time.Second), 200*time.Millisecond, func() (err error) {
		v, err = stakingValidator(ctx, observer, downKey.PubKey)
		if err == nil && !v.Jailed {
			err = fmt.Errorf("%s not jailed yet (missed %d)", down.Name, v.MissedBlocks)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if v.Tombstoned || v.Tokens != 1_000_000-100 || v.Power != 0 {
		t.Errorf("after downtime: %+v, want jailed with 0.01%% of 1000000 burned and no power", v)
	}

	// Double signing: the full node takes the twin's consensus key.
	if err := full.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(config.PrivValKeyPath(twin.Home))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config.PrivValKeyPath(full.Home), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := full.Start(); err != nil {
		t.Fatal(err)
	}
	if err := testnet.Poll(within(t, 120*time.Second), 200*time.Millisecond, func() (err error) {
		v, err = stakingValidator(ctx, observer, twinKey.PubKey)
		if err == nil && !v.Tombstoned {
			err = fmt.Errorf("%s not tombstoned yet", twin.Name)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !v.Jailed || v.Tokens != 2_000_000-100_000 || v.Power != 0 {
		t.Errorf("after double signing: %+v, want 5%% of 2000000 burned and no power", v)
	}
	// The twins leave the set: CometBFT applies the power change two blocks
	// after the evidence's block, and until then the twins still vote (with
	// 12 of 42 power, each with its own blocks). Once commits list only the
	// three unpunished validators, the twins are stopped, and the three go on
	// alone. A node whose state diverged would show here as a stall.
	var h int64
	if err := testnet.Poll(within(t, 60*time.Second), 200*time.Millisecond, func() error {
		top, err := observer.Height(ctx)
		if err != nil {
			return err
		}
		c, err := observer.Commit(ctx, top)
		if err != nil {
			return err
		}
		if c.Validators != 3 {
			return fmt.Errorf("commit of height %d lists %d validators, want the 3 unpunished", top, c.Validators)
		}
		h = top
		return nil
	}); err != nil {
		t.Fatalf("the twins did not leave the set: %v\n%s", err, stakingReport(ctx, observer, nw.Nodes[:3]))
	}
	twin.Kill()
	full.Kill()
	if err := testnet.WaitHeight(within(t, 60*time.Second), h+5, observer); err != nil {
		t.Fatalf("the chain stalled after slashing: %v\n%s", err, stakingReport(ctx, observer, nw.Nodes[:3]))
	}
	c, err := observer.Commit(ctx, h+4)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("at the end:\n%s", stakingReport(ctx, observer, nw.Nodes[:3]))
	if c.Validators != 3 {
		t.Errorf("commit of height %d lists %d validators, want the 3 unpunished", h+4, c.Validators)
	}
}

// stakingReport is what a stalled test shows first: each validator's
// staking state as the observer sees it, and where each live node's
// consensus stands.
func stakingReport(ctx context.Context, observer *testnet.Node, live []*testnet.Node) string {
	var b strings.Builder
	var out struct {
		Validators []api.StakingValidatorView `json:"validators"`
	}
	if err := observer.Client().Get(ctx, "/v1/staking/validators", &out); err != nil {
		fmt.Fprintf(&b, "validators: %v\n", err)
	}
	for _, v := range out.Validators {
		fmt.Fprintf(&b, "validator %s (%s): power %d, tokens %d, jailed %v, tombstoned %v, missed %d\n",
			v.Address, v.Org, v.Power, v.Tokens, v.Jailed, v.Tombstoned, v.MissedBlocks)
	}
	for _, n := range live {
		fmt.Fprintf(&b, "%s consensus: %s\n", n.Name, n.RoundState(ctx))
	}
	return b.String()
}

// stakingValidator reads one validator from GET /v1/staking/validators.
func stakingValidator(ctx context.Context, n *testnet.Node, pub crypto.PubKey) (api.StakingValidatorView, error) {
	var out struct {
		Validators []api.StakingValidatorView `json:"validators"`
	}
	if err := n.Client().Get(ctx, "/v1/staking/validators", &out); err != nil {
		return api.StakingValidatorView{}, err
	}
	for _, v := range out.Validators {
		if v.PubKey == pub.String() {
			return v, nil
		}
	}
	return api.StakingValidatorView{}, fmt.Errorf("validator %s not listed", pub)
}
