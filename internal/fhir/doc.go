// Package fhir is the FHIR R4 REST interface of an organization's node,
// mounted under /fhir beside the /v1 API. Ordinary FHIR clients use it; every
// read and write still goes through medchain's consent, encryption and audit
// trail. docs/fhir.md is the user's and integrator's description; this is
// the caller's contract.
//
// # What it serves
//
// metadata (a CapabilityStatement of exactly what is implemented); create,
// read, vread, update (a new record version), history, delete (erasure, by
// the patient or a guardian); search by patient/subject, _id, _lastUpdated,
// token and date parameters (see dateParams, tokenParams) with _count,
// _offset paging links and _sort; Patient/{id}/$everything; transaction and
// batch Bundles of creates and updates resolving fullUrl (urn:uuid)
// references; Consent and AuditEvent searches that reflect the chain. JSON
// only (application/fhir+json). Errors are OperationOutcome resources whose
// issue.details carries medchain's stable code ("consent/17", "fhir/9").
//
// # Identity and keys
//
// A resource's id is its record id (16 random bytes, 32 hex digits), its
// meta.versionId the record version, meta.lastUpdated the block time of that
// version. A Patient resource names its medchain patient with an identifier
// of system urn:medchain:address; other resources name theirs by reference:
// Patient/{id of a Patient resource} or Patient/mc… (an address).
//
// # Trust
//
// Clients do no cryptography, so the node's gateway does it for them, with
// a session key and never the user's own key. A token stands for an
// on-chain session (x/session): the user's device makes a session key,
// delegates it on chain within limits (message types, resource types or
// records, expiry in block time) and re-wraps the data keys it may read to
// it (records/session_keys); the token request, signed by the session key
// (TokenSignBytes), carries its seeds sealed to the organization's key
// (SealDelegation), kept in memory only and wiped when the token ends. The
// node re-checks the session on the latest state at every request (revoked
// or expired: 401), opens only keys wrapped to the session key and only for
// records its limits cover, and signs writes with the session key, which the
// chain bounds by the same limits. Without a session it opens only keys
// wrapped to its organization (organization consents, emergency access) and
// writes nothing. Every access is decided by consent.MayRead / MayWrite on
// the latest committed state, never by what the client claims, and each
// served or refused read is reported to the gateway's Auditor. Challenges
// are bound to an active account and capped per account and per client IP;
// tokens are capped per account. Each served or refused read is reported
// durably before the answer (a read it cannot record is not served), with
// the session's signed token request as the proof the chain checks.
//
// # Writes
//
// A write is validated (fhirr4), encrypted under a fresh data key wrapped
// for exactly consent.KeyHolders, stored in the blob store, and registered
// with records/add signed by the user. A transaction's messages are first
// executed against the latest state in a scratch cache, so a transaction
// the chain would refuse writes nothing; they are then signed with
// consecutive sequences, handed to the mempool without waiting between
// them, and awaited together.
package fhir
