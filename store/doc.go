// Package store is the state machine's view of state: a small key-value
// interface (Reader, KV), an in-memory implementation (Memory), a cache that
// buffers writes and commits or discards them as a whole (Cache), a memo of
// a read-only reader's answers (Memo), and the rules every implementation
// shares (index keys, faults).
//
// The package is pure: no database, no goroutines, no I/O. The committed
// state, a Pebble database under a sparse Merkle tree whose root is the app
// hash, is package store/merkle; it implements KV and BatchWriter.
//
// Contract: a storage failure inside the state machine is not a bad transaction
// but a broken node. KV methods therefore do not return errors; they panic with
// a Fault, which the ABCI adapter recovers and turns into a Go error.
package store
