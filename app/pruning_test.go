package app_test

import (
	"context"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
)

func TestRetainHeight(t *testing.T) {
	for _, c := range []struct {
		name     string
		p        app.Pruning
		height   int64
		interval int64
		keep     int
		want     int64
	}{
		{"archive keeps all", app.Pruning{}, 1_000_000, 0, 0, 0},
		{"archive with snapshots", app.Pruning{}, 1_000_000, 1000, 2, 0},
		{"keep recent", app.Pruning{KeepRecent: 100}, 1000, 0, 0, 901},
		{"not yet", app.Pruning{KeepRecent: 100}, 100, 0, 0, 0},
		{"first prunable", app.Pruning{KeepRecent: 100}, 101, 0, 0, 2},
		{"at least MinKeepRecent", app.Pruning{KeepRecent: 3}, 1000, 0, 0, 1000 - app.MinKeepRecent + 1},
		{"evidence window", app.Pruning{KeepRecent: 100, EvidenceBlocks: 500}, 1000, 0, 0, 500},
		{"evidence window shorter", app.Pruning{KeepRecent: 100, EvidenceBlocks: 50}, 1000, 0, 0, 901},
		{"oldest kept snapshot", app.Pruning{KeepRecent: 100}, 10_050, 1000, 3, 8000},
		{"snapshot keep defaults to 2", app.Pruning{KeepRecent: 100}, 10_050, 1000, 0, 9000},
		{"snapshots recent enough", app.Pruning{KeepRecent: 100}, 10_050, 10, 2, 9951},
		{"no snapshot yet", app.Pruning{KeepRecent: 10}, 500, 1000, 2, 0},
	} {
		if got := c.p.RetainHeight(c.height, c.interval, c.keep); got != c.want {
			t.Errorf("%s: RetainHeight(%d, %d, %d) = %d, want %d", c.name, c.height, c.interval, c.keep, got, c.want)
		}
	}
}

// TestCommitReportsRetainHeight: Commit tells CometBFT the policy's retain
// height, and 0 (keep everything) without a policy.
func TestCommitReportsRetainHeight(t *testing.T) {
	for _, c := range []struct {
		p    app.Pruning
		want func(h int64) int64
	}{
		{app.Pruning{}, func(int64) int64 { return 0 }},
		{app.Pruning{KeepRecent: 12}, func(h int64) int64 {
			if h-11 <= 1 {
				return 0
			}
			return h - 11
		}},
	} {
		h := apptest.NewWithConfig(t, apptest.Config{Options: app.Options{Pruning: c.p}})
		ctx := context.Background()
		for height := int64(1); height <= 30; height++ {
			if _, err := h.App.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: height, Time: apptest.GenesisTime.Add(apptest.BlockInterval * time.Duration(height))}); err != nil {
				t.Fatal(err)
			}
			resp, err := h.App.Commit(ctx, &abci.RequestCommit{})
			if err != nil {
				t.Fatal(err)
			}
			if resp.RetainHeight != c.want(height) {
				t.Fatalf("policy %+v, height %d: retain height %d, want %d", c.p, height, resp.RetainHeight, c.want(height))
			}
		}
	}
}
