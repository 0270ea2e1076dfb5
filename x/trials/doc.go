// Package trials keeps the integrity record of clinical trials: a sponsor's
// registration (registry id, sites, protocol and analysis-plan document
// hashes, pre-registered outcomes, planned enrollment), protocol amendments
// as numbered versions, participants' research consents to a named protocol
// version, enrollments by sites, anchors of case-report-form batches (the
// root of an RFC 6962 Merkle tree over record hashes; the data stays off
// chain, encrypted like any record), the database lock and the results, with
// the comparison of the reported outcomes against those pre-registered in
// the protocol version in force.
//
// The order is enforced, not merely recorded: no enrollment before the
// participant's consent to the current protocol version; no anchor for a
// participant who withdrew, is not enrolled, or owes a re-consent after an
// amendment that requires one; nothing after the lock but the results, once.
// Every refusal has its own code (Codespace "trials").
//
// A participant is a medchain patient, named on chain by address only; a
// trial's participants and its anchors (which name the participants their
// data concern) are patient-scoped: the API serves them only to signed
// requests of the trial's overseers or the participant (see Overseer). The
// trial itself, its versions, counts, lock and results are public.
//
// Deterministic; no I/O.
package trials
