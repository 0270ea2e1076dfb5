package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sort"
)

// Reader reads state.
type Reader interface {
	// Get returns the value at key, or nil when absent.
	Get(key []byte) []byte
	// Iterate calls fn for each key in [start, end) in ascending order until fn
	// returns false. A nil end means no upper bound.
	Iterate(start, end []byte, fn func(key, value []byte) bool)
}

// KV reads and writes state. Values must not be nil; keys not empty.
type KV interface {
	Reader
	Set(key, value []byte)
	Delete(key []byte)
}

// Write is one write a Cache buffered: Value is the new value, or nil when
// the write deletes Key.
type Write struct {
	Key   string
	Value []byte
}

// BatchWriter is a KV that takes a batch of writes at once (the committed
// state does: it hashes a batch on every core). Cache.Write hands its parent
// its writes this way when the parent is a BatchWriter.
type BatchWriter interface {
	KV
	// WriteBatch applies ws, sorted by key with each key at most once, as
	// Set and Delete would in that order. It may keep ws.
	WriteBatch(ws []Write)
}

// CacheTaker is a BatchWriter whose buffered writes are themselves a Cache
// (the Merkle tree's working version is): it can take a whole cache's
// writes, its key order and index included, instead of inserting them one
// by one. Cache.Write hands its writes this way when the parent is one.
type CacheTaker interface {
	BatchWriter
	// TakeCache applies ws, c's writes in key order, as WriteBatch(ws)
	// would, and may take c's buffers over (Cache.TakeFrom); c is empty
	// afterwards either way.
	TakeCache(c *Cache, ws []Write)
}

// IndexKeyStart is the first key byte of index keys: see IsIndexKey.
const IndexKeyStart = 0x80

// IsIndexKey reports whether key is an index key: a key whose first byte is
// IndexKeyStart or above. Index keys are stored, read, listed and committed
// like any other key, in the same atomic batch, but they are not leaves of
// the Merkle tree and have no proofs of their own. Modules keep there the
// listings they derive from proven keys (a patient's records, a grantee's
// consents): every node derives the same ones, and a proof of the
// underlying key proves what the index points at. The app hash still covers
// them: the committed state folds a digest of each version's index writes
// into a proven key (IndexDigestKey).
func IsIndexKey(key []byte) bool { return len(key) > 0 && key[0] >= IndexKeyStart }

// IndexDigestKey is the proven key under which the committed state keeps
// the chained digest of the index writes of every version (store/merkle
// describes the digest). It is sm.PrefixIndexDigest, reserved for it.
var IndexDigestKey = []byte{0x7F}

// ErrIndexKey is returned for a proof of an index key.
var ErrIndexKey = errors.New("index keys are not in the Merkle tree and have no proofs; prove the keys they point at")

// Fault is the panic value of a storage failure.
type Fault struct{ Err error }

func (f Fault) Error() string { return "store fault: " + f.Err.Error() }
func (f Fault) Unwrap() error { return f.Err }

// Check panics with a Fault when err is not nil.
func Check(err error) {
	if err != nil {
		panic(Fault{err})
	}
}

// PrefixEnd returns the smallest key greater than every key with the prefix.
func PrefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Memory is an in-memory KV, for tests and as a cache's overlay.
type Memory struct {
	m    map[string][]byte
	keys []string // sorted lazily
	dirt bool
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{m: map[string][]byte{}} }

func (s *Memory) Get(key []byte) []byte { return s.m[string(key)] }

func (s *Memory) Set(key, value []byte) {
	if len(key) == 0 || value == nil {
		panic(Fault{errEmpty})
	}
	if _, ok := s.m[string(key)]; !ok {
		s.dirt = true
	}
	s.m[string(key)] = bytes.Clone(value)
}

func (s *Memory) Delete(key []byte) {
	if _, ok := s.m[string(key)]; ok {
		delete(s.m, string(key))
		s.dirt = true
	}
}

func (s *Memory) sorted() []string {
	if s.dirt || s.keys == nil {
		s.keys = s.keys[:0]
		for k := range s.m {
			s.keys = append(s.keys, k)
		}
		sort.Strings(s.keys)
		s.dirt = false
	}
	return s.keys
}

func (s *Memory) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	keys := s.sorted()
	i := sort.SearchStrings(keys, string(start))
	for ; i < len(keys); i++ {
		k := keys[i]
		if end != nil && k >= string(end) {
			return
		}
		v, ok := s.m[k]
		if !ok {
			continue
		}
		if !fn([]byte(k), v) {
			return
		}
	}
}

// Len reports the number of keys.
func (s *Memory) Len() int { return len(s.m) }

var (
	errEmpty    = errors.New("empty key or nil value")
	errReadOnly = errors.New("write through a cache over a read-only state")
)

// Memo remembers the values a Reader returned, absent keys included, and the
// ranges it iterated to the end (up to maxMemoRange pairs each). It is for a
// reader whose content does not change while the Memo is in use (a
// committed snapshot) and that is read from one goroutine at a time. Keys
// and values it hands out are shared: callers must not modify them.
type Memo struct {
	r      Reader
	seen   map[string][]byte
	ranges map[string][]pair
}

type pair struct{ k, v []byte }

// maxMemoRange bounds the ranges a Memo remembers: listings of one
// patient's consents or guardians, not scans of a whole table.
const maxMemoRange = 256

// NewMemo returns a Memo over r.
func NewMemo(r Reader) *Memo { return NewMemoSized(r, 0) }

// NewMemoSized returns a Memo over r made for about n keys (as many as the
// one it replaces remembered), so that it does not rehash as it grows.
func NewMemoSized(r Reader, n int) *Memo {
	return &Memo{r: r, seen: make(map[string][]byte, min(n, maxExpected)), ranges: map[string][]pair{}}
}

// Len is how many keys m remembers.
func (m *Memo) Len() int { return len(m.seen) }

func (m *Memo) Get(key []byte) []byte {
	if v, ok := m.seen[string(key)]; ok {
		return v
	}
	v := m.r.Get(key)
	m.seen[string(key)] = v
	return v
}

// Iterate serves a range it read to the end before from memory: a block
// lists the same patient's consents and guardians several times (checking
// write consent, then who gets the record's key), and each listing was a
// database seek.
func (m *Memo) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	rk := rangeKey(start, end)
	if ps, ok := m.ranges[rk]; ok {
		for _, p := range ps {
			if !fn(p.k, p.v) {
				return
			}
		}
		return
	}
	var ps []pair
	complete := true
	m.r.Iterate(start, end, func(k, v []byte) bool {
		if len(ps) <= maxMemoRange {
			ps = append(ps, pair{k, v})
		}
		if !fn(k, v) {
			complete = false
			return false
		}
		return true
	})
	if complete && len(ps) <= maxMemoRange {
		m.ranges[rk] = ps
	}
}

func rangeKey(start, end []byte) string {
	b := binary.AppendUvarint(make([]byte, 0, len(start)+len(end)+4), uint64(len(start)))
	b = append(b, start...)
	if end == nil {
		return string(append(b, 0))
	}
	b = append(b, 1)
	return string(append(b, end...))
}

// Over reports whether the Memo reads r.
func (m *Memo) Over(r Reader) bool { return m.r == r }
