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
// bit. The shape is therefore a function of the key set alone, whatever the
// order of writes.
//
// Nodes live in chunked arenas addressed by 32-bit references, so the tree
// holds no Go pointers for the garbage collector to scan. Writes copy the
// nodes they change (copy on write): the committed versions' roots stay
// intact for readers while the next version is built, and the nodes a
// version replaced are reused only once that version is too old to be read.
// The tree does no locking; Tree serializes writers and guards reuse.
type smt struct {
	inners arena[innerNode]
	leaves arena[leafNode]
	gen    uint32 // generation of the working version; nodes of gen are mutable
	root   ref    // working root
	// retired holds, per committed version, the nodes that version's writes
	// replaced; they become free once that version leaves the readable window.
	retired []retiredSet
	cur     retiredSet // replaced during the working version
	found   bool       // set by insert: the key was there
}

type retiredSet struct {
	version int64
	inners  []uint32
	leaves  []uint32
}

// ref addresses a node: 0 is the empty subtree, leafBit marks a leaf.
type ref uint32

const leafBit ref = 1 << 31

func (r ref) isLeaf() bool  { return r&leafBit != 0 }
func (r ref) index() uint32 { return uint32(r &^ leafBit) }

type innerNode struct {
	hash  [32]byte
	l, r  ref
	gen   uint32
	dirty bool // hash not yet computed
}

type leafNode struct {
	kh   [32]byte // SHA-256(key)
	hash [32]byte // leaf hash
	gen  uint32
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

func (t *smt) newLeaf(kh, lh *[32]byte) ref {
	i := t.leaves.alloc()
	*t.leaves.at(i) = leafNode{kh: *kh, hash: *lh, gen: t.gen}
	return ref(i) | leafBit
}

func (t *smt) newInner(l, r ref) ref {
	i := t.inners.alloc()
	*t.inners.at(i) = innerNode{l: l, r: r, gen: t.gen, dirty: true}
	return ref(i)
}

// release gives up a node of the working tree: immediately when the working
// version made it, otherwise when the versions that can see it are gone.
func (t *smt) release(n ref) {
	if n.isLeaf() {
		if t.leaves.at(n.index()).gen == t.gen {
			t.leaves.free = append(t.leaves.free, n.index())
		} else {
			t.cur.leaves = append(t.cur.leaves, n.index())
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

// set puts a leaf for key hash kh with leaf hash lh.
// set writes kh's leaf hash and reports whether the working tree held kh.
func (t *smt) set(kh, lh *[32]byte) (existed bool) {
	t.found = false
	t.root = t.insert(t.root, 0, kh, lh)
	return t.found
}

func (t *smt) insert(n ref, depth int, kh, lh *[32]byte) ref {
	if n == 0 {
		return t.newLeaf(kh, lh)
	}
	if n.isLeaf() {
		lf := t.leaves.at(n.index())
		if lf.kh == *kh {
			t.found = true
			if lf.gen == t.gen {
				lf.hash = *lh
				return n
			}
			t.release(n)
			return t.newLeaf(kh, lh)
		}
		return t.split(n, lf.kh, t.newLeaf(kh, lh), kh, depth)
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

// split builds the inner nodes that separate two leaves meeting at depth.
func (t *smt) split(a ref, akh [32]byte, b ref, bkh *[32]byte, depth int) ref {
	ab, bb := bit(&akh, depth), bit(bkh, depth)
	switch {
	case ab == bb && ab == 0:
		return t.newInner(t.split(a, akh, b, bkh, depth+1), 0)
	case ab == bb:
		return t.newInner(0, t.split(a, akh, b, bkh, depth+1))
	case ab == 0:
		return t.newInner(a, b)
	default:
		return t.newInner(b, a)
	}
}

// remove deletes kh's leaf and reports whether the working tree held kh.
func (t *smt) remove(kh *[32]byte) (existed bool) {
	t.root, existed = t.del(t.root, 0, kh)
	return existed
}

func (t *smt) del(n ref, depth int, kh *[32]byte) (ref, bool) {
	if n == 0 {
		return 0, false
	}
	if n.isLeaf() {
		if t.leaves.at(n.index()).kh != *kh {
			return n, false
		}
		t.release(n)
		return 0, true
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
	// A subtree left with a single leaf is that leaf.
	if (l == 0 && r.isLeaf()) || (r == 0 && l.isLeaf()) || (l == 0 && r == 0) {
		t.release(n)
		return l | r, true
	}
	m := t.mutable(n)
	in = t.inners.at(m.index())
	in.l, in.r = l, r
	return m, true
}

// hash returns the hash of the subtree at n, computing dirty ones.
// parallelLevels is how many levels under the root rootHash splits across
// goroutines: 2 makes four subtrees.
const parallelLevels = 2

// rootHash is hash(root) with the dirty subtrees under the top levels hashed
// concurrently. They are disjoint, and hashing writes only dirty nodes of the
// working version, which no reader of a committed version visits.
func (t *smt) rootHash() [32]byte { return t.hashPar(t.root, parallelLevels) }

func (t *smt) hashPar(n ref, levels int) [32]byte {
	if levels == 0 || n == 0 || n.isLeaf() {
		return t.hash(n)
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
		lh = t.hashPar(l, levels-1)
	}()
	rh := t.hashPar(r, levels-1)
	wg.Wait()
	in = t.inners.at(n.index())
	in.hash = innerHash(&lh, &rh)
	in.dirty = false
	return in.hash
}

func (t *smt) hash(n ref) [32]byte {
	if n == 0 {
		return emptyHash
	}
	if n.isLeaf() {
		return t.leaves.at(n.index()).hash
	}
	in := t.inners.at(n.index())
	if in.dirty {
		l, r := t.hash(in.l), t.hash(in.r)
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
	t.hash(t.root)
	t.cur.version = version
	if len(t.cur.inners)+len(t.cur.leaves) > 0 {
		t.retired = append(t.retired, t.cur)
	}
	t.cur = retiredSet{}
	// Nodes replaced by version v are still part of version v-1; they can go
	// once v-1 is no longer readable, i.e. when v-1 <= version-keep.
	i := 0
	for ; i < len(t.retired) && t.retired[i].version-1 <= version-keep; i++ {
		t.inners.free = append(t.inners.free, t.retired[i].inners...)
		t.leaves.free = append(t.leaves.free, t.retired[i].leaves...)
	}
	t.retired = t.retired[i:]
	t.gen++
	return t.root
}

// rollback discards the working version's changes, back to root.
func (t *smt) rollback(root ref) {
	t.freeGen(t.root)
	t.root = root
	t.cur = retiredSet{}
}

// freeGen frees the working generation's nodes under n.
func (t *smt) freeGen(n ref) {
	if n == 0 {
		return
	}
	if n.isLeaf() {
		if t.leaves.at(n.index()).gen == t.gen {
			t.leaves.free = append(t.leaves.free, n.index())
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

// lookup walks from root toward kh and returns the steps taken and where the
// walk ended: the leaf of kh (found), another leaf, or an empty subtree.
func (t *smt) lookup(root ref, kh *[32]byte) (path []step, end ref) {
	n := root
	for depth := 0; n != 0 && !n.isLeaf(); depth++ {
		in := t.inners.at(n.index())
		if bit(kh, depth) == 0 {
			path = append(path, step{sibling: t.hash(in.r)})
			n = in.l
		} else {
			path = append(path, step{sibling: t.hash(in.l), right: true})
			n = in.r
		}
	}
	return path, n
}

// contains reports whether the tree under root holds a leaf for kh.
func (t *smt) contains(root ref, kh *[32]byte) bool {
	n := root
	for depth := 0; n != 0 && !n.isLeaf(); depth++ {
		in := t.inners.at(n.index())
		if bit(kh, depth) == 0 {
			n = in.l
		} else {
			n = in.r
		}
	}
	return n != 0 && t.leaves.at(n.index()).kh == *kh
}

// neighbors returns the key hashes of the leaves just before and just after
// kh in key-hash order (ok false when there is none on that side). kh itself
// must be absent.
func (t *smt) neighbors(root ref, kh *[32]byte) (prev [32]byte, hasPrev bool, next [32]byte, hasNext bool) {
	var prevTree, nextTree ref // deepest subtrees wholly before / after kh
	n := root
	for depth := 0; n != 0 && !n.isLeaf(); depth++ {
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
	if n != 0 { // a leaf with another key hash, adjacent to kh
		lkh := t.leaves.at(n.index()).kh
		if bytes.Compare(lkh[:], kh[:]) < 0 {
			prev, hasPrev = lkh, true
		} else {
			next, hasNext = lkh, true
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
	for !n.isLeaf() {
		in := t.inners.at(n.index())
		if (rightmost && in.r != 0) || in.l == 0 {
			n = in.r
		} else {
			n = in.l
		}
	}
	return t.leaves.at(n.index()).kh
}
