package node

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// cmtLogger adapts slog to CometBFT's logger interface. CometBFT's info level
// is chatty (every block, every peer message); it is logged at debug unless
// it reports a problem. Once the node is stopping, the errors CometBFT logs
// because its own listeners were closed are the stop, not a problem: they
// are logged at info, so that a clean stop logs no ERROR line.
type cmtLogger struct {
	l        *slog.Logger
	stopping *atomic.Bool // nil: never stopping
	// failed, when set, is told of CometBFT's "CONSENSUS FAILURE!!!" with
	// the error it logs (failure.go).
	failed func(err any)
}

var _ cmtlog.Logger = cmtLogger{}

func (c cmtLogger) Debug(msg string, kv ...any) {
	c.l.Log(context.Background(), slog.LevelDebug-4, msg, kv...)
}
func (c cmtLogger) Info(msg string, kv ...any) { c.l.Debug(msg, kv...) }
func (c cmtLogger) Warn(msg string, kv ...any) { c.l.Warn(msg, kv...) }
func (c cmtLogger) Error(msg string, kv ...any) {
	if c.stopping != nil && c.stopping.Load() && closedByStop(msg, kv) {
		c.l.Info(msg, kv...)
		return
	}
	c.l.Error(msg, kv...)
	if c.failed == nil {
		return
	}
	if msg == consensusFailureMsg || walFailureMsgs[msg] && (c.stopping == nil || !c.stopping.Load()) {
		c.failed(kvValue(kv, "err"))
	}
}

// walFailureMsgs are the errors CometBFT logs when a write to its
// consensus WAL fails, after which it carries on. The WAL writes through a
// bufio.Writer whose first error is sticky: one failed write (a full disk)
// and every later one fails too, even once space is freed, so the validator
// can no longer sign a vote ("failed signing vote") but keeps running — a
// node that looks up and never votes again. With one validator of four
// already out, that halts the chain (docs/chaos.md, 1-hour run). The node
// treats them as a consensus failure: it exits, and on restart CometBFT
// opens the WAL afresh, repairs it and catches up.
var walFailureMsgs = map[string]bool{
	"failed writing to WAL": true,
	"Error writing msg to consensus wal. WARNING: recover may not be possible for the current height": true,
	"Periodic WAL flush failed":   true,
	"failed flushing WAL to disk": true,
}

func kvValue(kv []any, key string) any {
	for i := 0; i+1 < len(kv); i += 2 {
		if k, _ := kv[i].(string); k == key {
			return kv[i+1]
		}
	}
	return nil
}
func (c cmtLogger) With(kv ...any) cmtlog.Logger {
	return cmtLogger{l: c.l.With(kv...), stopping: c.stopping, failed: c.failed}
}

// stopMessages are CometBFT errors that its own shutdown causes: the p2p
// transport's accept loop ending, a peer that dialled in during the stop,
// peers torn down with the switch, and the block-sync pool that was already
// stopped when the node switched to consensus.
var stopMessages = map[string]bool{
	"Stopped accept routine, as transport is closed": true,
	"Won't start a peer - switch is not running":     true,
	"Stopping peer for error":                        true,
	"Error stopping pool":                            true,
}

// closedByStop reports whether a CometBFT error, logged while the node is
// stopping, is what the stop causes: one of stopMessages, or an error that
// is net.ErrClosed (an RPC server's Serve on its closed listener).
func closedByStop(msg string, kv []any) bool {
	if stopMessages[msg] {
		return true
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if k, _ := kv[i].(string); k == "err" {
			if strings.Contains(fmt.Sprint(kv[i+1]), "use of closed network connection") {
				return true
			}
		}
	}
	return false
}
