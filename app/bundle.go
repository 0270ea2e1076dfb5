package app

import (
	"crypto/sha256"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/sm"
)

// stagedBundle is a bundle Stage built from transactions it checked: the
// mempool's CheckTx of it need not check them again, unless a commit came in
// between (the commit's rechecks rebuilt the pending sequences without them).
type stagedBundle struct {
	epoch uint64
	n     int
}

// Stage checks transactions a node takes in, in order, exactly as CheckTx
// checks a transaction alone, and packs the accepted ones into bundles of at
// most maxBundle bytes for the node to hand to the mempool, in order.
// errs[i] is nil for an accepted transaction and its reason otherwise.
// Accepted transactions count as pending (their signers' next sequences
// move on) from now on, so the node must submit every bundle returned, or
// call Unstage for one it could not submit.
func (a *App) Stage(txs [][]byte, maxBundle int) (bundles [][]byte, errs []error, err error) {
	defer guard(&err)
	if maxBundle <= 0 || maxBundle > sm.MaxBundleBytes {
		maxBundle = sm.MaxBundleBytes
	}
	if a.committed.Load() == nil {
		a.mu.Lock()
		defer a.mu.Unlock()
	}
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	errs = make([]error, len(txs))
	var cur [][]byte
	size := 1
	flush := func() {
		if len(cur) == 0 {
			return
		}
		b := sm.EncodeBundle(cur)
		a.staged[sha256.Sum256(b)] = stagedBundle{epoch: a.epoch, n: len(cur)}
		bundles = append(bundles, b)
		cur, size = nil, 1
	}
	for i, tx := range txs {
		if _, errs[i] = a.checkTx(tx, false, false); errs[i] != nil {
			continue
		}
		add := sm.BundleOverhead(len(tx))
		if size+add > maxBundle || len(cur) == sm.MaxBundleTxs {
			flush()
		}
		cur = append(cur, tx)
		size += add
	}
	flush()
	return bundles, errs, nil
}

// Unstage forgets a bundle Stage built that never reached the mempool. Its
// transactions stay counted as pending until the next commit's rechecks
// rebuild the pending sequences from the mempool.
func (a *App) Unstage(bundle []byte) {
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	delete(a.staged, sha256.Sum256(bundle))
}

// PendingTxs is how many transactions the mempool holds, counting each
// bundled transaction.
func (a *App) PendingTxs() int {
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	return a.pendingTxs
}

// checkBundle is CheckTx of a bundle. A bundle this node staged in the
// current epoch was checked already. Any other bundle (from a peer, or
// rechecked after a commit) has each transaction checked in order as if it
// came alone, except that one whose sequence is ahead is held (checkTx); the
// bundle is kept while at least one of them is valid or held. The others
// cannot take effect: PrepareProposal leaves out what would fail its
// sequence, and at execution each transaction is authenticated and
// sequenced on its own.
func (a *App) checkBundle(raw []byte, recheck bool) *abci.ResponseCheckTx {
	h := sha256.Sum256(raw)
	txs, err := sm.DecodeBundle(raw)
	if err != nil {
		code, space, log := sm.ABCIInfo(err)
		return &abci.ResponseCheckTx{Code: code, Codespace: space, Log: log}
	}
	if !recheck {
		a.checkMu.Lock()
		st, ok := a.staged[h]
		delete(a.staged, h)
		if ok && st.epoch == a.epoch {
			a.pendingTxs += st.n
			a.checkMu.Unlock()
			return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}
		}
		a.checkMu.Unlock()
		// A peer's bundle: verify its signatures in batches on every core
		// before taking the lock.
		a.PreVerify(txs)
	}
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	var first error
	valid, held := 0, 0
	for _, tx := range txs {
		h, err := a.checkTx(tx, true, recheck)
		switch {
		case err != nil:
			if first == nil {
				first = err
			}
		case h:
			held++
		default:
			valid++
		}
	}
	a.pendingTxs += valid
	if valid+held == 0 {
		code, space, log := sm.ABCIInfo(first)
		return &abci.ResponseCheckTx{Code: code, Codespace: space, Log: fmt.Sprintf("no valid transaction in bundle: %s", log)}
	}
	return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}
}
