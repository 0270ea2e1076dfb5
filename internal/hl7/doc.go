// Package hl7 takes HL7 v2.x messages from an organization's feeds (MLLP)
// into medchain's FHIR interface, the way an interface engine (Mirth,
// NextGen Connect) would, without one.
//
// # What it does
//
// Parse reads a message in the ER7 (pipe-and-hat) encoding: segments,
// fields, repetitions, components and subcomponents, with the delimiters
// the message's own MSH-1 and MSH-2 declare, and with escape sequences
// decoded (\F\ \S\ \T\ \R\ \E\, \Xhh…\, \.br\; highlighting \H\ \N\ is
// dropped). Map turns ADT^A01/A04/A08 and ORU^R01 into a FHIR transaction
// Bundle (docs/integration.md has the field-by-field mapping). Processor
// ties these together: it answers every message with an ACK (AA, or a NAK:
// AE for a message it understood but could not apply, AR for one it
// rejects) carrying MSA and, for a NAK, ERR with the HL7 error code (table
// 0357) and the reason; it writes a message's resources all or nothing
// (one transaction Bundle); and it processes a message once, keyed by
// sending application, facility and control id (MSH-3, MSH-4, MSH-10),
// recorded in a Journal that survives restarts. A resent message gets the
// same ACK again and stores nothing.
//
// # Contract
//
// Parse, Map and the ACK builders are pure. Serve (MLLP framing over TCP)
// and Journal (an append-only file) are the I/O edges; the FHIR side is a
// Sink (FHIRSink posts to a node's /fhir with a bearer token of the
// organization's integration account, so every write goes through consent,
// encryption and the audit trail like any other FHIR client's).
package hl7
