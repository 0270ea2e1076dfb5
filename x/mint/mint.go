// Package mint creates the validators' block rewards on an inflation
// schedule: at the start of every block it mints
//
//	provision = (supply · mint.inflation_bps + carry) / (10000 · mint.blocks_per_year)
//
// into the provision pool that x/staking divides among the validators in
// the same block, and keeps the remainder as the next block's carry, so
// that no fraction of the smallest unit is ever lost or rounded up: over
// any run of blocks the minted total is exactly the sum of the exact
// rational provisions, floored once. The rate and the blocks per year are
// governance parameters (settable in genesis); rate 0 mints nothing.
// Deterministic; integer arithmetic only; no I/O.
package mint

import (
	"encoding/binary"
	"math/big"
	"strconv"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/params"
)

// Parameters.
const (
	ParamInflationBps  = "mint.inflation_bps"
	ParamBlocksPerYear = "mint.blocks_per_year"
)

// ParamDefs are the parameters mint declares.
var ParamDefs = []params.Def{
	{Name: ParamInflationBps, Default: 0, Min: 0, Max: 10_000, Doc: "annual inflation in basis points of the supply, minted per block as validators' block rewards (0: none)"},
	{Name: ParamBlocksPerYear, Default: 6_311_520, Min: 1, Max: 1 << 32, Doc: "blocks per year the inflation is spread over (6,311,520 = one block per 5 s)"},
}

// ProvisionPool is where each block's provision goes; x/staking
// distributes it (staking.ProvisionPool is the same address).
var ProvisionPool = bank.ModuleAddress("mint", "provision")

var carryKey = []byte{sm.PrefixMint}

// Carry is the remainder of the last provision's division, in units of
// 1/(10000·blocks_per_year) of the smallest unit.
func Carry(kv store.Reader) uint64 {
	if b := kv.Get(carryKey); len(b) == 8 {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// Provision is one block's provision and the carry it leaves.
func Provision(supply, bps, blocksPerYear, carry uint64) (amount, nextCarry uint64) {
	if bps == 0 || blocksPerYear == 0 {
		return 0, 0
	}
	num := new(big.Int).SetUint64(supply)
	num.Mul(num, new(big.Int).SetUint64(bps))
	num.Add(num, new(big.Int).SetUint64(carry))
	den := new(big.Int).SetUint64(10_000)
	den.Mul(den, new(big.Int).SetUint64(blocksPerYear))
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if !q.IsUint64() {
		return ^uint64(0), r.Uint64()
	}
	return q.Uint64(), r.Uint64()
}

// Module mints each block's provision.
type Module struct{ Params *params.Registry }

var (
	_ sm.Module       = Module{}
	_ sm.BeginBlocker = Module{}
)

func (Module) Name() string       { return "mint" }
func (Module) Routes() []sm.Route { return nil }

// BeginBlock mints the block's provision into ProvisionPool. A provision
// that would overflow the supply is not minted (the carry is kept).
func (m Module) BeginBlock(ctx sm.Context, _ sm.BlockInfo) {
	kv := ctx.Store
	bps := m.Params.Get(kv, ParamInflationBps)
	if bps == 0 {
		if kv.Get(carryKey) != nil {
			kv.Delete(carryKey)
		}
		return
	}
	supply := bank.Supply(kv)
	amount, carry := Provision(supply, bps, m.Params.Get(kv, ParamBlocksPerYear), Carry(kv))
	if amount > 0 {
		if err := bank.Mint(kv, ProvisionPool, amount); err != nil {
			return // the supply would overflow 64 bits: mint nothing
		}
		ctx.Events.Emit("mint", sm.Attr{Key: "amount", Value: strconv.FormatUint(amount, 10)}, sm.Attr{Key: "supply", Value: strconv.FormatUint(supply+amount, 10)})
	}
	if carry == 0 {
		if kv.Get(carryKey) != nil {
			kv.Delete(carryKey)
		}
	} else {
		kv.Set(carryKey, binary.BigEndian.AppendUint64(nil, carry))
	}
}
