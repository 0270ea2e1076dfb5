package store

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
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
// bucketMax leaves is stored as its leaves, sorted by key hash, and one
// cached hash; its inner nodes are not stored but recomputed from the leaves
// when the bucket changes or a proof passes through it. Most of a binary tree's inner nodes sit in such small subtrees,
// so this keeps about 0.3 stored inner nodes per key instead of 1.5, at the
// price of a few more hashes per changed bucket. Every stored inner node has
// more than bucketMax leaves under it: a bucket that would overflow becomes
// an inner node over two buckets, and an inner node left with bucketMax or
// fewer leaves under two buckets becomes one bucket again.
//
// A leaf keeps its leaf hash and only the first 64 bits of its key hash
// (fp): enough to order and split the leaves of a bucket, which share their
// first bits and almost never share 64. The rare bucket holding two leaves
// with one fp is wide: it keeps their full key hashes as well. The tree
// learns a leaf's full key hash only when a new key's fp meets it, from the
// database's hash → key index (resolve); and whether a key whose fp it holds
// is that key, from the state (exists). Tree supplies both.
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

	// exists reports whether the working state holds key (before the write
	// in progress). It is asked only when a leaf has key's fp.
	exists func(key []byte) bool
	// resolve returns the full key hash of the working tree's leaf with fp
	// and leaf hash lh.
	resolve func(fp uint64, lh *[32]byte) [32]byte
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
	wide  bool  // two leaves share an fp: the run holds n leaves, then n full key hashes
}

// runLen is the number of slots of a bucket's run.
func (b *bucketNode) runLen() uint8 {
	if b.wide {
		return 2 * b.n
	}
	return b.n
}

// leaf is one key of the tree as stored: the first 64 bits of its key hash,
// and its leaf hash. In a wide bucket's second half, lh holds a full key
// hash instead.
type leaf struct {
	fp uint64
	lh [32]byte
}

// xleaf is a leaf while the tree works on it: kh is the full key hash when
// full, else only its first 8 bytes (fp) are meaningful.
type xleaf struct {
	kh   [32]byte
	lh   [32]byte
	full bool
}

func (x *xleaf) fp() uint64 { return fpOf(&x.kh) }

// fpBits is how many leading bits of a key hash a leaf keeps (at most 64).
// Tests lower it to make keys share fps.
var fpBits = 64

func fpOf(kh *[32]byte) uint64 {
	return binary.BigEndian.Uint64(kh[:8]) >> (64 - fpBits) << (64 - fpBits)
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

// runArena stores leaves in runs of 1 to 2·bucketMax consecutive slots, one
// run per bucket, with a free list per run length. A run never crosses a
// chunk boundary.
type runArena struct {
	chunks [runChunks]*[runChunkSize]leaf
	n      uint32 // next never-used slot
	free   [2*bucketMax + 1][]uint32
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

// xbit returns bit d of a working leaf's key hash. Past the fp only full key
// hashes have bits; a bucket whose leaves need them is wide, so reaching
// this otherwise is a broken invariant.
func xbit(x *xleaf, d int) byte {
	if d >= fpBits && !x.full {
		panic(Fault{errTreeInvariant})
	}
	return bit(&x.kh, d)
}

// splitAt returns how many of xs (sorted, sharing their first depth bits)
// have bit depth clear: the left subtree's leaves.
func splitAt(xs []xleaf, depth int) int {
	lo, hi := 0, len(xs)
	for lo < hi {
		m := (lo + hi) / 2
		if xbit(&xs[m], depth) == 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Outcomes of locate.
const (
	absentAt  = iota // kh is not among the leaves; i is where it would go
	presentAt        // the leaf at i is kh's
	fpAt             // the leaf at i has kh's fp but no full key hash: it is kh's leaf or a collision
)

// locate finds kh among sorted leaves xs.
func locate(xs []xleaf, kh *[32]byte) (i int, outcome int) {
	fp := fpOf(kh)
	lo, hi := 0, len(xs)
	for lo < hi {
		m := (lo + hi) / 2
		c := cmp.Compare(xs[m].fp(), fp)
		if c == 0 {
			if !xs[m].full {
				return m, fpAt
			}
			c = bytes.Compare(xs[m].kh[:], kh[:])
		}
		switch {
		case c == 0:
			return m, presentAt
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return lo, absentAt
}

// subtreeHash is the hash of the subtree at depth formed by xs, sorted
// leaves sharing their first depth bits.
func subtreeHash(xs []xleaf, depth int) [32]byte {
	switch len(xs) {
	case 0:
		return emptyHash
	case 1:
		return xs[0].lh
	}
	p := splitAt(xs, depth)
	l, r := subtreeHash(xs[:p], depth+1), subtreeHash(xs[p:], depth+1)
	return innerHash(&l, &r)
}

func (t *smt) bucket(n ref) *bucketNode { return t.buckets.at(n.index()) }

// expand appends bucket b's leaves to out in working form.
func (t *smt) expand(b *bucketNode, out []xleaf) []xleaf {
	run := t.leaves.slice(b.run, b.runLen())
	for i := range b.n {
		var x xleaf
		if b.wide {
			x.kh, x.full = run[b.n+i].lh, true
		} else {
			binary.BigEndian.PutUint64(x.kh[:8], run[i].fp)
		}
		x.lh = run[i].lh
		out = append(out, x)
	}
	return out
}

// newBucket makes a working bucket of sorted leaves xs (1..bucketMax). It
// is wide when two of them share an fp; those come with full key hashes.
func (t *smt) newBucket(xs ...xleaf) ref {
	wide := false
	for i := 1; i < len(xs); i++ {
		if xs[i].fp() == xs[i-1].fp() {
			wide = true
		}
	}
	b := bucketNode{gen: t.gen, n: uint8(len(xs)), dirty: true, wide: wide}
	b.run = t.leaves.alloc(b.runLen())
	run := t.leaves.slice(b.run, b.runLen())
	for i := range xs {
		run[i] = leaf{fp: xs[i].fp(), lh: xs[i].lh}
		if wide {
			if !xs[i].full { // a leaf met its fp's twin by a merge
				xs[i].kh, xs[i].full = t.resolve(xs[i].fp(), &xs[i].lh), true
			}
			run[len(xs)+i] = leaf{lh: xs[i].kh}
		}
	}
	i := t.buckets.alloc()
	*t.buckets.at(i) = b
	return ref(i) | bucketBit
}

func (t *smt) newInner(l, r ref) ref {
	i := t.inners.alloc()
	*t.inners.at(i) = innerNode{l: l, r: r, gen: t.gen, dirty: true}
	return ref(i)
}

func (t *smt) freeBucket(i uint32) {
	b := t.buckets.at(i)
	t.leaves.release(b.run, b.runLen())
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

// set writes the leaf hash of key (whose hash is kh) and reports whether
// the working tree held it.
func (t *smt) set(key []byte, kh, lh *[32]byte) (existed bool) {
	t.found = false
	t.root = t.insert(t.root, 0, key, kh, lh)
	if !t.found {
		t.keys++
	}
	return t.found
}

func (t *smt) insert(n ref, depth int, key []byte, kh, lh *[32]byte) ref {
	if n == 0 {
		return t.newBucket(xleaf{kh: *kh, lh: *lh, full: true})
	}
	if n.isBucket() {
		return t.bucketSet(n, depth, key, kh, lh)
	}
	m := t.mutable(n)
	in := t.inners.at(m.index())
	if bit(kh, depth) == 0 {
		l := t.insert(in.l, depth+1, key, kh, lh)
		t.inners.at(m.index()).l = l
	} else {
		r := t.insert(in.r, depth+1, key, kh, lh)
		t.inners.at(m.index()).r = r
	}
	return m
}

// bucketSet writes a leaf into bucket n at depth.
func (t *smt) bucketSet(n ref, depth int, key []byte, kh, lh *[32]byte) ref {
	b := t.bucket(n)
	var buf [bucketMax + 1]xleaf
	xs := t.expand(b, buf[:0])
	i, at := locate(xs, kh)
	if at == fpAt {
		if t.exists(key) { // the bucket holds key's fp once: that leaf is key's
			at = presentAt
		} else { // another key with the same fp: learn the full key hashes
			for j := range xs {
				xs[j].kh, xs[j].full = t.resolve(xs[j].fp(), &xs[j].lh), true
			}
			i, at = locate(xs, kh)
		}
	}
	if at == presentAt {
		t.found = true
		if b.gen == t.gen {
			t.leaves.slice(b.run, b.n)[i].lh = *lh
			b.dirty = true
			return n
		}
		xs[i].lh = *lh
		t.release(n)
		return t.newBucket(xs...)
	}
	xs = append(xs[:i+1], xs[i:]...)
	xs[i] = xleaf{kh: *kh, lh: *lh, full: true}
	t.release(n)
	return t.build(xs, depth)
}

// build makes the subtree at depth over sorted leaves xs.
func (t *smt) build(xs []xleaf, depth int) ref {
	switch {
	case len(xs) == 0:
		return 0
	case len(xs) <= bucketMax:
		return t.newBucket(xs...)
	}
	p := splitAt(xs, depth)
	return t.newInner(t.build(xs[:p], depth+1), t.build(xs[p:], depth+1))
}

// remove deletes the leaf of key (whose hash is kh) and reports whether
// the working tree held it.
func (t *smt) remove(key []byte, kh *[32]byte) (existed bool) {
	t.root, existed = t.del(t.root, 0, key, kh)
	if existed {
		t.keys--
	}
	return existed
}

func (t *smt) del(n ref, depth int, key []byte, kh *[32]byte) (ref, bool) {
	if n == 0 {
		return 0, false
	}
	if n.isBucket() {
		var buf [bucketMax]xleaf
		xs := t.expand(t.bucket(n), buf[:0])
		i, at := locate(xs, kh)
		if at == absentAt || (at == fpAt && !t.exists(key)) {
			return n, false
		}
		xs = append(xs[:i], xs[i+1:]...)
		t.release(n)
		if len(xs) == 0 {
			return 0, true
		}
		return t.newBucket(xs...), true
	}
	in := t.inners.at(n.index())
	l, r := in.l, in.r
	var found bool
	if bit(kh, depth) == 0 {
		if l, found = t.del(l, depth+1, key, kh); !found {
			return n, false
		}
	} else {
		if r, found = t.del(r, depth+1, key, kh); !found {
			return n, false
		}
	}
	// An inner node left with few enough leaves under buckets becomes one
	// bucket (or nothing): inner nodes keep more than bucketMax leaves.
	// Leaves sharing an fp can meet here only below depth 64; newBucket
	// then learns the full key hashes it lacks.
	if nl, nr := t.bucketSize(l), t.bucketSize(r); nl >= 0 && nr >= 0 && nl+nr <= bucketMax {
		var buf [bucketMax]xleaf
		xs := buf[:0]
		for _, c := range []ref{l, r} {
			if c != 0 {
				xs = t.expand(t.bucket(c), xs)
				t.release(c)
			}
		}
		t.release(n)
		if len(xs) == 0 {
			return 0, true
		}
		return t.newBucket(xs...), true
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
			var buf [bucketMax]xleaf
			b.hash = subtreeHash(t.expand(b, buf[:0]), depth)
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

// lookup walks from root toward kh, a key the tree under root holds, and
// returns the steps taken down to its leaf. Inside a bucket the siblings'
// hashes are computed from its leaves.
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
	var buf [bucketMax]xleaf
	for xs := t.expand(t.bucket(n), buf[:0]); len(xs) > 1; depth++ {
		p := splitAt(xs, depth)
		if bit(kh, depth) == 0 {
			path = append(path, step{sibling: subtreeHash(xs[p:], depth+1)})
			xs = xs[:p]
		} else {
			path = append(path, step{sibling: subtreeHash(xs[:p], depth+1), right: true})
			xs = xs[p:]
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

// mayContain reports whether the tree under root may hold a leaf for kh:
// false means it does not; true that it does, or (rarely) that it holds
// another key with kh's fp.
func (t *smt) mayContain(root ref, kh *[32]byte) bool {
	n := t.descend(root, kh)
	if n == 0 {
		return false
	}
	var buf [bucketMax]xleaf
	_, at := locate(t.expand(t.bucket(n), buf[:0]), kh)
	return at != absentAt
}

// neighbors returns the leaves just before and just after kh in key-hash
// order (ok false when there is none on that side), as working leaves whose
// full key hash may be unknown. kh itself must be absent; resolve finds the
// full key hash of a leaf whose fp is kh's.
func (t *smt) neighbors(root ref, kh *[32]byte, resolve func(fp uint64, lh *[32]byte) [32]byte) (prev xleaf, hasPrev bool, next xleaf, hasNext bool) {
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
		var buf [bucketMax]xleaf
		xs := t.expand(t.bucket(n), buf[:0])
		i, at := locate(xs, kh)
		if at == fpAt { // another key with kh's fp: order by full key hash
			xs[i].kh, xs[i].full = resolve(xs[i].fp(), &xs[i].lh), true
			i, _ = locate(xs, kh)
		}
		if i > 0 {
			prev, hasPrev = xs[i-1], true
		}
		if i < len(xs) {
			next, hasNext = xs[i], true
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

// edge returns the rightmost (or leftmost) leaf under n.
func (t *smt) edge(n ref, rightmost bool) xleaf {
	for !n.isBucket() {
		in := t.inners.at(n.index())
		if (rightmost && in.r != 0) || in.l == 0 {
			n = in.r
		} else {
			n = in.l
		}
	}
	var buf [bucketMax]xleaf
	xs := t.expand(t.bucket(n), buf[:0])
	if rightmost {
		return xs[len(xs)-1]
	}
	return xs[0]
}
