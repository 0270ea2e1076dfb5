package staking

import (
	"math/big"
	"slices"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/gov"
)

// Dust is the part of earlier blocks' rewards not yet divided among
// validators (in RewardsPool), carried into the next block's division.
func Dust(kv store.Reader) uint64 {
	if b := kv.Get(keyDust); len(b) == 8 {
		return beUint(b)
	}
	return 0
}

func setDust(kv store.KV, v uint64) {
	if v == 0 {
		kv.Delete(keyDust)
		return
	}
	kv.Set(keyDust, be64(nil, v))
}

// collect moves the block's provision and the collected fees into
// RewardsPool and returns what there is to divide, dust included.
func collect(kv store.KV) uint64 {
	total := Dust(kv)
	// The fees go to the validators: a transfer from the fee pool.
	total += bank.TakeFees(kv, RewardsPool)
	if prov := bank.PoolBalance(kv, ProvisionPool); prov > 0 {
		store.Check(bank.Send(kv, ProvisionPool, RewardsPool, prov))
		total += prov
	}
	return total
}

type weighted struct {
	pub    crypto.PubKey
	weight uint64
}

// weights are the validators that signed the last commit and their power as
// CometBFT counted it. Without a last commit (the first block, or a harness)
// the approved unjailed validators weigh by their consensus power.
func (k Keeper) weights(kv store.Reader, info sm.BlockInfo) []weighted {
	known := consKeys(kv)
	var out []weighted
	for _, vote := range info.LastCommit {
		pub, ok := known[vote.Validator]
		if !ok || !vote.Signed || vote.Power <= 0 {
			continue
		}
		out = append(out, weighted{pub, uint64(vote.Power)})
	}
	if len(info.LastCommit) == 0 {
		for _, gv := range gov.Validators(kv) {
			v, _ := k.load(kv, gv.PubKey)
			if p := k.ConsensusPower(kv, v, gv); p > 0 {
				out = append(out, weighted{gv.PubKey, uint64(p)})
			}
		}
	}
	slices.SortFunc(out, func(a, b weighted) int { return slices.Compare(a.pub[:], b.pub[:]) })
	return out
}

// consKeys maps the consensus addresses of every validator staking or
// governance knows to their keys.
func consKeys(kv store.Reader) map[sm.ConsAddress]crypto.PubKey {
	m := map[sm.ConsAddress]crypto.PubKey{}
	for _, gv := range gov.Validators(kv) {
		m[ConsAddress(gv.PubKey)] = gv.PubKey
	}
	for _, v := range Validators(kv) {
		m[ConsAddress(v.PubKey)] = v.PubKey
	}
	return m
}

// distribute divides the block's rewards: by weight among the validators
// (floor, the remainder carried as dust), then per validator the
// commission (floor of rate) and the delegators' part.
func (k Keeper) distribute(ctx sm.Context, info sm.BlockInfo) {
	total := collect(ctx.Store)
	if total == 0 {
		return
	}
	ws := k.weights(ctx.Store, info)
	var sum uint64
	for _, w := range ws {
		sum += w.weight // powers are bounded by MaxPower: no overflow
	}
	if sum == 0 {
		setDust(ctx.Store, total)
		return
	}
	left := total
	for _, w := range ws {
		share, _ := mulDiv(total, w.weight, sum) // weight ≤ sum: fits
		if share == 0 {
			continue
		}
		left -= share
		k.allocate(ctx, w.pub, share)
	}
	setDust(ctx.Store, left)
}

// allocate credits one validator's share of a block.
func (k Keeper) allocate(ctx sm.Context, pub crypto.PubKey, reward uint64) {
	v, _ := k.load(ctx.Store, pub)
	commission, _ := mulDiv(reward, v.Commission, 10_000)
	toDelegators := reward - commission
	if v.Shares == 0 {
		// No delegators: the operator's node earned it all, and any carry
		// left by departed delegators that has grown into whole units.
		commission, toDelegators = reward, 0
		if v.RewardCarry.Cmp(Scale) >= 0 {
			units, rest := new(big.Int).QuoRem(v.RewardCarry, Scale, new(big.Int))
			commission += units.Uint64()
			v.RewardCarry = rest
		}
	}
	v.CommissionPending += commission
	v.PeriodReward += toDelegators // bounded by the supply
	putValidator(ctx.Store, v)
	k.recordRevenue(ctx, v.Org, reward, commission)
	ctx.Events.Emit("validator_reward", sm.Attr{Key: "validator", Value: pub.String()}, sm.Attr{Key: "org", Value: v.Org},
		sm.Attr{Key: "height", Value: strconv.FormatInt(ctx.Height, 10)}, sm.Attr{Key: "reward", Value: u64(reward)}, sm.Attr{Key: "commission", Value: u64(commission)})
}

// recordRevenue adds a block's earnings to the organization's day (proven
// state) and block (index, the last ParamRevenueBlocks blocks) figures.
func (k Keeper) recordRevenue(ctx sm.Context, org string, reward, commission uint64) {
	add := func(key []byte) {
		r := &Revenue{}
		if b := ctx.Store.Get(key); b != nil {
			var err error
			r, err = DecodeRevenue(b)
			store.Check(err)
		}
		r.Rewards += reward
		r.Commission += commission
		ctx.Store.Set(key, codec.Marshal(r))
	}
	day := ctx.Time.Unix() / 86400
	dayKey := revenueDayKey(org, day)
	blockKey := revenueBlockKey(org, ctx.Height)
	newBlock := ctx.Store.Get(blockKey) == nil
	add(dayKey)
	add(blockKey)
	if newBlock {
		// Blocks counts blocks, not validators: an org with two validators
		// earns once per block.
		for _, key := range [][]byte{dayKey, blockKey} {
			r, err := DecodeRevenue(ctx.Store.Get(key))
			store.Check(err)
			r.Blocks++
			ctx.Store.Set(key, codec.Marshal(r))
		}
		// Prune per-block figures beyond the history kept.
		if keep := int64(k.Params.Get(ctx.Store, ParamRevenueBlocks)); ctx.Height > keep {
			lo := revenueBlockKey(org, 0)
			hi := revenueBlockKey(org, ctx.Height-keep+1)
			var old [][]byte
			ctx.Store.Iterate(lo, hi, func(key, _ []byte) bool {
				old = append(old, slices.Clone(key))
				return true
			})
			for _, key := range old {
				ctx.Store.Delete(key)
			}
		}
	}
}

// DayRevenue is an organization's revenue on one day.
type DayRevenue struct {
	Day int64 // unix day (seconds / 86400)
	Revenue
}

// BlockRevenue is an organization's revenue in one block.
type BlockRevenue struct {
	Height int64
	Revenue
}

// RevenueByDay lists an organization's daily revenue, oldest first.
func RevenueByDay(kv store.Reader, org string) []DayRevenue {
	var out []DayRevenue
	p := append(append([]byte{prefixRevenueDay}, org...), 0)
	kv.Iterate(p, store.PrefixEnd(p), func(key, b []byte) bool {
		r, err := DecodeRevenue(b)
		store.Check(err)
		out = append(out, DayRevenue{Day: int64(beUint(key[len(p):])), Revenue: *r})
		return true
	})
	return out
}

// RevenueByBlock lists an organization's per-block revenue still kept,
// oldest first.
func RevenueByBlock(kv store.Reader, org string) []BlockRevenue {
	var out []BlockRevenue
	p := append(append([]byte{indexRevenueBlk}, org...), 0)
	kv.Iterate(p, store.PrefixEnd(p), func(key, b []byte) bool {
		r, err := DecodeRevenue(b)
		store.Check(err)
		out = append(out, BlockRevenue{Height: int64(beUint(key[len(p):])), Revenue: *r})
		return true
	})
	return out
}
