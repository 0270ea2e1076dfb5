package merkle

import (
	"bytes"
	"errors"
	"io"

	"github.com/cockroachdb/pebble"
	"github.com/medchain/medchain/store"
)

// pebbleReader is what a database and its snapshots have in common.
type pebbleReader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

func get(r pebbleReader, key []byte) ([]byte, error) {
	v, c, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	return out, c.Close()
}

// stateBounds maps a state key range to database bounds.
func stateBounds(start, end []byte) (lo, hi []byte) {
	lo = append(prefixState[:1:1], start...)
	hi = store.PrefixEnd(prefixState)
	if end != nil {
		hi = append(prefixState[:1:1], end...)
	}
	return lo, hi
}

func iterate(r pebbleReader, prefixSeek bool, start, end []byte, fn func(key, value []byte) bool) {
	lo, hi := stateBounds(start, end)
	it, err := r.NewIter(stateIterOptions(lo, hi))
	store.Check(err)
	for ok := seekFirst(it, prefixSeek, lo, hi); ok; ok = it.Next() {
		if !fn(bytes.Clone(it.Key()[1:]), bytes.Clone(it.Value())) {
			break
		}
	}
	store.Check(firstErr(it.Error(), it.Close()))
}

// dbReader reads the latest committed state from the database for the
// working version.
type dbReader struct {
	db         *pebble.DB
	prefixSeek bool // see Tree.prefixSeek
	// cache holds values of version, the committed version under the
	// working one.
	cache   *latest
	version int64
	// absent, when set, answers for keys the state does not hold.
	absent func(key []byte) bool
	// it is one iterator reused for every range read (re-bounded each
	// time): opening a Pebble iterator costs more than most range reads.
	// The database does not change while the dbReader is in use.
	it        *pebble.Iterator
	iterating bool
}

func (r *dbReader) close() error {
	if r.it == nil {
		return nil
	}
	err := r.it.Close()
	r.it = nil
	return err
}

func (r *dbReader) Get(key []byte) []byte {
	if v, ok := r.cache.get(r.version, key); ok {
		return v
	}
	// A key the tree lacks is not remembered: most are new keys about to
	// be written once (a record id) and never read again.
	if r.absent != nil && r.absent(key) {
		return nil
	}
	v, err := get(r.db, append(prefixState[:1:1], key...))
	store.Check(err)
	r.cache.put(r.version, key, bytes.Clone(v))
	return v
}

func (r *dbReader) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	if p, ok := subListing(start, end); ok && !r.iterating && r.cache.subListingRead(r.version, p, start, end, r.Iterate, fn) {
		return
	}
	listing := listingRange(start, end)
	if listing {
		if ps, ok := r.cache.getListing(r.version, start); ok {
			servePairs(ps, fn)
			return
		}
	}
	if r.iterating { // a range read inside another's callback
		iterate(r.db, r.prefixSeek, start, end, fn)
		return
	}
	r.iterating = true
	defer func() { r.iterating = false }()
	lo, hi := stateBounds(start, end)
	if r.it == nil {
		it, err := r.db.NewIter(stateIterOptions(lo, hi))
		store.Check(err)
		r.it = it
	} else {
		r.it.SetBounds(lo, hi)
	}
	var l listingFill
	if listing {
		l.start()
	}
	// fn may read through the same reader: hand it copies.
	for ok := seekFirst(r.it, r.prefixSeek, lo, hi); ok; ok = r.it.Next() {
		l.add(r.it.Key()[1:], r.it.Value())
		if !fn(bytes.Clone(r.it.Key()[1:]), bytes.Clone(r.it.Value())) {
			l.stop()
			break
		}
	}
	store.Check(r.it.Error())
	if ps, ok := l.done(); ok {
		r.cache.putListing(r.version, start, ps)
	}
}

// servePairs hands a remembered listing to fn, in copies.
func servePairs(ps []pair, fn func(key, value []byte) bool) {
	for _, p := range ps {
		if !fn(bytes.Clone(p.k), bytes.Clone(p.v)) {
			return
		}
	}
}

// listingFill collects a listing read from the database, to remember it
// if the read went to its end and it is small.
type listingFill struct {
	on bool
	ps []pair
}

func (l *listingFill) start() { l.on, l.ps = true, []pair{} }

func (l *listingFill) add(k, v []byte) {
	if !l.on {
		return
	}
	if len(l.ps) == maxListing {
		l.stop()
		return
	}
	l.ps = append(l.ps, pair{bytes.Clone(k), bytes.Clone(v)})
}

// stop gives up: the read stopped early or the listing is too long.
func (l *listingFill) stop() { l.on, l.ps = false, nil }

func (l *listingFill) done() ([]pair, bool) { return l.ps, l.on }

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
