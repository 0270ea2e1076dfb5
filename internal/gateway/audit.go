package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/medchain/medchain/codec"
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

// TxResult is a committed transaction's result, as the node hands it to
// Auditor.Committed.
type TxResult struct {
	Hash      [32]byte
	Code      uint32
	Codespace string
	Log       string
	Events    []sm.Event
}

// Tuning of the auditor.
const (
	// maxInFlight bounds the audit/log transactions waiting for a block.
	maxInFlight = 4
	// maxBatchBytes keeps a batch's transaction under sm.MaxTxBytes with
	// room for the envelope.
	maxBatchBytes = sm.MaxTxBytes - 1024
	// staleBlocks: a transaction not in any of this many blocks after it was
	// accepted has left the mempool; its events are sent again.
	staleBlocks = 20
	// retryAhead is when an event the chain found ahead of its time is sent again.
	retryAhead = 30 * time.Second
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Auditor sends the access events of its Outbox to the chain in audit/log
// transactions signed by the gateway key, and removes each event only once
// a committed result says the chain logged it (or had logged it already).
// Events the chain refuses for good go to the outbox's dead letters.
type Auditor struct {
	key      *crypto.PrivKey
	chain    Chain
	box      *Outbox
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu       sync.Mutex
	ready    []uint64             // entries to send, in order
	later    []delayed            // entries to send after a time
	inflight map[[32]byte]*flight // by transaction hash
	height   int64                // latest committed height seen
	results  []TxResult           // committed results of in-flight transactions, to process
	seq      uint64
	synced   bool
	backoff  time.Duration
	resume   time.Time // nothing is sent before
	stats    AuditStats
	wake     chan struct{}
}

type flight struct {
	entries []uint64
	height  int64
}

type delayed struct {
	entry uint64
	at    time.Time
}

// AuditStats are the auditor's counters, for metrics.
type AuditStats struct {
	Pending  int    // events in the outbox not yet confirmed on chain
	InFlight int    // of which in transactions awaiting a block
	Dead     int    // events the chain refused, kept in the outbox
	Logged   uint64 // events confirmed on chain since start (including already-logged ones)
	Late     uint64 // of which the chain marked late
	Refused  uint64 // events refused for good since start
	Retries  uint64 // transactions that failed or went stale and were sent again
}

// NewAuditor returns an auditor over box that tries to send at least every
// interval. It queues the entries box already holds (from before a restart).
func NewAuditor(key *crypto.PrivKey, chain Chain, box *Outbox, lg *slog.Logger, interval time.Duration) (*Auditor, error) {
	pending, err := box.Pending()
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		lg.Info("audit outbox: sending events kept from before", "events", len(pending))
	}
	return &Auditor{key: key, chain: chain, box: box, log: lg, interval: interval, now: time.Now,
		ready: pending, inflight: map[[32]byte]*flight{}, wake: make(chan struct{}, 1)}, nil
}

// Report writes access events to the outbox, durably, before it returns.
// An error means they were not recorded: the caller must not serve the
// access. Events need their accessor's proof (audit.Event.Proof); an id is
// assigned when they have none.
func (a *Auditor) Report(evs ...audit.Event) error {
	if len(evs) == 0 {
		return nil
	}
	nums, err := a.box.Append(evs)
	if err != nil {
		a.log.Error("access event not recorded: the access is refused", "events", len(evs), "err", err)
		return err
	}
	a.mu.Lock()
	a.ready = append(a.ready, nums...)
	a.mu.Unlock()
	a.poke()
	return nil
}

func (a *Auditor) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Pending reports how many events wait for the chain to confirm them.
func (a *Auditor) Pending() int {
	p, _ := a.box.Counts()
	return p
}

// Stats returns the auditor's counters.
func (a *Auditor) Stats() AuditStats {
	p, d := a.box.Counts()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	s.Pending, s.Dead = p, d
	for _, f := range a.inflight {
		s.InFlight += len(f.entries)
	}
	return s
}

// Committed hands the auditor a committed block's results (the node's
// commit hook). It only files the results of its own transactions; the
// work is done by Run.
func (a *Auditor) Committed(height int64, results []TxResult) {
	a.mu.Lock()
	a.height = height
	mine := false
	for _, r := range results {
		if a.inflight[r.Hash] != nil {
			a.results = append(a.results, r)
			mine = true
		}
	}
	stale := false
	for _, f := range a.inflight {
		stale = stale || height-f.height >= staleBlocks
	}
	a.mu.Unlock()
	if mine || stale {
		a.poke()
	}
}

// Run sends events until ctx ends. Nothing needs flushing at the end: what
// was not confirmed stays in the outbox for the next start.
func (a *Auditor) Run(ctx context.Context) {
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		a.Step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.wake:
		}
	}
}

// Step processes committed results, then sends what is ready. Run calls it;
// tests call it directly.
func (a *Auditor) Step(ctx context.Context) {
	a.settle()
	a.send(ctx)
}

// settle applies committed results and requeues stale transactions.
func (a *Auditor) settle() {
	a.mu.Lock()
	results := a.results
	a.results = nil
	var done []*flight
	var outcomes []TxResult
	for _, r := range results {
		if f := a.inflight[r.Hash]; f != nil {
			delete(a.inflight, r.Hash)
			done = append(done, f)
			outcomes = append(outcomes, r)
		}
	}
	var requeue []uint64
	for h, f := range a.inflight {
		if a.height-f.height >= staleBlocks {
			delete(a.inflight, h)
			requeue = append(requeue, f.entries...)
			a.stats.Retries++
		}
	}
	a.mu.Unlock()

	for i, f := range done {
		a.apply(f, outcomes[i])
	}
	if len(requeue) > 0 {
		a.log.Warn("audit transaction left the mempool without a block; sending its events again", "events", len(requeue))
		a.retry(requeue)
	}
}

// apply files one committed transaction's outcome, event by event.
func (a *Auditor) apply(f *flight, r TxResult) {
	if r.Code != 0 {
		a.log.Warn("audit transaction failed in its block; sending its events again", "code", fmt.Sprintf("%s/%d", r.Codespace, r.Code), "log", r.Log, "events", len(f.entries))
		a.mu.Lock()
		a.stats.Retries++
		a.mu.Unlock()
		a.retry(f.entries)
		return
	}
	type verdict struct{ code, log string }
	refused := map[int]verdict{}
	late := uint64(0)
	for _, e := range r.Events {
		switch e.Type {
		case audit.EventRejected:
			var v verdict
			idx := -1
			for _, at := range e.Attrs {
				switch at.Key {
				case "index":
					idx, _ = strconv.Atoi(at.Value)
				case "code":
					v.code = at.Value
				case "log":
					v.log = at.Value
				}
			}
			refused[idx] = v
		case audit.EventLogged:
			for _, at := range e.Attrs {
				if at.Key == "late" {
					n, _ := strconv.ParseUint(at.Value, 10, 64)
					late += n
				}
			}
		}
	}
	dup := fmt.Sprintf("%s/%d", audit.Codespace, audit.ErrDuplicate.Code)
	ahead := fmt.Sprintf("%s/%d", audit.Codespace, audit.ErrClockSkew.Code)
	var onChain, again []uint64
	var dead []uint64
	for i, n := range f.entries {
		v, bad := refused[i]
		switch {
		case !bad || v.code == dup:
			onChain = append(onChain, n)
		case v.code == ahead:
			again = append(again, n)
		default:
			a.log.Error("the chain refused an access event; kept in the outbox's dead letters", "entry", n, "code", v.code, "log", v.log)
			if err := a.box.Bury(n, v.code+": "+v.log); err != nil {
				a.log.Error("audit outbox: keep a refused event", "entry", n, "err", err)
			}
			dead = append(dead, n)
		}
	}
	if err := a.box.Remove(onChain); err != nil {
		a.log.Error("audit outbox: remove confirmed events", "err", err)
	}
	a.mu.Lock()
	a.stats.Logged += uint64(len(onChain))
	a.stats.Late += late
	a.stats.Refused += uint64(len(dead))
	a.backoff = 0
	at := a.now().Add(retryAhead)
	for _, n := range again {
		a.later = append(a.later, delayed{entry: n, at: at})
	}
	a.mu.Unlock()
}

// retry puts entries back at the front of the queue and backs off; the
// sequence is read again from the chain before the next transaction.
func (a *Auditor) retry(entries []uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ready = append(append([]uint64(nil), entries...), a.ready...)
	a.synced = false
	a.backoff = min(max(2*a.backoff, minBackoff), maxBackoff)
	a.resume = a.now().Add(a.backoff)
}

// send builds and submits transactions while there is room in flight.
func (a *Auditor) send(ctx context.Context) {
	for ctx.Err() == nil {
		a.mu.Lock()
		now := a.now()
		kept := a.later[:0]
		for _, d := range a.later {
			if now.Before(d.at) {
				kept = append(kept, d)
			} else {
				a.ready = append(a.ready, d.entry)
			}
		}
		a.later = kept
		if len(a.ready) == 0 || len(a.inflight) >= maxInFlight || now.Before(a.resume) {
			a.mu.Unlock()
			return
		}
		if !a.synced {
			if len(a.inflight) > 0 {
				a.mu.Unlock()
				return // the sequence is known once those are settled
			}
			a.seq = a.chain.Sequence(a.key.Address())
			a.synced = true
		}
		candidates := append([]uint64(nil), a.ready[:min(len(a.ready), audit.MaxEvents)]...)
		seq, height := a.seq, a.height
		a.mu.Unlock()

		evs, entries, gone := a.batch(candidates)
		a.mu.Lock()
		a.ready = a.ready[len(entries)+len(gone):]
		a.mu.Unlock()
		if len(evs) == 0 {
			continue
		}
		tx := sm.SignTx(a.key, a.chain.ChainID(), seq, 0, &audit.MsgLog{Events: evs})
		h := sm.TxHash(tx)
		// In flight before it reaches the mempool: its block may commit
		// before SubmitAsync returns.
		a.mu.Lock()
		a.inflight[h] = &flight{entries: entries, height: height}
		a.mu.Unlock()
		code, space, log, err := a.chain.SubmitAsync(ctx, tx)
		if err == nil && code != 0 {
			err = fmt.Errorf("checktx %s/%d: %s", space, code, log)
		}
		if err != nil {
			a.log.Warn("audit batch not accepted; will retry", "events", len(evs), "err", err)
			a.mu.Lock()
			delete(a.inflight, h)
			a.stats.Retries++
			a.mu.Unlock()
			a.retry(entries)
			return
		}
		a.mu.Lock()
		a.seq = seq + 1
		a.mu.Unlock()
	}
}

// batch reads the candidate entries in order while they fit one
// transaction. It returns the events, their entries, and the entries at the
// front that could not be read (already removed: a duplicate in the queue).
func (a *Auditor) batch(candidates []uint64) (evs []audit.Event, entries, gone []uint64) {
	size := 16
	proofs := map[string]bool{}
	for _, n := range candidates {
		e, add, err := a.box.entry(n) // add: the event's size as a one-event audit/log message
		if err != nil {
			if len(evs) == 0 {
				gone = append(gone, n)
				continue
			}
			break // read it at the front of the next batch
		}
		pb := string(codec.Marshal(e.Proof))
		if proofs[pb] {
			add -= len(pb)
		}
		if len(evs) > 0 && size+add > maxBatchBytes {
			break
		}
		proofs[pb] = true
		size += add
		evs = append(evs, e)
		entries = append(entries, n)
	}
	return evs, entries, gone
}
