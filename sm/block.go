package sm

import "time"

// ConsAddress is a validator's consensus address as CometBFT names it: the
// first 20 bytes of SHA-256 of its Ed25519 consensus public key.
type ConsAddress [20]byte

// VoteInfo is one validator's part in the last block's commit.
type VoteInfo struct {
	Validator ConsAddress
	Power     int64
	Signed    bool // its precommit is in the commit
}

// MisbehaviorKind is the kind of evidence CometBFT committed.
type MisbehaviorKind uint8

const (
	MisbehaviorDuplicateVote     MisbehaviorKind = 1
	MisbehaviorLightClientAttack MisbehaviorKind = 2
)

// Misbehavior is evidence of a validator's fault that consensus committed
// in this block.
type Misbehavior struct {
	Kind       MisbehaviorKind
	Validator  ConsAddress
	Power      int64 // the validator's power at Height
	Height     int64 // where the fault happened
	Time       time.Time
	TotalPower int64 // of the validator set at Height
}

// BlockInfo is what consensus tells the state machine about a block
// besides its transactions. It is identical on every node.
type BlockInfo struct {
	Proposer    ConsAddress
	LastCommit  []VoteInfo // votes for the previous block, in the validator set's order
	Misbehavior []Misbehavior
}

// BeginBlocker is implemented by modules with work at the start of every
// block, before its transactions (for example minting, or acting on
// evidence). It writes through ctx.Store and emits block events through
// ctx.Events; it cannot fail: a hook must handle every state it can meet.
type BeginBlocker interface {
	BeginBlock(ctx Context, info BlockInfo)
}

// EndBlocker is implemented by modules with work at the end of every block,
// after its transactions (for example distributing rewards, maturing
// unbonding, expiring escrows). Like BeginBlock it cannot fail.
type EndBlocker interface {
	EndBlock(ctx Context)
}

// UsageObserver is implemented by modules that price by load (the fee
// market): after a block's transactions and before the EndBlock hooks it is
// told how many transactions the block carried (bundled ones counted one by
// one, failed ones included). Like the hooks it cannot fail.
type UsageObserver interface {
	ObserveUsage(ctx Context, txs int)
}

// EventEndBlocker is an EndBlocker that also sees the block's events so
// far, in order: those of the BeginBlock hooks, of each successful
// transaction, and of the EndBlock hooks of the modules before it (x/policy
// fires automations from them). Events it emits itself are not fed back in
// this block or any later one.
type EventEndBlocker interface {
	EndBlockEvents(ctx Context, events []Event)
}
