// Package exec is medchain's execution core: blocks and mempool checks as
// values in, values out. It owns the envelope rules written once —
// authentication (account, key, may it sign), the fee (Core.Fee), the
// sequence, the per-message cache and event rule (sm.Isolate), and the end
// of the block (the validator updates collected from the block's messages)
// — and the genesis load. The ABCI adapter (package app) only translates
// CometBFT's requests to these calls and their results back.
//
// Contract:
//   - Deterministic: no clock (time comes in BlockContext), no I/O, no
//     map iteration without sorting. The same state and the same block give
//     the same BlockResult (Reexecuted aside, a measure) and the same app
//     hash on every node, executed serially or in parallel (SetExecution).
//   - Signatures are the caller's: DeliverBlock asks a Verifier for the
//     transactions no earlier check verified, CheckTx a SigChecker. Their
//     implementations may use goroutines (app's verifies in batches on every
//     core); the core starts none for them.
//   - A bad transaction is a result with an error, never a Go error or a
//     panic; a store fault panics with store.Fault, which the adapter turns
//     into a Go error (the node is broken).
//
// Which packages start goroutines: none of sm, store's key-value types,
// x/*; sm/exec only for parallel execution (DeliverBlock's workers, which
// end before it returns; see parallel.go for why their results equal
// serial execution's); app (signature verification in batches,
// Mempool.Prepare and the block's Verifier) and internal/*.
package exec
