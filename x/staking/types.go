package staking

import (
	"encoding/binary"
	"math/big"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/params"
)

// Codespace of the staking module.
const Codespace = "staking"

// Errors; codes are stable.
var (
	ErrNotApproved    = sm.Register(Codespace, 1, "validator is not approved by governance")
	ErrAmount         = sm.Register(Codespace, 2, "invalid amount")
	ErrMinDelegation  = sm.Register(Codespace, 3, "delegation below the minimum")
	ErrNoDelegation   = sm.Register(Codespace, 4, "no delegation to this validator")
	ErrExceedsStake   = sm.Register(Codespace, 5, "amount exceeds the delegation")
	ErrNotOperator    = sm.Register(Codespace, 6, "signer is not an admin of the validator's operator organization")
	ErrCommissionMax  = sm.Register(Codespace, 7, "commission rate above the maximum")
	ErrCommissionStep = sm.Register(Codespace, 8, "commission change larger than the maximum daily change")
	ErrCommissionSoon = sm.Register(Codespace, 9, "commission changed less than a day ago")
	ErrNotJailed      = sm.Register(Codespace, 10, "validator is not jailed")
	ErrStillJailed    = sm.Register(Codespace, 11, "jail period is not over")
	ErrTombstoned     = sm.Register(Codespace, 12, "validator is tombstoned for double signing")
	ErrNoRewards      = sm.Register(Codespace, 13, "nothing to withdraw")
	ErrValidatorKey   = sm.Register(Codespace, 14, "validator key is zero")
	ErrNoTokens       = sm.Register(Codespace, 15, "validator's stake was slashed to zero; it takes no delegations")
	ErrTooSmall       = sm.Register(Codespace, 16, "amount too small to buy a share")
	ErrNoValidator    = sm.Register(Codespace, 17, "no such validator")
	ErrCommissionSame = sm.Register(Codespace, 18, "commission rate unchanged")
	ErrUnbondingFull  = sm.Register(Codespace, 19, "too many unbonding entries for this delegation")
	ErrOverflow       = sm.Register(Codespace, 20, "amount would overflow the validator's stake")
)

// Parameter names (changed only by governance, see x/params).
const (
	ParamPowerReduction    = "staking.power_reduction"
	ParamUnbondingSeconds  = "staking.unbonding_seconds"
	ParamMinDelegation     = "staking.min_delegation"
	ParamMaxCommission     = "staking.max_commission_bps"
	ParamMaxCommissionStep = "staking.max_commission_change_bps"
	ParamDefaultCommission = "staking.default_commission_bps"
	ParamDoubleSignSlash   = "slashing.double_sign_slash_bps"
	ParamDowntimeSlash     = "slashing.downtime_slash_bps"
	ParamSignedWindow      = "slashing.signed_blocks_window"
	ParamMinSigned         = "slashing.min_signed_bps"
	ParamDowntimeJail      = "slashing.downtime_jail_seconds"
	ParamRevenueBlocks     = "distribution.revenue_block_history"
)

// ParamDefs are the parameters staking declares.
var ParamDefs = []params.Def{
	{Name: ParamPowerReduction, Default: 1_000_000, Min: 1, Max: 1 << 50, Doc: "token units per unit of voting power"},
	{Name: ParamUnbondingSeconds, Default: 21 * 24 * 3600, Min: 1, Max: 365 * 24 * 3600, Doc: "how long undelegated tokens stay slashable before they return"},
	{Name: ParamMinDelegation, Default: 1000, Min: 1, Max: 1 << 60, Doc: "smallest delegation (bounds the number of delegations)"},
	{Name: ParamMaxCommission, Default: 5000, Min: 0, Max: 10_000, Doc: "highest commission rate, basis points"},
	{Name: ParamMaxCommissionStep, Default: 100, Min: 1, Max: 10_000, Doc: "largest commission change per day, basis points"},
	{Name: ParamDefaultCommission, Default: 500, Min: 0, Max: 10_000, Doc: "commission of a newly approved validator, basis points (capped by the maximum)"},
	{Name: ParamDoubleSignSlash, Default: 500, Min: 0, Max: 10_000, Doc: "share of stake burned for double signing, basis points"},
	{Name: ParamDowntimeSlash, Default: 1, Min: 0, Max: 10_000, Doc: "share of bonded stake burned for downtime, basis points"},
	{Name: ParamSignedWindow, Default: 100, Min: 2, Max: 1_000_000, Doc: "blocks in one downtime window"},
	{Name: ParamMinSigned, Default: 5000, Min: 1, Max: 10_000, Doc: "share of a window's blocks a validator must sign, basis points"},
	{Name: ParamDowntimeJail, Default: 600, Min: 1, Max: 365 * 24 * 3600, Doc: "jail time after downtime, seconds"},
	{Name: ParamRevenueBlocks, Default: 1000, Min: 1, Max: 100_000, Doc: "blocks of per-block revenue figures kept per organization"},
}

// MaxPower bounds one validator's consensus power: a thousand validators at
// the bound stay far below CometBFT's total limit (MaxInt64/8).
const MaxPower int64 = 1 << 40

// MaxUnbondingEntries bounds the unbonding entries of one delegator to one
// validator (as Cosmos SDK does), so that slashing stays bounded.
const MaxUnbondingEntries = 7

// Scale is the fixed-point scale of rewards per share.
var Scale = new(big.Int).SetUint64(scale64)

const scale64 uint64 = 1_000_000_000_000_000_000

// Pools of the staking module.
var (
	BondedPool    = bank.ModuleAddress("staking", "bonded")
	UnbondingPool = bank.ModuleAddress("staking", "unbonding")
	RewardsPool   = bank.ModuleAddress("staking", "rewards")
	// ProvisionPool is where x/mint puts each block's inflation.
	ProvisionPool = bank.ModuleAddress("mint", "provision")
)

// Store prefixes (inside the range sm/prefixes.go reserves for the token
// modules). Index keys are the proven prefix | 0x80.
const (
	prefixValidator  byte = 0x60 // consensus key → Validator
	prefixDelegation byte = 0x61 // validator ‖ delegator → Delegation
	prefixUnbonding  byte = 0x62 // completion (8) ‖ seq (8) → Unbonding
	prefixGlobal     byte = 0x63 // one-byte sub keys below
	prefixSigning    byte = 0x64 // consensus key → SigningInfo
	prefixRevenueDay byte = 0x65 // org ‖ 0x00 ‖ unix day (8) → Revenue

	indexDelegator   = prefixDelegation | 0x80 // delegator ‖ validator → ∅
	indexUnbondingBy = prefixUnbonding | 0x80  // validator ‖ completion ‖ seq → ∅ ; 'd' ‖ delegator ‖ completion ‖ seq
	indexRevenueBlk  = prefixRevenueDay | 0x80 // org ‖ 0x00 ‖ height (8) → Revenue
)

var (
	keyUnbondingSeq = []byte{prefixGlobal, 1}
	keyDust         = []byte{prefixGlobal, 2}
)

// Validator is staking's state of a governance-approved validator. It is
// created on first use and kept after governance removes the validator, so
// that its delegators can still undelegate and withdraw.
type Validator struct {
	PubKey crypto.PubKey
	Org    string
	Tokens uint64 // bonded, in BondedPool
	Shares uint64 // delegator shares issued against Tokens

	Commission        uint64 // rate, basis points
	CommissionChanged int64  // unix seconds of the last change
	CommissionPending uint64 // earned commission not withdrawn, in RewardsPool

	// Delegator rewards are kept per period: a period ends when the
	// validator's shares change. PeriodReward is the delegators' reward in
	// the current period, exact; RewardPerShare is the cumulative reward
	// per share of the closed periods × Scale (floor), RewardCarry the
	// remainder of those divisions × Scale, carried into the next.
	Period         uint64
	PeriodReward   uint64
	RewardPerShare *big.Int
	RewardCarry    *big.Int

	Jailed      bool
	JailedUntil int64 // unix seconds
	Tombstoned  bool

	Power int64 // the consensus power CometBFT was last told
}

func (v *Validator) Encode(w *codec.Writer) {
	w.Fixed(v.PubKey[:])
	w.String(v.Org)
	w.Uint(v.Tokens)
	w.Uint(v.Shares)
	w.Uint(v.Commission)
	w.Int(v.CommissionChanged)
	w.Uint(v.CommissionPending)
	w.Uint(v.Period)
	w.Uint(v.PeriodReward)
	w.Blob(v.RewardPerShare.Bytes())
	w.Blob(v.RewardCarry.Bytes())
	w.Bool(v.Jailed)
	w.Int(v.JailedUntil)
	w.Bool(v.Tombstoned)
	w.Int(v.Power)
}

// DecodeValidator decodes a stored validator.
func DecodeValidator(b []byte) (*Validator, error) {
	r := codec.NewReader(b)
	v := &Validator{PubKey: sm.ReadKey32(r, "pub_key"), Org: r.String("org", accounts.MaxIDLen)}
	v.Tokens = r.Uint("tokens")
	v.Shares = r.Uint("shares")
	v.Commission = r.Uint("commission")
	v.CommissionChanged = r.Int("commission_changed")
	v.CommissionPending = r.Uint("commission_pending")
	v.Period = r.Uint("period")
	v.PeriodReward = r.Uint("period_reward")
	v.RewardPerShare = new(big.Int).SetBytes(r.Blob("reward_per_share", 64))
	v.RewardCarry = new(big.Int).SetBytes(r.Blob("reward_carry", 64))
	v.Jailed = r.Bool("jailed")
	v.JailedUntil = r.Int("jailed_until")
	v.Tombstoned = r.Bool("tombstoned")
	v.Power = r.Int("power")
	return v, r.Done()
}

// Delegation is one account's stake in one validator.
type Delegation struct {
	Shares     uint64
	Period     uint64   // the validator's period when last settled
	RewardBase *big.Int // the validator's RewardPerShare at the start of Period
	Claimed    uint64   // paid from Period's PeriodReward
	Residual   uint64   // unpaid reward below one unit, × Scale units
	Unbondings uint64   // unbonding entries not yet matured
}

func (d *Delegation) Encode(w *codec.Writer) {
	w.Uint(d.Shares)
	w.Uint(d.Period)
	w.Blob(d.RewardBase.Bytes())
	w.Uint(d.Claimed)
	w.Uint(d.Residual)
	w.Uint(d.Unbondings)
}

// DecodeDelegation decodes a stored delegation.
func DecodeDelegation(b []byte) (*Delegation, error) {
	r := codec.NewReader(b)
	d := &Delegation{Shares: r.Uint("shares"), Period: r.Uint("period"), RewardBase: new(big.Int).SetBytes(r.Blob("reward_base", 64))}
	d.Claimed = r.Uint("claimed")
	d.Residual = r.Uint("residual")
	d.Unbondings = r.Uint("unbondings")
	return d, r.Done()
}

// Unbonding is stake on its way back to a delegator.
type Unbonding struct {
	Seq        uint64
	Delegator  crypto.Address
	Validator  crypto.PubKey
	Amount     uint64
	Height     int64 // when it began
	Completion int64 // unix seconds when it matures
}

func (u *Unbonding) Encode(w *codec.Writer) {
	w.Uint(u.Seq)
	w.Fixed(u.Delegator[:])
	w.Fixed(u.Validator[:])
	w.Uint(u.Amount)
	w.Int(u.Height)
	w.Int(u.Completion)
}

// DecodeUnbonding decodes a stored unbonding entry.
func DecodeUnbonding(b []byte) (*Unbonding, error) {
	r := codec.NewReader(b)
	u := &Unbonding{Seq: r.Uint("seq"), Delegator: sm.ReadAddress(r, "delegator"), Validator: sm.ReadKey32(r, "validator")}
	u.Amount = r.Uint("amount")
	u.Height = r.Int("height")
	u.Completion = r.Int("completion")
	return u, r.Done()
}

// SigningInfo counts a validator's missed blocks in its current window.
type SigningInfo struct {
	WindowStart int64 // height the window began
	Missed      uint64
}

func (s *SigningInfo) Encode(w *codec.Writer) {
	w.Int(s.WindowStart)
	w.Uint(s.Missed)
}

func decodeSigningInfo(b []byte) (*SigningInfo, error) {
	r := codec.NewReader(b)
	s := &SigningInfo{WindowStart: r.Int("window_start"), Missed: r.Uint("missed")}
	return s, r.Done()
}

// Revenue is what an organization's validators earned over a day (proven
// state) or in one block (index).
type Revenue struct {
	Blocks     uint64 // blocks in which it earned
	Rewards    uint64 // its validators' whole share, commission included
	Commission uint64 // kept by the operator
}

func (r *Revenue) Encode(w *codec.Writer) {
	w.Uint(r.Blocks)
	w.Uint(r.Rewards)
	w.Uint(r.Commission)
}

// DecodeRevenue decodes a stored revenue figure.
func DecodeRevenue(b []byte) (*Revenue, error) {
	rd := codec.NewReader(b)
	r := &Revenue{Blocks: rd.Uint("blocks"), Rewards: rd.Uint("rewards"), Commission: rd.Uint("commission")}
	return r, rd.Done()
}

func validatorKey(pub crypto.PubKey) []byte { return append([]byte{prefixValidator}, pub[:]...) }

// ValidatorKey is the store key of a validator's staking state (for proofs).
func ValidatorKey(pub crypto.PubKey) []byte { return validatorKey(pub) }

func delegationKey(val crypto.PubKey, del crypto.Address) []byte {
	k := append([]byte{prefixDelegation}, val[:]...)
	return append(k, del[:]...)
}

// DelegationKey is the store key of a delegation (for proofs).
func DelegationKey(val crypto.PubKey, del crypto.Address) []byte { return delegationKey(val, del) }

func delegatorIndexKey(del crypto.Address, val crypto.PubKey) []byte {
	k := append([]byte{indexDelegator}, del[:]...)
	return append(k, val[:]...)
}

func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func unbondingKey(completion int64, seq uint64) []byte {
	return be64(be64([]byte{prefixUnbonding}, uint64(completion)), seq)
}

func unbondingByValidatorKey(val crypto.PubKey, completion int64, seq uint64) []byte {
	k := append([]byte{indexUnbondingBy, 'v'}, val[:]...)
	return be64(be64(k, uint64(completion)), seq)
}

func unbondingByDelegatorKey(del crypto.Address, completion int64, seq uint64) []byte {
	k := append([]byte{indexUnbondingBy, 'd'}, del[:]...)
	return be64(be64(k, uint64(completion)), seq)
}

func signingKey(pub crypto.PubKey) []byte { return append([]byte{prefixSigning}, pub[:]...) }

func revenueDayKey(org string, day int64) []byte {
	k := append([]byte{prefixRevenueDay}, org...)
	return be64(append(k, 0), uint64(day))
}

// RevenueDayKey is the store key of an organization's revenue on a day (for proofs).
func RevenueDayKey(org string, day int64) []byte { return revenueDayKey(org, day) }

func revenueBlockKey(org string, height int64) []byte {
	k := append([]byte{indexRevenueBlk}, org...)
	return be64(append(k, 0), uint64(height))
}

var errOverflowState = sm.Wrapf(ErrOverflow, "reward exceeds 64 bits: state is corrupt")
