package node

import ()

// ExitConsensusFailure is the exit status of a node whose consensus stopped
// on an error it cannot get past by itself, such as a full disk: CometBFT
// recovers the panic of its consensus routine, logs "CONSENSUS FAILURE!!!"
// and goes on serving with consensus stopped, a node that looks up but
// never commits again. The node exits instead, so that a supervisor (or an
// operator) sees it and restarts it once the cause is fixed; on restart
// CometBFT replays its WAL and the node catches up (docs/operations.md,
// "Recovering from a full disk").
const ExitConsensusFailure = 4

// consensusFailureMsg is the message CometBFT logs when its consensus
// routine panics.
const consensusFailureMsg = "CONSENSUS FAILURE!!!"

// onConsensusFailure runs once, from CometBFT's logger, when consensus has
// stopped for good. It drains the API and the background work and exits
// (with WithHaltExit; without it, tests, the node only logs).
func (n *Node) onConsensusFailure(err any) {
	n.failOnce.Do(func() {
		n.log.Error("consensus stopped after a failure; exiting so that the node is restarted once the cause is fixed",
			"err", err, "exit_code", ExitConsensusFailure)
		if n.haltExit == nil {
			return
		}
		// Not from the consensus routine's goroutine, which is unwinding.
		go n.exitHalted(ExitConsensusFailure)
	})
}
