package node

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/sm"
)

// dirSize is the bytes of the files under dir.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPruningPolicy: an archive node is switched to keep_recent 10. Its
// block store then starts just below the evidence window, the disk the
// pruned blocks used is reclaimed, the latest state and recent proofs are
// served, and pruned heights get an error that says so; the pruned node
// restarts and goes on.
func TestPruningPolicy(t *testing.T) {
	home, cfg := devHome(t, "pruning-test")
	cfg.Consensus.TimeoutCommit = config.Duration(10 * time.Millisecond)
	// A short evidence window (the default is 100,000 blocks or 48 h).
	gen, err := cmttypes.GenesisDocFromFile(config.GenesisPath(home))
	if err != nil {
		t.Fatal(err)
	}
	gen.ConsensusParams.Evidence.MaxAgeNumBlocks = 5
	gen.ConsensusParams.Evidence.MaxAgeDuration = time.Second
	if err := gen.SaveAs(config.GenesisPath(home)); err != nil {
		t.Fatal(err)
	}
	lg := slog.New(slog.DiscardHandler)
	cometDBs := func() int64 {
		return dirSize(t, filepath.Join(config.DataDir(home), "blockstore.db")) + dirSize(t, filepath.Join(config.DataDir(home), "state.db"))
	}

	// An archive node (the default) keeps every block.
	n, err := New(home, cfg, lg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	waitHeight(t, n, 300)
	if base := n.cmt.BlockStore().Base(); base != 1 {
		t.Fatalf("an archive node's block store starts at %d", base)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	archived := cometDBs()

	// Pruned: the first commit prunes everything below the window.
	cfg.Pruning.KeepRecent = 10
	n, err = New(home, cfg, lg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for n.compact.done.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no compaction after pruning (block store base %d)", n.cmt.BlockStore().Base())
		}
		time.Sleep(20 * time.Millisecond)
	}
	height := n.App().Committed().Version()
	waitHeight(t, n, height+3)
	height = n.App().Committed().Version()
	// keep_recent 10, evidence window 1 s / 100 ms + 1 = 11 blocks: the
	// block store keeps from about height - 11 (it prunes after each commit).
	if base := n.cmt.BlockStore().Base(); base < height-14 || base > height-10 {
		t.Fatalf("height %d: block store base %d, want about %d", height, base, height-11)
	}
	ctx := context.Background()
	_, err = n.Block(ctx, 5)
	if !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "not stored on this node") {
		t.Fatalf("a pruned block: %v", err)
	}
	if b, err := n.Block(ctx, height); err != nil || b.Height != height {
		t.Fatalf("the latest block: %+v %v", b, err)
	}
	// The latest state and recent versions prove; a pruned height is refused.
	for _, h := range []int64{0, height, height - 4} {
		resp, err := n.App().Query(ctx, &abci.RequestQuery{Path: app.QueryStore, Data: []byte{sm.PrefixParam}, Height: h, Prove: true})
		if err != nil || resp.Code != 0 || resp.ProofOps == nil {
			t.Fatalf("query at %d: %+v %v", h, resp, err)
		}
	}
	resp, err := n.App().Query(ctx, &abci.RequestQuery{Path: app.QueryStore, Data: []byte{sm.PrefixParam}, Height: 5})
	if err != nil || resp.Code != app.ErrQueryHeight.Code || resp.Codespace != app.ErrQueryHeight.Codespace {
		t.Fatalf("query at a pruned height: %+v %v", resp, err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	// A pruned node restarts and goes on.
	n, err = New(home, cfg, lg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	waitHeight(t, n, height+20)
	if base := n.cmt.BlockStore().Base(); base <= height-14 {
		t.Fatalf("after the restart the block store base is %d", base)
	}
	// Compaction replaced the files holding the pruned blocks; the last of
	// them are deleted at the latest when the databases are opened again.
	pruned := cometDBs()
	if pruned*3 > archived {
		t.Fatalf("CometBFT's databases: %d bytes with every block, %d pruned to the last blocks: not reclaimed", archived, pruned)
	}
	t.Logf("CometBFT's block store and state: %d bytes with 300 blocks, %d pruned to the last %d", archived, pruned, n.App().Committed().Version()-n.cmt.BlockStore().Base()+1)
}

func TestEvidenceBlocks(t *testing.T) {
	gen := &cmttypes.GenesisDoc{ConsensusParams: cmttypes.DefaultConsensusParams()}
	// CometBFT's defaults: 100,000 blocks or 48 h.
	if got := evidenceBlocks(gen, time.Second); got != 172_801 {
		t.Fatalf("48 h at 1 s blocks: %d", got)
	}
	if got := evidenceBlocks(gen, 5*time.Second); got != 100_000 {
		t.Fatalf("100,000 blocks outlast 48 h at 5 s: %d", got)
	}
	if got := evidenceBlocks(gen, 0); got != 1_728_001 {
		t.Fatalf("timeout_commit 0 counts as 100 ms: %d", got)
	}
}

func TestPruningConfig(t *testing.T) {
	cfg := config.Default()
	for _, k := range []int64{-1, 1, 9} {
		cfg.Pruning.KeepRecent = k
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "pruning.keep_recent") {
			t.Fatalf("keep_recent %d: %v", k, err)
		}
	}
	for _, k := range []int64{0, 10, 100_000} {
		cfg.Pruning.KeepRecent = k
		if err := cfg.Validate(); err != nil {
			t.Fatalf("keep_recent %d: %v", k, err)
		}
	}
}
