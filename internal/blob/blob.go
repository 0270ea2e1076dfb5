package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Errors returned by every Store, wrapped with the blob's hash where there is one.
var (
	ErrNotFound     = errors.New("blob: not found")
	ErrHashMismatch = errors.New("blob: data does not match the expected hash")
	ErrCorrupt      = errors.New("blob: stored data does not match its hash")
	ErrTooLarge     = errors.New("blob: larger than the size limit")
	ErrBadHash      = errors.New("blob: not a hash: want 64 lowercase hex digits")
)

// DefaultMaxSize is the largest blob a store accepts unless told otherwise.
const DefaultMaxSize = 64 << 20

// Hash is the key of a blob: the SHA-256 of its bytes.
type Hash = [sha256.Size]byte

// Store is a content-addressed store of ciphertext.
type Store interface {
	// Put stores data and returns its SHA-256.
	Put(ctx context.Context, data []byte) (Hash, error)
	// PutExpect stores data if its SHA-256 is want, else fails with
	// ErrHashMismatch and stores nothing.
	PutExpect(ctx context.Context, want Hash, data []byte) error
	// Get returns the blob with hash h: ErrNotFound if there is none,
	// ErrCorrupt if the stored bytes no longer hash to h.
	Get(ctx context.Context, h Hash) ([]byte, error)
	// Has reports whether a blob with hash h is stored, without reading it.
	Has(ctx context.Context, h Hash) (bool, error)
	// Delete removes the blob; deleting a missing blob is not an error.
	Delete(ctx context.Context, h Hash) error
	// List calls fn for each stored blob until fn returns false.
	List(ctx context.Context, fn func(h Hash, size int64, mod time.Time) bool) error
}

// Sum returns the key of data.
func Sum(data []byte) Hash { return sha256.Sum256(data) }

// HashString renders a hash as 64 lowercase hex digits, the form used in
// file and object names and in URLs.
func HashString(h Hash) string { return hex.EncodeToString(h[:]) }

// ParseHash parses 64 lowercase hex digits. Upper case is rejected so that
// each hash has exactly one text form.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) || !isLowerHex(s) {
		return h, fmt.Errorf("%w: %.80q", ErrBadHash, s)
	}
	_, _ = hex.Decode(h[:], []byte(s))
	return h, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Option configures a store.
type Option func(*options)

type options struct {
	maxSize int64
}

// WithMaxSize sets the largest blob the store accepts and serves; n <= 0
// means DefaultMaxSize.
func WithMaxSize(n int64) Option {
	return func(o *options) { o.maxSize = n }
}

func buildOptions(opts []Option) options {
	o := options{maxSize: DefaultMaxSize}
	for _, f := range opts {
		f(&o)
	}
	if o.maxSize <= 0 {
		o.maxSize = DefaultMaxSize
	}
	return o
}

func checkSize(data []byte, max int64) error {
	if int64(len(data)) > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), max)
	}
	return nil
}

func checkExpected(want Hash, data []byte) error {
	if got := Sum(data); got != want {
		return fmt.Errorf("%w: want %s, got %s", ErrHashMismatch, HashString(want), HashString(got))
	}
	return nil
}

func verify(h Hash, data []byte) error {
	if Sum(data) != h {
		return fmt.Errorf("%w: %s", ErrCorrupt, HashString(h))
	}
	return nil
}

func notFound(h Hash) error { return fmt.Errorf("%w: %s", ErrNotFound, HashString(h)) }
