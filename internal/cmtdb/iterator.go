package cmtdb

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble"
	dbm "github.com/cometbft/cometbft-db"
)

// iterator is a dbm.Iterator over a Pebble iterator whose bounds are the
// domain, so Pebble itself keeps it within [start, end).
//
// Key and Value return copies, which the caller may keep: Pebble's own
// slices point into cache blocks that can be released once the iterator
// moves, where goleveldb's stay valid Go memory that callers written against
// it may have held on to.
type iterator struct {
	it         *pebble.Iterator // nil for an empty domain
	start, end []byte
	reverse    bool
	invalid    bool   // once invalid, forever invalid
	key, value []byte // copies at the current position, made on demand
}

var _ dbm.Iterator = (*iterator)(nil)

func (d *DB) newIterator(start, end []byte, reverse bool) (dbm.Iterator, error) {
	if (start != nil && len(start) == 0) || (end != nil && len(end) == 0) {
		return nil, ErrKeyEmpty
	}
	// Pebble keeps the bounds for the iterator's life; copy them so a caller
	// reusing its buffers cannot move the domain.
	start, end = bytes.Clone(start), bytes.Clone(end)
	itr := &iterator{start: start, end: end, reverse: reverse}
	if start != nil && end != nil && bytes.Compare(start, end) >= 0 {
		itr.invalid = true // empty domain, as goleveldb yields
		return itr, nil
	}

	if err := d.rlock(); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return nil, fmt.Errorf("cmtdb: new iterator: %w", err)
	}
	itr.it = it
	if reverse {
		it.Last()
	} else {
		it.First()
	}
	return itr, nil
}

// Domain returns the iterator's [start, end).
func (i *iterator) Domain() (start, end []byte) { return i.start, i.end }

// Valid reports whether the iterator is at a key in its domain.
func (i *iterator) Valid() bool {
	if i.invalid {
		return false
	}
	if i.it.Error() != nil || !i.it.Valid() {
		i.invalid = true
		return false
	}
	return true
}

// Next moves to the next key in iteration order. It panics if the iterator
// is not valid.
func (i *iterator) Next() {
	i.mustBeValid()
	i.key, i.value = nil, nil
	if i.reverse {
		i.it.Prev()
	} else {
		i.it.Next()
	}
}

// Key returns a copy of the current key. It panics if the iterator is not
// valid.
func (i *iterator) Key() []byte {
	i.mustBeValid()
	if i.key == nil {
		i.key = bytes.Clone(i.it.Key())
	}
	return i.key
}

// Value returns a copy of the current value. It panics if the iterator is not
// valid.
func (i *iterator) Value() []byte {
	i.mustBeValid()
	if i.value == nil {
		v := i.it.Value()
		i.value = append(make([]byte, 0, len(v)), v...) // non-nil even when empty
	}
	return i.value
}

// Error returns the error that ended the iteration, if any.
func (i *iterator) Error() error {
	if i.it == nil {
		return nil
	}
	if err := i.it.Error(); err != nil {
		return fmt.Errorf("cmtdb: iterator: %w", err)
	}
	return nil
}

// Close releases the iterator. It is idempotent.
func (i *iterator) Close() error {
	i.invalid = true
	if i.it == nil {
		return nil
	}
	err := i.it.Close()
	i.it = nil
	if err != nil {
		return fmt.Errorf("cmtdb: iterator close: %w", err)
	}
	return nil
}

func (i *iterator) mustBeValid() {
	if !i.Valid() {
		panic("cmtdb: iterator is invalid")
	}
}
