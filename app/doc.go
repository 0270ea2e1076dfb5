// Package app is the ABCI 2.0 adapter between CometBFT and medchain's state
// machine: it decodes and authenticates transactions, routes messages to the
// domain modules, maps failures to stable codes, commits the Merkle tree whose
// root is the app hash, and answers queries with ICS23 proofs.
//
// Contract with CometBFT:
//   - a bad transaction is a response code, never a Go error; a Go error
//     means the node is broken (a storage fault) and must stop;
//   - FinalizeBlock executes deterministically and returns the working root;
//     Commit saves state, height and app hash in one synced batch; Info reports
//     the last saved version, so the handshake replays exactly what is missing;
//   - a signature is verified once: CheckTx remembers the transactions it
//     verified, and FinalizeBlock batch-verifies only the others.
package app
