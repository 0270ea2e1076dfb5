// Package app is the ABCI 2.0 adapter between CometBFT and medchain's
// execution core (sm/exec): it translates CometBFT's requests into the
// core's calls and the core's results into responses, and keeps what only a
// node has — the commit of the Merkle tree whose root is the app hash, the
// transaction index, queries with ICS23 proofs, proposal ordering, and the
// mempool's bookkeeping (Mempool). The rules of execution (authentication,
// fees, sequences, what a failed message leaves, the end of a block) are
// the core's, written once there; NewCore is where the modules are wired.
//
// Contract with CometBFT:
//   - a bad transaction is a response code, never a Go error; a Go error
//     means the node is broken (a storage fault) and must stop;
//   - FinalizeBlock executes deterministically (exec.Core.DeliverBlock) and
//     returns the working root; Commit saves state, height and app hash in
//     one synced batch; Info reports the last saved version, so the
//     handshake replays exactly what is missing;
//   - a signature is verified once: the mempool remembers the transactions
//     it verified, and FinalizeBlock batch-verifies only the others.
//
// Contract with the node: the node binds CometBFT's mempool to Mempool
// (Mempool.Bind) before taking transactions in, and feeds its intake
// through Mempool.Prepare (decode, hash and verify once, on every core, no
// lock) then Mempool.Stage (checks under the mempool lock, which Stage takes
// itself) and submits every bundle Stage returns or calls Unstage.
//
// Goroutines: app starts them only to verify signatures in batches
// (Mempool.Prepare and FinalizeBlock's verifier); execution itself runs on
// the caller's goroutine.
package app
