package merkle

import (
	"bytes"
	"slices"
	"sync"

	"github.com/medchain/medchain/store"
)

// latest remembers values of the latest committed version, in memory, in
// front of the database: the accounts, signing keys, sessions and
// parameters every block and every mempool check reads again. It is a
// cache of committed values only, so it cannot change a result:
//
//   - An entry holds the value (or the absence) of its key at the version
//     the cache is at; that is the only thing it ever answers.
//   - Commit applies the version's writes to every entry they touch, in the
//     same step that moves the cache to the new version, right after the
//     database saved that version. A working version's writes never reach
//     it, so a block that fails (Rollback) leaves nothing behind.
//   - A reader of another version (an older snapshot, a proof, a query at a
//     past height) misses, and so does its attempt to fill it.
//   - It starts empty when the tree opens.
//
// Which keys it holds depends on what was read and when (it is bounded);
// what it answers does not. Keys enter when read from the database (a
// miss) and leave when their generation is dropped: the cache keeps two
// maps of at most half the limit each, new entries go to the current one,
// and when it is full the older one is dropped and the current one becomes
// the older; a hit in the older one moves the entry forward. Keys read
// every block (accounts, parameters) stay; keys written once and never
// read again (a new record) do not enter.
//
// Values it holds are never modified; readers get copies. Safe for
// concurrent use (the writer and every snapshot reader).
//
// It also remembers small listings: the whole of one party's keys in an
// address listing (prefix.go: a patient's guardians, consents, and the
// like), read from the database as one range. Every write to a key with
// that party's prefix drops the listing at commit, so it too only ever
// answers for the version the cache is at. A block reads the same few
// listings of each patient it touches (who may write, who gets the key) and
// most of them are empty and never change; each was a database seek. A
// read of part of a listing (a patient's consents to one party) is answered
// from the whole one, which such a read fills when it is short
// (subListingRead).
type latest struct {
	mu       sync.Mutex
	version  int64
	half     int64 // bytes per generation; 0 disables the cache
	cur, old map[string][]byte
	curBytes int64
	oldBytes int64
	stats    CacheStats

	// Listings, by listing prefix (family ‖ address), in two generations
	// of at most lhalf bytes each, as the values are.
	lhalf                int64
	lcur, lold           map[string][]pair
	lcurBytes, loldBytes int64
	// long holds the prefixes of listings found longer than maxListing: a
	// read of part of one seeks that part instead of reading the listing
	// whole to remember it. A hint only (either way answers the same): a
	// listing's writes keep it (a long listing, a trail, rarely shrinks, and
	// is written often), and it is emptied when it grows past maxLong
	// (65,536 prefixes, about 5 MiB).
	long map[string]struct{}
}

// pair is one key and value of a listing.
type pair struct{ k, v []byte }

// maxListing is the most pairs a remembered listing holds: a party's
// guardians or consents, not an audit trail.
const maxListing = 32

func listingCost(prefix string, ps []pair) int64 {
	n := int64(len(prefix) + entryOverhead)
	for _, p := range ps {
		n += int64(len(p.k)+len(p.v)) + 48 // the pair's two slice headers
	}
	return n
}

// maxLong is the most long-listing hints the cache keeps.
const maxLong = 1 << 16

// subListing returns the listing prefix (family ‖ address) of a range read
// that lies inside one party's listing without being the whole of it: a
// patient's consents to one party, say. The cache answers such a read from
// the party's whole listing (subListingRead).
func subListing(start, end []byte) ([]byte, bool) {
	const n = prefixLen - 1
	if len(start) <= n || !isListing[start[0]] || end == nil {
		return nil, false
	}
	p := start[:n]
	pe := store.PrefixEnd(p)
	if pe == nil || bytes.Compare(end, pe) > 0 || bytes.Compare(start, end) >= 0 {
		return nil, false
	}
	return p, true
}

// subListingRead answers the read of [start, end), part of the listing
// with prefix p (subListing), at version from the party's whole listing:
// the remembered one, or else the listing read whole through whole (the
// reader's own Iterate, which remembers a short listing it reads to its
// end). It reports false, having called fn for nothing, when the read is
// better made as asked: the cache is not at version, or the listing is
// longer than the cache keeps. A seek into part of a listing costs about
// what reading all of a short one does, and a check reads the same few
// parties' listings again and again (consent.Between: a patient's consents
// to the reader, then to the reader's organization).
func (c *latest) subListingRead(version int64, p, start, end []byte, whole func(start, end []byte, fn func(k, v []byte) bool), fn func(k, v []byte) bool) bool {
	ps, held, fill := c.partLookup(version, p)
	if held {
		servePairsIn(ps, start, end, fn, true)
		return true
	}
	if !fill {
		return false
	}
	var got []pair
	short := true
	whole(p, store.PrefixEnd(p), func(k, v []byte) bool {
		if len(got) == maxListing {
			short = false
			return false
		}
		got = append(got, pair{k, v})
		return true
	})
	if !short {
		c.markLong(p)
		return false
	}
	servePairsIn(got, start, end, fn, false) // whole handed over copies
	return true
}

// partLookup is subListingRead's look at the cache, under one lock: the
// listing p when the cache is at version and holds it (held, a hit), or
// whether reading it whole to fill the cache is worth it (fill: at version
// and not found long). A miss is counted by the whole read that follows.
func (c *latest) partLookup(version int64, p []byte) (ps []pair, held, fill bool) {
	if c.lhalf == 0 {
		return nil, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		return nil, false, false
	}
	if _, long := c.long[string(p)]; long {
		return nil, false, false
	}
	if ps, held = c.heldListing(p); held {
		c.stats.ListingHits++
	}
	return ps, held, !held
}

func (c *latest) markLong(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.long) >= maxLong {
		clear(c.long)
	}
	c.long[string(p)] = struct{}{}
}

// servePairsIn hands fn the pairs of a listing within [start, end), in
// copies when clone is set.
func servePairsIn(ps []pair, start, end []byte, fn func(key, value []byte) bool, clone bool) {
	i, _ := slices.BinarySearchFunc(ps, start, func(p pair, k []byte) int { return bytes.Compare(p.k, k) })
	for _, p := range ps[i:] {
		if bytes.Compare(p.k, end) >= 0 {
			return
		}
		k, v := p.k, p.v
		if clone {
			k, v = bytes.Clone(k), bytes.Clone(v)
		}
		if !fn(k, v) {
			return
		}
	}
}

// listingRange reports whether [start, end) is exactly one party's
// listing: start a listing family's byte and an address, end the end of
// that prefix. Other ranges are not remembered.
func listingRange(start, end []byte) bool {
	const n = prefixLen - 1 // family ‖ address: a state key's listing prefix
	return len(start) == n && isListing[start[0]] && bytes.Equal(end, store.PrefixEnd(start))
}

// CacheStats counts the read cache's traffic.
type CacheStats struct {
	Hits, Misses int64 // reads of the latest version answered and not
	// ListingHits and ListingMisses count the range reads of the latest
	// version answered from a remembered listing (whole or in part) and
	// those that read one from the database to remember it.
	ListingHits, ListingMisses int64
	Entries                    int   // keys held (absences included)
	Bytes                      int64 // their estimated memory
	Limit                      int64
}

// entryOverhead estimates what an entry costs beyond its key's and value's
// bytes: the map slot, the string and slice headers, allocator rounding.
const entryOverhead = 96

// DefaultReadCacheBytes is the read cache's size when none is given.
const DefaultReadCacheBytes = 128 << 20

// newLatest returns a cache of at most limit bytes of values, and a quarter
// of that again of listings (they answer the reads every access check
// makes: a patient's consents and emergencies).
func newLatest(limit int64) *latest {
	limit = max(limit, 0)
	c := &latest{half: limit / 2, lhalf: limit / 8}
	c.cur, c.old = map[string][]byte{}, map[string][]byte{}
	c.lcur, c.lold = map[string][]pair{}, map[string][]pair{}
	c.long = map[string]struct{}{}
	return c
}

// getListing answers the listing with prefix at version: ok false when the
// cache is not at version or does not hold it. The pairs are the cache's:
// the caller must copy what it hands on.
func (c *latest) getListing(version int64, prefix []byte) (ps []pair, ok bool) {
	if c.lhalf == 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		return nil, false
	}
	ps, ok = c.heldListing(prefix)
	if ok {
		c.stats.ListingHits++
	} else {
		c.stats.ListingMisses++
	}
	return ps, ok
}

// heldListing returns the listing with prefix if the cache holds it,
// moving it to the current generation. Call with c.mu held.
func (c *latest) heldListing(prefix []byte) ([]pair, bool) {
	if ps, ok := c.lcur[string(prefix)]; ok {
		return ps, true
	}
	ps, ok := c.lold[string(prefix)]
	if ok {
		p := string(prefix)
		delete(c.lold, p)
		c.loldBytes -= listingCost(p, ps)
		c.insertListing(p, ps)
	}
	return ps, ok
}

// putListing remembers the whole listing with prefix at version, read from
// the database at that version. The cache keeps ps.
func (c *latest) putListing(version int64, prefix []byte, ps []pair) {
	if c.lhalf == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		return
	}
	if _, ok := c.lcur[string(prefix)]; ok {
		return
	}
	p := string(prefix)
	if ops, ok := c.lold[p]; ok {
		delete(c.lold, p)
		c.loldBytes -= listingCost(p, ops)
	}
	c.insertListing(p, ps)
}

// insertListing is insert for listings. Call with c.mu held. (One generic
// two-generation map for values and listings was tried: Go's generic map
// access made a hit on a value 40 % slower, 171 against 117 ns in
// BenchmarkReadCacheGet, so the two keep their own code.)
func (c *latest) insertListing(prefix string, ps []pair) {
	cost := listingCost(prefix, ps)
	if cost > c.lhalf {
		return
	}
	if c.lcurBytes+cost > c.lhalf {
		c.lold, c.loldBytes = c.lcur, c.lcurBytes
		c.lcur, c.lcurBytes = make(map[string][]pair, len(c.lold)), 0
	}
	c.lcur[prefix] = ps
	c.lcurBytes += cost
}

// dropListing forgets the listing holding state key k, if k is in one.
// Call with c.mu held.
func (c *latest) dropListing(k string) {
	const n = prefixLen - 1
	if len(k) < n || !isListing[k[0]] {
		return
	}
	p := k[:n]
	if ps, ok := c.lcur[p]; ok {
		delete(c.lcur, p)
		c.lcurBytes -= listingCost(p, ps)
	}
	if ps, ok := c.lold[p]; ok {
		delete(c.lold, p)
		c.loldBytes -= listingCost(p, ps)
	}
}

func entryCost(key string, v []byte) int64 { return int64(len(key) + len(v) + entryOverhead) }

// get answers key at version: ok false when the cache is not at version or
// does not hold key. The value is the caller's to keep; nil means absent.
func (c *latest) get(version int64, key []byte) (v []byte, ok bool) {
	if c.half == 0 {
		return nil, false
	}
	c.mu.Lock()
	if version != c.version {
		c.mu.Unlock()
		return nil, false
	}
	v, ok = c.cur[string(key)]
	if !ok {
		if v, ok = c.old[string(key)]; ok {
			k := string(key)
			delete(c.old, k)
			c.oldBytes -= entryCost(k, v)
			c.insert(k, v)
		}
	}
	if ok {
		c.stats.Hits++
	} else {
		c.stats.Misses++
	}
	c.mu.Unlock()
	if v != nil {
		v = bytes.Clone(v)
	}
	return v, ok
}

// put remembers that key holds v (nil: absent) at version, read from the
// database at that version. It does nothing if the cache has moved on.
// The cache keeps v: the caller must not modify it afterwards.
func (c *latest) put(version int64, key []byte, v []byte) {
	if c.half == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		return
	}
	if _, ok := c.cur[string(key)]; ok {
		return
	}
	k := string(key)
	if ov, ok := c.old[k]; ok {
		delete(c.old, k)
		c.oldBytes -= entryCost(k, ov)
	}
	c.insert(k, v)
}

// insert adds an entry to the current generation, dropping the older one
// first when the current is full. Call with c.mu held; k must be in
// neither generation.
func (c *latest) insert(k string, v []byte) {
	cost := entryCost(k, v)
	if cost > c.half {
		return
	}
	if c.curBytes+cost > c.half {
		c.old, c.oldBytes = c.cur, c.curBytes
		c.cur, c.curBytes = make(map[string][]byte, len(c.old)), 0
	}
	c.cur[k] = v
	c.curBytes += cost
}

// commit moves the cache to version, whose writes over the previous one
// each calls fn with (a nil value deletes): every entry a write touches
// takes its new value. The cache keeps the values: they must not change.
func (c *latest) commit(version int64, each func(fn func(key string, v []byte))) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version = version
	if c.half == 0 {
		return
	}
	each(func(k string, v []byte) {
		c.dropListing(k)
		if ov, ok := c.cur[k]; ok {
			c.cur[k] = v
			c.curBytes += entryCost(k, v) - entryCost(k, ov)
			return
		}
		if ov, ok := c.old[k]; ok {
			delete(c.old, k)
			c.oldBytes -= entryCost(k, ov)
			c.insert(k, v)
		}
	})
}

// reset empties the cache and moves it to version.
func (c *latest) reset(version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version = version
	c.cur, c.old = map[string][]byte{}, map[string][]byte{}
	c.curBytes, c.oldBytes = 0, 0
	c.lcur, c.lold = map[string][]pair{}, map[string][]pair{}
	c.lcurBytes, c.loldBytes = 0, 0
	clear(c.long)
}

func (c *latest) snapshotStats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = len(c.cur) + len(c.old) + len(c.lcur) + len(c.lold)
	s.Bytes = c.curBytes + c.oldBytes + c.lcurBytes + c.loldBytes
	s.Limit = 2 * (c.half + c.lhalf)
	return s
}
