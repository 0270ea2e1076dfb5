package gov

import (
	"encoding/binary"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// Upgrade limits.
const (
	MaxUpgradeNameLen = 64
	MaxUpgradeInfoLen = 512
)

// Plan is a software upgrade approved by governance: when the block at
// Height is about to run, a node whose binary registers a migration named
// Name runs it and goes on; any other node stops before executing that
// block (app.Upgrades). Info is free text for operators (where to get the
// release, its checksum).
type Plan struct {
	Name   string
	Height int64
	Info   string
}

func (p *Plan) Encode(w *codec.Writer) {
	w.String(p.Name)
	w.Int(p.Height)
	w.String(p.Info)
}

func readPlan(r *codec.Reader) Plan {
	return Plan{Name: r.String("upgrade.name", MaxUpgradeNameLen), Height: r.Int("upgrade.height"), Info: r.String("upgrade.info", MaxUpgradeInfoLen)}
}

// ValidateUpgradeName checks an upgrade's name: 1 to 64 of a-z, 0-9, '.',
// '_', '-' (it names a migration in binaries and appears in logs and file
// names).
func ValidateUpgradeName(name string) error {
	if name == "" || len(name) > MaxUpgradeNameLen {
		return sm.Wrapf(ErrBadProposal, "upgrade name must be 1 to %d characters", MaxUpgradeNameLen)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return sm.Wrapf(ErrBadProposal, "upgrade name %q: only a-z, 0-9, '.', '_' and '-'", name)
		}
	}
	return nil
}

var upgradePlanKey = []byte{sm.PrefixUpgradePlan}

func upgradeDoneKey(name string) []byte { return append([]byte{sm.PrefixUpgradeDone}, name...) }

// PendingUpgrade is the approved plan awaiting its height, or nil.
func PendingUpgrade(kv store.Reader) *Plan {
	b := kv.Get(upgradePlanKey)
	if b == nil {
		return nil
	}
	r := codec.NewReader(b)
	p := readPlan(r)
	store.Check(r.Done())
	return &p
}

// UpgradeApplied reports the height at which the named upgrade was applied.
func UpgradeApplied(kv store.Reader, name string) (int64, bool) {
	b := kv.Get(upgradeDoneKey(name))
	if len(b) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

// AppliedUpgrade is an upgrade and the height at which it was applied.
type AppliedUpgrade struct {
	Name   string
	Height int64
}

// AppliedUpgrades lists the applied upgrades in name order.
func AppliedUpgrades(kv store.Reader) []AppliedUpgrade {
	var out []AppliedUpgrade
	p := []byte{sm.PrefixUpgradeDone}
	kv.Iterate(p, store.PrefixEnd(p), func(k, v []byte) bool {
		if len(v) == 8 {
			out = append(out, AppliedUpgrade{Name: string(k[1:]), Height: int64(binary.BigEndian.Uint64(v))})
		}
		return true
	})
	return out
}

// MarkUpgradeApplied records that the pending plan ran at height and clears
// it. The app calls it in the block at the plan's height, after the
// migration, before the block's transactions.
func MarkUpgradeApplied(kv store.KV, p *Plan, height int64) {
	kv.Delete(upgradePlanKey)
	kv.Set(upgradeDoneKey(p.Name), binary.BigEndian.AppendUint64(nil, uint64(height)))
}

// scheduleUpgrade executes an approved upgrade proposal.
func scheduleUpgrade(ctx sm.Context, p Plan) error {
	if p.Height <= ctx.Height {
		return sm.Wrapf(ErrUpgradeHeight, "height %d is not after the current block %d", p.Height, ctx.Height)
	}
	if h, ok := UpgradeApplied(ctx.Store, p.Name); ok {
		return sm.Wrapf(ErrUpgradeDone, "%q at height %d", p.Name, h)
	}
	if cur := PendingUpgrade(ctx.Store); cur != nil {
		return sm.Wrapf(ErrUpgradePending, "%q at height %d: cancel it first", cur.Name, cur.Height)
	}
	ctx.Store.Set(upgradePlanKey, codec.Marshal(&p))
	ctx.Events.Emit("upgrade_scheduled", sm.Attr{Key: "name", Value: p.Name}, sm.Attr{Key: "height", Value: strconv.FormatInt(p.Height, 10)})
	return nil
}

// cancelUpgrade executes an approved cancel_upgrade proposal.
func cancelUpgrade(ctx sm.Context, name string) error {
	cur := PendingUpgrade(ctx.Store)
	if cur == nil || cur.Name != name {
		return sm.Wrapf(ErrNoUpgrade, "%q", name)
	}
	ctx.Store.Delete(upgradePlanKey)
	ctx.Events.Emit("upgrade_cancelled", sm.Attr{Key: "name", Value: name}, sm.Attr{Key: "height", Value: strconv.FormatInt(cur.Height, 10)})
	return nil
}
