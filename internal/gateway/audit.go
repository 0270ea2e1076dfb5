package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/audit"
)

// Chain is what the gateway needs from its node.
type Chain interface {
	ChainID() string
	// SubmitAsync hands a transaction to the mempool and returns its CheckTx code.
	SubmitAsync(ctx context.Context, tx []byte) (code uint32, codespace, log string, err error)
	// Sequence returns an account's committed sequence.
	Sequence(addr crypto.Address) uint64
}

// Auditor batches access events into audit/log transactions signed by the
// gateway key. Report never blocks on the chain.
type Auditor struct {
	key      *crypto.PrivKey
	chain    Chain
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	queue   []audit.Event
	seq     uint64
	synced  bool
	wake    chan struct{}
	dropped int
}

// maxQueue bounds the events waiting for submission (a stalled chain must not
// exhaust memory); beyond it events are dropped and counted, loudly.
const maxQueue = 200_000

// NewAuditor returns an auditor that flushes at least every interval.
func NewAuditor(key *crypto.PrivKey, chain Chain, lg *slog.Logger, interval time.Duration) *Auditor {
	return &Auditor{key: key, chain: chain, log: lg, interval: interval, wake: make(chan struct{}, 1)}
}

// Report queues an event for the trail.
func (a *Auditor) Report(e audit.Event) {
	a.mu.Lock()
	if len(a.queue) >= maxQueue {
		a.dropped++
		a.mu.Unlock()
		a.log.Error("audit queue full: access event dropped", "accessor", e.Accessor, "dropped", a.dropped)
		return
	}
	a.queue = append(a.queue, e)
	full := len(a.queue) >= audit.MaxEvents
	a.mu.Unlock()
	if full {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// Pending reports how many events wait for submission.
func (a *Auditor) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue)
}

// Run flushes until ctx ends, then flushes once more.
func (a *Auditor) Run(ctx context.Context) {
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			a.Flush(fctx)
			cancel()
			return
		case <-t.C:
		case <-a.wake:
		}
		a.Flush(ctx)
	}
}

// Flush submits the queued events in batches of at most audit.MaxEvents.
func (a *Auditor) Flush(ctx context.Context) {
	for {
		a.mu.Lock()
		n := min(len(a.queue), audit.MaxEvents)
		if n == 0 {
			a.mu.Unlock()
			return
		}
		batch := append([]audit.Event(nil), a.queue[:n]...)
		if !a.synced {
			a.seq = a.chain.Sequence(a.key.Address())
			a.synced = true
		}
		seq := a.seq
		a.mu.Unlock()

		err := a.submit(ctx, seq, batch)
		a.mu.Lock()
		if err != nil {
			a.synced = false // resynchronize the sequence on the next try
			a.mu.Unlock()
			a.log.Warn("audit batch not accepted; will retry", "events", n, "err", err)
			return
		}
		a.queue = a.queue[n:]
		a.seq = seq + 1
		a.mu.Unlock()
	}
}

func (a *Auditor) submit(ctx context.Context, seq uint64, evs []audit.Event) error {
	tx := sm.SignTx(a.key, a.chain.ChainID(), seq, 0, &audit.MsgLog{Events: evs})
	code, space, log, err := a.chain.SubmitAsync(ctx, tx)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("checktx %s/%d: %s", space, code, log)
	}
	return nil
}
