// Package session keeps on-chain delegations to session keys. Deterministic;
// no I/O.
//
// A user's device makes a fresh session key pair (Ed25519 signing, X25519
// encryption) and signs, with the account's current key, a delegation
// naming the session key and its limits: the message types it may sign,
// the records or resource types it may read, an expiry in block time and a
// purpose. The state machine enforces the limits:
//   - Authorize decides, from state and the block time, whether a
//     transaction signed by a key is the account's and whether its message
//     type is allowed; a session key has its own sequence;
//   - a revoked or expired session authorizes nothing from the next block;
//   - Covers answers whether a session may read a record; readers (gateway,
//     FHIR, API) check it beside consent, and x/records accepts data keys
//     wrapped to the session key only for records it covers.
//
// A session key is single use: once delegated (even after expiry or
// revocation) it can never be delegated again, become an account key or be
// bound to another account, so a recorded delegation or token request
// replayed later creates nothing.
package session
