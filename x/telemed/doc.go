// Package telemed pays for telemedicine consultations through escrow.
// Deterministic; no I/O.
//
// A provider (an active practitioner of an active member organization)
// publishes an offer: a service code, a price, a duration, an arbiter
// organization (not the provider's own), how long before the start a patient
// may still cancel, and how long after the slot the provider has before the
// patient may call it a provider no-show. A patient books a slot (a start
// time) and the price moves from the patient's account into the booking's
// escrow pool, bank.ModuleAddress("telemed", "booking/<id>"). From there the
// escrow leaves exactly once, by one of these paths:
//
//   - done, then confirm: the provider marks the consultation done (not
//     before its start); the patient confirms and the escrow goes to the
//     provider — or, without a confirmation or a dispute, EndBlock releases
//     it to the provider telemed.release_seconds after "done";
//   - cancel: the patient before start − cancel window, the provider at any
//     time before "done": the escrow returns to the patient;
//   - patient no-show: after the slot's end the provider claims it; like
//     "done", the escrow is released to the provider after the release time
//     unless the patient confirms sooner or disputes;
//   - provider no-show: after the slot's end plus the offer's grace, with the
//     booking neither done nor claimed, the patient takes the escrow back;
//   - dispute: either party, once the slot has started (before it, cancel)
//     and before release; the arbiter organization's admin splits the escrow
//     between them (any split summing to the escrow).
//
// Every path moves the whole escrow with bank.Send, so tokens are conserved.
// Every refusal has its own stable code. A booking names its patient in
// state (the refund needs it); the API serves bookings only to signed reads
// of their parties and the arbiter (docs/security.md).
package telemed
