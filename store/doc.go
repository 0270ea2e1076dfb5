// Package store is medchain's state storage: a small key-value interface, an
// in-memory implementation, a per-transaction cache that commits or discards
// as a whole, and the committed state (Tree): key-value pairs in a Pebble
// database under an in-memory sparse Merkle tree whose root is the app hash
// and which answers ICS23 membership and non-membership proofs (SmtSpec).
//
// Contract: a storage failure inside the state machine is not a bad transaction
// but a broken node. KV methods therefore do not return errors; they panic with
// a Fault, which the ABCI adapter recovers and turns into a Go error.
package store
