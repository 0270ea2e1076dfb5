package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/testnet"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// TestTransactionsCommitAcrossNodes: on a four-validator network a patient
// registered through one node is committed and is then visible, with its
// transaction, through another node.
func TestTransactionsCommitAcrossNodes(t *testing.T) {
	needNetwork(t)
	nw := testnet.Start(t, testnet.Options{Validators: 4})
	ctx := within(t, 2*time.Minute)

	for i, n := range nw.Nodes {
		other := nw.Nodes[(i+1)%len(nw.Nodes)]
		key, res := mustRegister(t, ctx, n)
		// Committed means readable at once on the node that said so.
		if err := checkPatientOn(ctx, n, key.Address()); err != nil {
			t.Error(err)
		}
		if err := checkTxOn(ctx, n, res); err != nil {
			t.Error(err)
		}
		// Another node shows it once it has applied that block.
		err := testnet.Poll(within(t, 10*time.Second), 50*time.Millisecond, func() error {
			return errors.Join(checkPatientOn(ctx, other, key.Address()), checkTxOn(ctx, other, res))
		})
		if err != nil {
			t.Error(err)
		}
	}
}

// TestValidatorCrashAndRecovery: with one validator of four killed the others
// keep committing blocks and transactions; restarted, it catches up and holds
// the same blocks and the same state as the others.
func TestValidatorCrashAndRecovery(t *testing.T) {
	needNetwork(t)
	nw := testnet.Start(t, testnet.Options{Validators: 4})
	ctx := within(t, 3*time.Minute)
	victim, rest := nw.Nodes[3], nw.Nodes[:3]

	victim.Kill()
	h0, err := testnet.MaxHeight(ctx, rest...)
	if err != nil {
		t.Fatal(err)
	}
	// Five blocks with the victim's turns to propose among them.
	if err := testnet.WaitHeight(within(t, 30*time.Second), h0+5, rest...); err != nil {
		t.Fatalf("the chain stalled with one validator of four down: %v", err)
	}
	type registered struct {
		key *crypto.PrivKey
		res *api.TxResult
	}
	var during []registered
	for _, n := range rest {
		key, res := mustRegister(t, ctx, n)
		during = append(during, registered{key, res})
	}

	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := victim.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	top, err := testnet.MaxHeight(ctx, rest...)
	if err != nil {
		t.Fatal(err)
	}
	if err := testnet.WaitHeight(within(t, time.Minute), top+2, victim); err != nil {
		t.Fatalf("the restarted validator did not catch up to height %d: %v", top+2, err)
	}
	// The victim is a working validator again: the chain needs it no more
	// than before, but its signature should reappear in commits.
	val, err := victim.ValidatorKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := waitSigned(ctx, rest[0], val.Address, top+2, 30); err != nil {
		t.Error(err)
	}

	h := commonHeight(t, ctx, nw.Nodes) - 1 // block h+1 holds the app hash of state h
	if err := testnet.SameBlocks(ctx, 1, h+1, nw.Nodes...); err != nil {
		t.Fatal(err)
	}
	checkSameState(t, ctx, nw.Nodes, h, accounts.AccountKey(during[0].key.Address()))
	for _, r := range during {
		if err := checkPatientOn(ctx, victim, r.key.Address()); err != nil {
			t.Error(err)
		}
		if err := checkTxOn(ctx, victim, r.res); err != nil {
			t.Error(err)
		}
	}
}

// TestHaltWithoutQuorumAndResume: with two validators of four killed the
// remaining two commit nothing (a transaction submitted to them stays
// pending) and do not fork; with the two restarted the chain resumes, the
// pending transaction commits, and all four hold the same blocks.
func TestHaltWithoutQuorumAndResume(t *testing.T) {
	needNetwork(t)
	nw := testnet.Start(t, testnet.Options{Validators: 4})
	ctx := within(t, 3*time.Minute)
	live, dead := nw.Nodes[:2], nw.Nodes[2:]

	for _, n := range dead {
		n.Kill()
	}
	// A block whose precommits were already on the wire may still commit;
	// after a propose timeout and a block interval nothing can.
	time.Sleep(2 * time.Second)
	halted := heights(t, ctx, live)
	if halted[0] != halted[1] {
		t.Errorf("the live validators stopped at different heights %v", halted)
	}

	// Submitted while halted: accepted into the mempool, never committed.
	key, err := crypto.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := live[0].Client().NewSigner(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := live[0].Client().SubmitRaw(ctx, signer.Sign(&accounts.MsgRegisterPatient{EncKey: key.EncKey()}), false)
	if err != nil {
		t.Fatalf("submit while halted: %v", err)
	}

	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if now := heights(t, ctx, live); now[0] != halted[0] || now[1] != halted[1] {
			t.Fatalf("blocks committed without quorum: heights %v, then %v", halted, now)
		}
	}
	if err := testnet.SameBlocks(ctx, 1, halted[0], live...); err != nil {
		t.Fatal(err)
	}
	if err := live[1].Client().Get(ctx, "/v1/txs/"+pending.Hash, nil); err == nil {
		t.Fatalf("transaction %s committed without quorum", pending.Hash)
	}

	for _, n := range dead {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range dead {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := testnet.WaitHeight(within(t, time.Minute), halted[0]+3, nw.Nodes...); err != nil {
		t.Fatalf("the chain did not resume: %v", err)
	}
	var res api.TxResult
	err = testnet.Poll(within(t, 30*time.Second), 200*time.Millisecond, func() error {
		return live[0].Client().Get(ctx, "/v1/txs/"+pending.Hash, &res)
	})
	if err != nil {
		t.Fatalf("transaction submitted during the halt never committed: %v", err)
	}
	if res.Code != 0 || res.Height <= halted[0] {
		t.Errorf("pending transaction committed at height %d with code %d (%s), want code 0 after height %d", res.Height, res.Code, res.Log, halted[0])
	}
	h := commonHeight(t, ctx, nw.Nodes) - 1
	if err := testnet.SameBlocks(ctx, 1, h+1, nw.Nodes...); err != nil {
		t.Fatal(err)
	}
	checkSameState(t, ctx, nw.Nodes, h, accounts.AccountKey(key.Address()))
}

// heights reports each node's height.
func heights(t *testing.T, ctx context.Context, nodes []*testnet.Node) []int64 {
	t.Helper()
	out := make([]int64, len(nodes))
	for i, n := range nodes {
		h, err := n.Height(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = h
	}
	return out
}

// commonHeight is the lowest height among the nodes.
func commonHeight(t *testing.T, ctx context.Context, nodes []*testnet.Node) int64 {
	t.Helper()
	hs := heights(t, ctx, nodes)
	low := hs[0]
	for _, h := range hs {
		low = min(low, h)
	}
	return low
}

// checkSameState checks that every node's own state at height h has the
// root hash the header of block h+1 commits to, and that the nodes agree.
func checkSameState(t *testing.T, ctx context.Context, nodes []*testnet.Node, h int64, key []byte) {
	t.Helper()
	next, err := nodes[0].Block(ctx, h+1)
	if err != nil {
		t.Fatal(err)
	}
	want, err := hex.DecodeString(next.AppHash)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		root, err := n.StateRoot(ctx, h, key)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(root, want) {
			t.Errorf("%s: state at height %d has root %X, block %d says %X", n.Name, h, root, h+1, want)
		}
	}
}

// waitSigned waits for a commit, at a height from `from` on and within span
// blocks of it, that validator addr signed; n serves the commits.
func waitSigned(ctx context.Context, n *testnet.Node, addr string, from, span int64) error {
	for h := from; h < from+span; h++ {
		if err := testnet.WaitHeight(ctx, h+1, n); err != nil { // the canonical commit of h is in h+1
			return err
		}
		c, err := n.Commit(ctx, h)
		if err != nil {
			return err
		}
		if c.Signed(addr) {
			return nil
		}
	}
	return fmt.Errorf("validator %s signed none of the commits of heights %d to %d", addr, from, from+span-1)
}

// TestBatchAcrossNodes: a batch taken in by one validator travels as
// bundles; every transaction in it is committed once, in order, and another
// validator finds each one by hash and lists it in its block. A resubmitted
// transaction is answered as a duplicate; a forged one is refused alone.
func TestBatchAcrossNodes(t *testing.T) {
	needNetwork(t)
	nw := testnet.Start(t, testnet.Options{Validators: 4})
	ctx := within(t, 2*time.Minute)
	in, other := nw.Nodes[1], nw.Nodes[2]
	st, err := in.Client().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var txs [][]byte
	var keys []*crypto.PrivKey
	for range 40 {
		key, err := crypto.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
		txs = append(txs, sm.SignTx(key, st.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: key.EncKey()}))
	}
	forged := sm.SignTx(keys[2], st.ChainID, 1, 0, &accounts.MsgSetGuardian{Guardian: keys[1].Address()})
	forged[len(forged)-1] ^= 1
	txs = append(txs, forged)
	res, err := in.Client().SubmitBatch(ctx, txs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != len(txs)-1 || res.Results[len(txs)-1].Code != sm.ErrBadSignature.Code {
		t.Fatalf("accepted %d of %d; forged: %+v", res.Accepted, len(txs), res.Results[len(txs)-1])
	}
	again, err := in.Client().SubmitBatch(ctx, txs[:1])
	if err != nil {
		t.Fatal(err)
	}
	if again.Results[0].Code != api.ErrDuplicate.Code || again.Results[0].Codespace != api.Codespace {
		t.Fatalf("resubmitted: %+v", again.Results[0])
	}
	// A transaction twice in one batch: the second copy is a duplicate
	// (the first is checked, here refused: its signer's registration is
	// not committed yet).
	twice := sm.SignTx(keys[5], st.ChainID, 1, 0, &accounts.MsgSetGuardian{Guardian: keys[6].Address()})
	rep, err := in.Client().SubmitBatch(ctx, [][]byte{twice, twice})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[1]; r.Code != api.ErrDuplicate.Code || r.Codespace != api.Codespace {
		t.Fatalf("a transaction twice in one batch: %+v", rep.Results)
	}
	// A bundle is node-to-node transport, not a transaction a client sends.
	if res, err := in.Client().SubmitRaw(ctx, sm.EncodeBundle([][]byte{txs[7]}), true); res == nil || res.Code != sm.ErrTxDecode.Code || res.Codespace != sm.Codespace {
		t.Fatalf("a bundle sent to POST /v1/txs: %+v, %v", res, err)
	}
	if err := testnet.Poll(ctx, 100*time.Millisecond, func() error { return checkPatientOn(ctx, in, keys[0].Address()) }); err != nil {
		t.Fatal(err)
	}
	// One signer's consecutive transactions in one batch: the second is
	// checked against the first, pending in the mempool.
	second, err := in.Client().SubmitBatch(ctx, [][]byte{
		sm.SignTx(keys[0], st.ChainID, 1, 0, &accounts.MsgSetGuardian{Guardian: keys[1].Address()}),
		sm.SignTx(keys[0], st.ChainID, 2, 0, &accounts.MsgRevokeGuardian{Guardian: keys[1].Address()}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.Accepted != 2 {
		t.Fatalf("second batch: %+v", second.Results)
	}
	res.Results = append(res.Results[:len(txs)-1], append(second.Results, res.Results[len(txs)-1])...)
	txs = append(txs[:len(txs)-1], nil, nil, forged)
	// Every accepted transaction is committed, and the other node agrees.
	var last api.TxResult
	err = testnet.Poll(ctx, 100*time.Millisecond, func() error {
		for i, it := range res.Results[:len(txs)-1] {
			var got api.TxResult
			if err := other.Client().Get(ctx, "/v1/txs/"+it.Hash, &got); err != nil {
				return fmt.Errorf("tx %d: %w", i, err)
			}
			if got.Code != 0 || !got.Committed || got.Type == "" {
				return fmt.Errorf("tx %d: %+v", i, got)
			}
			last = got
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if last.Type != "accounts/revoke_guardian" || last.Signer != keys[0].Address().String() || last.Sequence != 2 {
		t.Fatalf("guardian tx: %+v", last)
	}
	var blk api.Block
	if err := other.Client().Get(ctx, fmt.Sprintf("/v1/blocks/%d", last.Height), &blk); err != nil {
		t.Fatal(err)
	}
	if last.Index >= len(blk.Txs) || !strings.EqualFold(blk.Txs[last.Index].Hash, last.Hash) {
		t.Fatalf("block %d lists %d txs; tx at index %d is not %s", last.Height, len(blk.Txs), last.Index, last.Hash)
	}
	for _, n := range []*testnet.Node{in, other} {
		if err := checkPatientOn(ctx, n, keys[39].Address()); err != nil {
			t.Error(err)
		}
	}
	var forgedTx api.TxResult
	if err := other.Client().Get(ctx, "/v1/txs/"+res.Results[len(txs)-1].Hash, &forgedTx); !client.IsNotFound(err) {
		t.Fatalf("the forged transaction: %+v, %v", forgedTx, err)
	}
}
