package app

// Pruning of CometBFT's block store by policy. The app tells CometBFT, in
// each Commit's RetainHeight, the lowest height whose block it must keep;
// CometBFT then deletes the blocks (and their stored state: validator sets,
// consensus parameters, block results) below it. The state itself keeps no
// history on disk to prune: the state database holds each key once, and the
// last merkle.ReadableVersions versions are readable (the last
// merkle.ProvableVersions provable) from memory, whatever the policy.

// Pruning is the block retention policy.
type Pruning struct {
	// KeepRecent is how many of the latest blocks to keep; 0 keeps every
	// block (an archive node, the default).
	KeepRecent int64
	// EvidenceBlocks is how many of the latest blocks evidence of
	// misbehaviour may still refer to (from the consensus parameters:
	// evidence.max_age_num_blocks, and max_age_duration over the shortest
	// block interval): blocks in that window are never pruned, or a
	// double-signing could no longer be punished.
	EvidenceBlocks int64
}

// MinKeepRecent is the smallest non-zero KeepRecent: CometBFT's start-up
// handshake replays from the last blocks, and light clients verify
// against recent headers.
const MinKeepRecent = 10

// defaultSnapshotKeep is how many state sync snapshots are kept when
// SnapshotOptions.Keep is 0.
const defaultSnapshotKeep = 2

// RetainHeight is the lowest height whose block must be kept once height
// is committed, under the policy p and with state sync snapshots taken
// every interval heights, the newest keep of them kept (interval 0: none):
// 0 (keep everything) when p keeps all. It never goes below what the
// evidence window or the oldest kept snapshot needs: a node joining by
// state sync from a snapshot at height S fetches the blocks after S from
// the nodes that offer it, and its light client verifies S's header.
func (p Pruning) RetainHeight(height, interval int64, keep int) int64 {
	if p.KeepRecent <= 0 {
		return 0
	}
	retain := height - max(p.KeepRecent, MinKeepRecent) + 1
	if p.EvidenceBlocks > 0 {
		retain = min(retain, height-p.EvidenceBlocks)
	}
	if interval > 0 {
		if keep <= 0 {
			keep = defaultSnapshotKeep
		}
		oldest := (height/interval - int64(keep-1)) * interval
		retain = min(retain, oldest)
	}
	if retain <= 1 {
		return 0 // nothing to prune yet
	}
	return retain
}

// retainHeight is RetainHeight under the app's policy and snapshots.
func (a *App) retainHeight(height int64) int64 {
	var interval int64
	var keep int
	if a.snaps != nil {
		interval, keep = a.snaps.opts.Interval, a.snaps.opts.Keep
	}
	return a.pruning.RetainHeight(height, interval, keep)
}
