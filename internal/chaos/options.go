package chaos

import (
	"io"
	"time"
)

// The fault kinds.
const (
	FaultPartition = "partition" // one validator cut off from the other three, both ways
	FaultSplit     = "split"     // the network split 2|2: no side has a quorum, the chain halts
	FaultLoss      = "loss"      // one-way packet loss: a share of one validator's packets to the others dropped
	FaultPause     = "pause"     // SIGSTOP of one validator, SIGCONT at the end
	FaultKill      = "kill"      // SIGKILL of one validator at random moments, restarted after each
	FaultDisk      = "disk"      // the home filesystem of one validator filled to the last byte, then freed
	FaultSkew      = "skew"      // one validator restarted with its wall clock off by tens of seconds
)

// FaultKinds lists every kind, in the order the short run injects them.
var FaultKinds = []string{FaultPartition, FaultSplit, FaultLoss, FaultPause, FaultKill, FaultDisk, FaultSkew}

// Options describe a chaos run.
type Options struct {
	Dir    string // an empty folder for the network's homes and logs
	Binary string // the medchain binary the nodes run
	// Duration is how long faults are injected; the run stops starting
	// faults after it. Ignored when Schedule is set.
	Duration time.Duration
	// Schedule, when set, is the fault kinds to inject, in order, once
	// each; otherwise kinds are drawn at random from Kinds.
	Schedule []string
	Kinds    []string // default FaultKinds
	// FaultMin and FaultMax bound how long a fault lasts (drawn uniformly).
	FaultMin, FaultMax time.Duration
	// Settle is the pause between one fault's checks and the next fault.
	Settle  time.Duration
	Seed    int64 // 0: from the clock
	Workers int   // workload workers (1..3); default 3
	// CatchUp bounds how long the nodes get to reach a common height after
	// a fault is healed; default 90 s.
	CatchUp time.Duration
	Log     io.Writer // progress lines; nil for none
}
