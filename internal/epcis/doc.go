// Package epcis reads GS1 EPCIS 2.0 documents in JSON/JSON-LD, computes the
// CBV 2.0 event hash of every event, and serves the EPCIS 2.0 REST binding
// (capture and query) over a Backend that the node implements.
//
// Parse (or ParseDocument) turns an EPCISDocument — or a single event — into
// []Event: ObjectEvent, AggregationEvent and TransactionEvent; a
// TransformationEvent (or AssociationEvent) is refused with
// ErrUnsupportedEventType. Identifiers arrive as EPC URNs or GS1 Digital
// Links and leave as gs1.Data; CBV bizSteps and dispositions arrive as bare
// names, https://ref.gs1.org/cbv/ URIs or urn:epcglobal:cbv: URNs and leave
// as the bare CBV 2.0 name. Every Event carries its Hash, computed exactly as
// GS1's reference implementation (epcis-event-hash-generator 1.9.3) does,
// and its original JSON.
//
// DocumentHashes computes the hashes of any EPCIS 2.0 JSON-LD document
// (every event type, including those Parse refuses).
package epcis
