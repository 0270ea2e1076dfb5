package exec

import (
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/session"
)

// MaxAhead bounds how far ahead of a signer's pending sequence a bundled
// transaction from a peer may be and still be held (see CheckTx).
const MaxAhead = 1 << 16

// Pending is the mempool's view of sequences: the next sequence of a signer
// counting the transactions the mempool already accepted.
type Pending interface {
	Next(a crypto.Address) (seq uint64, ok bool)
}

// SigChecker tells whether tx's signature is valid. The mempool's remembers
// what it verified before.
type SigChecker interface {
	CheckSig(hash [32]byte, tx *sm.Tx) bool
}

// CheckOptions are how a mempool check differs from a first check.
type CheckOptions struct {
	// Recheck: a block may have made the transaction stale.
	Recheck bool
	// HoldAhead: a peer's bundled transaction whose sequence is ahead of the
	// pending one (it overtook an earlier bundle on another gossip path) is
	// held: valid in every other respect, kept, but not counted as pending.
	HoldAhead bool
	// BlockTime is the checked state's block time (unix seconds): a
	// session key is refused once its session expired by it.
	BlockTime int64
}

// CheckResult is the outcome of CheckTx.
type CheckResult struct {
	Err  error
	Held bool
	// Next is the signer's pending sequence after an accepted (not held)
	// transaction; the mempool records it.
	Next uint64
}

// CheckTx validates a transaction that passed Stateless (rt is its route)
// against state (the committed state) and the mempool's pending sequences,
// exactly as DeliverBlock will authenticate it. A recheck or a held check
// tests the sequence before the signature: a transaction a block made stale
// is dropped without verifying its signature again.
func (c *Core) CheckTx(kv store.Reader, pending Pending, tx *sm.Tx, hash [32]byte, rt sm.Route, sigs SigChecker, opt CheckOptions) CheckResult {
	signer := tx.Signer()
	who, keyErr := session.Authorize(kv, tx.Body.Signer, tx.Body.Type, opt.BlockTime)
	next, ok := pending.Next(signer)
	if !ok {
		next = who.Sequence()
	}
	if (opt.Recheck || opt.HoldAhead) && tx.Body.Sequence < next {
		return CheckResult{Err: sm.Wrapf(sm.ErrBadSequence, "got %d, want %d", tx.Body.Sequence, next)}
	}
	if !sigs.CheckSig(hash, tx) {
		return CheckResult{Err: sm.ErrBadSignature}
	}
	if seq := tx.Body.Sequence; opt.HoldAhead && seq > next && seq-next <= MaxAhead {
		return CheckResult{Held: true, Err: c.authenticate(kv, tx, rt, who, keyErr, seq, opt.BlockTime)}
	}
	if err := c.authenticate(kv, tx, rt, who, keyErr, next, opt.BlockTime); err != nil {
		return CheckResult{Err: err}
	}
	return CheckResult{Next: next + 1}
}
