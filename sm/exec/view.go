package exec

import (
	"bytes"
	"sync"

	"github.com/medchain/medchain/store"
)

// iterChunk is how many pairs a locked iteration collects before it lets
// go of its lock and hands them to the caller: the caller's callback reads
// the same store, which must not wait on the lock it holds.
const iterChunk = 64

// chunked iterates [start, end) by collecting up to iterChunk pairs at a
// time with collect (which holds whatever lock it needs), then calling fn
// on them with no lock held. The store may change between chunks (a
// speculative view): what the caller saw is validated before it counts.
func chunked(collect func(start, end []byte, max int) []pairKV, start, end []byte, fn func(k, v []byte) bool) {
	for {
		ps := collect(start, end, iterChunk)
		for _, p := range ps {
			if !fn(p.k, p.v) {
				return
			}
		}
		if len(ps) < iterChunk {
			return
		}
		start = append(bytes.Clone(ps[len(ps)-1].k), 0)
	}
}

type pairKV struct{ k, v []byte }

// gate serialises reads of the block's state (the working tree, whose read
// path is not made for concurrent readers) and passes writes through: it is
// the parent of the block's cache while transactions run in parallel.
type gate struct {
	mu sync.Mutex
	kv State
}

func (g *gate) Get(key []byte) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	// A copy: the read log keeps it to compare later, and the state's
	// contract does not promise its slices outlive later reads.
	return bytes.Clone(g.kv.Get(key))
}

func (g *gate) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	chunked(func(start, end []byte, max int) []pairKV {
		g.mu.Lock()
		defer g.mu.Unlock()
		var ps []pairKV
		// Copies: a reader's keys and values need only outlive the
		// callback, and these are handed out after it.
		g.kv.Iterate(start, end, func(k, v []byte) bool {
			ps = append(ps, pairKV{bytes.Clone(k), bytes.Clone(v)})
			return len(ps) < max
		})
		return ps
	}, start, end, fn)
}

func (g *gate) Set(key, value []byte) { g.kv.Set(key, value) }
func (g *gate) Delete(key []byte)     { g.kv.Delete(key) }

// WriteBatch hands the block's writes to the state as the block's cache
// would without the gate: as one batch to a BatchWriter, else one by one.
func (g *gate) WriteBatch(ws []store.Write) {
	if b, ok := g.kv.(store.BatchWriter); ok {
		b.WriteBatch(ws)
		return
	}
	for _, w := range ws {
		if w.Value == nil {
			g.kv.Delete([]byte(w.Key))
		} else {
			g.kv.Set([]byte(w.Key), w.Value)
		}
	}
}

// TakeCache hands the block's cache to a state that can take it whole
// (store.CacheTaker), else its writes as WriteBatch does.
func (g *gate) TakeCache(c *store.Cache, ws []store.Write) {
	if t, ok := g.kv.(store.CacheTaker); ok {
		t.TakeCache(c, ws)
		return
	}
	g.WriteBatch(ws)
}

// shared is the block's state as the transactions committed so far left it,
// read by the speculative workers and written by the committer only. done
// is the number of transactions committed; marks says which of them last
// wrote each key, so that validating a read costs a lookup, not a read of
// the state.
type shared struct {
	mu    sync.RWMutex
	block *store.Cache
	marks map[string]int
	done  int
}

// get reads key for a worker and reports how many transactions had
// committed when it did.
func (s *shared) get(key []byte) ([]byte, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.block.Get(key), s.done
}

func (s *shared) collect(start, end []byte, max int) ([]pairKV, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ps []pairKV
	s.block.Iterate(start, end, func(k, v []byte) bool {
		ps = append(ps, pairKV{bytes.Clone(k), v})
		return len(ps) < max
	})
	return ps, s.done
}

// apply commits transaction tx's writes.
func (s *shared) apply(tx int, ws []store.Write) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range ws {
		if w.Value == nil {
			s.block.Delete([]byte(w.Key))
		} else {
			s.block.Set([]byte(w.Key), w.Value)
		}
		s.marks[w.Key] = tx
	}
	s.done = tx + 1
}

// changedSince reports whether a transaction committed after the first
// done ones wrote key. Only the committer calls it (no lock: it is the
// only writer).
func (s *shared) changedSince(key string, done int) bool {
	tx, ok := s.marks[key]
	return ok && tx >= done
}

// rangeChangedSince reports whether a transaction committed after the
// first done ones wrote a key in [start, end) (end nil: no bound): the
// block's own writes in the range are the candidates.
func (s *shared) rangeChangedSince(start, end []byte, done int) bool {
	changed := false
	s.block.Ascend(start, func(w store.Write) bool {
		if end != nil && w.Key >= string(end) {
			return false
		}
		if tx, ok := s.marks[w.Key]; ok && tx >= done {
			changed = true
			return false
		}
		return true
	})
	return changed
}

// readLog is what one speculative execution read from the shared state:
// its access set, with the values it saw.
type readLog struct {
	gets   []getRead
	ranges []rangeRead
}

type getRead struct {
	key   string
	value []byte
	at    int // transactions committed when it was read
}

// rangeRead is one iteration of the shared state: the pairs it saw in
// order, and whether it went to the end of the range (else it stopped
// after the last pair).
type rangeRead struct {
	start, end []byte
	pairs      []pairKV
	complete   bool
	at         int // transactions committed when its first chunk was read
}

// recorder is the Reader a speculative transaction's cache sits on: it
// reads the shared state and logs every read.
type recorder struct {
	s   *shared
	log *readLog
}

func (r *recorder) Get(key []byte) []byte {
	v, at := r.s.get(key)
	r.log.gets = append(r.log.gets, getRead{key: string(key), value: v, at: at})
	return v
}

func (r *recorder) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	rr := rangeRead{start: bytes.Clone(start), end: bytes.Clone(end), at: -1, complete: true}
	chunked(func(start, end []byte, max int) []pairKV {
		ps, at := r.s.collect(start, end, max)
		if rr.at < 0 {
			rr.at = at
		}
		return ps
	}, start, end, func(k, v []byte) bool {
		rr.pairs = append(rr.pairs, pairKV{k, v})
		if !fn(k, v) {
			rr.complete = false
			return false
		}
		return true
	})
	if rr.at < 0 {
		rr.at = 0 // collect always runs once; unreachable
	}
	r.log.ranges = append(r.log.ranges, rr)
}

// valid reports whether every read of log returns the same now, with the
// transactions before this one committed: then executing it again would
// do exactly what it did. The committer calls it.
func (s *shared) valid(log *readLog) bool {
	for i := range log.gets {
		g := &log.gets[i]
		if !s.changedSince(g.key, g.at) {
			continue
		}
		cur := s.block.Get([]byte(g.key))
		if (cur == nil) != (g.value == nil) || !bytes.Equal(cur, g.value) {
			return false
		}
	}
	for i := range log.ranges {
		r := &log.ranges[i]
		end := r.end
		if !r.complete {
			// Only the keys up to the last one seen mattered.
			end = append(bytes.Clone(r.pairs[len(r.pairs)-1].k), 0)
		}
		if !s.rangeChangedSince(r.start, end, r.at) {
			continue
		}
		if !s.sameRange(r) {
			return false
		}
	}
	return true
}

// sameRange iterates r's range again over the committed state and compares.
func (s *shared) sameRange(r *rangeRead) bool {
	i, same := 0, true
	s.block.Iterate(r.start, r.end, func(k, v []byte) bool {
		if i == len(r.pairs) {
			// More pairs than were seen: a change unless the iteration
			// stopped before them.
			same = !r.complete
			return false
		}
		p := r.pairs[i]
		if !bytes.Equal(p.k, k) || !bytes.Equal(p.v, v) {
			same = false
			return false
		}
		i++
		return true
	})
	if !same {
		return false
	}
	return i == len(r.pairs)
}
