// Package staking is medchain's validator economy: delegation of tokens to
// validators that governance approved, unbonding, the distribution of block
// rewards and fees by voting power after each validator's commission, and
// slashing and jailing for double signing and downtime.
//
// The network stays permissioned: x/gov approves a validator (its consensus
// key, its operator organization and a base power); staking only weighs
// power within that approved set. A validator's consensus power is
//
//	jailed or not approved: 0
//	otherwise:              min(base + bonded tokens / staking.power_reduction, MaxPower)
//
// and every change reaches CometBFT through ctx.Valset in EndBlock.
//
// Tokens staking holds live in bank pools, so that the supply invariant
// (accounts + pools + fee pool == supply) holds at every block:
//
//	BondedPool     the validators' bonded tokens
//	UnbondingPool  tokens on their way back to delegators
//	RewardsPool    distributed but not yet withdrawn rewards and commission,
//	               plus the remainder not yet divided (carried to the next block)
//
// Rewards are exact integers. Each block (BeginBlock, which has the last
// commit's votes) the provision pool of x/mint and the fee pool are moved
// into RewardsPool and, with the remainder carried from earlier blocks,
// divided among the validators that signed the last commit by their power
// (floor; the remainder is carried). A validator's commission is
// floor(reward × rate / 10000); the rest goes to its delegators through a
// cumulative reward per share with a fixed-point scale of 10^18, whose
// division remainder each validator carries, and each delegation carries the
// fraction below one token unit it has not been paid. Nothing is rounded
// away: every unit is either paid, pending, or carried.
//
// Deterministic; no I/O.
package staking
