package merkle

import (
	"hash/maphash"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/medchain/medchain/store"
)

// Absence filters of index families read key by key.
//
// Index keys are not leaves of the Merkle tree, so Tree.absent cannot
// answer for them, and a read of one the state lacks goes through every
// level of the database: the memtables, the filter of each L0 sublevel's
// table, the levels below. Under issue 13's mix that is 8–20 µs of the
// consensus routine per read. Some families are read one key at a time,
// mostly for keys that are not there; for those, idxFilter keeps a Bloom
// filter of every key of the family the database holds. It is built once
// in the background when the tree opens (a scan of the family) and kept up
// to date by every commit; until the scan has ended it answers nothing, so
// a node starts at once and reads the database meanwhile.
//
// It must never miss a key the latest committed version holds:
//   - every write of a key of the family is added at commit (commitAt),
//     before the version can be read;
//   - the scan starts after the filter is in place, so a key is either in
//     what the scan's iterator sees or committed after the iterator was
//     opened, and then added by its commit;
//   - only the working version's reads, of the latest committed version,
//     ask it (Tree.absent); snapshots of older versions read the database.
//
// Deleted keys stay in the filter: they only send a read on to the
// database. A full filter gets a part twice its size beside it (a read
// asks every part), so the false positives stay near 0.3 % per part.

// pointIndexes are the index families (first key bytes, sm/prefixes.go)
// whose keys are filtered.
var pointIndexes = []byte{
	0xB4, // records: content hash → id ‖ version; every records/add reads it to refuse a duplicate
}

const (
	idxBitsPerKey = 6  // bits set per key, in one 512-bit line
	idxLineKeys   = 40 // keys per line at a part's capacity (12.8 bits per key)
	idxMinKeys    = 1 << 15
	// idxDiskBytesPerKey estimates a family's keys from its bytes on disk
	// (a 33-byte key and a 20-byte value, compressed little): the first
	// part is sized for a quarter more than the estimate.
	idxDiskBytesPerKey = 48
)

type idxFilter struct {
	on    [256]bool // the filtered families
	seed  maphash.Seed
	ready atomic.Bool
	parts atomic.Pointer[[]*idxPart]
	mu    sync.Mutex // serializes adds: the commits' and the scan's
	stop  chan struct{}
	done  chan struct{}
	// Read counters (Tree.indexFilterStats).
	answered, passed atomic.Int64
}

// idxPart is one blocked Bloom filter: each key sets idxBitsPerKey bits of
// one line.
type idxPart struct {
	lines []idxLine
	keys  int // guarded by idxFilter.mu
	cap   int
}

type idxLine [8]atomic.Uint64

func newIdxPart(keys int) *idxPart {
	n := max(1, (keys+idxLineKeys-1)/idxLineKeys)
	return &idxPart{lines: make([]idxLine, n), cap: n * idxLineKeys}
}

func (p *idxPart) line(h uint64) (*idxLine, uint64) {
	hi, _ := bits.Mul64(h, uint64(len(p.lines)))
	return &p.lines[hi], mix(h)
}

func (p *idxPart) set(h uint64) {
	l, b := p.line(h)
	for range idxBitsPerKey {
		i := b & 511
		l[i>>6].Or(1 << (i & 63))
		b >>= 9
	}
}

func (p *idxPart) mayContain(h uint64) bool {
	l, b := p.line(h)
	for range idxBitsPerKey {
		i := b & 511
		if l[i>>6].Load()&(1<<(i&63)) == 0 {
			return false
		}
		b >>= 9
	}
	return true
}

// newIdxFilter returns an empty filter of the families in fams whose first
// part holds keys keys.
func newIdxFilter(fams []byte, keys int) *idxFilter {
	f := &idxFilter{seed: maphash.MakeSeed(), stop: make(chan struct{}), done: make(chan struct{})}
	for _, b := range fams {
		f.on[b] = true
	}
	ps := []*idxPart{newIdxPart(max(keys, idxMinKeys))}
	f.parts.Store(&ps)
	return f
}

// filters reports whether key belongs to a filtered family.
func (f *idxFilter) filters(key []byte) bool { return len(key) > 0 && f.on[key[0]] }

// add records that the database holds key (a state key); keys of other
// families are ignored.
func (f *idxFilter) add(key string) {
	if key == "" || !f.on[key[0]] {
		return
	}
	h := maphash.String(f.seed, key)
	f.mu.Lock()
	f.addLocked(h)
	f.mu.Unlock()
}

func (f *idxFilter) addLocked(h uint64) {
	ps := *f.parts.Load()
	p := ps[len(ps)-1]
	if p.keys < p.cap {
		p.set(h)
		p.keys++
		return
	}
	// The new part holds the key before a reader can see it.
	p = newIdxPart(2 * p.cap)
	p.set(h)
	p.keys++
	nps := append(ps[:len(ps):len(ps)], p)
	f.parts.Store(&nps)
}

// absent is true only for a key of a filtered family that the database
// does not hold, once the scan has ended.
func (f *idxFilter) absent(key []byte) bool {
	if !f.filters(key) || !f.ready.Load() {
		return false
	}
	h := maphash.Bytes(f.seed, key)
	for _, p := range *f.parts.Load() {
		if p.mayContain(h) {
			f.passed.Add(1)
			return false
		}
	}
	f.answered.Add(1)
	return true
}

// idxScanHook, when set (tests), is run by the scan of a tree opened
// then, before it opens its iterators.
var idxScanHook func()

// scan adds every key of the filtered families that db holds, then makes
// the filter answer. It stops early, leaving the filter silent, on close
// or on a read error.
func (f *idxFilter) scan(db *pebble.DB, log *slog.Logger, hook func()) {
	defer close(f.done)
	if hook != nil {
		hook()
	}
	start := time.Now()
	const chunk = 4096
	hs := make([]uint64, 0, chunk)
	flush := func() {
		f.mu.Lock()
		for _, h := range hs {
			f.addLocked(h)
		}
		f.mu.Unlock()
		hs = hs[:0]
	}
	for fam := range 256 {
		if !f.on[fam] {
			continue
		}
		lo := []byte{prefixState[0], byte(fam)}
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: store.PrefixEnd(lo)})
		if err != nil {
			log.Warn("index filter not built", "err", err)
			return
		}
		for ok := it.First(); ok; ok = it.Next() {
			hs = append(hs, maphash.Bytes(f.seed, it.Key()[1:]))
			if len(hs) == chunk {
				flush()
				select {
				case <-f.stop:
					_ = it.Close()
					return
				default:
				}
			}
		}
		if err := firstErr(it.Error(), it.Close()); err != nil {
			log.Warn("index filter not built", "err", err)
			return
		}
	}
	flush()
	f.ready.Store(true)
	keys, _ := f.size()
	log.Info("index filter ready", "keys", keys, "sized_for", (*f.parts.Load())[0].cap, "seconds", time.Since(start).Seconds())
}

// size returns the keys added and the bytes of the filter's parts.
func (f *idxFilter) size() (keys, bytes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range *f.parts.Load() {
		keys += p.keys
		bytes += len(p.lines) * 64
	}
	return keys, bytes
}

// close stops the scan and waits for it.
func (f *idxFilter) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.done
}

// startIndexFilter puts the index filter in place and starts its scan.
// The tree must not be committing (it is called at open).
func (t *Tree) startIndexFilter() {
	keys := 0
	for _, fam := range pointIndexes {
		lo := []byte{prefixState[0], fam}
		if n, err := t.db.EstimateDiskUsage(lo, store.PrefixEnd(lo)); err == nil {
			keys += int(min(n/idxDiskBytesPerKey, 1<<31))
		}
	}
	t.idx = newIdxFilter(pointIndexes, keys+keys/4)
	go t.idx.scan(t.db, t.ck.log, idxScanHook)
}

// idxFilterStats says whether the index families' absence filter answers
// yet, how many keys it holds and how many reads it answered (absent) or
// passed on to the database.
type idxFilterStats struct {
	Ready            bool
	Keys             int
	Bytes            int
	Answered, Passed int64
}

func (t *Tree) indexFilterStats() idxFilterStats {
	f := t.idx
	s := idxFilterStats{Ready: f.ready.Load(), Answered: f.answered.Load(), Passed: f.passed.Load()}
	s.Keys, s.Bytes = f.size()
	return s
}
