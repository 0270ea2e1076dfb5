// Package sm is medchain's deterministic core: the transaction format, the
// execution context, stable error codes, the router that hands each message
// to its domain module, and the rule for a failed message's writes and
// events (Isolate). Executing a block — authentication, fees, sequences,
// the end of the block — is sm/exec's.
//
// Contract: nothing here reads the clock, the network, the file system or a
// random source, and nothing starts a goroutine; time and height come from
// the block. Map iteration is sorted. Executing the same transactions on the
// same state gives the same state and the same results on every node.
//
// Packages that start goroutines: none of sm, the store's key-value types
// (Memory, Cache, Memo) or x/*; sm/exec only to execute a block's
// transactions in parallel, with serial execution's results. app does, to verify
// signatures in batches on every core (outside the core, which takes a
// Verifier); internal/* does, for I/O.
package sm
