// Package gs1 validates and converts GS1 identifiers: GTIN (AI 01, held as
// GTIN-14), SGTIN (GTIN + serial, AI 21), lot (AI 10), expiry (AI 17),
// SSCC (AI 00), GLN (AI 414) with extension (AI 254).
//
// Four written forms parse to the same Data value:
//   - element strings, as a barcode scanner transmits them (AIs run
//     together, variable-length elements ended by GS 0x1D, optional
//     symbology identifier such as "]d2") or in human-readable form
//     "(01)…(17)…(10)…(21)…": ParseElementString;
//   - GS1 Digital Link URIs on any host, uncompressed, path keys and query
//     attributes, percent-encoded: ParseDigitalLink;
//   - EPC pure identity URNs urn:epc:id:sgtin/sscc/sgln and the class URN
//     urn:epc:class:lgtin, with the Tag Data Standard's escaping:
//     ParseEPCURN;
//   - Parse picks the form by its shape.
//
// Rendering back: Data.ElementString, Data.HumanReadable, Data.DigitalLink,
// and SGTIN/LGTIN/SSCC/SGLN.EPCURN. A key → URN conversion needs the length
// of the GS1 Company Prefix (6..12), which only the party that was assigned
// it knows; x/supply records it per manufacturer and passes it in. URN → key
// needs no length.
//
// Every fault is an *Error naming the identifier and wrapping one sentinel
// (ErrCheckDigit, ErrLength, ErrCharset, ErrDate, …): test with errors.Is.
//
// Expiry dates stay in their YYMMDD form; Expiry.Resolve turns one into a
// calendar date given the current year (GS1's century rule, and DD = 00 as
// the month's last day), so that state-machine code passes the block time's
// year and stays deterministic.
//
// Pure and deterministic: no I/O, no clock, no map iteration in results.
// The state machine (x/supply) imports it.
package gs1
