package store

import (
	"bytes"
	"crypto/sha256"
	"sync"
)

// smt is a sparse Merkle tree over SHA-256(key), held in memory: the
// authenticated structure whose root is the app hash. Its hashing is the one
// ICS23's SmtSpec verifies (github.com/celestiaorg/smt):
//
//	leaf  = SHA-256(0x00 ‖ SHA-256(key) ‖ SHA-256(value))
//	inner = SHA-256(0x01 ‖ left ‖ right)
//	empty = 32 zero bytes
//
// A subtree holding one leaf is that leaf (it sits at the shallowest depth
// where it is alone); an inner node at depth d splits its keys on bit d of
// their key hash, and may have one empty child when all its keys share that
// bit. The shape, and so every hash, is a function of the key set alone,
// whatever the order of writes.
//
// In memory the tree's lower part is kept in buckets: a subtree of at most
// bucketMax leaves is stored as its leaves (key hash and leaf hash), sorted
// by key hash, and one cached hash; its inner nodes are not stored but
// recomputed from the leaves when the bucket changes or a proof passes
// through it. Most of a binary tree's inner nodes sit in such small subtrees,
// so this keeps about 0.3 stored inner nodes per key instead of 1.5, at the
// price of a few more hashes per changed bucket. Every stored inner node has
// more than bucketMax leaves under it: a bucket that would overflow becomes
// an inner node over two buckets, and an inner node left with bucketMax or
// fewer leaves under two buckets becomes one bucket again.
//
// Nodes live in chunked arenas addressed by 32-bit references, and a
// bucket's leaves in a run of consecutive slots of a leaf arena, so the tree
// holds no Go pointers for the garbage collector to scan. Writes copy the
// nodes they change (copy on write): the committed versions' roots stay
// intact for readers while the next version is built, and the nodes a
// version replaced are reused only once that version is too old to be read.
// The tree does no locking; Tree serializes writers and guards reuse.
type smt struct {
	inners  arena[innerNode]
	buckets arena[bucketNode]
	leaves  runArena
	gen     uint32 // generation of the working version; nodes of gen are mutable
	root    ref    // working root
	// retired holds, per committed version, the nodes that version's writes
	// replaced; they become free once that version leaves the readable window.
	retired []retiredSet
	cur     retiredSet // replaced during the working version
	found   bool       // set by insert: the key was there
	keys    int        // leaves in the working tree
	kept    int        // leaves in the last committed tree
}

// bucketMax is the most leaves a bucket holds. Larger buckets store fewer
// inner nodes but rehash more leaves when one of theirs changes.
const bucketMax = 8

type retiredSet struct {
	version int64
	inners  []uint32
	buckets []uint32 // with their leaf runs
}

// ref addresses a node: 0 is the empty subtree, bucketBit marks a bucket.
type ref uint32

const bucketBit ref = 1 << 31

func (r ref) isBucket() bool { return r&bucketBit != 0 }
func (r ref) index() uint32  { return uint32(r &^ bucketBit) }

type innerNode struct {
	hash  [32]byte
	l, r  ref
	gen   uint32
	dirty bool // hash not yet computed
}

type bucketNode struct {
	hash  [32]byte // hash of the subtree the leaves form
	run   uint32   // first leaf in the leaf arena
	gen   uint32
	n     uint8 // leaves, 1..bucketMax
	dirty bool  // hash not yet computed
}

// leaf is one key of the tree: its key hash and its leaf hash.
type leaf struct {
	kh, lh [32]byte
}

var emptyHash [32]byte

// arena stores nodes in fixed chunks; index 0 is never used (ref 0 = empty).
type arena[T any] struct {
	chunks [arenaChunks]*[arenaChunkSize]T
	n      uint32   // next never-used index
	free   []uint32 // released indexes
}

const (
	arenaChunkBits = 16
	arenaChunkSize = 1 << arenaChunkBits
	arenaChunks    = 1 << (31 - arenaChunkBits)
)

func (a *arena[T]) at(i uint32) *T {
	return &a.chunks[i>>arenaChunkBits][i&(arenaChunkSize-1)]
}

func (a *arena[T]) alloc() uint32 {
	if n := len(a.free); n > 0 {
		i := a.free[n-1]
		a.free = a.free[:n-1]
		return i
	}
	if a.n == 0 {
		a.n = 1
	}
	i := a.n
	c := i >> arenaChunkBits
	if c >= arenaChunks {
		panic(Fault{errTreeFull})
	}
	if a.chunks[c] == nil {
		a.chunks[c] = new([arenaChunkSize]T)
	}
	a.n++
	return i
}

// live reports the number of nodes in use.
func (a *arena[T]) live() int {
	if a.n == 0 {
		return 0
	}
	return int(a.n) - 1 - len(a.free)
}

// runArena stores leaves in runs of 1 to bucketMax consecutive slots, one
// run per bucket, with a free list per run length. A run never crosses a
// chunk boundary.
type runArena struct {
	chunks [runChunks]*[runChunkSize]leaf
	n      uint32 // next never-used slot
	free   [bucketMax + 1][]uint32
	nfree  int // slots on the free lists
}

const (
	runChunkBits = 16
	runChunkSize = 1 << runChunkBits
	runChunks    = 1 << (32 - runChunkBits)
)

func (a *runArena) slice(at uint32, n uint8) []leaf {
	c := a.chunks[at>>runChunkBits]
	i := at & (runChunkSize - 1)
	return c[i : i+uint32(n) : i+uint32(n)]
}

func (a *runArena) alloc(n uint8) uint32 {
	if f := a.free[n]; len(f) > 0 {
		at := f[len(f)-1]
		a.free[n] = f[:len(f)-1]
		a.nfree -= int(n)
		return at
	}
	if rest := runChunkSize - a.n&(runChunkSize-1); rest < uint32(n) {
		a.n += rest // the chunk's tail stays unused
	}
	c := a.n >> runChunkBits
	if c >= runChunks {
		panic(Fault{errTreeFull})
	}
	if a.chunks[c] == nil {
		a.chunks[c] = new([runChunkSize]leaf)
	}
	at := a.n
	a.n += uint32(n)
	return at
}

func (a *runArena) release(at uint32, n uint8) {
	a.free[n] = append(a.free[n], at)
	a.nfree += int(n)
}

// live reports the number of leaf slots in use.
func (a *runArena) live() int { return int(a.n) - a.nfree }

func leafHash(kh, vh *[32]byte) [32]byte {
	var buf [65]byte
	buf[0] = 0
	copy(buf[1:], kh[:])
	copy(buf[33:], vh[:])
	return sha256.Sum256(buf[:])
}

func innerHash(l, r *[32]byte) [32]byte {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

// bit returns bit d (0 = most significant) of a key hash.
func bit(kh *[32]byte, d int) byte { return (kh[d>>3] >> (7 - uint(d&7))) & 1 }

// splitAt returns how many of ls (sorted, sharing their first depth bits)
// have bit depth clear: the left subtree's leaves.
func splitAt(ls []leaf, depth int) int {
	lo, hi := 0, len(ls)
	for lo < hi {
		m := (lo + hi) / 2
		if bit(&ls[m].kh, depth) == 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// search returns where kh is, or would be, in sorted ls.
func search(ls []leaf, kh *[32]byte) (int, bool) {
	lo, hi := 0, len(ls)
	for lo < hi {
		m := (lo + hi) / 2
		switch c := bytes.Compare(ls[m].kh[:], kh[:]); {
		case c == 0:
			return m, true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return lo, false
}

// subtreeHash is the hash of the subtree at depth formed by ls, sorted
// leaves sharing their first depth bits.
func subtreeHash(ls []leaf, depth int) [32]byte {
	switch len(ls) {
	case 0:
		return emptyHash
	case 1:
		return ls[0].lh
	}
	p := splitAt(ls, depth)
	l, r := subtreeHash(ls[:p], depth+1), subtreeHash(ls[p:], depth+1)
	return innerHash(&l, &r)
}

func (t *smt) bucket(n ref) *bucketNode { return t.buckets.at(n.index()) }

func (t *smt) bucketLeaves(b *bucketNode) []leaf { return t.leaves.slice(b.run, b.n) }

// newBucket makes a working bucket holding a copy of ls (1..bucketMax).
func (t *smt) newBucket(ls ...leaf) ref {
	run := t.leaves.alloc(uint8(len(ls)))
	copy(t.leaves.slice(run, uint8(len(ls))), ls)
	i := t.buckets.alloc()
	*t.buckets.at(i) = bucketNode{run: run, gen: t.gen, n: uint8(len(ls)), dirty: true}
	return ref(i) | bucketBit
}

func (t *smt) newInner(l, r ref) ref {
	i := t.inners.alloc()
	*t.inners.at(i) = innerNode{l: l, r: r, gen: t.gen, dirty: true}
	return ref(i)
}

func (t *smt) freeBucket(i uint32) {
	b := t.buckets.at(i)
	t.leaves.release(b.run, b.n)
	t.buckets.free = append(t.buckets.free, i)
}

// release gives up a node of the working tree: immediately when the working
// version made it, otherwise when the versions that can see it are gone.
func (t *smt) release(n ref) {
	if n.isBucket() {
		if t.bucket(n).gen == t.gen {
			t.freeBucket(n.index())
		} else {
			t.cur.buckets = append(t.cur.buckets, n.index())
		}
		return
	}
	if t.inners.at(n.index()).gen == t.gen {
		t.inners.free = append(t.inners.free, n.index())
	} else {
		t.cur.inners = append(t.cur.inners, n.index())
	}
}

// mutable returns a working copy of inner node n, marked dirty.
func (t *smt) mutable(n ref) ref {
	in := t.inners.at(n.index())
	if in.gen == t.gen {
		in.dirty = true
		return n
	}
	c := t.newInner(in.l, in.r)
	t.release(n)
	return c
}

// set writes kh's leaf hash and reports whether the working tree held kh.
func (t *smt) set(kh, lh *[32]byte) (existed bool) {
	t.found = false
	t.root = t.insert(t.root, 0, kh, lh)
	if !t.found {
		t.keys++
	}
	return t.found
}

func (t *smt) insert(n ref, depth int, kh, lh *[32]byte) ref {
	if n == 0 {
		return t.newBucket(leaf{*kh, *lh})
	}
	if n.isBucket() {
		return t.bucketSet(n, depth, kh, lh)
	}
	m := t.mutable(n)
	in := t.inners.at(m.index())
	if bit(kh, depth) == 0 {
		l := t.insert(in.l, depth+1, kh, lh)
		t.inners.at(m.index()).l = l
	} else {
		r := t.insert(in.r, depth+1, kh, lh)
		t.inners.at(m.index()).r = r
	}
	return m
}

// bucketSet writes a leaf into bucket n at depth.
func (t *smt) bucketSet(n ref, depth int, kh, lh *[32]byte) ref {
	b := t.bucket(n)
	ls := t.bucketLeaves(b)
	i, found := search(ls, kh)
	if found {
		t.found = true
		if b.gen == t.gen {
			ls[i].lh = *lh
			b.dirty = true
			return n
		}
		c := t.newBucket(ls...)
		t.bucketLeaves(t.bucket(c))[i].lh = *lh
		t.release(n)
		return c
	}
	var buf [bucketMax + 1]leaf
	all := append(append(append(buf[:0], ls[:i]...), leaf{*kh, *lh}), ls[i:]...)
	t.release(n)
	return t.build(all, depth)
}

// build makes the subtree at depth over sorted leaves ls.
func (t *smt) build(ls []leaf, depth int) ref {
	switch {
	case len(ls) == 0:
		return 0
	case len(ls) <= bucketMax:
		return t.newBucket(ls...)
	}
	p := splitAt(ls, depth)
	return t.newInner(t.build(ls[:p], depth+1), t.build(ls[p:], depth+1))
}

// remove deletes kh's leaf and reports whether the working tree held kh.
func (t *smt) remove(kh *[32]byte) (existed bool) {
	t.root, existed = t.del(t.root, 0, kh)
	if existed {
		t.keys--
	}
	return existed
}

func (t *smt) del(n ref, depth int, kh *[32]byte) (ref, bool) {
	if n == 0 {
		return 0, false
	}
	if n.isBucket() {
		ls := t.bucketLeaves(t.bucket(n))
		i, found := search(ls, kh)
		if !found {
			return n, false
		}
		var buf [bucketMax]leaf
		rest := append(append(buf[:0], ls[:i]...), ls[i+1:]...)
		t.release(n)
		if len(rest) == 0 {
			return 0, true
		}
		return t.newBucket(rest...), true
	}
	in := t.inners.at(n.index())
	l, r := in.l, in.r
	var found bool
	if bit(kh, depth) == 0 {
		if l, found = t.del(l, depth+1, kh); !found {
			return n, false
		}
	} else {
		if r, found = t.del(r, depth+1, kh); !found {
			return n, false
		}
	}
	// An inner node left with few enough leaves under buckets becomes one
	// bucket (or nothing): inner nodes keep more than bucketMax leaves.
	if nl, nr := t.bucketSize(l), t.bucketSize(r); nl >= 0 && nr >= 0 && nl+nr <= bucketMax {
		var buf [bucketMax]leaf
		all := buf[:0]
		for _, c := range []ref{l, r} {
			if c != 0 {
				all = append(all, t.bucketLeaves(t.bucket(c))...)
				t.release(c)
			}
		}
		t.release(n)
		if len(all) == 0 {
			return 0, true
		}
		return t.newBucket(all...), true
	}
	m := t.mutable(n)
	in = t.inners.at(m.index())
	in.l, in.r = l, r
	return m, true
}

// bucketSize is the number of leaves of an empty subtree or bucket, and -1
// for an inner node.
func (t *smt) bucketSize(n ref) int {
	switch {
	case n == 0:
		return 0
	case n.isBucket():
		return int(t.bucket(n).n)
	}
	return -1
}

// parallelLevels is how many levels under the root rootHash splits across
// goroutines: 2 makes four subtrees.
const parallelLevels = 2

// rootHash is hash(root) with the dirty subtrees under the top levels hashed
// concurrently. They are disjoint, and hashing writes only dirty nodes of the
// working version, which no reader of a committed version visits.
func (t *smt) rootHash() [32]byte { return t.hashPar(t.root, 0, parallelLevels) }

func (t *smt) hashPar(n ref, depth, levels int) [32]byte {
	if levels == 0 || n == 0 || n.isBucket() {
		return t.hash(n, depth)
	}
	in := t.inners.at(n.index())
	if !in.dirty {
		return in.hash
	}
	l, r := in.l, in.r
	var lh [32]byte
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		lh = t.hashPar(l, depth+1, levels-1)
	}()
	rh := t.hashPar(r, depth+1, levels-1)
	wg.Wait()
	in = t.inners.at(n.index())
	in.hash = innerHash(&lh, &rh)
	in.dirty = false
	return in.hash
}

// hash returns the hash of the subtree at n, at depth, computing dirty ones.
func (t *smt) hash(n ref, depth int) [32]byte {
	if n == 0 {
		return emptyHash
	}
	if n.isBucket() {
		b := t.bucket(n)
		if b.dirty {
			b.hash = subtreeHash(t.bucketLeaves(b), depth)
			b.dirty = false
		}
		return b.hash
	}
	in := t.inners.at(n.index())
	if in.dirty {
		l, r := t.hash(in.l, depth+1), t.hash(in.r, depth+1)
		in = t.inners.at(n.index())
		in.hash = innerHash(&l, &r)
		in.dirty = false
	}
	return in.hash
}

// commit ends the working version: its root becomes the given version's, the
// nodes it replaced wait until that version is older than keep versions, and
// a new working generation starts. It returns the committed root.
func (t *smt) commit(version int64, keep int64) ref {
	t.hash(t.root, 0)
	t.cur.version = version
	if len(t.cur.inners)+len(t.cur.buckets) > 0 {
		t.retired = append(t.retired, t.cur)
	}
	t.cur = retiredSet{}
	// Nodes replaced by version v are still part of version v-1; they can go
	// once v-1 is no longer readable, i.e. when v-1 <= version-keep.
	i := 0
	for ; i < len(t.retired) && t.retired[i].version-1 <= version-keep; i++ {
		t.inners.free = append(t.inners.free, t.retired[i].inners...)
		for _, b := range t.retired[i].buckets {
			t.freeBucket(b)
		}
	}
	t.retired = t.retired[i:]
	t.gen++
	t.kept = t.keys
	return t.root
}

// rollback discards the working version's changes, back to root.
func (t *smt) rollback(root ref) {
	t.freeGen(t.root)
	t.root = root
	t.cur = retiredSet{}
	t.keys = t.kept
}

// freeGen frees the working generation's nodes under n.
func (t *smt) freeGen(n ref) {
	if n == 0 {
		return
	}
	if n.isBucket() {
		if t.bucket(n).gen == t.gen {
			t.freeBucket(n.index())
		}
		return
	}
	in := t.inners.at(n.index())
	if in.gen != t.gen {
		return
	}
	t.freeGen(in.l)
	t.freeGen(in.r)
	t.inners.free = append(t.inners.free, n.index())
}

// step is one level of a path from the root: the sibling's hash and whether
// the path went right.
type step struct {
	sibling [32]byte
	right   bool
}

// lookup walks from root toward kh and returns the steps taken, down to the
// leaf of kh, another leaf, or an empty subtree. Inside a bucket the
// siblings' hashes are computed from its leaves.
func (t *smt) lookup(root ref, kh *[32]byte) (path []step) {
	n, depth := root, 0
	for ; n != 0 && !n.isBucket(); depth++ {
		in := t.inners.at(n.index())
		if bit(kh, depth) == 0 {
			path = append(path, step{sibling: t.hash(in.r, depth+1)})
			n = in.l
		} else {
			path = append(path, step{sibling: t.hash(in.l, depth+1), right: true})
			n = in.r
		}
	}
	if n == 0 {
		return path
	}
	for ls := t.bucketLeaves(t.bucket(n)); len(ls) > 1; depth++ {
		p := splitAt(ls, depth)
		if bit(kh, depth) == 0 {
			path = append(path, step{sibling: subtreeHash(ls[p:], depth+1)})
			ls = ls[:p]
		} else {
			path = append(path, step{sibling: subtreeHash(ls[:p], depth+1), right: true})
			ls = ls[p:]
		}
	}
	return path
}

// descend walks from root toward kh through inner nodes and returns the
// bucket (or empty subtree) reached.
func (t *smt) descend(root ref, kh *[32]byte) ref {
	n := root
	for depth := 0; n != 0 && !n.isBucket(); depth++ {
		in := t.inners.at(n.index())
		if bit(kh, depth) == 0 {
			n = in.l
		} else {
			n = in.r
		}
	}
	return n
}

// contains reports whether the tree under root holds a leaf for kh.
func (t *smt) contains(root ref, kh *[32]byte) bool {
	n := t.descend(root, kh)
	if n == 0 {
		return false
	}
	_, found := search(t.bucketLeaves(t.bucket(n)), kh)
	return found
}

// neighbors returns the key hashes of the leaves just before and just after
// kh in key-hash order (ok false when there is none on that side). kh itself
// must be absent.
func (t *smt) neighbors(root ref, kh *[32]byte) (prev [32]byte, hasPrev bool, next [32]byte, hasNext bool) {
	var prevTree, nextTree ref // deepest subtrees wholly before / after kh
	n := root
	for depth := 0; n != 0 && !n.isBucket(); depth++ {
		in := t.inners.at(n.index())
		if bit(kh, depth) == 0 {
			if in.r != 0 {
				nextTree = in.r
			}
			n = in.l
		} else {
			if in.l != 0 {
				prevTree = in.l
			}
			n = in.r
		}
	}
	if n != 0 { // a bucket whose leaves may include kh's neighbours
		ls := t.bucketLeaves(t.bucket(n))
		i, _ := search(ls, kh)
		if i > 0 {
			prev, hasPrev = ls[i-1].kh, true
		}
		if i < len(ls) {
			next, hasNext = ls[i].kh, true
		}
	}
	if !hasPrev && prevTree != 0 {
		prev, hasPrev = t.edge(prevTree, true), true
	}
	if !hasNext && nextTree != 0 {
		next, hasNext = t.edge(nextTree, false), true
	}
	return
}

// edge returns the key hash of the rightmost (or leftmost) leaf under n.
func (t *smt) edge(n ref, rightmost bool) [32]byte {
	for !n.isBucket() {
		in := t.inners.at(n.index())
		if (rightmost && in.r != 0) || in.l == 0 {
			n = in.r
		} else {
			n = in.l
		}
	}
	ls := t.bucketLeaves(t.bucket(n))
	if rightmost {
		return ls[len(ls)-1].kh
	}
	return ls[0].kh
}
