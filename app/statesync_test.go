package app_test

import (
	"bytes"
	"context"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/store/merkle"
)

// Snapshots taken every 3 heights restore, chunk by chunk, into an empty
// app whose state then has the snapshot's app hash; a damaged chunk is
// fetched again, a snapshot that does not hash to the verified app hash is
// rejected.
func TestStateSyncSnapshots(t *testing.T) {
	ctx := context.Background()
	h := apptest.NewWithConfig(t, apptest.Config{Options: app.Options{Snapshots: app.SnapshotOptions{Dir: t.TempDir(), Interval: 3, Keep: 2}}})
	g := newGen(11, h)
	for range 9 {
		h.Finalize(t, g.block()...)
	}
	h.App.WaitSnapshots()
	list, err := h.App.ListSnapshots(ctx, &abci.RequestListSnapshots{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Snapshots) != 2 || list.Snapshots[0].Height != 6 || list.Snapshots[1].Height != 9 {
		t.Fatalf("snapshots %v, want heights 6 and 9 (3 pruned)", list.Snapshots)
	}
	sn := list.Snapshots[1]
	appHash := h.Blocks[8].Resp.AppHash

	restore := func(appHash []byte, damage bool) (*app.App, *merkle.Tree, abci.ResponseApplySnapshotChunk_Result) {
		tree := merkle.NewMemTree()
		b := app.New(tree, app.Options{Snapshots: app.SnapshotOptions{Dir: t.TempDir()}})
		offer, err := b.OfferSnapshot(ctx, &abci.RequestOfferSnapshot{Snapshot: sn, AppHash: appHash})
		if err != nil || offer.Result != abci.ResponseOfferSnapshot_ACCEPT {
			t.Fatalf("offer: %v %v", offer, err)
		}
		var last abci.ResponseApplySnapshotChunk_Result
		for i := uint32(0); i < sn.Chunks; i++ {
			c, err := h.App.LoadSnapshotChunk(ctx, &abci.RequestLoadSnapshotChunk{Height: sn.Height, Format: sn.Format, Chunk: i})
			if err != nil || len(c.Chunk) == 0 {
				t.Fatalf("chunk %d: %v", i, err)
			}
			if damage {
				bad := bytes.Clone(c.Chunk)
				bad[len(bad)/2] ^= 1
				r, _ := b.ApplySnapshotChunk(ctx, &abci.RequestApplySnapshotChunk{Index: i, Chunk: bad, Sender: "peer1"})
				if r.Result != abci.ResponseApplySnapshotChunk_RETRY || len(r.RejectSenders) != 1 || len(r.RefetchChunks) != 1 {
					t.Fatalf("damaged chunk: %v", r)
				}
			}
			r, err := b.ApplySnapshotChunk(ctx, &abci.RequestApplySnapshotChunk{Index: i, Chunk: c.Chunk, Sender: "peer2"})
			if err != nil {
				t.Fatal(err)
			}
			last = r.Result
		}
		return b, tree, last
	}
	b, tree, res := restore(appHash, true)
	if res != abci.ResponseApplySnapshotChunk_ACCEPT {
		t.Fatalf("last chunk: %v", res)
	}
	if tree.Version() != 9 || !bytes.Equal(tree.Hash(), appHash) {
		t.Fatalf("restored v%d %X, want v9 %X", tree.Version(), tree.Hash(), appHash)
	}
	if info, _ := b.Info(ctx, &abci.RequestInfo{}); info.LastBlockHeight != 9 || !bytes.Equal(info.LastBlockAppHash, appHash) {
		t.Fatalf("Info after restore: %v", info)
	}
	if got, want := dump(b.Committed()), dump(h.State()); len(got) != len(want) {
		t.Fatalf("restored %d keys, source %d", len(got), len(want))
	} else {
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("key %x differs after the restore", k)
			}
		}
	}
	// The restored app goes on with the next block as the source does.
	next := g.block()
	want := h.Finalize(t, next...).AppHash
	b.SetChainID(apptest.ChainID)
	resp, err := b.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: next, Height: 10, Time: h.Time})
	if err != nil || !bytes.Equal(resp.AppHash, want) {
		t.Fatalf("block 10 on the restored state: %X %v, want %X", resp.AppHash, err, want)
	}

	wrong := bytes.Clone(appHash)
	wrong[0] ^= 1
	if _, _, res := restore(wrong, false); res != abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT {
		t.Fatalf("snapshot against another app hash: %v", res)
	}
}
