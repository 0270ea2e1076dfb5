package staking

import (
	"crypto/sha256"
	"math/big"
	"math/bits"
	"slices"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/params"
)

// Keeper reads and writes staking state; the module's handlers and hooks
// are thin wrappers around it.
type Keeper struct{ Params *params.Registry }

// ConsAddress is CometBFT's address of an Ed25519 consensus key.
func ConsAddress(pub crypto.PubKey) sm.ConsAddress {
	h := sha256.Sum256(pub[:])
	var a sm.ConsAddress
	copy(a[:], h[:20])
	return a
}

// GetValidator loads a validator's staking state, or nil when it has none
// yet (approved but never delegated to nor rewarded).
func GetValidator(kv store.Reader, pub crypto.PubKey) *Validator {
	b := kv.Get(validatorKey(pub))
	if b == nil {
		return nil
	}
	v, err := DecodeValidator(b)
	store.Check(err)
	return v
}

func putValidator(kv store.KV, v *Validator) { kv.Set(validatorKey(v.PubKey), codec.Marshal(v)) }

// Validators lists every validator with staking state, in key order.
func Validators(kv store.Reader) []*Validator {
	var out []*Validator
	p := []byte{prefixValidator}
	kv.Iterate(p, store.PrefixEnd(p), func(_, b []byte) bool {
		v, err := DecodeValidator(b)
		store.Check(err)
		out = append(out, v)
		return true
	})
	return out
}

// load returns the staking state of pub and its governance record (nil when
// not approved, or no longer). A validator governance approved that has no
// staking state yet gets a fresh one (not stored until written).
func (k Keeper) load(kv store.Reader, pub crypto.PubKey) (*Validator, *gov.Validator) {
	gv := gov.GetValidator(kv, pub)
	v := GetValidator(kv, pub)
	if v == nil && gv != nil {
		v = k.fresh(kv, gv)
	}
	if v != nil && gv != nil {
		v.Org = gv.Org
	}
	return v, gv
}

func (k Keeper) fresh(kv store.Reader, gv *gov.Validator) *Validator {
	return &Validator{
		PubKey: gv.PubKey, Org: gv.Org,
		Commission:     min(k.Params.Get(kv, ParamDefaultCommission), k.Params.Get(kv, ParamMaxCommission)),
		RewardPerShare: new(big.Int), RewardCarry: new(big.Int),
		Power: gv.Power, // what governance told CometBFT
	}
}

// ConsensusPower is the power v should have: none when jailed or not
// approved, else governance's base power plus bonded tokens per power unit.
func (k Keeper) ConsensusPower(kv store.Reader, v *Validator, gv *gov.Validator) int64 {
	if gv == nil || v.Jailed {
		return 0
	}
	p := uint64(gv.Power) + v.Tokens/k.Params.Get(kv, ParamPowerReduction)
	if p > uint64(MaxPower) {
		return MaxPower
	}
	return int64(p)
}

// Active reports whether a governance-approved validator may hold power
// (it is not jailed). x/gov asks it before removing validators, so that
// the set CometBFT keeps is never empty.
func Active(kv store.Reader, pub crypto.PubKey) bool {
	v := GetValidator(kv, pub)
	return v == nil || !v.Jailed
}

// activeOthers reports whether some approved, unjailed validator other than
// pub remains: jailing pub must not empty CometBFT's set.
func activeOthers(kv store.Reader, pub crypto.PubKey) bool {
	for _, gv := range gov.Validators(kv) {
		if gv.PubKey != pub && Active(kv, gv.PubKey) {
			return true
		}
	}
	return false
}

// mulDiv returns a*b/c rounded down, and false when it does not fit 64 bits.
func mulDiv(a, b, c uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, c)
	return q, true
}

// mulDivUp is mulDiv rounded up.
func mulDivUp(a, b, c uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return 0, false
	}
	q, r := bits.Div64(hi, lo, c)
	if r != 0 {
		if q == ^uint64(0) {
			return 0, false
		}
		q++
	}
	return q, true
}

// GetDelegation loads a delegation, or nil.
func GetDelegation(kv store.Reader, val crypto.PubKey, del crypto.Address) *Delegation {
	b := kv.Get(delegationKey(val, del))
	if b == nil {
		return nil
	}
	d, err := DecodeDelegation(b)
	store.Check(err)
	return d
}

func putDelegation(kv store.KV, val crypto.PubKey, del crypto.Address, d *Delegation) {
	if d.Shares == 0 && d.Unbondings == 0 {
		kv.Delete(delegationKey(val, del))
		kv.Delete(delegatorIndexKey(del, val))
		return
	}
	kv.Set(delegationKey(val, del), codec.Marshal(d))
	kv.Set(delegatorIndexKey(del, val), []byte{1})
}

// DelegationsOf lists the validators an account delegates to (or has
// unbonding entries from), in key order.
func DelegationsOf(kv store.Reader, del crypto.Address) []crypto.PubKey {
	var out []crypto.PubKey
	p := append([]byte{indexDelegator}, del[:]...)
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		var pub crypto.PubKey
		copy(pub[:], k[len(p):])
		out = append(out, pub)
		return true
	})
	return out
}

// DelegationsTo lists a validator's delegators and their delegations.
func DelegationsTo(kv store.Reader, val crypto.PubKey) ([]crypto.Address, []*Delegation) {
	var addrs []crypto.Address
	var dels []*Delegation
	p := append([]byte{prefixDelegation}, val[:]...)
	kv.Iterate(p, store.PrefixEnd(p), func(k, b []byte) bool {
		var a crypto.Address
		copy(a[:], k[len(p):])
		d, err := DecodeDelegation(b)
		store.Check(err)
		addrs, dels = append(addrs, a), append(dels, d)
		return true
	})
	return addrs, dels
}

// position is what a delegation has earned and not been paid, in units of
// 1/Scale, and its exact floor share of the current period's reward. Within
// a period the share is exact (floor of shares × reward / total shares);
// closed periods count through RewardPerShare. The position may be
// negative by less than its shares/Scale units when a floor division
// favoured it: that debt is carried, not forgiven.
func position(v *Validator, d *Delegation) (*big.Int, uint64) {
	var cur uint64
	if v.Shares > 0 {
		cur, _ = mulDiv(d.Shares, v.PeriodReward, v.Shares) // shares ≤ total: fits
	}
	pos := new(big.Int).SetUint64(cur)
	pos.Sub(pos, new(big.Int).SetUint64(d.Claimed))
	pos.Mul(pos, Scale)
	pos.Add(pos, new(big.Int).SetUint64(d.Residual))
	if d.Period != v.Period {
		t := new(big.Int).Sub(v.RewardPerShare, d.RewardBase)
		pos.Add(pos, t.Mul(t, new(big.Int).SetUint64(d.Shares)))
	}
	return pos, cur
}

// keep stores a position pos (after payment: below Scale) with the
// current period's floor share cur as Claimed and Residual.
func keep(d *Delegation, pos *big.Int, cur uint64) {
	if pos.Sign() >= 0 {
		d.Claimed, d.Residual = cur, pos.Uint64()
		return
	}
	// A debt of k units or less: claim k more of the period, keep the rest.
	k := new(big.Int).Neg(pos)
	k.Add(k, new(big.Int).SetUint64(scale64-1)).Quo(k, Scale)
	d.Claimed = cur + k.Uint64()
	d.Residual = new(big.Int).Add(pos, new(big.Int).Mul(k, Scale)).Uint64()
}

// Pending is the reward a delegation can withdraw now.
func Pending(v *Validator, d *Delegation) uint64 {
	pos, _ := position(v, d)
	if pos.Sign() <= 0 {
		return 0
	}
	q := new(big.Int).Quo(pos, Scale)
	if !q.IsUint64() {
		panic(store.Fault{Err: errOverflowState})
	}
	return q.Uint64()
}

// TokensOf is what a delegation's shares are worth now.
func TokensOf(v *Validator, d *Delegation) uint64 {
	if v.Shares == 0 {
		return 0
	}
	t, _ := mulDiv(d.Shares, v.Tokens, v.Shares) // shares ≤ total shares: fits
	return t
}

// settle pays a delegation's pending reward from RewardsPool. It returns
// what was paid.
func settle(ctx sm.Context, v *Validator, d *Delegation, del crypto.Address) (uint64, error) {
	pos, cur := position(v, d)
	var amount uint64
	if pos.Sign() > 0 {
		q := new(big.Int).Quo(pos, Scale)
		if !q.IsUint64() {
			panic(store.Fault{Err: errOverflowState})
		}
		amount = q.Uint64()
		pos.Sub(pos, new(big.Int).Mul(q, Scale))
	}
	d.Period, d.RewardBase = v.Period, new(big.Int).Set(v.RewardPerShare)
	keep(d, pos, cur)
	if amount == 0 {
		return 0, nil
	}
	if err := bank.Send(ctx.Store, RewardsPool, del, amount); err != nil {
		return 0, err
	}
	ctx.Events.Emit("rewards_withdrawn", sm.Attr{Key: "delegator", Value: del.String()}, sm.Attr{Key: "validator", Value: v.PubKey.String()}, sm.Attr{Key: "amount", Value: u64(amount)})
	return amount, nil
}

// rebase ends v's period before the settled delegation d changes its
// shares. d takes its exact share of the period's reward into its
// position (floor to 1/Scale); the rest, with the carry, folds into
// RewardPerShare over the other shares; d starts afresh in the new period.
func rebase(v *Validator, d *Delegation) {
	pos, cur := position(v, d) // settled: d is in the current period
	taken := new(big.Int)
	if v.Shares > 0 && d.Shares > 0 {
		hi, lo := bits.Mul64(d.Shares, v.PeriodReward)
		_, rem := bits.Div64(hi, lo, v.Shares) // hi < Shares: d.Shares ≤ Shares
		frac := new(big.Int).Mul(new(big.Int).SetUint64(rem), Scale)
		frac.Quo(frac, new(big.Int).SetUint64(v.Shares))
		pos.Add(pos, frac)
		taken.Mul(new(big.Int).SetUint64(cur), Scale).Add(taken, frac)
	}
	num := new(big.Int).Mul(new(big.Int).SetUint64(v.PeriodReward), Scale)
	num.Add(num, v.RewardCarry).Sub(num, taken)
	if others := v.Shares - d.Shares; others > 0 {
		q, r := new(big.Int).QuoRem(num, new(big.Int).SetUint64(others), new(big.Int))
		v.RewardPerShare.Add(v.RewardPerShare, q)
		v.RewardCarry = r
	} else {
		v.RewardCarry = num
	}
	v.PeriodReward = 0
	v.Period++
	d.Period, d.RewardBase = v.Period, new(big.Int).Set(v.RewardPerShare)
	keep(d, pos, 0)
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// Delegate bonds amount of the signer's tokens to an approved validator.
func (k Keeper) Delegate(ctx sm.Context, val crypto.PubKey, amount uint64) error {
	v, gv := k.load(ctx.Store, val)
	if gv == nil {
		return sm.Wrapf(ErrNotApproved, "%s", val)
	}
	if v.Tombstoned {
		return sm.Wrapf(ErrTombstoned, "%s", val)
	}
	if minimum := k.Params.Get(ctx.Store, ParamMinDelegation); amount < minimum {
		return sm.Wrapf(ErrMinDelegation, "%d < %d", amount, minimum)
	}
	if v.Shares > 0 && v.Tokens == 0 {
		return sm.Wrapf(ErrNoTokens, "%s", val)
	}
	shares := amount
	if v.Shares > 0 {
		var ok bool
		if shares, ok = mulDiv(amount, v.Shares, v.Tokens); !ok {
			return sm.Wrapf(ErrOverflow, "shares of %d", amount)
		}
	}
	if shares == 0 {
		return sm.Wrapf(ErrTooSmall, "%d", amount)
	}
	if v.Tokens+amount < v.Tokens || v.Shares+shares < v.Shares {
		return sm.Wrapf(ErrOverflow, "%d", amount)
	}
	if err := bank.Send(ctx.Store, ctx.Signer, BondedPool, amount); err != nil {
		return err
	}
	d := GetDelegation(ctx.Store, val, ctx.Signer)
	if d == nil {
		d = &Delegation{Period: v.Period, RewardBase: new(big.Int).Set(v.RewardPerShare)}
	} else if _, err := settle(ctx, v, d, ctx.Signer); err != nil {
		return err
	}
	rebase(v, d)
	d.Shares += shares
	v.Shares += shares
	v.Tokens += amount
	putDelegation(ctx.Store, val, ctx.Signer, d)
	putValidator(ctx.Store, v)
	ctx.Events.Emit("delegate", sm.Attr{Key: "delegator", Value: ctx.Signer.String()}, sm.Attr{Key: "validator", Value: val.String()}, sm.Attr{Key: "amount", Value: u64(amount)}, sm.Attr{Key: "shares", Value: u64(shares)})
	return nil
}

// Undelegate starts returning amount of the signer's stake: the tokens leave
// the validator now and reach the signer after the unbonding period,
// slashable until then for faults committed while they were bonded.
func (k Keeper) Undelegate(ctx sm.Context, val crypto.PubKey, amount uint64) error {
	v, _ := k.load(ctx.Store, val)
	var d *Delegation
	if v != nil {
		d = GetDelegation(ctx.Store, val, ctx.Signer)
	}
	if d == nil || d.Shares == 0 {
		return sm.Wrapf(ErrNoDelegation, "%s to %s", ctx.Signer, val)
	}
	if d.Unbondings >= MaxUnbondingEntries {
		return sm.Wrapf(ErrUnbondingFull, "%d entries", d.Unbondings)
	}
	worth := TokensOf(v, d)
	if amount > worth {
		return sm.Wrapf(ErrExceedsStake, "%d > %d", amount, worth)
	}
	burn := d.Shares
	if amount < worth {
		burn, _ = mulDivUp(amount, v.Shares, v.Tokens) // amount < worth ≤ Tokens: fits, and ≤ d.Shares
		burn = min(burn, d.Shares)
	}
	if _, err := settle(ctx, v, d, ctx.Signer); err != nil {
		return err
	}
	rebase(v, d)
	d.Shares -= burn
	v.Shares -= burn
	v.Tokens -= amount
	if d.Shares == 0 {
		// No shares left to grow its fraction into a unit: the fraction (or
		// a debt of less than a unit) goes to the validator's carry, shared
		// by the remaining delegators.
		pos, _ := position(v, d)
		v.RewardCarry.Add(v.RewardCarry, pos)
		if v.RewardCarry.Sign() < 0 {
			v.RewardCarry.SetUint64(0)
		}
		d.Claimed, d.Residual = 0, 0
	}
	u := &Unbonding{Delegator: ctx.Signer, Validator: val, Amount: amount, Height: ctx.Height,
		Completion: ctx.Time.Unix() + int64(k.Params.Get(ctx.Store, ParamUnbondingSeconds))}
	if amount > 0 {
		if err := bank.Send(ctx.Store, BondedPool, UnbondingPool, amount); err != nil {
			return err
		}
		u.Seq = nextSeq(ctx.Store)
		putUnbonding(ctx.Store, u)
		d.Unbondings++
	}
	putDelegation(ctx.Store, val, ctx.Signer, d)
	putValidator(ctx.Store, v)
	ctx.Events.Emit("undelegate", sm.Attr{Key: "delegator", Value: ctx.Signer.String()}, sm.Attr{Key: "validator", Value: val.String()},
		sm.Attr{Key: "amount", Value: u64(amount)}, sm.Attr{Key: "completion", Value: strconv.FormatInt(u.Completion, 10)})
	return nil
}

func nextSeq(kv store.KV) uint64 {
	var n uint64 = 1
	if b := kv.Get(keyUnbondingSeq); len(b) == 8 {
		n = beUint(b)
	}
	kv.Set(keyUnbondingSeq, be64(nil, n+1))
	return n
}

func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func putUnbonding(kv store.KV, u *Unbonding) {
	kv.Set(unbondingKey(u.Completion, u.Seq), codec.Marshal(u))
	kv.Set(unbondingByValidatorKey(u.Validator, u.Completion, u.Seq), []byte{1})
	kv.Set(unbondingByDelegatorKey(u.Delegator, u.Completion, u.Seq), []byte{1})
}

func deleteUnbonding(kv store.KV, u *Unbonding) {
	kv.Delete(unbondingKey(u.Completion, u.Seq))
	kv.Delete(unbondingByValidatorKey(u.Validator, u.Completion, u.Seq))
	kv.Delete(unbondingByDelegatorKey(u.Delegator, u.Completion, u.Seq))
}

func getUnbonding(kv store.Reader, completion int64, seq uint64) *Unbonding {
	b := kv.Get(unbondingKey(completion, seq))
	if b == nil {
		return nil
	}
	u, err := DecodeUnbonding(b)
	store.Check(err)
	return u
}

// unbondingsUnder lists the entries an index prefix ('v' ‖ validator or
// 'd' ‖ delegator) names, in completion order.
func unbondingsUnder(kv store.Reader, p []byte) []*Unbonding {
	var keys [][2]uint64
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		rest := k[len(p):]
		keys = append(keys, [2]uint64{beUint(rest[:8]), beUint(rest[8:16])})
		return true
	})
	out := make([]*Unbonding, 0, len(keys))
	for _, c := range keys {
		if u := getUnbonding(kv, int64(c[0]), c[1]); u != nil {
			out = append(out, u)
		}
	}
	return out
}

// UnbondingsOf lists a delegator's unbonding entries.
func UnbondingsOf(kv store.Reader, del crypto.Address) []*Unbonding {
	return unbondingsUnder(kv, append([]byte{indexUnbondingBy, 'd'}, del[:]...))
}

// UnbondingsFrom lists the unbonding entries from a validator.
func UnbondingsFrom(kv store.Reader, val crypto.PubKey) []*Unbonding {
	return unbondingsUnder(kv, append([]byte{indexUnbondingBy, 'v'}, val[:]...))
}

// matureUnbondings pays out every entry whose completion time has come.
func matureUnbondings(ctx sm.Context) {
	var due []*Unbonding
	p := []byte{prefixUnbonding}
	end := be64([]byte{prefixUnbonding}, uint64(ctx.Time.Unix())+1)
	ctx.Store.Iterate(p, end, func(_, b []byte) bool {
		u, err := DecodeUnbonding(b)
		store.Check(err)
		due = append(due, u)
		return true
	})
	for _, u := range due {
		if u.Amount > 0 {
			store.Check(bank.Send(ctx.Store, UnbondingPool, u.Delegator, u.Amount))
		}
		deleteUnbonding(ctx.Store, u)
		if d := GetDelegation(ctx.Store, u.Validator, u.Delegator); d != nil && d.Unbondings > 0 {
			d.Unbondings--
			putDelegation(ctx.Store, u.Validator, u.Delegator, d)
		}
		ctx.Events.Emit("unbonding_completed", sm.Attr{Key: "delegator", Value: u.Delegator.String()}, sm.Attr{Key: "validator", Value: u.Validator.String()}, sm.Attr{Key: "amount", Value: u64(u.Amount)})
	}
}

// WithdrawRewards pays the signer's pending rewards from one validator, or
// from every validator it delegates to when val is zero.
func (k Keeper) WithdrawRewards(ctx sm.Context, val crypto.PubKey) error {
	vals := []crypto.PubKey{val}
	if val == (crypto.PubKey{}) {
		vals = DelegationsOf(ctx.Store, ctx.Signer)
	}
	var total uint64
	for _, pub := range vals {
		v := GetValidator(ctx.Store, pub)
		var d *Delegation
		if v != nil {
			d = GetDelegation(ctx.Store, pub, ctx.Signer)
		}
		if d == nil {
			if val != (crypto.PubKey{}) {
				return sm.Wrapf(ErrNoDelegation, "%s to %s", ctx.Signer, pub)
			}
			continue
		}
		paid, err := settle(ctx, v, d, ctx.Signer)
		if err != nil {
			return err
		}
		total += paid
		putDelegation(ctx.Store, pub, ctx.Signer, d)
		putValidator(ctx.Store, v)
	}
	if total == 0 {
		return ErrNoRewards
	}
	return nil
}

// operatorOf checks that the signer is an active admin of the validator's
// operator organization.
func operatorOf(ctx sm.Context, v *Validator) error {
	o := accounts.AdminOrg(ctx.Store, ctx.Signer)
	if o == nil || !o.Active || o.ID != v.Org {
		return sm.Wrapf(ErrNotOperator, "validator %s is operated by %s", v.PubKey, v.Org)
	}
	return nil
}

// SetCommission changes a validator's commission rate, within the maximum
// and by at most the maximum daily change, at most once a day.
func (k Keeper) SetCommission(ctx sm.Context, val crypto.PubKey, rate uint64) error {
	v, gv := k.load(ctx.Store, val)
	if gv == nil {
		return sm.Wrapf(ErrNotApproved, "%s", val)
	}
	if err := operatorOf(ctx, v); err != nil {
		return err
	}
	if maxRate := k.Params.Get(ctx.Store, ParamMaxCommission); rate > maxRate {
		return sm.Wrapf(ErrCommissionMax, "%d > %d bps", rate, maxRate)
	}
	if rate == v.Commission {
		return sm.Wrapf(ErrCommissionSame, "%d bps", rate)
	}
	step := k.Params.Get(ctx.Store, ParamMaxCommissionStep)
	if max(rate, v.Commission)-min(rate, v.Commission) > step {
		return sm.Wrapf(ErrCommissionStep, "%d → %d bps, at most %d a day", v.Commission, rate, step)
	}
	if v.CommissionChanged != 0 && ctx.Time.Unix() < v.CommissionChanged+24*3600 {
		return sm.Wrapf(ErrCommissionSoon, "next change from %d", v.CommissionChanged+24*3600)
	}
	v.Commission, v.CommissionChanged = rate, ctx.Time.Unix()
	putValidator(ctx.Store, v)
	ctx.Events.Emit("commission_changed", sm.Attr{Key: "validator", Value: val.String()}, sm.Attr{Key: "rate_bps", Value: u64(rate)})
	return nil
}

// WithdrawCommission pays a validator's earned commission to the signing
// operator admin. It works after governance removed the validator too.
func (k Keeper) WithdrawCommission(ctx sm.Context, val crypto.PubKey) error {
	v, _ := k.load(ctx.Store, val)
	if v == nil {
		return sm.Wrapf(ErrNoValidator, "%s", val)
	}
	if err := operatorOf(ctx, v); err != nil {
		return err
	}
	if v.CommissionPending == 0 {
		return ErrNoRewards
	}
	amount := v.CommissionPending
	v.CommissionPending = 0
	if err := bank.Send(ctx.Store, RewardsPool, ctx.Signer, amount); err != nil {
		return err
	}
	putValidator(ctx.Store, v)
	ctx.Events.Emit("commission_withdrawn", sm.Attr{Key: "validator", Value: val.String()}, sm.Attr{Key: "to", Value: ctx.Signer.String()}, sm.Attr{Key: "amount", Value: u64(amount)})
	return nil
}

// Unjail returns a jailed validator to the set after its jail period.
func (k Keeper) Unjail(ctx sm.Context, val crypto.PubKey) error {
	v, gv := k.load(ctx.Store, val)
	if v == nil {
		return sm.Wrapf(ErrNoValidator, "%s", val)
	}
	if err := operatorOf(ctx, v); err != nil {
		return err
	}
	if gv == nil {
		return sm.Wrapf(ErrNotApproved, "%s", val)
	}
	if v.Tombstoned {
		return sm.Wrapf(ErrTombstoned, "%s", val)
	}
	if !v.Jailed {
		return sm.Wrapf(ErrNotJailed, "%s", val)
	}
	if ctx.Time.Unix() < v.JailedUntil {
		return sm.Wrapf(ErrStillJailed, "until %d", v.JailedUntil)
	}
	v.Jailed, v.JailedUntil = false, 0
	putValidator(ctx.Store, v)
	ctx.Store.Delete(signingKey(val))
	ctx.Events.Emit("validator_unjailed", sm.Attr{Key: "validator", Value: val.String()})
	return nil
}

// reconcilePowers tells CometBFT every power that changed: stake moved,
// a validator was jailed or unjailed, or governance approved or removed it.
// A change that would leave no validator with power is held back.
func (k Keeper) reconcilePowers(ctx sm.Context) {
	type entry struct {
		v    *Validator
		gv   *gov.Validator
		last int64
	}
	byKey := map[crypto.PubKey]*entry{}
	for _, gv := range gov.Validators(ctx.Store) {
		byKey[gv.PubKey] = &entry{gv: gv, last: gv.Power}
	}
	for _, v := range Validators(ctx.Store) {
		e := byKey[v.PubKey]
		if e == nil {
			e = &entry{}
			byKey[v.PubKey] = e
		}
		e.v, e.last = v, v.Power
	}
	keys := slices.SortedFunc(func(yield func(crypto.PubKey) bool) {
		for k := range byKey {
			if !yield(k) {
				return
			}
		}
	}, func(a, b crypto.PubKey) int { return slices.Compare(a[:], b[:]) })
	desired := make(map[crypto.PubKey]int64, len(keys))
	var total int64
	for _, pub := range keys {
		e := byKey[pub]
		if e.v == nil {
			e.v = k.fresh(ctx.Store, e.gv)
		}
		p := k.ConsensusPower(ctx.Store, e.v, e.gv)
		desired[pub] = p
		total += p
	}
	if total == 0 {
		ctx.Events.Emit("valset_change_held", sm.Attr{Key: "reason", Value: "no validator would keep power"})
		return
	}
	for _, pub := range keys {
		e := byKey[pub]
		if desired[pub] == e.last {
			continue
		}
		e.v.Power = desired[pub]
		putValidator(ctx.Store, e.v)
		ctx.Valset.Set(pub, desired[pub])
		ctx.Events.Emit("validator_power", sm.Attr{Key: "validator", Value: pub.String()}, sm.Attr{Key: "power", Value: strconv.FormatInt(desired[pub], 10)})
	}
}
