package node

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
)

// consensusPriority gives CometBFT's consensus routine, the goroutine that
// runs ProcessProposal, FinalizeBlock and Commit and so the pipeline's one
// serial stage, an OS thread of its own at a raised priority (a lower nice
// value, execution.consensus_nice), and the process one P more than it
// would have (GOMAXPROCS).
//
// Go's scheduler has no priorities: on a 2-core node under load the routine
// waited behind signature checks, HTTP handlers, Pebble's compactions and
// the GC for about 15 % of the time (a runtime trace at 10,500 tx/s,
// docs/performance.md, Session 21), and each wait lengthened the block.
// With a P to spare the routine finds one free when it wakes, and the
// kernel runs its thread before the others on the core (a trace: 267 ms
// of 3 s waiting, against 544 ms). The intake gate (app/execgate.go)
// stays: a thread's priority orders threads that hold Ps, not goroutines
// waiting for one, and with intake running freely every P is busy again.
//
// Raising a thread's priority needs CAP_SYS_NICE, or an RLIMIT_NICE that
// allows the value (systemd: LimitNICE=); without either the node keeps
// its P count and logs once why (docs/operations.md).
//
// It wires the first FinalizeBlock made on the consensus routine (the
// stack says which goroutine that is: a replay at start, or block sync,
// runs FinalizeBlock on other goroutines, which are left alone). The thread
// stays locked to the routine: when the routine ends, Go ends the thread.
type consensusPriority struct {
	nice int // the nice value to set; 0: off
	log  *slog.Logger

	onConsensus func() bool                // whether the calling goroutine is the consensus routine
	setNice     func(nice int) error       // sets the calling thread's nice value
	spare       func() (before, after int) // gives the process a spare P, once

	done atomic.Bool // wired, refused or off: nothing more to try
	mu   sync.Mutex
}

func newConsensusPriority(nice int, lg *slog.Logger) *consensusPriority {
	return &consensusPriority{
		nice:        nice,
		log:         lg,
		onConsensus: onConsensusRoutine,
		setNice:     setThreadNice,
		spare:       spareP,
	}
}

// enter is called at the start of every FinalizeBlock; once the routine is
// wired (or wiring was refused) it costs an atomic load.
func (p *consensusPriority) enter() {
	if p == nil || p.done.Load() {
		return
	}
	if p.nice == 0 {
		p.done.Store(true)
		return
	}
	if !p.onConsensus() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done.Load() {
		return
	}
	p.done.Store(true)
	runtime.LockOSThread()
	if err := p.setNice(p.nice); err != nil {
		runtime.UnlockOSThread()
		p.log.Info("consensus routine keeps the default priority (to raise it, give the node CAP_SYS_NICE or LimitNICE; execution.consensus_nice 0 stops trying)",
			"nice", p.nice, "err", err)
		return
	}
	before, after := p.spare()
	p.log.Info("consensus routine on a thread of its own at a raised priority",
		"nice", p.nice, "gomaxprocs", after, "gomaxprocs_before", before)
}

// consensusMarker is the frame of CometBFT's consensus routine in a stack.
var consensusMarker = []byte("/consensus.(*State).receiveRoutine(")

// onConsensusRoutine reports whether the calling goroutine is CometBFT's
// consensus routine (its stack starts there).
func onConsensusRoutine() bool {
	buf := make([]byte, 32<<10)
	n := runtime.Stack(buf, false)
	return bytes.Contains(buf[:n], consensusMarker)
}

var spareOnce struct {
	sync.Once
	before, after int
}

// spareP raises GOMAXPROCS by one, once per process, unless the operator
// set GOMAXPROCS: then that is kept.
func spareP() (before, after int) {
	spareOnce.Do(func() {
		spareOnce.before = runtime.GOMAXPROCS(0)
		spareOnce.after = spareOnce.before
		if os.Getenv("GOMAXPROCS") == "" {
			spareOnce.after = spareOnce.before + 1
			runtime.GOMAXPROCS(spareOnce.after)
		}
	})
	return spareOnce.before, spareOnce.after
}

// consensusApp is the app as CometBFT's consensus connection sees it: its
// FinalizeBlock, which the consensus routine calls at every height, wires
// the routine's thread first.
type consensusApp struct {
	*app.App
	prio *consensusPriority
}

func (c consensusApp) FinalizeBlock(ctx context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	c.prio.enter()
	return c.App.FinalizeBlock(ctx, req)
}
