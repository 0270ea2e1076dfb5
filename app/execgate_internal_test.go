package app

import (
	"testing"
	"time"
)

// The gate lets intake through at once when no block executes, holds it
// until the executing block ends, and never longer than its bound.
func TestExecGate(t *testing.T) {
	var g execGate

	start := time.Now()
	g.wait(time.Hour)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("idle gate held intake for %v", d)
	}

	g.begin()
	g.begin() // FinalizeBlock again before Commit (a replayed height): still one block
	released := make(chan time.Duration)
	go func() {
		s := time.Now()
		g.wait(time.Hour)
		released <- time.Since(s)
	}()
	select {
	case d := <-released:
		t.Fatalf("intake went on after %v while the block executed", d)
	case <-time.After(150 * time.Millisecond):
	}
	g.end()
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("intake still held after the block ended")
	}

	g.begin()
	start = time.Now()
	g.wait(50 * time.Millisecond)
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Fatalf("a block that does not end held intake for %v, want the 50ms bound", d)
	}
	g.end()
	g.end() // a Commit without FinalizeBlock (never in ABCI 2.0) changes nothing
	start = time.Now()
	g.wait(time.Hour)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("gate held intake for %v after the block ended", d)
	}
}
