// Package records registers encrypted health records on chain: for each
// version of a record, the SHA-256 and size of its ciphertext (stored off
// chain), its FHIR resource type, its author, and the record's data key
// wrapped (HPKE) for every party allowed to read it. No health data, in clear
// or encrypted, is stored here.
//
// Rules: the patient, a guardian, or a holder of the patient's write consent
// for the type adds a record or a new version; the wrapped keys of a new
// version go to exactly the parties consent.KeyHolders names; the patient or
// a guardian shares existing versions with newly authorized parties and
// erases a record (a tombstone: keys are deleted, hashes and trail remain).
// The listings by patient and by content hash are index keys, outside the
// Merkle tree: ByPatient and ByHash return a record only when it matches the
// index entry that named it; IndexEntries derives those entries from the
// proven keys.
// An account re-wraps its own keys after a key rotation (records/rewrap),
// and registers keys wrapped to a live session of its own for records the
// session covers and it may read (records/session_keys); a session key's
// writes stay within its session's records and types.
// Deterministic; no I/O.
package records
