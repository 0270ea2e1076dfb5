package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store/merkle"
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
	// before the application has applied it. No committed snapshot yet is
	// height 0: a new chain's first block stored but not yet applied.
	snap := n.app.Committed()
	var committed int64
	if snap != nil {
		committed = snap.Version()
	}
	if committed < s.Height {
		s.Height, s.AppHash, s.LatestBlockHash, s.LatestBlockTime = committed, "", "", time.Time{}
		if snap != nil {
			s.AppHash = strings.ToUpper(hex.EncodeToString(snap.Hash()))
		}
		if meta := n.cmt.BlockStore().LoadBlockMeta(committed); meta != nil {
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
	if sm.IsBundle(tx) { // its transactions commit under their own hashes
		code, space, log := sm.ABCIInfo(sm.Wrapf(sm.ErrTxDecode,
			"a bundle is how nodes carry transactions to each other; send its transactions with POST /v1/txs/batch"))
		return &api.TxResult{Hash: hexHash(h), Code: code, Codespace: space, Log: log}, nil
	}
	var ch chan app.TxResult
	if wait {
		var cancel func()
		ch, cancel = n.commits.wait(h)
		defer cancel()
	}
	item, err := n.single.do(ctx, tx)
	if err != nil {
		return nil, err
	}
	switch {
	case item.Codespace == api.Codespace && item.Code == api.ErrDuplicate.Code:
		return nil, fmt.Errorf("%w: %s", api.ErrDuplicate, item.Log)
	case item.Codespace == api.Codespace && item.Code == api.ErrBusy.Code:
		return nil, fmt.Errorf("%w: %s", api.ErrBusy, item.Log)
	}
	out := &api.TxResult{Hash: hexHash(h), Code: item.Code, Codespace: item.Codespace, Log: item.Log}
	if item.Code != 0 || !wait {
		return out, nil
	}
	// The transaction index is written with the state, so a committed
	// transaction is at once findable by GET /v1/txs/{hash}.
	select {
	case r := <-ch:
		return txResult(&r), nil
	case <-ctx.Done():
		select { // a commit that arrived together with the deadline wins
		case r := <-ch:
			return txResult(&r), nil
		default:
		}
		return nil, fmt.Errorf("%w: transaction %s accepted but not yet committed", api.ErrTimeout, out.Hash)
	}
}

// hexHash is a transaction hash as the API shows it: 64 upper-case hex
// digits, as CometBFT shows hashes. It is written once per transaction
// in every batch answer and block view, so it is built in place.
func hexHash(h [32]byte) string {
	const digits = "0123456789ABCDEF"
	var b [64]byte
	for i, c := range h {
		b[2*i], b[2*i+1] = digits[c>>4], digits[c&0x0f]
	}
	return string(b[:])
}

// txResult is the API's form of a committed transaction's outcome.
func txResult(r *app.TxResult) *api.TxResult {
	out := &api.TxResult{
		Hash: hexHash(r.Hash), Committed: true, Height: r.Height, Index: r.Index,
		Code: r.Code, Codespace: r.Codespace, Log: r.Log, Events: api.EventsFrom(r.Events),
		Type: r.Type, Sequence: r.Sequence,
	}
	if r.HasSigner {
		out.Signer = r.Signer.String()
	}
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

func (n *Node) State(height int64) (*merkle.Snapshot, error) {
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
		if base := n.cmt.BlockStore().Base(); height < base {
			return nil, fmt.Errorf("%w: block %d is not stored on this node: it keeps blocks from height %d "+
				"(older ones were pruned, pruning.keep_recent, or it joined by state sync); ask an archive node", api.ErrNotFound, height, base)
		}
	}
	// A committed block is its header and, from the transaction index, its
	// transactions with their outcomes: the block itself (megabytes under
	// load, read by every client that follows the chain) is not decoded.
	if out := n.committedBlock(height); out != nil {
		return out, nil
	}
	return n.storedBlock(ctx, hp)
}

// storedBlock is Block from the stored block (nil: the latest).
func (n *Node) storedBlock(ctx context.Context, hp *int64) (*api.Block, error) {
	b, err := n.rpc.Block(ctx, hp)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", api.ErrNotFound, err)
	}
	if b.Block == nil {
		return nil, api.ErrNotFound
	}
	out := blockHeader(&b.Block.Header, b.BlockID, len(b.Block.Txs))
	out.NumTxs = len(b.Block.Txs)
	// A committed block's transactions, each bundled one on its own, come
	// from the transaction index with their outcomes; a block stored but
	// not yet executed lists its transactions without.
	if snap := n.app.Committed(); snap != nil && snap.Version() >= b.Block.Height {
		rs, err := n.app.BlockTxs(b.Block.Height)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out.Txs = append(out.Txs, *txResult(r))
		}
	} else {
		for _, raw := range b.Block.Txs {
			inner := [][]byte{raw}
			if sm.IsBundle(raw) {
				if inner, err = sm.DecodeBundle(raw); err != nil {
					continue // to be rejected whole at execution
				}
			}
			for _, tx := range inner {
				t := api.TxResult{Hash: hexHash(sha256.Sum256(tx)), Height: b.Block.Height, Index: len(out.Txs)}
				describe(&t, tx)
				out.Txs = append(out.Txs, t)
			}
		}
	}
	out.NumTxs = len(out.Txs)
	return out, nil
}

// committedBlock is Block for a block the state has executed (height 0:
// the latest stored), from its stored header; nil when the block is not
// stored, not yet executed, or its index cannot be read (Block then takes
// the long way and reports why).
func (n *Node) committedBlock(height int64) *api.Block {
	bs := n.cmt.BlockStore()
	if height <= 0 {
		height = bs.Height()
	}
	snap := n.app.Committed()
	if snap == nil || snap.Version() < height {
		return nil
	}
	meta := bs.LoadBlockMeta(height)
	if meta == nil {
		return nil
	}
	rs, err := n.app.BlockTxs(height)
	if err != nil {
		return nil
	}
	out := blockHeader(&meta.Header, meta.BlockID, len(rs))
	for _, r := range rs {
		out.Txs = append(out.Txs, *txResult(r))
	}
	out.NumTxs = len(out.Txs)
	return out
}

// blockHeader is a block's API form without its transactions (room made
// for txs of them).
func blockHeader(h *cmttypes.Header, id cmttypes.BlockID, txs int) *api.Block {
	return &api.Block{
		Height: h.Height, Hash: id.Hash.String(), Time: h.Time,
		Proposer: h.ProposerAddress.String(), AppHash: h.AppHash.String(),
		Txs: make([]api.TxResult, 0, txs),
	}
}

func (n *Node) Tx(ctx context.Context, hash []byte) (*api.TxResult, error) {
	if len(hash) != 32 {
		return nil, fmt.Errorf("%w: a transaction hash is 32 bytes", api.ErrNotFound)
	}
	r, err := n.app.IndexedTx([32]byte(hash))
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("%w: transaction %X is in no committed block", api.ErrNotFound, hash)
	}
	return txResult(r), nil
}

func (n *Node) TxsBySigner(ctx context.Context, signer string, page, perPage int) ([]*api.TxResult, int, error) {
	addr, err := crypto.ParseAddress(signer)
	if err != nil {
		return nil, 0, err
	}
	rs, total, err := n.app.TxsBySigner(addr, page, perPage)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*api.TxResult, len(rs))
	for i, r := range rs {
		out[i] = txResult(r)
	}
	return out, total, nil
}

// BlockTime implements api.Backend.
func (n *Node) BlockTime(height int64) (time.Time, error) {
	meta := n.cmt.BlockStore().LoadBlockMeta(height)
	if meta == nil {
		return time.Time{}, fmt.Errorf("%w: block %d", api.ErrNotFound, height)
	}
	return meta.Header.Time, nil
}
