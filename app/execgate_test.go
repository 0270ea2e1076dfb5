package app_test

import (
	"context"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/sm"
)

// The node's intake waits while a block executes (from FinalizeBlock to the
// end of Commit), for a bounded time; a peer's bundle, which CometBFT checks
// holding the mempool lock its commit needs, never waits.
func TestIntakeGivesWayToTheBlock(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t)
	ctx := context.Background()
	mp := h.App.Mempool()
	timed := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	if d := timed(mp.AwaitBlock); d > 100*time.Millisecond {
		t.Fatalf("intake waited %v with no block executing", d)
	}

	height, at := h.Height+1, h.NextTime()
	if _, err := h.App.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: height, Time: at}); err != nil {
		t.Fatal(err)
	}
	if d := timed(mp.AwaitBlock); d < 200*time.Millisecond || d > 5*time.Second {
		t.Fatalf("intake waited %v while a block executed, want its bound (250ms)", d)
	}
	p1 := k(apptest.Patient1)
	bundle := sm.EncodeBundle([][]byte{h.Sign(p1, guardianMsg(apptest.Patient2))})
	var r *abci.ResponseCheckTx
	if d := timed(func() { r = h.Check(t, bundle) }); d > 100*time.Millisecond {
		t.Fatalf("a peer's bundle waited %v for the executing block", d)
	}
	wantCode(t, "a peer's bundle during a block", r, nil)

	released := make(chan time.Duration, 1)
	go func() { released <- timed(mp.AwaitBlock) }()
	time.Sleep(20 * time.Millisecond)
	if _, err := h.App.Commit(ctx, &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	h.Height, h.Time = height, at
	if d := <-released; d > 200*time.Millisecond {
		t.Fatalf("intake waited %v: Commit did not let it go", d)
	}
	if d := timed(mp.AwaitBlock); d > 100*time.Millisecond {
		t.Fatalf("intake waited %v after the block committed", d)
	}
	h.DeliverOK(t)
}
