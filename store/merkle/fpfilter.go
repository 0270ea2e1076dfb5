package merkle

import "math/bits"

// fpFilter is a blocked Bloom filter over the fps of the tree's leaves: it
// tells Tree.absent, in one cache line, that a key the working version reads
// is not in the committed tree, which otherwise costs a walk from the root to
// a bucket (a dozen or more dependent loads from a tree of hundreds of
// megabytes). Most such reads are of keys about to be created: a record's
// id, its versions and wrapped keys, a new grant.
//
// It must never miss an fp the committed tree holds: every leaf new to the
// working tree is added (smt.set), whether or not its version is then
// committed, and the filter is rebuilt from a committed tree only, at load
// and at commit. Fps of deleted leaves stay until the next rebuild: they
// only send a lookup on to the tree. A rebuild happens when the adds since
// the last one reach the filter's capacity, which it sizes to twice the
// tree's leaves then, so rebuilds cost O(1) per add over time.
type fpFilter struct {
	lines []fpLine
	adds  int // fps added since the last rebuild
	cap   int // fps the filter is sized for
}

// fpLine is one 512-bit block: each fp sets fpBitsPerKey bits in one line.
type fpLine [8]uint64

const (
	fpBitsPerKey = 6  // bits set per fp
	fpLineKeys   = 32 // fps per line at capacity: 16 bits per fp
	fpMinLines   = 1 << 10
)

// mix spreads an fp's bits (an fp may hold as few as a test's 6 bits, at
// the top) over 64 (splitmix64's finalizer).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (f *fpFilter) line(fp uint64) (*fpLine, uint64) {
	h := mix(fp)
	return &f.lines[h&uint64(len(f.lines)-1)], mix(h)
}

// add records fp.
func (f *fpFilter) add(fp uint64) {
	if f.lines == nil {
		return // not built yet: load builds it from the whole tree
	}
	l, h := f.line(fp)
	for range fpBitsPerKey {
		b := h & 511
		l[b>>6] |= 1 << (b & 63)
		h >>= 9
	}
	f.adds++
}

// mayContain is false only for an fp never added since the last rebuild.
func (f *fpFilter) mayContain(fp uint64) bool {
	if f.lines == nil {
		return true
	}
	l, h := f.line(fp)
	for range fpBitsPerKey {
		b := h & 511
		if l[b>>6]&(1<<(b&63)) == 0 {
			return false
		}
		h >>= 9
	}
	return true
}

// full reports that the filter should be rebuilt.
func (f *fpFilter) full() bool { return f.lines == nil || f.adds >= f.cap }

// rebuild sizes the filter for twice the leaves of the tree under root and
// adds each of them.
func (f *fpFilter) rebuild(t *smt, root ref, leaves int) {
	n := max(fpMinLines, 1<<bits.Len(uint(2*leaves/fpLineKeys)))
	if len(f.lines) == n {
		clear(f.lines)
	} else {
		f.lines = make([]fpLine, n)
	}
	f.cap = n * fpLineKeys
	t.eachFP(root, f.add)
	f.adds = 0 // the tree's own leaves are not adds since the rebuild
}

// eachFP calls fn with the fp of every leaf under n.
func (t *smt) eachFP(n ref, fn func(uint64)) {
	switch {
	case n == 0:
	case n.isBucket():
		b := t.bucket(n)
		for _, l := range t.leaves.slice(b.run, b.n) {
			fn(l.fp)
		}
	default:
		in := t.inners.at(n.index())
		l, r := in.l, in.r
		t.eachFP(l, fn)
		t.eachFP(r, fn)
	}
}
