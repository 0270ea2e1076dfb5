// Package research pays patients for the use of their data in research,
// access by access, from an escrowed budget. Deterministic; no I/O.
//
// A researcher (an active member with role researcher) opens a data
// request: a budget moved into the request's escrow pool
// (bank.ModuleAddress("research", "request/<id>")), a price per patient,
// eligibility as FHIR resource types (enforced on chain) and codes
// ("system|code", published criteria the patient's client matches: the
// chain holds no clinical data to match them against), a purpose code and
// an end date.
//
// Opting in is two messages, both the patient's (or a guardian's): a
// consent/grant of purpose research, read only, to the researcher's
// account, scoped to some of the request's resource types (no listed
// records, no all-records scope) and ending exactly at the request's end;
// then research/optin naming the request and that consent. The consent
// module is unchanged and the consent carries no reference: the link lives
// here (the consent id → its one request), so a consent backs one request
// only, and revoking the consent stops the payments it would earn. Each
// opt-in reserves the price out of the budget: a request takes opt-ins
// only while the budget covers every opted-in patient, so a consenting
// patient whose data is read is always paid.
//
// Payment is automatic. At the end of every block the module walks the
// audit trail's new events of every researcher with an open request (the
// accessor listing, from a cursor), and for each served read it checks,
// from proven state alone: the event's consent is linked to an open request
// of that researcher and to this patient's opt-in; that consent was in
// force at the event's time, is the patient's, to the researcher, and
// covers the record read; the record is the patient's and of one of the
// request's types; the access happened before the request's end. The first
// such access of a patient pays the price from the escrow to the patient,
// exactly once per request (the opt-in records the payment); later ones are
// listed beside it. So no payment happens without a recorded access, no
// patient is paid twice by one request, and no one without an opt-in and a
// consent in force is paid. A patient lists their opt-ins with what each
// payment bought: the audit events, record by record.
//
// At the end date opt-ins stop; accesses before it are still paid when
// their audit events arrive within research.settle_seconds (gateways report
// in batches), after which the rest of the escrow returns to the
// researcher. A researcher may end a request early (research/close), once
// every patient who opted in with a consent still in force has been paid
// (their consent, ending at the original end, would otherwise let the
// researcher read unpaid); the same grace applies. When the budget is spent — every opted-in patient
// paid and less than a price left — the request closes at once.
package research
