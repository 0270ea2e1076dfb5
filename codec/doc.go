// Package codec defines medchain's canonical binary encoding: the bytes that are
// hashed, signed and stored. Every value has exactly one encoding, and decoding
// is strict: non-minimal varints, invalid UTF-8, oversize fields and trailing
// bytes are rejected. docs/transactions.md is the normative description.
//
// The encoding is deliberately small so that a browser or another language can
// implement it in a page of code:
//
//	uint    unsigned LEB128 varint, minimal (no redundant 0x80 continuation bytes)
//	bool    one byte, 0x00 or 0x01
//	bytes   uint length, then the bytes
//	string  bytes holding valid UTF-8
//	fixed   a fixed-size byte array (address 20, public key 32, signature 64), raw
//	list    uint count, then each element
//
// Pure: no I/O.
package codec
