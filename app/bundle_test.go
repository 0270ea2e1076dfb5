package app_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// A bundle's transactions execute exactly as the same transactions alone:
// same state, same per-transaction outcomes; the bundle's own result carries
// their codes (and so they reach the results hash of the next header).
func TestBundleExecutesLikeSeparateTxs(t *testing.T) {
	var got []app.TxResult
	a := apptest.NewWithConfig(t, apptest.Config{Options: app.Options{OnCommit: func(_ int64, rs []app.TxResult) { got = rs }}})
	b := apptest.New(t)
	p1, p2 := k(apptest.Patient1), k(apptest.Patient2)
	txs := [][]byte{
		a.Sign(p1, guardianMsg(apptest.Patient2)),
		a.Sign(p1, guardianMsg(apptest.Patient3)),
		a.Sign(k("stranger"), guardianMsg(apptest.Patient2)), // fails: unknown signer
		a.Sign(p2, guardianMsg(apptest.Patient3)),
	}
	alone := [][]byte{a.Sign(k(apptest.Patient3), guardianMsg(apptest.Patient1))}
	res := a.Deliver(t, sm.EncodeBundle(txs), alone[0])
	ref := b.Deliver(t, append(append([][]byte{}, txs...), alone...)...)
	if !bytes.Equal(a.Last.AppHash, b.Last.AppHash) {
		t.Fatal("a bundle changed state differently from the same transactions alone")
	}
	wantCode(t, "bundle", res[0], nil)
	rs, err := sm.DecodeBundleResults(res[0].Data)
	if err != nil || len(rs) != len(txs) {
		t.Fatalf("bundle results %+v, %v", rs, err)
	}
	for i := range txs {
		if rs[i].Code != ref[i].Code || rs[i].Codespace != ref[i].Codespace {
			t.Errorf("bundled tx %d: %s/%d, alone %s/%d", i, rs[i].Codespace, rs[i].Code, ref[i].Codespace, ref[i].Code)
		}
	}
	// The commit listener sees each transaction, numbered within the block.
	if len(got) != 5 {
		t.Fatalf("OnCommit got %d results, want 5", len(got))
	}
	for i, tx := range append(txs, alone...) {
		if got[i].Hash != sm.TxHash(tx) || got[i].Index != i {
			t.Errorf("result %d: hash %x index %d", i, got[i].Hash, got[i].Index)
		}
	}
	if got[2].Code != sm.ErrUnknownSigner.Code || got[4].Code != 0 || got[4].Type != "accounts/set_guardian" {
		t.Errorf("results: %+v", got)
	}
}

func TestMalformedBundleFailsWhole(t *testing.T) {
	h := apptest.New(t)
	good := h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2))
	b := sm.EncodeBundle([][]byte{good})
	for name, raw := range map[string][]byte{
		"trailing byte":  append(bytes.Clone(b), 0x05),
		"empty":          {sm.TxFormatBundle},
		"empty inner tx": {sm.TxFormatBundle, 0x00},
	} {
		res := h.Deliver(t, raw)
		wantCode(t, name, res[0], sm.ErrTxDecode)
		wantCode(t, name+" (CheckTx)", h.Check(t, raw), sm.ErrTxDecode)
	}
	if h.Account(k(apptest.Patient1)).Sequence != 0 {
		t.Fatal("a transaction in a malformed bundle was executed")
	}
	// A bundle inside a bundle is not a transaction.
	res := h.Deliver(t, sm.EncodeBundle([][]byte{b}))
	rs, _ := sm.DecodeBundleResults(res[0].Data)
	if len(rs) != 1 || rs[0].Code != sm.ErrTxDecode.Code {
		t.Fatalf("nested bundle: %+v", rs)
	}
}

// A bundle from a peer is checked transaction by transaction against the
// mempool's sequences; it is kept while any of them is valid.
func TestCheckBundle(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t)
	p1 := k(apptest.Patient1)
	tx0 := h.Sign(p1, guardianMsg(apptest.Patient2))
	tx1 := h.Sign(p1, guardianMsg(apptest.Patient3))
	tx2 := h.Sign(p1, &accounts.MsgRevokeGuardian{Guardian: k(apptest.Patient2).Address()})
	// A peer's bundle that overtook an earlier one is held: kept, but its
	// sequence does not count as pending.
	wantCode(t, "bundle of seq 1 alone", h.Check(t, sm.EncodeBundle([][]byte{tx1})), nil)
	if n := h.App.PendingTxs(); n != 0 {
		t.Fatalf("pending %d after a held bundle, want 0", n)
	}
	wantCode(t, "seq 1 alone, not in a bundle", h.Check(t, tx1), sm.ErrBadSequence)
	far := sm.SignTx(p1, apptest.ChainID, 1<<20, 0, guardianMsg(apptest.Patient2))
	wantCode(t, "bundle far ahead", h.Check(t, sm.EncodeBundle([][]byte{far})), sm.ErrBadSequence)
	wantCode(t, "bundle of seq 0, 1", h.Check(t, sm.EncodeBundle([][]byte{tx0, tx1})), nil)
	if n := h.App.PendingTxs(); n != 2 {
		t.Fatalf("pending %d, want 2", n)
	}
	// The mempool now expects seq 2.
	wantCode(t, "seq 2 alone", h.Check(t, tx2), nil)
	wantCode(t, "bundle of a stale and nothing else", h.Check(t, sm.EncodeBundle([][]byte{tx0})), sm.ErrBadSequence)
	bad := sm.SignTx(p1, apptest.ChainID, 3, 0, guardianMsg(apptest.Patient2))
	bad[len(bad)-1] ^= 1
	wantCode(t, "bundle with a bad signature", h.Check(t, sm.EncodeBundle([][]byte{bad})), sm.ErrBadSignature)
	// One transaction that can never be valid refuses the whole bundle,
	// valid ones with it: no honest node builds such a bundle.
	p2 := k(apptest.Patient2)
	good := sm.SignTx(p2, apptest.ChainID, 0, 0, guardianMsg(apptest.Patient3))
	other := sm.SignTx(p2, "another-chain", 1, 0, guardianMsg(apptest.Patient3))
	for name, c := range map[string]struct {
		tx   []byte
		want *sm.Error
	}{
		"a bad signature":   {bad, sm.ErrBadSignature},
		"another chain":     {other, sm.ErrWrongChainID},
		"an undecodable tx": {[]byte{sm.TxFormatV1, 0x05, 1, 2}, sm.ErrTxDecode},
	} {
		r := h.Check(t, sm.EncodeBundle([][]byte{good, c.tx}))
		wantCode(t, "valid tx with "+name, r, c.want)
		if !strings.Contains(r.Log, "bundle refused: transaction 1") {
			t.Errorf("%s: log %q", name, r.Log)
		}
	}
	if n := h.App.PendingTxs(); n != 3 {
		t.Fatalf("pending %d, want 3: a refused bundle counted", n)
	}
	h.DeliverOK(t, tx0, tx1, tx2)
	if n := h.App.PendingTxs(); n != 0 {
		t.Fatalf("pending %d after commit, want 0", n)
	}
	recheck, err := h.App.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: sm.EncodeBundle([][]byte{tx1, tx2}), Type: abci.CheckTxType_Recheck})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "recheck of an included bundle", recheck, sm.ErrBadSequence)
	if !strings.Contains(recheck.Log, "no valid transaction") {
		t.Errorf("log %q", recheck.Log)
	}
}

// Stage checks a node's intake in order, packs the accepted transactions
// into bundles within the size asked for, and the mempool's CheckTx of such
// a bundle does not check them again, unless a commit came in between.
func TestStage(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t)
	p1, p2 := k(apptest.Patient1), k(apptest.Patient2)
	var txs [][]byte
	for range 6 {
		txs = append(txs, h.Sign(p1, guardianMsg(apptest.Patient2)))
	}
	stranger := h.Sign(k("stranger"), guardianMsg(apptest.Patient2))
	txs = append(txs[:3], append([][]byte{stranger}, txs[3:]...)...)
	txs = append(txs, txs[0]) // a replay
	max := 1 + 2*(len(txs[0])+2)
	bundles, sizes, errs, err := h.App.Stage(txs, max)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		switch i {
		case 3:
			if !errors.Is(e, sm.ErrUnknownSigner) {
				t.Errorf("stranger: %v", e)
			}
		case 7:
			if !errors.Is(e, sm.ErrBadSequence) {
				t.Errorf("replay: %v", e)
			}
		default:
			if e != nil {
				t.Errorf("tx %d: %v", i, e)
			}
		}
	}
	if len(bundles) != 3 || sizes[0] != 2 || sizes[1] != 2 || sizes[2] != 2 {
		t.Fatalf("%d bundles of %v, want 3 of two transactions", len(bundles), sizes)
	}
	var inner [][]byte
	for _, b := range bundles {
		if len(b) > max {
			t.Fatalf("bundle of %d bytes, asked for at most %d", len(b), max)
		}
		txs, err := sm.DecodeBundle(b)
		if err != nil {
			t.Fatal(err)
		}
		inner = append(inner, txs...)
	}
	if len(inner) != 6 {
		t.Fatalf("%d transactions bundled, want 6", len(inner))
	}
	// The next sequence is already taken by the staged ones.
	wantCode(t, "seq 6 after stage", h.Check(t, h.Sign(p1, guardianMsg(apptest.Patient3))), nil)
	for i, b := range bundles[:2] {
		wantCode(t, "staged bundle", h.Check(t, b), nil)
		if n := h.App.PendingTxs(); n != 2*(i+1)+1 {
			t.Fatalf("pending %d", n)
		}
	}
	// A commit between Stage and CheckTx: the bundle is checked again. Its
	// transactions' predecessors are not pending any more here (the
	// rechecks that would restore them did not run), so it is only held.
	h.DeliverOK(t, h.Sign(p2, guardianMsg(apptest.Patient3)))
	wantCode(t, "staged bundle after a commit", h.Check(t, bundles[2]), nil)
	if n := h.App.PendingTxs(); n != 0 {
		t.Fatalf("pending %d, want 0: the bundle was checked again and held", n)
	}
}

// The transaction index answers by hash, by block and by signer, with each
// bundled transaction on its own, and survives a restart.
func TestTxIndex(t *testing.T) {
	h := apptest.New(t)
	p1, p2 := k(apptest.Patient1), k(apptest.Patient2)
	t1 := h.Sign(p1, guardianMsg(apptest.Patient2))
	t2 := h.Sign(p1, guardianMsg(apptest.Patient3))
	bad := h.Sign(k("stranger"), guardianMsg(apptest.Patient2))
	h.DeliverOK(t, sm.EncodeBundle([][]byte{t1, bad}), t2)
	t3 := h.Sign(p2, guardianMsg(apptest.Patient3))
	t4 := h.Sign(p1, &accounts.MsgRevokeGuardian{Guardian: k(apptest.Patient2).Address()})
	h.DeliverOK(t, sm.EncodeBundle([][]byte{t3, t4}))

	r, err := h.App.IndexedTx(sm.TxHash(t2))
	if err != nil || r == nil {
		t.Fatalf("t2: %+v %v", r, err)
	}
	if r.Height != 1 || r.Index != 2 || r.Code != 0 || r.Type != "accounts/set_guardian" || !r.HasSigner || r.Signer != p1.Address() || r.Sequence != 1 {
		t.Fatalf("t2 = %+v", r)
	}
	if len(r.Events) < 2 || r.Events[0].Type != "message" || r.Events[0].Attrs[1].Value != p1.Address().String() {
		t.Fatalf("t2 events = %+v", r.Events)
	}
	// The stored events are the ones the block emitted.
	if got := h.Blocks[0].Resp.TxResults[1].Events; len(got) != len(r.Events) {
		t.Fatalf("t2: %d events indexed, %d emitted", len(r.Events), len(got))
	}
	r, _ = h.App.IndexedTx(sm.TxHash(bad))
	if r == nil || r.Code != sm.ErrUnknownSigner.Code || r.Index != 1 || len(r.Events) != 0 {
		t.Fatalf("failed tx = %+v", r)
	}
	if r, _ := h.App.IndexedTx([32]byte{1}); r != nil {
		t.Fatalf("unknown hash found: %+v", r)
	}
	blk, err := h.App.BlockTxs(1)
	if err != nil || len(blk) != 3 {
		t.Fatalf("block 1: %d txs, %v", len(blk), err)
	}
	for i, tx := range [][]byte{t1, bad, t2} {
		if blk[i].Hash != sm.TxHash(tx) || blk[i].Index != i {
			t.Errorf("block 1 tx %d = %x", i, blk[i].Hash)
		}
	}
	// By signer: successful ones only, oldest first, paged.
	page1, total, err := h.App.TxsBySigner(p1.Address(), 1, 2)
	if err != nil || total != 3 || len(page1) != 2 || page1[0].Hash != sm.TxHash(t1) || page1[1].Hash != sm.TxHash(t2) {
		t.Fatalf("page 1: %d of %d, %v", len(page1), total, err)
	}
	page2, _, _ := h.App.TxsBySigner(p1.Address(), 2, 2)
	if len(page2) != 1 || page2[0].Hash != sm.TxHash(t4) || page2[0].Height != 2 {
		t.Fatalf("page 2: %+v", page2)
	}
	if none, total, _ := h.App.TxsBySigner(k("stranger").Address(), 1, 10); len(none) != 0 || total != 0 {
		t.Fatalf("a failed signer is listed: %d", total)
	}
	// A restarted app over the same tree finds the same.
	h2 := apptest.Resume(t, h.Tree, h.Time, app.Options{})
	r, _ = h2.App.IndexedTx(sm.TxHash(t4))
	if r == nil || r.Height != 2 || r.Index != 1 {
		t.Fatalf("after restart: %+v", r)
	}
}

// With several validators the proposer puts each signer's transactions in
// sequence order and leaves out those that cannot run; alone, it proposes
// its mempool as it is.
func TestPrepareProposalOrdersSigners(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t)
	p1, p2, p3 := k(apptest.Patient1), k(apptest.Patient2), k(apptest.Patient3)
	a0 := h.Sign(p1, guardianMsg(apptest.Patient2))
	a1 := h.Sign(p1, &accounts.MsgRevokeGuardian{Guardian: k(apptest.Patient2).Address()})
	a2 := h.Sign(p1, guardianMsg(apptest.Patient3))
	b0 := h.Sign(p2, guardianMsg(apptest.Patient3))
	c0 := h.Sign(p3, guardianMsg(apptest.Patient1))
	c1 := h.Sign(p3, &accounts.MsgRevokeGuardian{Guardian: k(apptest.Patient1).Address()})
	_ = h.Sign(p3, guardianMsg(apptest.Patient2)) // c2: never arrives
	c3 := h.Sign(p3, guardianMsg(apptest.Patient2))
	// Bundles as they arrived: p1's second bundle before its first, p3's
	// seq 3 without its seq 2.
	mempool := [][]byte{
		sm.EncodeBundle([][]byte{a2, b0}),
		sm.EncodeBundle([][]byte{a0, a1, c0}),
		c1,
		sm.EncodeBundle([][]byte{c3}),
	}
	votes := func(n int) abci.ExtendedCommitInfo {
		return abci.ExtendedCommitInfo{Votes: make([]abci.ExtendedVoteInfo, n)}
	}
	prep := func(n int) [][]byte {
		resp, err := h.App.PrepareProposal(context.Background(), &abci.RequestPrepareProposal{Txs: mempool, MaxTxBytes: 1 << 20, LocalLastCommit: votes(n)})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Txs
	}
	if got := prep(1); len(got) != len(mempool) || !bytes.Equal(got[0], mempool[0]) {
		t.Fatal("one validator: the proposal is not the mempool as it is")
	}
	got := prep(4)
	var flat [][]byte
	for _, raw := range got {
		inner, err := sm.DecodeBundle(raw)
		if err != nil {
			t.Fatal(err)
		}
		flat = append(flat, inner...)
	}
	// Each signer's transactions take the places its own held, in order.
	want := [][]byte{a0, b0, a1, a2, c0, c1}
	if len(flat) != len(want) {
		t.Fatalf("%d transactions proposed, want %d", len(flat), len(want))
	}
	for i := range want {
		if !bytes.Equal(flat[i], want[i]) {
			t.Fatalf("position %d: got %x, want %x", i, sm.TxHash(flat[i]), sm.TxHash(want[i]))
		}
	}
	for i, r := range h.Deliver(t, got...) {
		rs, _ := sm.DecodeBundleResults(r.Data)
		for j, br := range rs {
			if br.Code != 0 {
				t.Errorf("bundle %d tx %d failed: %s/%d", i, j, br.Codespace, br.Code)
			}
		}
	}
	// In order already: proposed unchanged.
	c2 := sm.SignTx(p3, apptest.ChainID, 2, 0, guardianMsg(apptest.Patient2))
	mempool = [][]byte{sm.EncodeBundle([][]byte{c2}), sm.EncodeBundle([][]byte{c3})}
	if got := prep(4); len(got) != 2 || !bytes.Equal(got[1], mempool[1]) {
		t.Fatal("a proposal in order was repacked")
	}
}

// A recheck after a commit keeps a bundle's transactions that are still
// next in line, drops the ones the block made stale, and restores the
// pending sequences from them.
func TestRecheckBundle(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t)
	p1 := k(apptest.Patient1)
	var tx [5][]byte
	for i := range tx {
		if i%2 == 0 {
			tx[i] = h.Sign(p1, guardianMsg(apptest.Patient2))
		} else {
			tx[i] = h.Sign(p1, &accounts.MsgRevokeGuardian{Guardian: k(apptest.Patient2).Address()})
		}
	}
	b := sm.EncodeBundle([][]byte{tx[0], tx[1], tx[2], tx[3]})
	wantCode(t, "peer bundle", h.Check(t, b), nil)
	recheck := func(what string, want *sm.Error) {
		t.Helper()
		r, err := h.App.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: b, Type: abci.CheckTxType_Recheck})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, what, r, want)
	}
	h.DeliverOK(t, tx[0], tx[1])
	recheck("recheck after two of four were included", nil)
	if n := h.App.PendingTxs(); n != 2 {
		t.Fatalf("pending %d, want 2", n)
	}
	wantCode(t, "seq 4 after the recheck", h.Check(t, tx[4]), nil)
	h.DeliverOK(t, tx[2], tx[3], tx[4])
	recheck("recheck after all were included", sm.ErrBadSequence)
	recheck("recheck again (checked in full)", sm.ErrBadSequence)
	if n := h.App.PendingTxs(); n != 0 {
		t.Fatalf("pending %d, want 0", n)
	}
}
