package exec

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// Execution chooses how DeliverBlock runs a block's transactions. Serial
// execution is the reference: parallel execution gives the same results,
// events, writes and app hash on any number of workers, or it is a bug.
type Execution struct {
	// Workers is the number of goroutines that execute transactions
	// speculatively; 0 executes serially on the caller's goroutine.
	Workers int
	// MinTxs is the smallest block executed in parallel (0: DefaultMinTxs);
	// smaller ones run serially, where starting workers costs more than
	// they save.
	MinTxs int
}

// DefaultMinTxs is the smallest block executed in parallel by default.
const DefaultMinTxs = 32

// Serial is the reference execution: one transaction after another.
var Serial = Execution{}

// Parallel executes with workers speculative workers beside the
// committer (which executes too while it waits for them); 0 or less means
// one per core (runtime.GOMAXPROCS), which measured best on two cores
// (docs/performance.md, "Parallel execution").
func Parallel(workers int) Execution {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return Execution{Workers: workers}
}

// SetExecution sets how blocks run; call it before the core executes one.
func (c *Core) SetExecution(e Execution) { c.execution = e }

// Execution reports how blocks run.
func (c *Core) Execution() Execution { return c.execution }

func (e Execution) parallel(txs int) bool {
	min := e.MinTxs
	if min <= 0 {
		min = DefaultMinTxs
	}
	return e.Workers > 0 && txs >= min
}

// specResult is one speculative execution: the result, its writes, the
// validator updates it made, and what it read.
type specResult struct {
	res    TxResult
	writes []store.Write
	valset []sm.ValidatorUpdate
	reads  readLog
	broken bool // it panicked: only a run on the committed state counts
}

// deliverParallel runs the block's transactions optimistically, Block-STM
// style but with one committer: workers execute transactions ahead of the
// commit point, each over a private cache on the state the transactions
// committed so far left, logging every key and range it read. The
// committer (the caller's goroutine) takes them in block order; a
// transaction whose reads all still return what it saw is committed as
// executed (executing it now would do exactly the same: the handlers are
// deterministic functions of what they read and the block context); any
// other is executed again on the committed state, which is what serial
// execution does. A transaction no worker has started yet the committer
// claims and executes itself, on the committed state: it never waits for
// a worker, so parallel execution is never much slower than serial.
// Conflicts are therefore never assumed away: a shared counter (a next-id
// key, the fee pool, a patient's audit sequence) simply makes the later of
// two transactions run again.
//
// block holds BeginBlock's writes over a gate on the state; on return it
// holds every transaction's writes, as serial execution leaves it. It
// returns how many speculative executions were discarded.
func (c *Core) deliverParallel(ctx sm.Context, block *store.Cache, flat []BlockTx, out []TxResult) (reexecuted int) {
	n := len(flat)
	workers := c.execution.Workers
	// window bounds how far ahead of the commit point a transaction may be
	// executed: further ahead, it sees an older state and conflicts more.
	window := 4 * workers
	s := &shared{block: block, marks: map[string]int{}}
	results := make([]specResult, n)
	claims := make([]atomic.Int32, n) // 0 free, 1 a worker's, 2 the committer's
	ready := make([]chan struct{}, n)
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	var (
		next    atomic.Int64
		wmu     sync.Mutex
		wcond   = sync.NewCond(&wmu)
		done    int // committed, under wmu
		waiting int
		stop    bool
		wg      sync.WaitGroup
	)
	// take hands out the next transaction to execute speculatively, if
	// it is below limit.
	take := func(limit int) int {
		for {
			cur := next.Load()
			if int(cur) >= min(limit, n) {
				return -1
			}
			if next.CompareAndSwap(cur, cur+1) {
				return int(cur)
			}
		}
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				wmu.Lock()
				for !stop && int(next.Load()) < n && int(next.Load()) >= done+window {
					waiting++
					wcond.Wait()
					waiting--
				}
				limit, quit := done+window, stop || int(next.Load()) >= n
				wmu.Unlock()
				if quit {
					return
				}
				if i := take(limit); i >= 0 && claims[i].CompareAndSwap(0, 1) {
					c.speculate(ctx, s, &flat[i], i, &results[i])
					close(ready[i])
				}
			}
		}()
	}
	defer func() {
		// Stop the workers, also when the committer panics (a store
		// fault); they finish the transaction they run.
		wmu.Lock()
		stop = true
		wcond.Broadcast()
		wmu.Unlock()
		wg.Wait()
	}()
	for i := range n {
		r := &results[i]
		if claims[i].CompareAndSwap(0, 2) {
			// No worker started it: execute it here, on the committed
			// state, and let the workers skip past it.
			for cur := next.Load(); int(cur) <= i && !next.CompareAndSwap(cur, int64(i+1)); cur = next.Load() {
			}
			c.direct(ctx, s, &flat[i], i, r)
		} else {
			c.await(ctx, s, flat, results, claims, ready, i, func() int { return take(i + window) })
			if r.broken || !s.valid(&r.reads) {
				c.direct(ctx, s, &flat[i], i, r)
				reexecuted++
			}
		}
		s.apply(i, r.writes)
		for _, u := range r.valset {
			ctx.Valset.Set(u.PubKey, u.Power)
		}
		out[i] = r.res
		*r = specResult{}
		wmu.Lock()
		done = i + 1
		if waiting > 0 {
			wcond.Broadcast()
		}
		wmu.Unlock()
	}
	return reexecuted
}

// await waits for a worker to finish transaction i, executing later
// transactions speculatively meanwhile, as a worker would: the committer's
// core is not left idle.
func (c *Core) await(ctx sm.Context, s *shared, flat []BlockTx, results []specResult, claims []atomic.Int32, ready []chan struct{}, i int, take func() int) {
	for {
		select {
		case <-ready[i]:
			return
		default:
		}
		j := take()
		if j < 0 {
			<-ready[i]
			return
		}
		if claims[j].CompareAndSwap(0, 1) {
			c.speculate(ctx, s, &flat[j], j, &results[j])
			close(ready[j])
		}
	}
}

// speculate executes transaction i over a private cache of the shared
// state, recording its reads. A panic (a state the serial order would
// never show it, or a fault that will recur when the committer runs it
// again) marks it broken.
func (c *Core) speculate(ctx sm.Context, s *shared, bt *BlockTx, i int, r *specResult) {
	defer func() {
		if recover() != nil {
			*r = specResult{broken: true}
		}
	}()
	r.reads.gets = make([]getRead, 0, 32)
	rec := &recorder{s: s, log: &r.reads}
	c.run(ctx, store.NewCache(rec), bt, i, r)
}

// direct executes transaction i on the committed state, as serial
// execution does, writing straight into it (see directKV).
func (c *Core) direct(ctx sm.Context, s *shared, bt *BlockTx, i int, r *specResult) {
	*r = specResult{}
	valset := &sm.ValidatorUpdates{}
	ctx.Store, ctx.Valset = directKV{s: s, tx: i}, valset
	r.res = c.deliverTx(ctx, bt, i)
	r.valset = valset.List()
}

// directKV is the committed state as the committer sees it while it
// executes a transaction itself: it reads without a lock (it is the only
// writer) and writes under the lock, marking each key as the
// transaction's. A worker that reads a key the transaction is writing sees
// a value that validation compares with the final one.
type directKV struct {
	s  *shared
	tx int
}

func (d directKV) Get(key []byte) []byte { return d.s.block.Get(key) }

func (d directKV) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	d.s.block.Iterate(start, end, fn)
}

func (d directKV) Set(key, value []byte) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	d.s.block.Set(key, value)
	d.s.marks[string(key)] = d.tx
}

func (d directKV) Delete(key []byte) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	d.s.block.Delete(key)
	d.s.marks[string(key)] = d.tx
}

func (c *Core) run(ctx sm.Context, tx *store.Cache, bt *BlockTx, i int, r *specResult) {
	valset := &sm.ValidatorUpdates{}
	ctx.Store, ctx.Valset = tx, valset
	r.res = c.deliverTx(ctx, bt, i)
	r.valset = valset.List()
	r.writes = make([]store.Write, 0, tx.Len())
	tx.Ascend(nil, func(w store.Write) bool {
		r.writes = append(r.writes, w)
		return true
	})
}
