package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/medchain/medchain/internal/api"
)

// Transactions submitted one per request (POST /v1/txs, the gateway's
// audit events) enter the mempool the way a batch does: requests that
// arrive while a batch is being checked wait together and go in as the
// next batch. Their signatures are then checked as a batch (about half the
// CPU of checking each alone; see linger below), decoding and hashing happen once, outside
// the submission lock, and the mempool takes them as bundles, not one
// CometBFT transaction each. A request alone on an idle node is a batch of
// one and waits for nothing.
//
// Each request's answer is its own item of the batch's answer, exactly as
// POST /v1/txs/batch would give it; Submit turns the item back into
// Submit's answer (a code, or ErrDuplicate or ErrBusy).

// maxCoalesced bounds a batch formed from single submissions, as the API
// bounds POST /v1/txs/batch.
const maxCoalesced = 1000

// Under a steady stream of requests a batch would otherwise hold only the
// one or two that arrived while the last was checked, and a batch of one
// is checked alone. So while requests arrive faster than one per
// linger/lingerExpect on average, the drainer waits up to linger for
// lingerBatch of them before it checks a batch. A request on a quiet node
// never waits.
const (
	linger       = 2 * time.Millisecond
	lingerExpect = 4  // requests expected within linger before waiting pays
	lingerBatch  = 64 // a batch this large is checked at once
)

type pendingSubmit struct {
	tx   []byte
	done chan submitAnswer // buffered: the drainer never blocks on it
}

type submitAnswer struct {
	item api.BatchItem
	err  error
}

type coalescer struct {
	mu       sync.Mutex
	queue    []*pendingSubmit
	draining bool
	last     time.Time     // the last request's arrival
	gap      time.Duration // moving average of the time between arrivals
	full     chan struct{} // a lingering drainer's wake-up: lingerBatch queued
	lingered int           // how many batches waited for company
	closed   bool          // the node is stopping: nothing more is submitted
	drainers sync.WaitGroup
	submit   func(context.Context, [][]byte) ([]api.BatchItem, error)
}

// do submits tx with the batch being gathered and returns its item, or ctx's
// error if ctx ends first (the transaction may still be submitted then, as
// a single CheckTx abandoned by its caller could be).
func (c *coalescer) do(ctx context.Context, tx []byte) (api.BatchItem, error) {
	p := &pendingSubmit{tx: tx, done: make(chan submitAnswer, 1)}
	now := time.Now()
	c.mu.Lock()
	if c.full == nil {
		c.full = make(chan struct{}, 1)
		c.gap = time.Second
	}
	c.gap += (min(now.Sub(c.last), time.Second) - c.gap) / 8
	c.last = now
	if c.closed {
		c.mu.Unlock()
		return api.BatchItem{}, fmt.Errorf("%w: the node is stopping", api.ErrBusy)
	}
	c.queue = append(c.queue, p)
	if len(c.queue) == lingerBatch {
		select {
		case c.full <- struct{}{}:
		default:
		}
	}
	if !c.draining {
		c.draining = true
		c.drainers.Add(1)
		go c.drain()
	}
	c.mu.Unlock()
	select {
	case a := <-p.done:
		return a.item, a.err
	case <-ctx.Done():
		select { // an answer that arrived together with the deadline wins
		case a := <-p.done:
			return a.item, a.err
		default:
			return api.BatchItem{}, ctx.Err()
		}
	}
}

// drain submits the queue batch by batch until it is empty. One drainer
// runs at a time, so batches enter the mempool in the order their requests
// arrived.
func (c *coalescer) drain() {
	defer c.drainers.Done()
	for {
		c.mu.Lock()
		if len(c.queue) < lingerBatch && c.gap*lingerExpect < linger {
			select { // a wake-up left from an earlier batch
			case <-c.full:
			default:
			}
			c.lingered++
			c.mu.Unlock()
			t := time.NewTimer(linger)
			select {
			case <-t.C:
			case <-c.full:
				t.Stop()
			}
			c.mu.Lock()
		}
		n := min(len(c.queue), maxCoalesced)
		if n == 0 {
			c.draining = false
			c.mu.Unlock()
			return
		}
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		if len(c.queue) == 0 {
			c.queue = nil // let the old backing array go
		}
		c.mu.Unlock()

		txs := make([][]byte, len(batch))
		for i, p := range batch {
			txs[i] = p.tx
		}
		// The batch is everyone's: no one caller's deadline may end it.
		items, err := c.submit(context.Background(), txs)
		for i, p := range batch {
			if err != nil {
				p.done <- submitAnswer{err: err}
			} else {
				p.done <- submitAnswer{item: items[i]}
			}
		}
	}
}

// close submits what is queued, refuses what comes after, and returns once
// nothing is being submitted: the node stops its mempool and state next.
func (c *coalescer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.drainers.Wait()
}
