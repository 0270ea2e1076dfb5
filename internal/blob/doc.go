// Package blob keeps encrypted health-record ciphertext off chain, in a
// content-addressed store: a blob's key is the SHA-256 of its bytes. The chain
// records that hash; any node that holds the bytes can prove it holds the
// right ones, and nobody can swap them.
//
// Two implementations share the Store interface: Local (files on the node's
// disk) and S3 (any S3-compatible object store). Memory is for tests.
//
// Contract:
//   - Keys are SHA-256 digests. Put computes the key; PutExpect takes the key
//     the caller expects (the hash already on chain) and fails with
//     ErrHashMismatch before storing anything if the bytes disagree.
//   - Get verifies the hash of what it read. Bytes that do not match their key
//     (disk rot, a tampered bucket) are never returned: Get fails with
//     ErrCorrupt. Has only reports presence; it does not read the bytes.
//   - A blob is at most the store's size limit, DefaultMaxSize (64 MiB)
//     unless WithMaxSize says otherwise; larger puts and reads fail with
//     ErrTooLarge.
//   - Put of a blob that is already stored succeeds and leaves one copy; so
//     do concurrent puts of the same bytes. Delete is idempotent. Together
//     with an on-chain tombstone, Delete on every node is how an erasure
//     request is honoured, so a Delete that returned nil is durable.
//   - List calls fn for every stored blob, in no promised order, until fn
//     returns false. Blobs put or deleted during a List may or may not be
//     seen.
//   - Errors are the sentinels below, wrapped with %w; test with errors.Is.
//     Missing blobs are ErrNotFound, never an *os.PathError or S3 error code.
//   - Every Store is safe for concurrent use.
//   - The store holds ciphertext only and never decrypts; whoever may fetch a
//     blob is decided above it (see internal/reqsig and the consent module).
//
// Local lays files out as DIR/ab/abcdef… (the lowercase hex hash, fanned out
// by its first byte), mode 0600 in directories of mode 0700. A write goes to
// a temporary file in the same directory, is fsynced, renamed into place, and
// the directory is fsynced, so a crash leaves either the whole blob or none
// of it. Temporary files start with ".tmp-"; NewLocal removes the ones a
// crash left behind (older than an hour).
//
// S3 stores a blob as the object PREFIX + lowercase hex hash in one bucket.
// It never creates the bucket; Check reports whether it is reachable.
package blob
