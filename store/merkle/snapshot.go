package merkle

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"

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
	t.live[ps] = struct{}{}
	s := &Snapshot{tree: t, snap: ps, version: t.version, root: t.root, hash: t.hash}
	runtime.AddCleanup(s, t.closeSnapshot, ps)
	return s
}

func (t *Tree) closeSnapshot(ps *pebble.Snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.live[ps]; ok {
		delete(t.live, ps)
		ps.Close()
	}
}

// Snapshot is a read-only committed version of the state.
type Snapshot struct {
	tree    *Tree
	snap    *pebble.Snapshot
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
	iterate(s.snap, start, end, fn)
}
