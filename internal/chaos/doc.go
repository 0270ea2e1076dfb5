// Package chaos is medchain's fault harness on real nodes: it starts a
// 4-validator network of real `medchain start` processes, each in its own
// Linux network namespace wired to a bridge in a hub namespace, drives it
// with a workload of signed transactions of every kind (registrations,
// records, consent grants and revocations, guardians, record reads that
// the nodes audit, telemedicine bookings and cancellations, bank sends),
// injects faults one at a time and checks the network after each:
//
//   - partition: one validator cut off both ways; split: 2|2, no quorum;
//   - loss: a share of one validator's outgoing packets dropped (one way);
//   - pause: SIGSTOP, then SIGCONT; kill: SIGKILL at random moments and
//     restart;
//   - disk: the validator's home (a tmpfs) filled until ENOSPC, then freed;
//   - skew: the validator restarted with its wall clock off by 20–40 s
//     (node.ClockOffsetEnv, test-only).
//
// After each fault: every node catches up, the same block and app hash at
// every height on every node (no fork), each node's own state proves
// against the app hash, every acknowledged transaction is on every node at
// its reported height, and every served read is in its patient's trail.
//
// The caller's contract: Run needs root (CAP_NET_ADMIN for namespaces,
// CAP_SYS_ADMIN for the tmpfs), `ip` (iproute2) and `nft` (nftables);
// Probe says whether they work. Nothing is created in the host's network
// namespace; every namespace, mount and process of a run is removed when
// it returns. The netns and process plumbing is the I/O edge (files named
// _linux.go); the report is plain data.
package chaos
