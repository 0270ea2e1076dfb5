// Package supply keeps the chain of custody of serialised medicines:
// GS1 master data (products, locations, trading partners), EPCIS 2.0 events
// captured as transactions, the custody rules that decide whether an event
// may happen, verification of a unit's identity and status, suspect-product
// investigations and recalls. Deterministic; no I/O.
//
// The acting party of every message is the signer's organization (any
// active member of an active member organization signs for it). Events
// arrive already parsed (internal/epcis reads the EPCIS document and
// computes its CBV 2.0 hash at the edge); the module stores the hash, the
// custody-relevant fields and the event document as captured, and applies:
//
//   - commissioning: only the brand owner (the organization that registered
//     the GTIN), each serial once, with lot and expiry;
//   - packing/unpacking: the custodian of the parent and of every child;
//     children then move with the parent until unpacked;
//   - shipping: only the current custodian, of units not packed in another,
//     not in transit, not quarantined, to a registered location of a
//     trading partner;
//   - receiving: only the organization the shipment is addressed to, from a
//     trading partner of its own;
//   - dispensing, decommissioning, destroying: terminal; an expired or
//     recalled unit is not dispensed;
//   - a quarantined unit (open investigation) and everything packed in it
//     does not move.
//
// Every refusal has its own stable code in codespace "supply"; a refused
// message changes nothing. The package holds no health data: units,
// products, places and organizations only.
package supply
