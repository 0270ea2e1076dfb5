// Package links is the chain's master patient index without PHI: an
// organization links its own patient identifiers (an identifier system and
// value, such as a hospital's MRN) to a patient's chain account, so that its
// systems (FHIR imports, HL7 v2 feeds) can name patients the way they always
// have. Deterministic; no I/O.
//
// The chain never sees an identifier: a link is keyed by
// MAC = HMAC-SHA256(K_org, "medchain/patient-link/v1" ‖ 0x00 ‖ org ‖ system ‖
// value), K_org being a 32-byte secret the organization keeps off chain
// (its nodes and integration tools hold it, as they hold its gateway key).
// A keyed MAC rather than a salted hash because identifiers have little
// entropy: with a public salt anyone could hash every MRN of a hospital's
// numbering scheme (10^7 to 10^9 candidates, seconds of work) and read the
// index back; without K_org a MAC is a random-looking 32 bytes. Distinct
// organizations have distinct keys, so the same MRN at two of them gives
// unrelated MACs.
//
// A link needs the patient's approval, one of:
//   - an approval the patient (or a guardian) signs off chain over
//     ApprovalSignBytes (chain id, org, MAC, patient, expiry), carried in
//     the link message; each approval links once;
//   - an active consent of the patient to the organization (any purpose,
//     emergency custody included): a patient already in the organization's
//     care, or registered there.
//
// Links are made and removed by the organization's admins, staff and
// gateway; a patient (or a guardian) can remove any link to them. One MAC
// of an organization names one patient; a patient may have several links
// (several identifier systems, several organizations).
//
// Resolver is the lookup integrations use: from (system, value) to the
// linked patient, with the organization's key.
package links
