package node

import (
	"bytes"
	"errors"
	"log/slog"
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
