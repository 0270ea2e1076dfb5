package node

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

// TestStopErrorsAreInfo: while the node stops, the errors CometBFT logs
// because of the stop are logged at INFO; the same lines before the stop,
// and any other error during it, stay ERROR.
func TestStopErrorsAreInfo(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		kv       []any
		stopping bool
		want     string
	}{
		{"RPC listener closed by the stop", "Error serving server", []any{"err", errors.New("accept tcp 127.0.0.1:26657: use of closed network connection")}, true, "level=INFO"},
		{"p2p accept loop ends", "Stopped accept routine, as transport is closed", []any{"numPeers", 0}, true, "level=INFO"},
		{"block-sync pool already stopped", "Error stopping pool", []any{"err", errors.New("already stopped")}, true, "level=INFO"},
		{"peer dialled in during the stop", "Won't start a peer - switch is not running", nil, true, "level=INFO"},
		{"peer torn down by the stop", "Stopping peer for error", []any{"err", errors.New("EOF")}, true, "level=INFO"},
		{"peer lost while running", "Stopping peer for error", []any{"err", errors.New("EOF")}, false, "level=ERROR"},
		{"closed listener while running", "Error serving server", []any{"err", errors.New("use of closed network connection")}, false, "level=ERROR"},
		{"another error during the stop", "Failed to write WAL", []any{"err", errors.New("disk full")}, true, "level=ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			var stopping atomic.Bool
			stopping.Store(tt.stopping)
			l := cmtLogger{l: slog.New(slog.NewTextHandler(&buf, nil)), stopping: &stopping}.With("module", "cometbft")
			l.Error(tt.msg, tt.kv...)
			if !strings.Contains(buf.String(), tt.want) {
				t.Fatalf("logged %q, want %s", buf.String(), tt.want)
			}
		})
	}
}
