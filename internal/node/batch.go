package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	mempl "github.com/cometbft/cometbft/mempool"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/sm"
)

var _ api.BatchSubmitter = (*Node)(nil)

// SubmitBatch hands transactions to the mempool in order, as Submit does
// without waiting. Order matters: one signer's transactions must reach
// CheckTx in sequence order. Once the mempool is full the rest of the batch
// is answered busy without being tried.
func (n *Node) SubmitBatch(ctx context.Context, txs [][]byte) ([]api.BatchItem, error) {
	out := make([]api.BatchItem, len(txs))
	n.app.PreVerify(txs) // on every core; CheckTx then skips these signatures
	n.submitMu.Lock()
	defer n.submitMu.Unlock()
	mp := n.cmt.Mempool()
	busy := false
	for i, tx := range txs {
		out[i].Hash = hexHash(sha256.Sum256(tx))
		if busy {
			out[i].Code, out[i].Codespace = api.ErrBusy.Code, api.Codespace
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		resCh := make(chan *abci.ResponseCheckTx, 1)
		err := mp.CheckTx(tx, func(r *abci.ResponseCheckTx) { resCh <- r }, mempl.TxInfo{})
		var tooLarge mempl.ErrTxTooLarge
		var full mempl.ErrMempoolIsFull
		switch {
		case err == nil:
		case errors.Is(err, mempl.ErrTxInCache):
			out[i].Code, out[i].Codespace, out[i].Log = api.ErrDuplicate.Code, api.Codespace, "transaction already submitted"
			continue
		case errors.As(err, &tooLarge):
			out[i].Code, out[i].Codespace, out[i].Log = sm.ABCIInfo(sm.Wrapf(sm.ErrTxTooLarge, "%v", err))
			continue
		case errors.As(err, &full):
			busy = true
			out[i].Code, out[i].Codespace, out[i].Log = api.ErrBusy.Code, api.Codespace, err.Error()
			continue
		default:
			return nil, fmt.Errorf("tx %d: %w", i, err)
		}
		// The local ABCI client answers before CheckTx returns: take the
		// answer even when ctx ended meanwhile (a select would pick at
		// random between the two and could report an accepted transaction
		// as timed out).
		var r *abci.ResponseCheckTx
		select {
		case r = <-resCh:
		default:
			select {
			case r = <-resCh:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		out[i].Code, out[i].Codespace, out[i].Log = r.Code, r.Codespace, r.Log
	}
	return out, nil
}
