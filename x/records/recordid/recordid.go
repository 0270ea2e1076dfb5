// Package recordid is the identity of a health record, the records domain's
// own type. It is a leaf package so that consent, which scopes grants to
// records, can name a record without importing the records module (which
// imports consent). Deterministic; no I/O.
package recordid

// Size is the length of an ID.
const Size = 16

// ID identifies a record: 16 random bytes chosen by its first author, never
// derived from its contents.
type ID [Size]byte
