package app

import (
	"crypto/sha256"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// stagedBundle is a bundle Stage built from transactions it checked: the
// mempool's CheckTx of it need not check them again, unless a commit came in
// between (the commit's rechecks rebuilt the pending sequences without them).
type stagedBundle struct {
	epoch uint64
	n     int
}

// bundled is what a recheck needs of a transaction in a bundle the mempool
// holds: who signed it with which sequence, and whether it was already
// invalid when first checked.
type bundled struct {
	signer crypto.Address
	seq    uint64
	bad    bool
}

// maxRemembered bounds inMempool (bundles, not transactions); past it a
// bundle is rechecked in full.
const maxRemembered = 1 << 16

func (a *App) remember(h [32]byte, txs []bundled) {
	if len(a.inMempool) < maxRemembered {
		a.inMempool[h] = txs
	}
}

// Stage checks transactions a node takes in, in order, exactly as CheckTx
// checks a transaction alone, and packs the accepted ones into bundles of at
// most maxBundle bytes for the node to hand to the mempool, in order.
// errs[i] is nil for an accepted transaction and its reason otherwise;
// sizes[k] is how many accepted transactions bundles[k] holds.
// Accepted transactions count as pending (their signers' next sequences
// move on) from now on, so the node must submit every bundle returned, or
// call Unstage for one it could not submit.
func (a *App) Stage(txs [][]byte, maxBundle int) (bundles [][]byte, sizes []int, errs []error, err error) {
	defer guard(&err)
	if a.committed.Load() == nil {
		a.mu.Lock()
		defer a.mu.Unlock()
	}
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	errs = make([]error, len(txs))
	var accepted [][]byte
	var infos []bundled
	for i, tx := range txs {
		var info bundled
		if info, _, errs[i] = a.checkTxInfo(tx, false, false); errs[i] == nil {
			accepted = append(accepted, tx)
			infos = append(infos, info)
		}
	}
	bundles, sizes = sm.PackBundles(accepted, maxBundle, 0)
	for i, b := range bundles {
		h := sha256.Sum256(b)
		a.staged[h] = stagedBundle{epoch: a.epoch, n: sizes[i]}
		a.remember(h, infos[:sizes[i]])
		infos = infos[sizes[i]:]
	}
	return bundles, sizes, errs, nil
}

// Unstage forgets a bundle Stage built that never reached the mempool. Its
// transactions stay counted as pending until the next commit's rechecks
// rebuild the pending sequences from the mempool.
func (a *App) Unstage(bundle []byte) {
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	h := sha256.Sum256(bundle)
	delete(a.staged, h)
	delete(a.inMempool, h)
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
	if recheck {
		a.checkMu.Lock()
		infos, ok := a.inMempool[h]
		if ok {
			defer a.checkMu.Unlock()
			return a.recheckBundle(h, infos)
		}
		a.checkMu.Unlock()
	}
	if !recheck { // a bundle this node staged needs no second look
		a.checkMu.Lock()
		st, ok := a.staged[h]
		delete(a.staged, h)
		if ok && st.epoch == a.epoch {
			a.pendingTxs += st.n
			a.checkMu.Unlock()
			return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}
		}
		a.checkMu.Unlock()
	}
	txs, err := sm.DecodeBundle(raw)
	if err != nil {
		code, space, log := sm.ABCIInfo(err)
		return &abci.ResponseCheckTx{Code: code, Codespace: space, Log: log}
	}
	var decoded []*sm.Tx
	if !recheck {
		// A peer's bundle: verify its signatures in batches on every core
		// before taking the lock.
		var sigOK []bool
		decoded, sigOK = a.preVerify(txs)
		if err := a.wellFormed(txs, decoded, sigOK); err != nil {
			code, space, log := sm.ABCIInfo(err)
			return &abci.ResponseCheckTx{Code: code, Codespace: space, Log: log}
		}
	}
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	var first error
	valid, held := 0, 0
	infos := make([]bundled, 0, len(txs))
	for i, tx := range txs {
		var info bundled
		var hold bool
		var err error
		if decoded != nil { // well formed: every transaction decoded
			info, hold, err = a.checkParsed(tx, decoded[i], true, recheck)
		} else {
			info, hold, err = a.checkTxInfo(tx, true, recheck)
		}
		infos = append(infos, info)
		switch {
		case err != nil:
			if first == nil {
				first = err
			}
		case hold:
			held++
		default:
			valid++
		}
	}
	a.pendingTxs += valid
	if valid+held == 0 {
		delete(a.inMempool, h)
		code, space, log := sm.ABCIInfo(first)
		return &abci.ResponseCheckTx{Code: code, Codespace: space, Log: fmt.Sprintf("no valid transaction in bundle: %s", log)}
	}
	a.remember(h, infos)
	return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}
}

// wellFormed refuses a bundle holding a transaction that can never be
// valid: one that does not decode, is for another chain, carries a
// malformed message or a wrong signature. A node bundles only transactions
// that passed all of these, so such a bundle was built to waste the
// network's time (its bad transactions would be verified again, and fail,
// in every validator's block execution). It takes preVerify's results.
func (a *App) wellFormed(raws [][]byte, txs []*sm.Tx, sigOK []bool) error {
	chainID := a.ChainID()
	for i, tx := range txs {
		var err error
		switch {
		case tx == nil:
			_, err = sm.DecodeTx(raws[i]) // the reason
		case tx.Body.ChainID != chainID:
			err = sm.Wrapf(sm.ErrWrongChainID, "got %q, want %q", tx.Body.ChainID, chainID)
		case !sigOK[i]:
			err = sm.ErrBadSignature
		default:
			_, _, err = a.router.DecodeMsg(tx.Body)
		}
		if err != nil {
			return fmt.Errorf("bundle refused: transaction %d: %w", i, err)
		}
	}
	return nil
}

// recheckBundle rechecks a bundle from what its first check remembered:
// each transaction's sequence against the signer's pending one, without
// decoding it, verifying it or running the other envelope checks again. A
// commit changes sequences for all; the other checks (the account may sign,
// the fee is covered) rarely change between check and inclusion, and a
// transaction that no longer passes them fails at execution without effect.
// Rechecks run under the mempool's lock, which the next proposal waits for,
// so a full recheck of tens of thousands of transactions after every block
// delayed the next one.
func (a *App) recheckBundle(h [32]byte, infos []bundled) *abci.ResponseCheckTx {
	kv := a.checkState()
	valid, held := 0, 0
	for i := range infos {
		t := &infos[i]
		if t.bad {
			continue
		}
		next, ok := a.pending[t.signer]
		if !ok {
			if acct := accounts.GetAccount(kv, t.signer); acct != nil {
				next = acct.Sequence
			}
		}
		switch {
		case t.seq == next:
			a.pending[t.signer] = next + 1
			valid++
		case t.seq > next && t.seq-next <= maxAhead:
			held++
		default:
			t.bad = true // stale for good: sequences only grow
		}
	}
	a.pendingTxs += valid
	if valid+held == 0 {
		delete(a.inMempool, h)
		return &abci.ResponseCheckTx{Code: sm.ErrBadSequence.Code, Codespace: sm.ErrBadSequence.Codespace,
			Log: "no valid transaction in bundle: " + sm.ErrBadSequence.Desc}
	}
	return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}
}
