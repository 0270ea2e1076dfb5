package node

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/internal/config"
)

// ExitUpgradeNeeded is the exit code of a node that stopped at an approved
// upgrade's height because its binary has no migration for it (or the
// migration failed). A supervisor can tell it from a crash (2, a Go panic)
// and from an error at start (1).
const ExitUpgradeNeeded = 3

// UpgradeInfoFile is written under the data directory when the node stops
// at an upgrade: the plan's name, height and info, for operators and
// supervisors.
const UpgradeInfoFile = "upgrade-info.json"

// Option configures New.
type Option func(*Node)

// WithUpgrades sets the migrations the node runs (default app.Registered).
func WithUpgrades(u app.Upgrades) Option { return func(n *Node) { n.upgrades = u } }

// WithHaltExit makes the node end the process with exit(ExitUpgradeNeeded)
// when it stops at an upgrade, from inside the refused block, after the
// API has drained. Without it the node only stops consensus and closes
// Halted (tests). A process must exit: CometBFT's block sync panics when
// the application refuses a block, and consensus would otherwise sit
// stopped.
func WithHaltExit(exit func(code int)) Option { return func(n *Node) { n.haltExit = exit } }

// Halted is closed when the node stops at an upgrade; HaltReason says why.
func (n *Node) Halted() <-chan struct{} { return n.halted }

// HaltReason is the upgrade halt, or nil.
func (n *Node) HaltReason() *app.UpgradeHalt { return n.app.Halted() }

// upgradeInfo is the JSON of UpgradeInfoFile.
type upgradeInfo struct {
	Name   string `json:"name"`
	Height int64  `json:"height"`
	Info   string `json:"info"`
	Reason string `json:"reason"`
}

// onUpgradeHalt runs inside FinalizeBlock (app.Options.OnHalt) when the app
// refuses the block at an upgrade's height. The state of that height is
// not written; the block stays in the block store, so that the next binary
// executes it.
func (n *Node) onUpgradeHalt(h *app.UpgradeHalt) {
	n.log.Error("stopping at an approved upgrade", "upgrade", h.Plan.Name, "height", h.Height,
		"info", h.Plan.Info, "reason", h.Error(), "exit_code", ExitUpgradeNeeded)
	b, _ := json.MarshalIndent(upgradeInfo{Name: h.Plan.Name, Height: h.Plan.Height, Info: h.Plan.Info, Reason: h.Error()}, "", "  ")
	if err := os.WriteFile(filepath.Join(config.DataDir(n.home), UpgradeInfoFile), append(b, '\n'), 0o600); err != nil {
		n.log.Error("write upgrade info", "err", err)
	}
	n.haltOnce.Do(func() { close(n.halted) })
	if n.haltExit == nil {
		return
	}
	n.log.Info("stopped at the upgrade height; install the release with this upgrade and start again",
		"upgrade", h.Plan.Name, "height", h.Height)
	n.exitHalted(ExitUpgradeNeeded)
}

// exitHalted drains the API, stops the background work, closes the audit
// outbox and exits with code. The state database is not closed: CometBFT's
// goroutines may still read snapshots, every committed version is already
// synced, and CometBFT's WAL replays the rest at the next start.
func (n *Node) exitHalted(code int) {
	n.stopping.Store(true)
	if n.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_ = n.api.Shutdown(ctx)
		cancel()
	}
	if n.stopBg != nil {
		n.stopBg()
		n.bg.Wait()
	}
	if n.outbox != nil {
		_ = n.outbox.Close()
	}
	n.haltExit(code)
}
