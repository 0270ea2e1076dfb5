package app

import (
	"cmp"
	"context"
	"slices"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// PrepareProposal proposes the mempool's transactions, within the block's
// size. With more than one validator it also puts each signer's
// transactions in sequence order and leaves out those that would fail their
// sequence: a signer's bundles reach the proposer over several gossip paths
// and may arrive out of order, or one may be missing for now. A transaction
// left out stays in the mempool, held until its predecessor arrives.
func (a *App) PrepareProposal(_ context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	txs := make([][]byte, 0, len(req.Txs))
	var size int64
	for _, tx := range req.Txs {
		size += sm.BlockBytes(tx)
		if size > req.MaxTxBytes {
			break
		}
		txs = append(txs, tx)
	}
	// One validator proposes from its own mempool, whose order is the
	// order its API took transactions in.
	if len(req.LocalLastCommit.Votes) > 1 {
		txs = a.orderProposal(txs, req.MaxTxBytes)
	}
	return &abci.ResponsePrepareProposal{Txs: txs}, nil
}

type proposedTx struct {
	raw    []byte
	signer crypto.Address
	seq    uint64
}

// orderProposal returns txs unchanged when every signer's transactions are
// in sequence order from its committed sequence with no gap; otherwise the
// same transactions, repacked in bundles, with each signer's sorted into the
// positions its transactions held, and those that cannot run left out
// (a gap before them, a sequence already used, or undecodable).
func (a *App) orderProposal(txs [][]byte, maxBytes int64) [][]byte {
	var kv store.Reader
	if s := a.committed.Load(); s != nil {
		kv = store.NewMemo(s)
	} else {
		return txs // genesis: nothing gossiped yet
	}
	var flat []proposedTx
	for _, raw := range txs {
		inner := [][]byte{raw}
		if sm.IsBundle(raw) {
			var err error
			if inner, err = sm.DecodeBundle(raw); err != nil {
				continue
			}
		}
		for _, r := range inner {
			tx, err := sm.DecodeTx(r)
			if err != nil {
				flat = append(flat, proposedTx{raw: r, seq: ^uint64(0)})
				continue
			}
			flat = append(flat, proposedTx{raw: r, signer: tx.Signer(), seq: tx.Body.Sequence})
		}
	}
	// Per signer: its transactions' positions, and the run of sequences
	// that can execute from its committed sequence.
	type signerTxs struct {
		pos []int
		txs []proposedTx
	}
	by := map[crypto.Address]*signerTxs{}
	for i, t := range flat {
		s := by[t.signer]
		if s == nil {
			s = &signerTxs{}
			by[t.signer] = s
		}
		s.pos = append(s.pos, i)
		s.txs = append(s.txs, t)
	}
	changed := false
	out := make([]*proposedTx, len(flat))
	for addr, s := range by {
		var next uint64
		if acct := accounts.GetAccount(kv, addr); acct != nil {
			next = acct.Sequence
		}
		sorted := slices.IsSortedFunc(s.txs, func(x, y proposedTx) int { return cmp.Compare(x.seq, y.seq) })
		if !sorted {
			slices.SortStableFunc(s.txs, func(x, y proposedTx) int { return cmp.Compare(x.seq, y.seq) })
			changed = true
		}
		run := s.txs[:0:0]
		for _, t := range s.txs {
			if t.seq == next {
				run = append(run, t)
				next++
			}
		}
		if len(run) != len(s.txs) {
			changed = true
		}
		for j := range run {
			out[s.pos[j]] = &run[j]
		}
	}
	if !changed {
		return txs
	}
	ordered := make([][]byte, 0, len(out))
	for _, t := range out {
		if t != nil {
			ordered = append(ordered, t.raw)
		}
	}
	// What does not fit waits in the mempool for the next block.
	packed, _ := sm.PackBundles(ordered, sm.PackBytes, maxBytes)
	return packed
}
