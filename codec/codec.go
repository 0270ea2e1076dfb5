package codec

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Errors returned by Reader. They are wrapped with the field being decoded.
var (
	ErrTruncated   = errors.New("truncated input")
	ErrVarint      = errors.New("malformed or non-minimal varint")
	ErrTooLong     = errors.New("field exceeds its size limit")
	ErrUTF8        = errors.New("string is not valid UTF-8")
	ErrBool        = errors.New("bool byte is neither 0 nor 1")
	ErrTrailing    = errors.New("trailing bytes after value")
	ErrListTooLong = errors.New("list exceeds its length limit")
)

// Writer appends canonical encodings to a byte slice. The zero value is ready.
type Writer struct{ buf []byte }

// NewWriter returns a Writer with capacity n preallocated.
func NewWriter(n int) *Writer { return &Writer{buf: make([]byte, 0, n)} }

// Bytes returns the encoded bytes.
func (w *Writer) Bytes() []byte { return w.buf }

// Uint appends v as a minimal unsigned varint.
func (w *Writer) Uint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }

// Int appends a signed integer as its two's-complement uint64 varint. Only for
// values that are never negative in practice (block heights, unix seconds).
func (w *Writer) Int(v int64) { w.Uint(uint64(v)) }

// Bool appends 0x01 or 0x00.
func (w *Writer) Bool(v bool) {
	if v {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
}

// Bytes appends a length-prefixed byte string.
func (w *Writer) Blob(b []byte) {
	w.Uint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

// String appends a length-prefixed UTF-8 string.
func (w *Writer) String(s string) {
	w.Uint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

// Fixed appends raw bytes with no length prefix; the reader must know the size.
func (w *Writer) Fixed(b []byte) { w.buf = append(w.buf, b...) }

// Strings appends a list of strings.
func (w *Writer) Strings(ss []string) {
	w.Uint(uint64(len(ss)))
	for _, s := range ss {
		w.String(s)
	}
}

// Reader decodes canonical encodings. The first error sticks: later calls
// return zero values, and Err reports the first failure with its field name.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader reads from b. b is not copied; returned byte slices are copies.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Err returns the first decoding error.
func (r *Reader) Err() error { return r.err }

// Done returns the first error, or ErrTrailing if unread bytes remain.
func (r *Reader) Done() error {
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.buf) {
		return fmt.Errorf("%w: %d bytes", ErrTrailing, len(r.buf)-r.off)
	}
	return nil
}

// Remaining reports how many bytes have not been read.
func (r *Reader) Remaining() int { return len(r.buf) - r.off }

func (r *Reader) fail(field string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", field, err)
	}
}

// Uint reads a minimal varint.
func (r *Reader) Uint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf[r.off:])
	if n <= 0 {
		if n == 0 {
			r.fail(field, ErrTruncated)
		} else {
			r.fail(field, ErrVarint)
		}
		return 0
	}
	// Minimal: the last byte of a multi-byte varint must not be zero.
	if n > 1 && r.buf[r.off+n-1] == 0 {
		r.fail(field, ErrVarint)
		return 0
	}
	r.off += n
	return v
}

// Int reads a varint and rejects values that do not fit a non-negative int64.
func (r *Reader) Int(field string) int64 {
	v := r.Uint(field)
	if v > 1<<63-1 {
		r.fail(field, ErrTooLong)
		return 0
	}
	return int64(v)
}

// Bool reads one byte that must be 0 or 1.
func (r *Reader) Bool(field string) bool {
	b := r.Fixed(field, 1)
	if b == nil {
		return false
	}
	switch b[0] {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail(field, ErrBool)
	return false
}

// Blob reads a length-prefixed byte string of at most max bytes. The result is
// a copy, never nil on success (an empty blob decodes to an empty slice).
func (r *Reader) Blob(field string, max int) []byte {
	n := r.Uint(field)
	if r.err != nil {
		return nil
	}
	if n > uint64(max) {
		r.fail(field, fmt.Errorf("%w: %d > %d bytes", ErrTooLong, n, max))
		return nil
	}
	return r.Fixed(field, int(n))
}

// String reads a length-prefixed UTF-8 string of at most max bytes.
func (r *Reader) String(field string, max int) string {
	b := r.Blob(field, max)
	if r.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		r.fail(field, ErrUTF8)
		return ""
	}
	return string(b)
}

// Fixed reads exactly n raw bytes (a copy).
func (r *Reader) Fixed(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.buf)-r.off { // not r.off+n: that overflows for huge n
		r.fail(field, ErrTruncated)
		return nil
	}
	out := make([]byte, n)
	copy(out, r.buf[r.off:r.off+n])
	r.off += n
	return out
}

// Into reads exactly len(dst) raw bytes into dst: Fixed without the
// allocation, for fixed-size fields decoded into arrays.
func (r *Reader) Into(field string, dst []byte) {
	if r.err != nil {
		return
	}
	if len(dst) > len(r.buf)-r.off {
		r.fail(field, ErrTruncated)
		return
	}
	r.off += copy(dst, r.buf[r.off:])
}

// Count reads a list length and rejects counts above max.
func (r *Reader) Count(field string, max int) int {
	n := r.Uint(field)
	if r.err != nil {
		return 0
	}
	if n > uint64(max) {
		r.fail(field, fmt.Errorf("%w: %d > %d", ErrListTooLong, n, max))
		return 0
	}
	// Every element takes at least one byte: a cheap bound before allocating.
	if n > uint64(r.Remaining()) {
		r.fail(field, ErrTruncated)
		return 0
	}
	return int(n)
}

// Strings reads a list of at most maxN strings of at most maxLen bytes each.
func (r *Reader) Strings(field string, maxN, maxLen int) []string {
	n := r.Count(field, maxN)
	if r.err != nil {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.String(field, maxLen)
	}
	if r.err != nil {
		return nil
	}
	return out
}

// Hash is SHA-256, the one hash function of the protocol.
func Hash(b []byte) [32]byte { return sha256.Sum256(b) }

// Encoder is implemented by every value with a canonical encoding.
type Encoder interface{ Encode(w *Writer) }

// Marshal returns the canonical encoding of v.
func Marshal(v Encoder) []byte {
	w := NewWriter(64)
	v.Encode(w)
	return w.Bytes()
}
