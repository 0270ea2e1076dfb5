package merkle

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/medchain/medchain/store"
)

// ErrNoVersion is returned for a version that was never saved or is no
// longer kept.
var ErrNoVersion = errors.New("no such state version")

// Snapshot returns a read-only view of a committed version.
func (t *Tree) Snapshot(version int64) (*Snapshot, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i := len(t.snaps) - 1; i >= 0; i-- {
		if s := t.snaps[i]; s.version == version {
			return s, nil
		}
	}
	if version > 0 && version <= t.version {
		return nil, fmt.Errorf("%w: %d (the last %d versions are kept)", ErrNoVersion, version, ReadableVersions)
	}
	return nil, fmt.Errorf("%w: %d", ErrNoVersion, version)
}

// newSnapshot captures the committed version; t.mu is held for writing. The
// database snapshot is closed when the Snapshot becomes unreachable.
func (t *Tree) newSnapshot() *Snapshot {
	ps := t.db.NewSnapshot()
	pool := &iterPool{}
	t.live[ps] = pool
	s := &Snapshot{tree: t, snap: ps, its: pool, version: t.version, root: t.root, hash: t.hash}
	runtime.AddCleanup(s, t.closeSnapshot, ps)
	return s
}

func (t *Tree) closeSnapshot(ps *pebble.Snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pool, ok := t.live[ps]; ok {
		delete(t.live, ps)
		pool.close()
		ps.Close()
	}
}

// iterPool keeps a snapshot's idle Pebble iterators for its next range
// reads: opening an iterator (one level iterator per level of the LSM, each
// with its table's index) costs more than a short range read, and a
// re-bounded iterator keeps the tables and index blocks it last used. A
// snapshot is read by many goroutines, each taking an iterator of its own.
//
// Only the latest version's snapshot pools: when a version is committed
// the previous one's pool is closed (its later reads open iterators of
// their own). An open iterator pins the memtables that existed when it was
// opened, so pools kept for all ReadableVersions versions held every
// memtable flushed in the last ~100 blocks: under issue 13's mix 8 zombie
// memtables, 512 MiB. Pebble reuses a memtable's memory only once it is
// released, so nearly every new one was fresh memory whose every page
// faulted on first write (12 µs a fault on this VM, 0.2 s per 64 MiB
// memtable, in the commit).
type iterPool struct {
	mu     sync.Mutex
	idle   []*pebble.Iterator
	closed bool
}

// maxIdleIters bounds a snapshot's idle iterators (each pins the tables it
// last read until it is used again or the snapshot is dropped).
const maxIdleIters = 4

func (p *iterPool) get() *pebble.Iterator {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 && !p.closed {
		it := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return it
	}
	return nil
}

// put keeps it for reuse, or closes it when the pool is full or closed.
func (p *iterPool) put(it *pebble.Iterator) error {
	p.mu.Lock()
	if !p.closed && len(p.idle) < maxIdleIters {
		p.idle = append(p.idle, it)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return it.Close()
}

// close closes the idle iterators; iterators put back later are closed.
func (p *iterPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, it := range p.idle {
		_ = it.Close()
	}
	p.idle = nil
}

// Snapshot is a read-only committed version of the state.
type Snapshot struct {
	tree    *Tree
	snap    *pebble.Snapshot
	its     *iterPool
	version int64
	root    ref
	hash    []byte
}

var _ store.Reader = (*Snapshot)(nil)

func (s *Snapshot) Version() int64 { return s.version }

func (s *Snapshot) Hash() []byte { return bytes.Clone(s.hash) }

func (s *Snapshot) Get(key []byte) []byte {
	if v, ok := s.tree.latest.get(s.version, key); ok {
		return v
	}
	v, err := get(s.snap, append(prefixState[:1:1], key...))
	store.Check(err)
	s.tree.latest.put(s.version, key, bytes.Clone(v))
	return v
}

func (s *Snapshot) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	if p, ok := subListing(start, end); ok && s.tree.latest.subListingRead(s.version, p, start, end, s.Iterate, fn) {
		return
	}
	listing := listingRange(start, end)
	if listing {
		if ps, ok := s.tree.latest.getListing(s.version, start); ok {
			servePairs(ps, fn)
			return
		}
	}
	lo, hi := stateBounds(start, end)
	it := s.its.get()
	if it == nil {
		var err error
		it, err = s.snap.NewIter(stateIterOptions(lo, hi))
		store.Check(err)
	} else {
		it.SetBounds(lo, hi)
	}
	// An iterator is reused only after a clean pass: one that stopped
	// with an error, or whose fn panicked, is closed.
	done := false
	defer func() {
		if !done {
			_ = it.Close()
		}
	}()
	var l listingFill
	if listing {
		l.start()
	}
	for ok := seekFirst(it, s.tree.prefixSeek, lo, hi); ok; ok = it.Next() {
		l.add(it.Key()[1:], it.Value())
		if !fn(bytes.Clone(it.Key()[1:]), bytes.Clone(it.Value())) {
			l.stop()
			break
		}
	}
	if err := it.Error(); err != nil {
		store.Check(err)
	}
	done = true
	store.Check(s.its.put(it))
	if ps, ok := l.done(); ok {
		s.tree.latest.putListing(s.version, start, ps)
	}
}
