package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// SubmitAll submits txs (independent of each other: no two from one
// signer) with lanes parallel submitters, sending busy ones again, and
// waits until obs has seen each committed. A rejected or failed
// transaction, or the timeout, is an error. With window > 0 at most window
// transactions are on their way (submitted, not yet seen in a block) at a
// time, so that no block holds more than window of them: registrations
// are capped per block (accounts.max_self_registrations_per_block).
func SubmitAll(ctx context.Context, in Intake, obs Observer, txs []*Tx, lanes, batch, window int, timeout time.Duration, progress io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h0, err := obs.Height(ctx)
	if err != nil {
		return fmt.Errorf("observer: %w", err)
	}
	tr := newTracker()
	for _, tx := range txs {
		tr.add(tx)
	}
	obsCtx, stopObs := context.WithCancel(ctx)
	defer stopObs()
	blocks := make(chan *Block, 64)
	go func() { _ = obs.Follow(obsCtx, h0+1, blocks); close(blocks) }()

	var failMu sync.Mutex
	var failure error
	fail := func(err error) {
		failMu.Lock()
		if failure == nil {
			failure = err
		}
		failMu.Unlock()
		cancel()
	}
	var committed atomic.Int64
	var tokens chan struct{} // one per transaction that may be on its way
	if window > 0 {
		tokens = make(chan struct{}, window)
		for range window {
			tokens <- struct{}{}
		}
	}
	allIn := make(chan struct{})
	go func() {
		defer close(allIn)
		for b := range blocks {
			for i := range b.Txs {
				bt := &b.Txs[i]
				tx, ok := tr.take(bt.Hash)
				if !ok {
					continue
				}
				if bt.Code != 0 {
					fail(fmt.Errorf("setup %s failed in block %d: code %s: %s", tx.Type, b.Height, codeKey(bt.Codespace, bt.Code), bt.Log))
					return
				}
				committed.Add(1)
				if tokens != nil {
					tokens <- struct{}{}
				}
			}
			if tr.len() == 0 {
				return
			}
		}
	}()

	batch = max(1, min(batch, in.MaxBatch()))
	if window > 0 {
		batch = min(batch, max(1, window/max(lanes, 1)))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for lane := range max(lanes, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := int(next.Add(int64(batch))) - batch
				if lo >= len(txs) {
					return
				}
				pending := txs[lo:min(lo+batch, len(txs))]
				for range pending {
					if tokens == nil {
						break
					}
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}
				backoff := time.Duration(0)
				for len(pending) > 0 && ctx.Err() == nil {
					outs, err := in.Submit(ctx, lane, pending)
					if err != nil {
						fail(fmt.Errorf("setup: submit: %w", err))
						return
					}
					var busy []*Tx
					for j, o := range outs {
						switch {
						case o.Busy:
							busy = append(busy, pending[j])
						case o.Code != 0 && !o.Dup:
							fail(fmt.Errorf("setup %s rejected: code %s: %s", pending[j].Type, codeKey(o.Codespace, o.Code), o.Log))
							return
						}
					}
					pending = busy
					if len(busy) > 0 {
						backoff = nextBackoff(backoff)
						time.Sleep(backoff)
					}
				}
			}
		}()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case <-allIn:
			wg.Wait()
			if failure != nil {
				return failure
			}
			if tr.len() > 0 {
				return fmt.Errorf("setup: %d of %d transactions not committed: %w", tr.len(), len(txs), context.Cause(ctx))
			}
			return nil
		case <-tick.C:
			if progress != nil {
				fmt.Fprintf(progress, "[setup %3.0fs] %d of %d committed\n", time.Since(start).Seconds(), committed.Load(), len(txs))
			}
		case <-ctx.Done():
			wg.Wait()
			<-allIn
			failMu.Lock()
			defer failMu.Unlock()
			if failure != nil {
				return failure
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("setup: %d of %d transactions not committed within %s", tr.len(), len(txs), timeout)
			}
			return ctx.Err()
		}
	}
}
