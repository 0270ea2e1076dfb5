package node

import (
	"context"
	"fmt"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"
	mempl "github.com/cometbft/cometbft/mempool"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/sm"
)

var _ api.BatchSubmitter = (*Node)(nil)

// SubmitBatch checks transactions in order, as Submit does without waiting,
// and hands the accepted ones to the mempool packed in bundles (sm.IsBundle).
// Order matters: one signer's transactions must be checked in sequence
// order. Once the mempool is full the rest of the batch is answered busy
// without being tried.
func (n *Node) SubmitBatch(ctx context.Context, txs [][]byte) ([]api.BatchItem, error) {
	out := make([]api.BatchItem, len(txs))
	// Decoded, hashed and signature-checked (on every core) once, here;
	// Stage takes the result. The block executing now, if any, goes first
	// (app/execgate.go).
	n.app.Mempool().AwaitBlock()
	in := n.app.Mempool().Prepare(txs)
	hashes := in.Hashes()
	for i := range txs {
		out[i].Hash = hexHash(hashes[i])
	}
	n.submitMu.Lock()
	defer n.submitMu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	room := n.cfg.Mempool.Size - n.app.PendingTxs()
	var try int
	var at []int // the transactions tried, in order
	taken := make(map[[32]byte]bool, len(txs))
	for i := range txs {
		switch {
		case n.seen.has(hashes[i]):
			out[i].Code, out[i].Codespace, out[i].Log = api.ErrDuplicate.Code, api.Codespace, "transaction already submitted"
		case taken[hashes[i]]:
			out[i].Code, out[i].Codespace, out[i].Log = api.ErrDuplicate.Code, api.Codespace, "transaction repeated in this batch"
		case try >= room:
			out[i].Code, out[i].Codespace, out[i].Log = api.ErrBusy.Code, api.Codespace, "mempool is full"
		default:
			try++
			at = append(at, i)
			taken[hashes[i]] = true
		}
	}
	if try == 0 {
		return out, nil
	}
	// Stage serializes itself with a commit's rechecks (it holds the
	// mempool lock bound with Mempool.Bind at start).
	mp := n.cmt.Mempool()
	bundles, sizes, errs, err := n.app.Mempool().Stage(in.Subset(at), sm.PackBytes)
	if err != nil {
		return nil, err
	}
	// The bundles hold the accepted transactions in order: at now lists
	// them alone.
	accepted := at[:0]
	for j, e := range errs {
		i := at[j]
		if e != nil {
			out[i].Code, out[i].Codespace, out[i].Log = sm.ABCIInfo(e)
			continue
		}
		n.seen.add(hashes[i])
		accepted = append(accepted, i)
	}
	at, next := accepted, 0
	var refused error
	for k, b := range bundles {
		if refused == nil {
			// The local ABCI client answers before CheckTx returns.
			resCh := make(chan *abci.ResponseCheckTx, 1)
			refused = mp.CheckTx(b, func(r *abci.ResponseCheckTx) { resCh <- r }, mempl.TxInfo{})
			if refused == nil {
				if r := <-resCh; r.Code != abci.CodeTypeOK {
					refused = fmt.Errorf("code %d: %s", r.Code, r.Log)
				}
			}
			if refused == nil {
				next += sizes[k]
				continue
			}
			// Not expected: room was checked and so were the
			// transactions. Report this bundle's transactions and all
			// later ones (they may depend on them) as not accepted.
			n.log.Error("mempool refused a checked bundle", "err", refused)
		}
		n.app.Mempool().Unstage(b)
		for range sizes[k] {
			i := at[next]
			next++
			n.seen.remove(hashes[i])
			out[i].Code, out[i].Codespace, out[i].Log = api.ErrBusy.Code, api.Codespace, "mempool refused the transaction: "+refused.Error()
		}
	}
	return out, nil
}

// seenSet remembers the hashes of recently accepted transactions, so that a
// resubmission is answered "already submitted" (as CometBFT's mempool cache
// answers for transactions submitted alone) instead of a sequence error. It
// holds between size/2 and size hashes: two generations, the older dropped
// when the newer fills.
type seenSet struct {
	mu        sync.Mutex
	size      int
	cur, prev map[[32]byte]struct{}
}

func newSeenSet(size int) *seenSet {
	if size < 2 {
		size = 2
	}
	return &seenSet{size: size, cur: map[[32]byte]struct{}{}}
}

func (s *seenSet) has(h [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, a := s.cur[h]
	_, b := s.prev[h]
	return a || b
}

func (s *seenSet) add(h [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cur) >= s.size/2 {
		s.prev, s.cur = s.cur, make(map[[32]byte]struct{}, s.size/2)
	}
	s.cur[h] = struct{}{}
}

func (s *seenSet) remove(h [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cur, h)
	delete(s.prev, h)
}
