package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
)

// fakeBatches answers each transaction with an item naming it and the size
// of the batch it went in, and records the batches.
type fakeBatches struct {
	mu      sync.Mutex
	batches [][]string
	fail    error
	slow    time.Duration
}

func (f *fakeBatches) submit(_ context.Context, txs [][]byte) ([]api.BatchItem, error) {
	f.mu.Lock()
	slow := f.slow
	f.mu.Unlock()
	time.Sleep(slow)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	names := make([]string, len(txs))
	out := make([]api.BatchItem, len(txs))
	for i, tx := range txs {
		names[i] = string(tx)
		out[i] = api.BatchItem{Hash: string(tx), Log: fmt.Sprint(len(txs))}
	}
	f.batches = append(f.batches, names)
	return out, nil
}

// Every caller gets its own transaction's item back, whoever it was
// batched with; concurrent callers under a steady stream share batches;
// a lone caller is never kept waiting for company.
func TestCoalescerAnswersEachCaller(t *testing.T) {
	f := &fakeBatches{slow: 200 * time.Microsecond}
	c := &coalescer{submit: f.submit}

	// A lone request on a quiet coalescer goes at once, in a batch of one.
	it, err := c.do(context.Background(), []byte("alone"))
	if err != nil || it.Hash != "alone" || it.Log != "1" {
		t.Fatalf("lone request: %+v, %v", it, err)
	}
	c.mu.Lock()
	if c.lingered != 0 {
		t.Errorf("a lone request waited for company")
	}
	c.mu.Unlock()

	const callers, each = 32, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				tx := fmt.Sprintf("tx-%d-%d", g, i)
				it, err := c.do(context.Background(), []byte(tx))
				if err != nil || it.Hash != tx {
					errs <- fmt.Errorf("%s: got %+v, %v", tx, it, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[string]bool{}
	total, biggest := 0, 0
	for _, b := range f.batches {
		total += len(b)
		biggest = max(biggest, len(b))
		for _, tx := range b {
			if seen[tx] {
				t.Fatalf("%s submitted twice", tx)
			}
			seen[tx] = true
		}
	}
	if total != callers*each+1 {
		t.Fatalf("%d transactions submitted, want %d", total, callers*each+1)
	}
	c.mu.Lock()
	lingered := c.lingered
	c.mu.Unlock()
	if lingered == 0 {
		t.Errorf("a steady stream of requests never waited for company")
	}
	if biggest < 8 || len(f.batches) > total/4 {
		t.Errorf("%d concurrent callers formed %d batches of at most %d: they were not gathered", callers, len(f.batches), biggest)
	}
}

// A batch's failure reaches each of its callers; a caller whose context
// ends first gets its context's error.
func TestCoalescerErrorsAndDeadlines(t *testing.T) {
	boom := errors.New("boom")
	f := &fakeBatches{fail: boom}
	c := &coalescer{submit: f.submit}
	if _, err := c.do(context.Background(), []byte("x")); !errors.Is(err, boom) {
		t.Fatalf("failed batch: %v, want %v", err, boom)
	}

	f.mu.Lock()
	f.fail, f.slow = nil, 200*time.Millisecond
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.do(ctx, []byte("y")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired caller: %v, want the deadline", err)
	}
	// The abandoned transaction was still submitted, and the coalescer
	// serves the next caller.
	f.mu.Lock()
	f.slow = 0
	f.mu.Unlock()
	if it, err := c.do(context.Background(), []byte("z")); err != nil || it.Hash != "z" {
		t.Fatalf("after an abandoned call: %+v, %v", it, err)
	}
}

// Stopping: what is queued is still submitted, close waits for it, and a
// later request is refused as busy (the client sends it again elsewhere or
// later) instead of reaching a stopped mempool.
func TestCoalescerClose(t *testing.T) {
	f := &fakeBatches{slow: 50 * time.Millisecond}
	c := &coalescer{submit: f.submit}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := c.do(ctx, []byte("abandoned")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("abandoned request: %v", err)
	}
	c.close()
	f.mu.Lock()
	n := len(f.batches)
	f.mu.Unlock()
	if n != 1 {
		t.Fatalf("close returned with %d batches submitted, want the abandoned one submitted first", n)
	}
	if _, err := c.do(context.Background(), []byte("late")); !errors.Is(err, api.ErrBusy) {
		t.Fatalf("request after close: %v, want api.ErrBusy", err)
	}
}

func TestHexHashIsUpperHex(t *testing.T) {
	for _, h := range [][32]byte{{}, {0xff, 0x0a, 0xb0}, sha256Of("x")} {
		want := strings.ToUpper(hex.EncodeToString(h[:]))
		if got := hexHash(h); got != want {
			t.Fatalf("hexHash(%x) = %s, want %s", h, got, want)
		}
	}
}

func sha256Of(s string) [32]byte { return sha256.Sum256([]byte(s)) }
