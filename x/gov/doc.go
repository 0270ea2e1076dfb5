// Package gov is consortium governance: member organizations propose and vote
// on adding or removing members, adding or removing validators, and changing
// parameters. A proposal passes when at least two thirds of the current
// members approve, is rejected once more than a third refuse, and expires
// after the voting period (judged by block time). Validator changes are
// handed to CometBFT through the block's validator updates.
// Deterministic; no I/O.
package gov
