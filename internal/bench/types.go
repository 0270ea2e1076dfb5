package bench

import (
	"context"
	"time"
)

// Tx is one transaction of a run.
type Tx struct {
	Raw  []byte
	Hash [32]byte // SHA-256 of Raw, as CometBFT names transactions
	Type string   // message type, for the breakdown
	// Due is when the schedule wanted it sent (open loop) or when it was
	// first sent (closed loop): latency is measured from here.
	Due  time.Time
	Sent time.Time // first send
	lane int
	ref  any // the generator's bookkeeping
}

// Generator builds the transactions of a run.
type Generator interface {
	// Next builds the next transaction of lane, or returns nil when the
	// lane has nothing it can send now. It is called only from the lane's
	// goroutine.
	Next(lane int, now time.Time) *Tx
	// Rejected tells the generator that tx did not enter the mempool, so
	// its sequence was not used. Called from the lane's goroutine.
	Rejected(tx *Tx)
	// Committed reports a transaction in a committed block. Called from
	// the observer's goroutine.
	Committed(tx *Tx, r *BlockTx)
}

// Outcome is what an intake learned of one submitted transaction.
type Outcome struct {
	Code      uint32 // CheckTx code; 0 accepted
	Codespace string
	Log       string
	Busy      bool // not submitted (mempool full): send again later
	Dup       bool // already in the mempool or its cache: counts as accepted
}

// Intake hands transactions to a node.
type Intake interface {
	Name() string
	// MaxBatch is the most transactions one Submit call takes.
	MaxBatch() int
	// Submit sends txs in order, each of lane's accounts' transactions
	// after the previous one, and returns one outcome per transaction. An
	// error means the outcome of every transaction is unknown.
	Submit(ctx context.Context, lane int, txs []*Tx) ([]Outcome, error)
}

// Block is a committed block as an observer sees it.
type Block struct {
	Height   int64
	Seen     time.Time // when the observer saw it committed
	Time     time.Time // block time (from the header)
	Txs      []BlockTx
	NumBytes int // sum of the transactions' sizes, when known
}

// BlockTx is one transaction's result in a committed block.
type BlockTx struct {
	Hash      [32]byte
	Code      uint32
	Codespace string
	Log       string
	Events    []Event
}

// Event is an ABCI event of a committed transaction.
type Event struct {
	Type  string
	Attrs map[string]string
}

// Observer follows committed blocks.
type Observer interface {
	// Height is the latest committed height.
	Height(ctx context.Context) (int64, error)
	// Follow sends each committed block from height from on, in order,
	// until ctx ends; it returns ctx's error or a failure.
	Follow(ctx context.Context, from int64, out chan<- *Block) error
}

// Target is what a run drives.
type Target struct {
	Name      string
	Generator Generator
	Intake    Intake
	Observer  Observer
	// Mempool reports the number of transactions in the mempool; nil or
	// ok=false when unknown.
	Mempool func(ctx context.Context) (n int, ok bool)
	// NodeCPU reports the node process's CPU time so far; nil when unknown
	// (a remote node without --node-pid) or when the node runs in this
	// process (then the process's CPU is reported instead).
	NodeCPU func() (time.Duration, bool)
	// InProcess is true when the node runs in the bench process.
	InProcess bool
}
