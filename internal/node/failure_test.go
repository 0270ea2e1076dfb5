package node

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
)

// TestConsensusFailureIsReported: CometBFT's "CONSENSUS FAILURE!!!" (its
// consensus routine's recovered panic, e.g. on a full disk) reaches the
// node's failure hook with the error, through loggers made by With; other
// errors do not.
func TestConsensusFailureIsReported(t *testing.T) {
	var buf bytes.Buffer
	var got []any
	l := cmtLogger{l: slog.New(slog.NewTextHandler(&buf, nil)), failed: func(err any) { got = append(got, err) }}.With("module", "consensus")
	l.Error("Stopping peer for error", "err", errors.New("EOF"))
	if len(got) != 0 {
		t.Fatalf("an ordinary error reported as a consensus failure: %v", got)
	}
	full := errors.New("write data/x: no space left on device")
	l.Error(consensusFailureMsg, "err", full, "stack", "goroutine 1")
	if len(got) != 1 || got[0] != full {
		t.Fatalf("consensus failure reported as %v, want [%v]", got, full)
	}
}

// TestWALFailureIsReported: a failed write to CometBFT's consensus WAL,
// which CometBFT logs and carries on from (its writer's error is sticky: the
// validator never signs a vote again), is reported as a consensus failure,
// except while the node is stopping.
func TestWALFailureIsReported(t *testing.T) {
	var got []any
	var stopping atomic.Bool
	l := cmtLogger{l: slog.New(slog.NewTextHandler(io.Discard, nil)), stopping: &stopping, failed: func(err any) { got = append(got, err) }}.With("module", "consensus")
	full := errors.New("write data/cs.wal/wal: no space left on device")
	l.Error("failed signing vote", "height", 7, "err", full) // follows a WAL failure; not one itself
	if len(got) != 0 {
		t.Fatalf("reported: %v", got)
	}
	for _, msg := range []string{"failed writing to WAL", "Periodic WAL flush failed",
		"Error writing msg to consensus wal. WARNING: recover may not be possible for the current height"} {
		l.Error(msg, "err", full)
	}
	if len(got) != 3 || got[0] != full {
		t.Fatalf("WAL failures reported as %v, want 3 × %v", got, full)
	}
	stopping.Store(true)
	l.Error("failed writing to WAL", "err", errors.New("file already closed"))
	if len(got) != 3 {
		t.Fatalf("a WAL error during the stop reported: %v", got)
	}
}
