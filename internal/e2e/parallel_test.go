package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/testnet"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// TestMixedExecutionNetwork: two validators execute blocks serially and
// two in parallel (2 and 6 workers); a block needs three of the four, so
// any difference in results or app hash would halt the chain. Blocks of
// registrations, then of each new patient's chained guardian changes
// (three transactions of one signer in a block, each naming another
// patient, so that transactions conflict), commit on every node with the
// same app hash.
func TestMixedExecutionNetwork(t *testing.T) {
	needNetwork(t)
	nw := testnet.Start(t, testnet.Options{Validators: 4, Configure: func(i int, c *config.Config) {
		c.Execution = config.Execution{Mode: config.ExecSerial}
		if i%2 == 1 {
			c.Execution = config.Execution{Mode: config.ExecParallel, Workers: 2 + 4*(i/2)}
		}
	}})
	ctx := within(t, 3*time.Minute)
	st, err := nw.Nodes[0].Client().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 150
	var keys []*crypto.PrivKey
	var regs [][]byte
	for range n {
		k, err := crypto.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		regs = append(regs, sm.SignTx(k, st.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: k.EncKey()}))
	}
	submit := func(node int, txs [][]byte) {
		t.Helper()
		res, err := nw.Nodes[node].Client().SubmitBatch(ctx, txs)
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != len(txs) {
			first := res.Results
			if len(first) > 3 {
				first = first[:3]
			}
			t.Fatalf("node %d accepted %d of %d; first results: %+v", node, res.Accepted, len(txs), first)
		}
	}
	submit(1, regs)
	// Every node, not only one: node 3 takes the next batch, and under load
	// it may commit a block later than its peers.
	if err := testnet.Poll(ctx, 100*time.Millisecond, func() error {
		for _, node := range nw.Nodes {
			if err := checkPatientOn(ctx, node, keys[n-1].Address()); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var chained [][]byte
	for i, k := range keys {
		g := keys[(i+1)%n].Address()
		chained = append(chained,
			sm.SignTx(k, st.ChainID, 1, 0, &accounts.MsgSetGuardian{Guardian: g}),
			sm.SignTx(k, st.ChainID, 2, 0, &accounts.MsgRevokeGuardian{Guardian: g}),
			sm.SignTx(k, st.ChainID, 3, 0, &accounts.MsgSetGuardian{Guardian: g}))
	}
	submit(3, chained)
	last := keys[n-1].Address()
	if err := testnet.Poll(ctx, 200*time.Millisecond, func() error {
		for _, node := range nw.Nodes {
			a, err := node.Client().Account(ctx, last)
			if err != nil {
				return err
			}
			if a.Sequence != 4 {
				return fmt.Errorf("%s: sequence %d, want 4", node.Name, a.Sequence)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Two more blocks on every node: all four agreed on the blocks above.
	top, err := nw.Nodes[0].Client().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := testnet.WaitHeight(ctx, top.Height+2, nw.Nodes...); err != nil {
		t.Fatal(err)
	}
}
