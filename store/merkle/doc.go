// Package merkle is medchain's committed state: key-value pairs in a Pebble
// database under an in-memory sparse Merkle tree whose root is the app hash,
// answering ICS23 membership and non-membership proofs (SmtSpec).
//
// A Tree is the writer's view: it implements store.KV and
// store.BatchWriter over a working version, and Commit saves that version
// in one synced batch. A Snapshot is a committed version, readable from any
// goroutine, that proves keys. Index keys (store.IsIndexKey) are stored and
// committed with the state but are not leaves of the tree; a chained digest
// of each version's index writes is (foldIndexWrites), so the app hash
// covers them too.
//
// Files: open.go opens the database and loads the tree (from a tree
// checkpoint, checkpoint.go, treefile.go and changelog.go, or by rebuilding
// it from the stored keys); work.go holds the
// working version and Commit; digest.go the index digest; snapshot.go and
// prove.go the committed versions and their proofs; db.go reads Pebble.
// The tree itself is smt.go (its shape and nodes), arena.go (node storage),
// smt_write.go (insert and delete), smt_hash.go and smt_read.go (hashing,
// lookups and neighbours for proofs).
//
// The tree hashes with a few goroutines (a block's writes, the root's top
// subtrees, the rebuild); a storage failure inside the state machine panics
// with a store.Fault, as the store package's contract says.
package merkle
