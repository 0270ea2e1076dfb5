package node

import (
	"sync"
	"sync/atomic"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/internal/config"
)

// pruningPolicy maps the configuration onto the app's block retention
// policy (app.Pruning), with the evidence window of the chain's consensus
// parameters.
func pruningPolicy(cfg config.Config, gen *cmttypes.GenesisDoc) app.Pruning {
	return app.Pruning{KeepRecent: cfg.Pruning.KeepRecent, EvidenceBlocks: evidenceBlocks(gen, time.Duration(cfg.Consensus.TimeoutCommit))}
}

// evidenceBlocks is how many of the latest blocks evidence may still refer
// to. CometBFT accepts evidence until it is older than both
// evidence.max_age_num_blocks and evidence.max_age_duration; the duration is
// counted in blocks at the shortest interval a block can follow another
// (timeout_commit, at least 100 ms), which overestimates the window and so
// keeps enough. medchain changes no consensus parameter after genesis.
func evidenceBlocks(gen *cmttypes.GenesisDoc, timeoutCommit time.Duration) int64 {
	if gen == nil || gen.ConsensusParams == nil {
		return 0
	}
	ev := gen.ConsensusParams.Evidence
	interval := max(timeoutCommit, 100*time.Millisecond)
	return max(ev.MaxAgeNumBlocks, int64(ev.MaxAgeDuration/interval)+1)
}

// compactor reclaims the disk space of pruned blocks: CometBFT deletes
// them from its block store and state databases (goleveldb), which frees
// the space only when their files are compacted (and the replaced files
// are deleted once no reader holds them, at the latest when the node
// restarts). Once pruning has removed
// at least max(keep_recent, 100) heights since the last compaction, both
// databases are compacted in the background, one compaction at a time.
type compactor struct {
	keep     int64
	running  atomic.Bool
	lastBase atomic.Int64
	wg       sync.WaitGroup
	done     atomic.Int64 // compactions finished (tests)
}

// maybeCompact is called after each commit with the block store's base.
func (n *Node) maybeCompact(base int64) {
	c := n.compact
	if c == nil || c.keep == 0 || base-c.lastBase.Load() < max(c.keep, 100) || !c.running.CompareAndSwap(false, true) {
		return
	}
	c.lastBase.Store(base)
	n.dbMu.Lock()
	dbs := []string{"blockstore", "state"}
	var handles []interface{ Compact(start, end []byte) error }
	for _, id := range dbs {
		if db := n.cmtDB[id]; db != nil {
			handles = append(handles, db)
		}
	}
	n.dbMu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.running.Store(false)
		start := time.Now()
		for i, db := range handles {
			if err := db.Compact(nil, nil); err != nil {
				n.log.Warn("compacting pruned blocks", "db", dbs[i], "err", err)
				return
			}
		}
		c.done.Add(1)
		n.log.Info("compacted the block store after pruning", "base", base, "took", time.Since(start).Round(time.Millisecond))
	}()
}
