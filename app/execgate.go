package app

import (
	"sync"
	"time"
)

// execGate lets the node's intake (Mempool.AwaitBlock, called before
// Prepare) step aside while a block executes and commits. On a machine of
// few cores the goroutine that runs FinalizeBlock and Commit (CometBFT's
// consensus routine) is the pipeline's one serial stage; Go's scheduler
// gives it no priority, so signature checks of incoming batches, run on
// every core, stretch a block's execution, and a block that takes longer
// than timeout_commit delays the next height and makes the next block
// larger. Intake waits for the block that is executing
// when it arrives to finish, and for at most maxExecWait, then goes on: a
// node executing blocks back to back (catching up) still takes
// transactions in.
type execGate struct {
	mu   sync.Mutex
	done chan struct{} // nil while no block executes; closed when it ends
}

// maxExecWait bounds one intake's wait for a block.
const maxExecWait = 250 * time.Millisecond

// begin marks a block's execution as started (FinalizeBlock).
func (g *execGate) begin() {
	g.mu.Lock()
	if g.done == nil {
		g.done = make(chan struct{})
	}
	g.mu.Unlock()
}

// end marks it as finished (the end of Commit).
func (g *execGate) end() {
	g.mu.Lock()
	if g.done != nil {
		close(g.done)
		g.done = nil
	}
	g.mu.Unlock()
}

// wait returns once no block executes, the block executing now has ended,
// or max has passed.
func (g *execGate) wait(max time.Duration) {
	g.mu.Lock()
	d := g.done
	g.mu.Unlock()
	if d == nil {
		return
	}
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-d:
	case <-t.C:
	}
}

// AwaitBlock returns once no block is executing or committing, or the one
// executing now has ended, or maxExecWait has passed. The node's intake
// calls it before Prepare, holding no lock. CometBFT's CheckTx must not:
// CometBFT holds its mempool lock around CheckTx and takes that lock before
// Commit, so a check waiting here would hold the commit back until the
// bound.
func (m *Mempool) AwaitBlock() { m.executing.wait(maxExecWait) }
