// Package fhirsubject finds the patient a FHIR R4 resource is about and
// checks it against the patient its record is registered for, so that a
// result is never filed in another patient's chart. Every write path that
// sees the plaintext uses it: the Go client (and so the CLI and the dev
// demo) and the FHIR interface.
//
// The chain cannot make this check: it sees only ciphertext. A client that
// skips it can still misfile a record; what limits the damage is that the
// record's author is on chain (records/add is signed, and the author must be
// the patient, a guardian or a holder of the patient's write consent for
// that type), so a misfiled record is attributable and erasable.
//
// Contract: Element and Reference are pure functions of the resource type
// and its decoded JSON; Check and Resolve do no I/O of their own (the Lookup
// a caller passes finds Patient records), and their errors match
// ErrOtherPatient or ErrUnresolved with errors.Is.
package fhirsubject
