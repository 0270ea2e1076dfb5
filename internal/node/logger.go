package node

import (
	"context"
	"log/slog"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// cmtLogger adapts slog to CometBFT's logger interface. CometBFT's info level
// is chatty (every block, every peer message); it is logged at debug unless
// it reports a problem.
type cmtLogger struct{ l *slog.Logger }

var _ cmtlog.Logger = cmtLogger{}

func (c cmtLogger) Debug(msg string, kv ...any) {
	c.l.Log(context.Background(), slog.LevelDebug-4, msg, kv...)
}
func (c cmtLogger) Info(msg string, kv ...any)  { c.l.Debug(msg, kv...) }
func (c cmtLogger) Warn(msg string, kv ...any)  { c.l.Warn(msg, kv...) }
func (c cmtLogger) Error(msg string, kv ...any) { c.l.Error(msg, kv...) }
func (c cmtLogger) With(kv ...any) cmtlog.Logger {
	return cmtLogger{c.l.With(kv...)}
}
