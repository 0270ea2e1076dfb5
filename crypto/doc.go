// Package crypto holds medchain's key types: Ed25519 signing keys (verified with
// ZIP-215 rules, the same accept/reject set on every node, as CometBFT does,
// and keys of small order refused),
// X25519 encryption keys, and 20-byte addresses derived from signing keys.
// Pure: randomness is only read where a caller generates a key.
package crypto
