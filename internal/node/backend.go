package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	mempl "github.com/cometbft/cometbft/mempool"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/params"
)

var _ api.Backend = (*Node)(nil)

func (n *Node) Status(ctx context.Context) (*api.Status, error) {
	st, err := n.rpc.Status(ctx)
	if err != nil {
		return nil, err
	}
	s := &api.Status{
		ChainID:         n.genesis.ChainID,
		Height:          st.SyncInfo.LatestBlockHeight,
		AppHash:         st.SyncInfo.LatestAppHash.String(),
		LatestBlockHash: st.SyncInfo.LatestBlockHash.String(),
		LatestBlockTime: st.SyncInfo.LatestBlockTime,
		CatchingUp:      st.SyncInfo.CatchingUp,
		NodeID:          string(st.NodeInfo.ID()),
		Moniker:         st.NodeInfo.Moniker,
		Validator:       st.ValidatorInfo.Address.String(),
		VotingPower:     st.ValidatorInfo.VotingPower,
		Version:         app.SoftVersion,
	}
	// Height is the last block whose state is committed, so a client that
	// saw height h can read state at h at once; CometBFT stores a block
	// before the application has applied it.
	if snap := n.app.Committed(); snap != nil && snap.Version() < s.Height {
		s.Height = snap.Version()
		s.AppHash = strings.ToUpper(hex.EncodeToString(snap.Hash()))
		if meta := n.cmt.BlockStore().LoadBlockMeta(s.Height); meta != nil {
			s.LatestBlockHash = meta.BlockID.Hash.String()
			s.LatestBlockTime = meta.Header.Time
		}
	}
	if ni, err := n.rpc.NetInfo(ctx); err == nil {
		s.Peers = ni.NPeers
	}
	return s, nil
}

func (n *Node) Submit(ctx context.Context, tx []byte, wait bool) (*api.TxResult, error) {
	h := sha256.Sum256(tx)
	var ch chan app.TxResult
	if wait {
		var cancel func()
		ch, cancel = n.commits.wait(h)
		defer cancel()
	}
	resCh := make(chan *abci.ResponseCheckTx, 1)
	n.submitMu.Lock()
	err := n.cmt.Mempool().CheckTx(tx, func(r *abci.ResponseCheckTx) { resCh <- r }, mempl.TxInfo{})
	n.submitMu.Unlock()
	if err != nil {
		if errors.Is(err, mempl.ErrTxInCache) {
			return nil, fmt.Errorf("%w: transaction already submitted", api.ErrDuplicate)
		}
		var tooLarge mempl.ErrTxTooLarge
		if errors.As(err, &tooLarge) {
			code, space, log := sm.ABCIInfo(sm.Wrapf(sm.ErrTxTooLarge, "%v", err))
			return &api.TxResult{Hash: hexHash(h), Code: code, Codespace: space, Log: log}, nil
		}
		var full mempl.ErrMempoolIsFull
		if errors.As(err, &full) {
			return nil, fmt.Errorf("%w: %v", api.ErrBusy, err)
		}
		return nil, err
	}
	var res *abci.ResponseCheckTx
	select {
	case res = <-resCh:
	case <-ctx.Done():
		select { // an answer that arrived together with the deadline wins
		case res = <-resCh:
		default:
			return nil, ctx.Err()
		}
	}
	out := &api.TxResult{Hash: hexHash(h), Code: res.Code, Codespace: res.Codespace, Log: res.Log}
	if res.Code != abci.CodeTypeOK || !wait {
		return out, nil
	}
	select {
	case r := <-ch:
		n.waitIndexed(ctx, h)
		return txResult(r, tx), nil
	case <-ctx.Done():
		select { // a commit that arrived together with the deadline wins
		case r := <-ch:
			return txResult(r, tx), nil
		default:
		}
		return nil, fmt.Errorf("%w: transaction %s accepted but not yet committed", api.ErrTimeout, out.Hash)
	}
}

// waitIndexed waits until CometBFT has indexed a committed transaction, or
// ctx ends. The application reports a block's results from Commit, before
// CometBFT saves its state and indexes the block (asynchronously), so
// without this a client told "committed" would often get 404 from GET
// /v1/txs/{hash} right after; and a crash between CometBFT saving its state
// and indexing would lose the transaction from the index for good, since
// nothing indexes a block again once that state is saved.
func (n *Node) waitIndexed(ctx context.Context, h [32]byte) {
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		if _, err := n.rpc.Tx(ctx, h[:], false); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			n.log.Warn("committed transaction not indexed in time", "hash", hexHash(h))
			return
		case <-time.After(delay):
		}
	}
}

func hexHash(h [32]byte) string { return strings.ToUpper(hex.EncodeToString(h[:])) }

func txResult(r app.TxResult, raw []byte) *api.TxResult {
	out := &api.TxResult{
		Hash: hexHash(r.Hash), Committed: true, Height: r.Height, Index: r.Index,
		Code: r.Code, Codespace: r.Codespace, Log: r.Log, Events: api.EventsFrom(r.Events),
	}
	describe(out, raw)
	return out
}

// describe fills in the envelope fields of a raw transaction.
func describe(out *api.TxResult, raw []byte) {
	if tx, err := sm.DecodeTx(raw); err == nil {
		out.Type = tx.Body.Type
		out.Signer = tx.Signer().String()
		out.Sequence = tx.Body.Sequence
	}
}

func (n *Node) State(height int64) (*store.Snapshot, error) {
	s, err := n.app.SnapshotAt(height)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("%w: no committed state yet", api.ErrNotFound)
	}
	return s, nil
}

func (n *Node) Params() *params.Registry { return n.app.Params() }

func (n *Node) Block(ctx context.Context, height int64) (*api.Block, error) {
	var hp *int64
	if height > 0 {
		hp = &height
	}
	b, err := n.rpc.Block(ctx, hp)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", api.ErrNotFound, err)
	}
	if b.Block == nil {
		return nil, api.ErrNotFound
	}
	out := &api.Block{
		Height: b.Block.Height, Hash: b.BlockID.Hash.String(), Time: b.Block.Time,
		Proposer: b.Block.ProposerAddress.String(), AppHash: b.Block.AppHash.String(), NumTxs: len(b.Block.Txs),
		Txs: []api.TxResult{},
	}
	results, _ := n.rpc.BlockResults(ctx, &b.Block.Height)
	for i, raw := range b.Block.Txs {
		t := api.TxResult{Hash: hexHash(sha256.Sum256(raw)), Height: b.Block.Height, Index: i}
		if results != nil && i < len(results.TxsResults) {
			r := results.TxsResults[i]
			t.Committed, t.Code, t.Codespace, t.Log = true, r.Code, r.Codespace, r.Log
			t.Events = abciEvents(r.Events)
		}
		describe(&t, raw)
		out.Txs = append(out.Txs, t)
	}
	return out, nil
}

func abciEvents(evs []abci.Event) []api.Event {
	out := make([]api.Event, len(evs))
	for i, e := range evs {
		m := make(map[string]string, len(e.Attributes))
		for _, a := range e.Attributes {
			m[a.Key] = a.Value
		}
		out[i] = api.Event{Type: e.Type, Attrs: m}
	}
	return out
}

func (n *Node) Tx(ctx context.Context, hash []byte) (*api.TxResult, error) {
	r, err := n.rpc.Tx(ctx, hash, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", api.ErrNotFound, err)
	}
	out := &api.TxResult{
		Hash: r.Hash.String(), Committed: true, Height: r.Height, Index: int(r.Index),
		Code: r.TxResult.Code, Codespace: r.TxResult.Codespace, Log: r.TxResult.Log, Events: abciEvents(r.TxResult.Events),
	}
	describe(out, r.Tx)
	return out, nil
}

func (n *Node) TxsBySigner(ctx context.Context, signer string, page, perPage int) ([]*api.TxResult, int, error) {
	q := fmt.Sprintf("message.signer='%s'", signer)
	r, err := n.rpc.TxSearch(ctx, q, false, &page, &perPage, "asc")
	if err != nil {
		return nil, 0, err
	}
	out := make([]*api.TxResult, 0, len(r.Txs))
	for _, t := range r.Txs {
		res := &api.TxResult{
			Hash: t.Hash.String(), Committed: true, Height: t.Height, Index: int(t.Index),
			Code: t.TxResult.Code, Codespace: t.TxResult.Codespace, Log: t.TxResult.Log, Events: abciEvents(t.TxResult.Events),
		}
		describe(res, t.Tx)
		out = append(out, res)
	}
	return out, r.TotalCount, nil
}

// BlockTime implements api.Backend.
func (n *Node) BlockTime(height int64) (time.Time, error) {
	meta := n.cmt.BlockStore().LoadBlockMeta(height)
	if meta == nil {
		return time.Time{}, fmt.Errorf("%w: block %d", api.ErrNotFound, height)
	}
	return meta.Header.Time, nil
}
