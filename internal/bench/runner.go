package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config shapes a run.
type Config struct {
	// Rate is the offered load in transactions per second; 0 runs closed
	// loop: every lane sends as fast as its previous submission returns.
	Rate     float64
	Duration time.Duration // the measurement window
	Warmup   time.Duration // load before the window, not measured
	// Drain is how long to wait after the window for accepted transactions
	// to commit; those still uncommitted are reported as such.
	Drain time.Duration
	Lanes int // concurrent submitters, each owning its accounts
	Batch int // transactions per submission (capped by the intake)
	// Outstanding, in closed loop, bounds the transactions sent and not yet
	// seen committed (or rejected): a fixed population of clients, each
	// waiting for its transaction's block. 0 bounds them only by the
	// mempool's backpressure.
	Outstanding int
	// Progress receives a line per second; nil for none.
	Progress io.Writer
}

func (c *Config) fill() {
	if c.Lanes <= 0 {
		c.Lanes = 1
	}
	if c.Batch <= 0 {
		c.Batch = 1
	}
	if c.Drain <= 0 {
		c.Drain = 30 * time.Second
	}
}

// tracker maps the hashes of transactions sent but not yet seen committed
// to the transactions.
type tracker struct {
	mu sync.Mutex
	m  map[[32]byte]*Tx
}

func newTracker() *tracker { return &tracker{m: map[[32]byte]*Tx{}} }

func (t *tracker) add(tx *Tx) {
	t.mu.Lock()
	t.m[tx.Hash] = tx
	t.mu.Unlock()
}

func (t *tracker) take(h [32]byte) (*Tx, bool) {
	t.mu.Lock()
	tx, ok := t.m[h]
	if ok {
		delete(t.m, h)
	}
	t.mu.Unlock()
	return tx, ok
}

func (t *tracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// laneStats are one lane's counters, merged at the end.
type laneStats struct {
	byType   map[string]*TypeStats
	rejected map[string]int64
	samples  []string
}

func (s *laneStats) typ(t string) *TypeStats {
	ts := s.byType[t]
	if ts == nil {
		ts = &TypeStats{}
		s.byType[t] = ts
	}
	return ts
}

type commitRec struct {
	due, seen time.Time
	typ       string
	code      string // "" for success, else "codespace/code"
}

type runner struct {
	t   Target
	cfg Config

	start, winStart, winEnd time.Time
	stop                    chan struct{}
	tickets                 chan time.Time
	slots                   chan struct{} // Outstanding tokens; nil: unbounded
	tracked                 *tracker

	sent, accepted, rejected, busy, errs, dropped, starved, unsent atomic.Int64
	committed, failed                                              atomic.Int64
	height, mempoolMax                                             atomic.Int64
	lanes                                                          []*laneStats
	errMu                                                          sync.Mutex
	errSamples                                                     []string

	// Written by the observer goroutine only, read after it ends.
	commits     []commitRec
	blocks      []blockRec
	foreign     int64
	failSamples []string
	failedBy    map[string]int64
}

type blockRec struct {
	height    int64
	seen      time.Time
	txs, ours int
	bytes     int
}

// Run drives target for cfg.Warmup+cfg.Duration, drains, and returns what
// the chain committed. It stops early, with Interrupted set, when ctx ends.
func Run(ctx context.Context, t Target, cfg Config) (*Results, error) {
	cfg.fill()
	r := &runner{t: t, cfg: cfg, stop: make(chan struct{}), tracked: newTracker(), failedBy: map[string]int64{}}
	batch := min(cfg.Batch, t.Intake.MaxBatch())
	h0, err := t.Observer.Height(ctx)
	if err != nil {
		return nil, fmt.Errorf("observer: %w", err)
	}
	obsCtx, stopObs := context.WithCancel(context.Background())
	defer stopObs()
	blocks := make(chan *Block, 256)
	obsErr := make(chan error, 1)
	go func() { obsErr <- t.Observer.Follow(obsCtx, h0+1, blocks); close(blocks) }()
	consumed := make(chan struct{})
	go func() { r.consume(blocks); close(consumed) }()

	r.start = time.Now()
	r.winStart = r.start.Add(cfg.Warmup)
	r.winEnd = r.winStart.Add(cfg.Duration)
	cpu := newCPUWindow(t)
	go cpu.run(r.winStart, r.winEnd, r.stop)

	if cfg.Rate > 0 {
		r.tickets = make(chan time.Time, int(math.Min(cfg.Rate*2, 1e6))+1)
		go r.schedule(cfg.Rate)
	} else if cfg.Outstanding > 0 {
		r.slots = make(chan struct{}, cfg.Outstanding)
	}
	var wg sync.WaitGroup
	for i := range cfg.Lanes {
		ls := &laneStats{byType: map[string]*TypeStats{}, rejected: map[string]int64{}}
		r.lanes = append(r.lanes, ls)
		wg.Add(1)
		go func() { defer wg.Done(); r.lane(ctx, i, batch, ls) }()
	}
	quitProgress, progressDone := make(chan struct{}), make(chan struct{})
	go func() { r.progress(ctx, quitProgress); close(progressDone) }()

	interrupted := false
	select {
	case <-time.After(time.Until(r.winEnd)):
	case <-ctx.Done():
		interrupted = true
	case err := <-obsErr:
		close(r.stop)
		wg.Wait()
		return nil, fmt.Errorf("observer stopped: %w", err)
	}
	close(r.stop)
	wg.Wait()
	if !interrupted {
		deadline := time.Now().Add(cfg.Drain)
		for r.tracked.len() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		interrupted = ctx.Err() != nil
	}
	end := time.Now()
	close(quitProgress)
	<-progressDone
	stopObs()
	<-consumed
	res := r.results(end, cpu)
	res.Interrupted = interrupted
	return res, nil
}

// schedule releases one ticket per 1/rate seconds, stamped with the time it
// was due. A ticket that finds the queue full (every lane busy for two
// seconds' worth of load) is dropped and counted: the generator is the
// bottleneck then.
func (r *runner) schedule(rate float64) {
	interval := time.Duration(float64(time.Second) / rate)
	next := r.start
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-tick.C:
			for !next.After(now) {
				select {
				case r.tickets <- next:
				default:
					r.dropped.Add(1)
				}
				next = next.Add(interval)
			}
		}
	}
}

func (r *runner) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// linger is how long an open-loop batch waits for more due transactions.
const linger = 5 * time.Millisecond

func (r *runner) lane(ctx context.Context, i, batch int, st *laneStats) {
	var pending []*Tx
	backoff := time.Duration(0)
	add := func(due time.Time) {
		tx := r.t.Generator.Next(i, due)
		if tx == nil {
			r.starved.Add(1)
			r.release(1)
			return
		}
		tx.lane = i
		tx.Due = due
		pending = append(pending, tx)
	}
	for {
		if r.stopped() || ctx.Err() != nil {
			for _, tx := range pending {
				r.tracked.take(tx.Hash)
			}
			r.unsent.Add(int64(len(pending)))
			r.release(len(pending))
			return
		}
		if room := batch - len(pending); room > 0 {
			if r.tickets == nil {
				room = r.acquire(room, len(pending) == 0)
				now := time.Now()
				for range room {
					add(now)
				}
			} else {
				r.takeTickets(room, len(pending) == 0, batch > 1, add)
			}
		}
		if len(pending) == 0 {
			continue
		}
		now := time.Now()
		for _, tx := range pending {
			if tx.Sent.IsZero() {
				tx.Sent = now
				if r.tickets == nil {
					tx.Due = now
				}
				r.tracked.add(tx)
				st.typ(tx.Type).Sent++
			}
		}
		r.sent.Add(int64(len(pending)))
		outs, err := r.t.Intake.Submit(ctx, i, pending)
		if err != nil {
			r.errs.Add(1)
			r.sample(err)
			backoff = nextBackoff(backoff)
			r.sleep(backoff)
			continue
		}
		next := pending[:0]
		for j, o := range outs {
			tx := pending[j]
			switch {
			case o.Busy:
				next = append(next, tx)
			case o.Code == 0 || o.Dup:
				r.accepted.Add(1)
				st.typ(tx.Type).Accepted++
			default:
				r.rejected.Add(1)
				st.typ(tx.Type).Rejected++
				r.tracked.take(tx.Hash)
				r.release(1)
				key := codeKey(o.Codespace, o.Code)
				st.rejected[key]++
				if len(st.samples) < 3 {
					st.samples = append(st.samples, fmt.Sprintf("%s %s: %s", tx.Type, key, o.Log))
				}
				r.t.Generator.Rejected(tx)
			}
		}
		clear(pending[len(next):])
		pending = next
		if len(pending) > 0 {
			r.busy.Add(1)
			backoff = nextBackoff(backoff)
			r.sleep(backoff)
		} else {
			backoff = 0
		}
	}
}

// takeTickets adds up to room due transactions: it waits for the first when
// wait is set (the lane has nothing else to do), and lingers briefly for
// more when batching.
func (r *runner) takeTickets(room int, wait, lingerForMore bool, add func(time.Time)) {
	n := 0
	if wait {
		select {
		case due := <-r.tickets:
			add(due)
			n++
		case <-r.stop:
			return
		}
	}
	var deadline <-chan time.Time
	if lingerForMore {
		deadline = time.After(linger)
	}
	for n < room {
		select {
		case due := <-r.tickets:
			add(due)
			n++
			continue
		default:
		}
		if deadline == nil {
			return
		}
		select {
		case due := <-r.tickets:
			add(due)
			n++
		case <-deadline:
			return
		case <-r.stop:
			return
		}
	}
}

// acquire takes up to n outstanding slots, waiting for the first when wait
// is set; without a bound it grants n.
func (r *runner) acquire(n int, wait bool) int {
	if r.slots == nil {
		return n
	}
	got := 0
	if wait {
		select {
		case r.slots <- struct{}{}:
			got++
		case <-r.stop:
			return 0
		}
	}
	for got < n {
		select {
		case r.slots <- struct{}{}:
			got++
		default:
			return got
		}
	}
	return got
}

// release returns n outstanding slots.
func (r *runner) release(n int) {
	if r.slots == nil {
		return
	}
	for range n {
		<-r.slots
	}
}

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 10 * time.Millisecond
	}
	return min(2*d, 200*time.Millisecond)
}

func (r *runner) sleep(d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.stop:
	}
}

func (r *runner) sample(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.errSamples) < 5 {
		r.errSamples = append(r.errSamples, err.Error())
	}
}

func codeKey(space string, code uint32) string {
	if space == "" {
		space = "-"
	}
	return fmt.Sprintf("%s/%d", space, code)
}

// consume matches committed blocks to the transactions sent.
func (r *runner) consume(blocks <-chan *Block) {
	for b := range blocks {
		r.height.Store(b.Height)
		rec := blockRec{height: b.Height, seen: b.Seen, txs: len(b.Txs), bytes: b.NumBytes}
		for i := range b.Txs {
			bt := &b.Txs[i]
			tx, ok := r.tracked.take(bt.Hash)
			if !ok {
				r.foreign++
				continue
			}
			rec.ours++
			r.release(1)
			c := commitRec{due: tx.Due, seen: b.Seen, typ: tx.Type}
			r.committed.Add(1)
			if bt.Code != 0 {
				c.code = codeKey(bt.Codespace, bt.Code)
				r.failed.Add(1)
				r.failedBy[c.code]++
				if len(r.failSamples) < 5 {
					r.failSamples = append(r.failSamples, fmt.Sprintf("%s %s: %s", tx.Type, c.code, bt.Log))
				}
			}
			r.commits = append(r.commits, c)
			r.t.Generator.Committed(tx, bt)
		}
		r.blocks = append(r.blocks, rec)
	}
}

// progress prints a line per second until quit closes, and tracks the
// largest mempool seen.
func (r *runner) progress(ctx context.Context, quit <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastCommitted int64
	for {
		select {
		case <-quit:
			return
		case <-tick.C:
		}
		now := time.Now()
		phase := "measure"
		switch {
		case now.Before(r.winStart):
			phase = "warmup"
		case !now.Before(r.winEnd):
			phase = "drain"
		}
		c := r.committed.Load()
		mp := "?"
		if r.t.Mempool != nil {
			if n, ok := r.t.Mempool(ctx); ok {
				mp = fmt.Sprint(n)
				if int64(n) > r.mempoolMax.Load() {
					r.mempoolMax.Store(int64(n))
				}
			}
		}
		if r.cfg.Progress == nil {
			continue
		}
		fmt.Fprintf(r.cfg.Progress, "[%4.0fs %-7s] sent %d accepted %d rejected %d busy %d errors %d | committed %d (%d/s) failed %d | outstanding %d mempool %s height %d\n",
			now.Sub(r.start).Seconds(), phase, r.sent.Load(), r.accepted.Load(), r.rejected.Load(), r.busy.Load(), r.errs.Load(),
			c, c-lastCommitted, r.failed.Load(), r.tracked.len(), mp, r.height.Load())
		lastCommitted = c
	}
}

func (r *runner) results(end time.Time, cpu *cpuWindow) *Results {
	res := &Results{
		Target:         r.t.Name,
		Intake:         r.t.Intake.Name(),
		WindowStart:    r.winStart,
		WindowSeconds:  r.cfg.Duration.Seconds(),
		Sent:           r.sent.Load(),
		Accepted:       r.accepted.Load(),
		Rejected:       r.rejected.Load(),
		RejectedByCode: map[string]int64{},
		BusyResponses:  r.busy.Load(),
		Errors:         r.errs.Load(),
		ErrorSamples:   r.errSamples,
		Dropped:        r.dropped.Load(),
		Starved:        r.starved.Load(),
		Unsent:         r.unsent.Load(),
		Committed:      r.committed.Load(),
		Failed:         r.failed.Load(),
		FailedByCode:   r.failedBy,
		FailedSamples:  r.failSamples,
		Uncommitted:    int64(r.tracked.len()),
		ForeignTxs:     r.foreign,
		MempoolMax:     int(r.mempoolMax.Load()),
		ByType:         map[string]*TypeStats{},
		DrainSeconds:   end.Sub(r.winEnd).Seconds(),
	}
	for _, ls := range r.lanes {
		for k, n := range ls.rejected {
			res.RejectedByCode[k] += n
		}
		res.RejectedSamples = append(res.RejectedSamples, ls.samples...)
		for t, s := range ls.byType {
			agg := res.ByType[t]
			if agg == nil {
				agg = &TypeStats{}
				res.ByType[t] = agg
			}
			agg.Sent += s.Sent
			agg.Accepted += s.Accepted
			agg.Rejected += s.Rejected
		}
	}
	if len(res.RejectedSamples) > 5 {
		res.RejectedSamples = res.RejectedSamples[:5]
	}
	var lat []time.Duration
	latByType := map[string][]time.Duration{}
	for _, c := range r.commits {
		inWindow := !c.seen.Before(r.winStart) && c.seen.Before(r.winEnd)
		if inWindow {
			res.CommittedInWindow++
		}
		ts := res.ByType[c.typ]
		if ts == nil {
			ts = &TypeStats{}
			res.ByType[c.typ] = ts
		}
		ts.Committed++
		if c.code != "" {
			ts.Failed++
		}
		if inWindow {
			ts.CommittedInWindow++
		}
		if !c.due.Before(r.winStart) && c.due.Before(r.winEnd) {
			d := c.seen.Sub(c.due)
			lat = append(lat, d)
			latByType[c.typ] = append(latByType[c.typ], d)
		}
	}
	for _, t := range slices.Sorted(maps.Keys(latByType)) {
		l := Summarize(latByType[t])
		res.ByType[t].Latency = &l
	}
	res.Latency = Summarize(lat)
	if res.WindowSeconds > 0 {
		res.CommittedTPS = float64(res.CommittedInWindow) / res.WindowSeconds
	}
	res.Blocks = blockStats(r.blocks, r.winStart, r.winEnd)
	res.CPU = cpu.result(r.cfg.Duration)
	return res
}

func blockStats(bs []blockRec, from, to time.Time) BlockStats {
	var s BlockStats
	var first, last time.Time
	var txs, ours, bytes int
	for _, b := range bs {
		if b.seen.Before(from) || !b.seen.Before(to) {
			continue
		}
		if s.Count == 0 {
			first = b.seen
		}
		last = b.seen
		s.Count++
		txs += b.txs
		ours += b.ours
		bytes += b.bytes
		s.MaxTxs = max(s.MaxTxs, b.txs)
	}
	if s.Count > 0 {
		s.MeanTxs = float64(txs) / float64(s.Count)
		s.MeanBytes = float64(bytes) / float64(s.Count)
	}
	if s.Count > 1 {
		s.MeanIntervalMs = ms(last.Sub(first) / time.Duration(s.Count-1))
	}
	return s
}
