package merkle

import "encoding/binary"

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

// resolveLeaf is resolve for a working leaf. It hands resolve a copy of
// the leaf hash: a pointer into the caller's leaves, passed to a function
// value, would make every caller's stack buffer of leaves a heap
// allocation (two per write to the tree), though resolve is rarely called.
func (t *smt) resolveLeaf(x *xleaf) [32]byte {
	lh := x.lh
	return t.resolve(x.fp(), &lh)
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
				xs[i].kh, xs[i].full = t.resolveLeaf(&xs[i]), true
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
		t.filter.add(fpOf(kh))
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
				xs[j].kh, xs[j].full = t.resolveLeaf(&xs[j]), true
			}
			i, at = locate(xs, kh)
		}
	}
	if at == presentAt {
		t.found = true
		t.prev = xs[i].lh
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
		t.prev = xs[i].lh
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
	// once v-1 is no longer readable, i.e. when v-1 <= version-keep, and
	// no pinned version still holds them (v <= pin).
	i := 0
	for ; i < len(t.retired) && t.retired[i].version-1 <= version-keep && (t.pin == 0 || t.retired[i].version <= t.pin); i++ {
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
