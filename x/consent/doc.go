// Package consent keeps what patients allow: consents that grant an account or
// an organization the right to read or write the patient's records, scoped to
// all records, resource types or listed records, for a purpose and a time;
// their revocation; emergency custodians (organizations holding a consent
// with purpose "emergency"); and time-boxed emergency ("break-glass") access
// sessions with their review. An emergency's reason and review are codes
// (EmergencyReasons, ReviewOutcomes), never free text: a clinical
// justification is health data, which the chain does not store; it stays in
// the organization's own systems.
//
// MayRead and MayWrite answer, from state and block time alone, whether a
// party may read or write a patient's record now and under which consent.
// Reading under an emergency needs a custody consent whose scope covers the
// record (CustodyFor); opening one needs any (Custody). Listings of consents
// and emergencies are index keys, outside the Merkle tree: what they point at
// is used only when it derives exactly the index key that pointed at it, and
// every allowed decision is confirmed by Grounds, which reads proven keys
// alone (GroundKeys lists them, for proofs). IndexEntries derives the
// module's index entries from its proven keys.
// Deterministic; no I/O.
package consent
