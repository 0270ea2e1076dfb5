// Package fhirr4 parses and validates FHIR R4 resources in JSON, using
// google/fhir/go (package jsonformat) rather than a model of our own. Pure
// functions: no I/O, no clock, safe for concurrent use.
//
// # Contract
//
// Parse takes one resource, a Bundle included, and either returns a
// *Resource (its type, id, subject and the parsed proto) or an error
// matching ErrInvalid. That error is an *InvalidError listing Issues, each
// a path in FHIR JSON terms and a problem in plain words:
//
//	Observation.status: missing required field
//	Observation.valueQuantity.value: invalid decimal
//	Bundle.entry[1].resource.Observation.status: missing required field
//	resourceType: unknown resource type "LabResult"
//
// Issues never quote element values, only element and type names, so an
// error may be logged without leaking health data. A resource nested in
// another (Bundle.entry.resource, contained) is marked in the path by its
// type. The same input always gives the same issues, in the same order.
//
// Resource.JSON re-marshals with the library's marshaller: canonical FHIR R4
// JSON with sorted keys and no white space, stable under Parse, so it can be
// hashed. Decimals keep the digits they were written with (4.0 stays 4.0).
// SetID and Equal, for the FHIR REST interface, build on the same two steps.
//
// # What google/fhir/go validates
//
// Parsing into the R4 protos checks structure and types: the resource type
// exists; every key is an element of its type (unknown elements are
// rejected); cardinality, since a repeating element must be an array and a
// single one must not; primitive formats (id, code, date, dateTime,
// instant, decimal, integer, positiveInt, unsignedInt, boolean, uri,
// base64Binary, ...); at most one type for a choice element (value[x]);
// relative references ("Type/id"), whose type is checked against the
// element's allowed targets (Observation.subject may not point at a
// Practitioner); and codes of elements with a required binding that the
// protos model as enums (Observation.status must be an ObservationStatus).
// The validator then checks required elements (min cardinality 1), including
// inside backbone elements such as Observation.component.code.
//
// # What this package adds
//
// The library is lenient in places where medchain wants strict input (see
// checkJSON): duplicate keys, keys with an upper-case first letter, null,
// empty strings, objects and arrays, invalid UTF-8, numbers beyond float64,
// more than MaxDepth levels or MaxSize bytes are all rejected here. The
// library validates contained resources only as far as parsing goes; Parse
// runs its validator on them too.
//
// # What is not validated
//
//   - Terminology: codes in CodeableConcept and Coding are not checked
//     against their code systems or value sets (a LOINC code may be wrong),
//     nor are extensible or preferred bindings.
//   - Profiles (US Core and the like) and meta.profile claims, and
//     extensions' definitions: any extension URL is accepted.
//   - Invariants written in FHIRPath (ele-1, ext-1, dom-3, ...), for example
//     that a contained resource is referenced, or that an extension has a
//     value or extensions but not both.
//   - Whether references resolve: "Patient/123" need not exist, and a
//     transaction Bundle's urn:uuid references need not match a fullUrl.
//   - The null placeholders that FHIR JSON allows in arrays of primitives
//     with extensions ("given": ["Ada", null], "_given": [null, {...}]): the
//     library cannot read them, so they are rejected.
package fhirr4
