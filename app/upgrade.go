package app

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/gov"
)

// Migration changes the state when an upgrade's height is reached, before
// the block at that height runs. It writes through kv only, reads nothing
// else and must be deterministic: every validator runs it on the same state.
// An error stops the node (the block is not executed).
type Migration func(kv store.KV, height int64) error

// Upgrades maps an upgrade's name (gov.Plan.Name) to the migration this
// binary runs for it. A binary with no entry for the name of an approved
// plan stops at the plan's height: an operator installs the release that
// has it and starts again.
type Upgrades map[string]Migration

// Names lists the upgrades in name order.
func (u Upgrades) Names() []string { return slices.Sorted(maps.Keys(u)) }

// Registered are the upgrades this release handles, the ones a node runs
// (internal/node). A release that brings a state migration adds it here,
// under the name its governance proposal uses; an upgrade that changes
// the code only registers a migration that does nothing. Entries stay:
// a node replaying old blocks needs them.
var Registered = Upgrades{}

// ErrUpgradeNeeded: an approved upgrade's height is reached and this binary
// has no migration for it. The node must stop; nothing is written for the
// height.
var ErrUpgradeNeeded = errors.New("UPGRADE NEEDED")

// UpgradeHalt describes why FinalizeBlock refused a block at an upgrade's
// height (errors.As on FinalizeBlock's error).
type UpgradeHalt struct {
	Plan   gov.Plan
	Height int64 // the block that was not executed
	Err    error // the migration's error; nil when the binary has no handler
}

func (h *UpgradeHalt) Error() string {
	if h.Err != nil {
		return fmt.Sprintf("upgrade %q at height %d: migration failed: %v", h.Plan.Name, h.Height, h.Err)
	}
	return fmt.Sprintf("%s: upgrade %q approved for height %d; this binary (medchain %s) has no migration for it: "+
		"install the release that does and start again (info: %q)", ErrUpgradeNeeded, h.Plan.Name, h.Plan.Height, SoftVersion, h.Plan.Info)
}

func (h *UpgradeHalt) Unwrap() error {
	if h.Err != nil {
		return h.Err
	}
	return ErrUpgradeNeeded
}

// upgrade runs before the block at height: when an approved plan is due,
// its migration (or a halt). It writes to the working tree only; on a halt
// the working version is discarded, so nothing of the block is kept.
func (a *App) upgrade(height int64) ([]abci.Event, error) {
	plan := gov.PendingUpgrade(a.tree)
	if plan == nil || height < plan.Height {
		return nil, nil
	}
	fn, ok := a.upgrades[plan.Name]
	if !ok {
		return nil, a.halt(&UpgradeHalt{Plan: *plan, Height: height})
	}
	if err := fn(a.tree, height); err != nil {
		a.tree.Rollback()
		return nil, a.halt(&UpgradeHalt{Plan: *plan, Height: height, Err: err})
	}
	gov.MarkUpgradeApplied(a.tree, plan, height)
	a.log.Info("upgrade applied", "name", plan.Name, "height", height)
	return []abci.Event{{Type: "upgrade_applied", Attributes: []abci.EventAttribute{
		{Key: "name", Value: plan.Name}, {Key: "height", Value: strconv.FormatInt(height, 10)},
	}}}, nil
}

func (a *App) halt(h *UpgradeHalt) error {
	a.halted.Store(h)
	a.log.Error(h.Error())
	if a.onHalt != nil {
		a.onHalt(h)
	}
	return h
}

// Halted is the upgrade halt that stopped this app, or nil.
func (a *App) Halted() *UpgradeHalt { return a.halted.Load() }

// Pause holds the consensus connection's state still: no block is finalized
// or committed until resume is called. A backup takes its copies meanwhile.
// It returns the committed height and app hash.
func (a *App) Pause() (height int64, appHash []byte, resume func()) {
	a.mu.Lock()
	return a.tree.Version(), a.tree.Hash(), a.mu.Unlock
}
