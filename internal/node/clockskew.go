package node

import (
	"fmt"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// ClockOffsetEnv names the test-only environment variable that skews a
// node's wall clock by a Go duration ("30s", "-20s"), so that fault tests
// (internal/chaos) can run one node of a network with a wrong clock on a
// machine that has only one. Go reads the clock through the vDSO, which
// LD_PRELOAD tools such as libfaketime cannot intercept, so the node skews
// what its clock decides instead:
//   - the timestamps of its votes, the only time of it other validators
//     use (a block's time is the weighted median of vote timestamps);
//   - CometBFT's check that a block is not too far in the future of the
//     local clock (consensus.block_time_tolerance is shifted by the offset;
//     an offset at or below minus the tolerance is refused);
//   - its own request-signature and gateway freshness checks.
//
// Timers (timeouts, intervals) run on the monotonic clock, which a real
// skew does not change either. Never set it on a production node.
const ClockOffsetEnv = "MEDCHAIN_TEST_CLOCK_OFFSET"

// ParseClockOffset reads the value of ClockOffsetEnv; empty means none.
func ParseClockOffset(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a duration such as 30s or -20s", ClockOffsetEnv, s)
	}
	return d, nil
}

// WithClockOffset runs the node as if its wall clock were off by d (see
// ClockOffsetEnv). For fault tests only.
func WithClockOffset(d time.Duration) Option { return func(n *Node) { n.clockOffset = d } }

// clock is the node's skewed wall clock, or nil (time.Now) without a skew.
func (n *Node) clock() func() time.Time {
	if n.clockOffset == 0 {
		return nil
	}
	d := n.clockOffset
	return func() time.Time { return time.Now().Add(d) }
}

// blockTimeTolerance shifts CometBFT's future-block check by the skew: a
// block is refused when its time is not before local now + tolerance.
func (n *Node) blockTimeTolerance(tol time.Duration) (time.Duration, error) {
	if n.clockOffset == 0 {
		return tol, nil
	}
	if t := tol + n.clockOffset; t > 0 {
		return t, nil
	}
	return 0, fmt.Errorf("%s=%v: a clock behind by block_time_tolerance (%v) or more cannot be emulated", ClockOffsetEnv, n.clockOffset, tol)
}

// skewedPV signs votes with timestamps shifted by d, as a validator whose
// clock is off by d does. CometBFT takes a vote's timestamp back from the
// signer (types.SignAndCheckVote) but not a proposal's, and a proposal's
// timestamp plays no part in BFT time: proposals are left alone.
type skewedPV struct {
	cmttypes.PrivValidator
	d time.Duration
}

func (p skewedPV) SignVote(chainID string, v *cmtproto.Vote) error {
	v.Timestamp = v.Timestamp.Add(p.d)
	return p.PrivValidator.SignVote(chainID, v)
}
