package merkle

import (
	"bytes"
	"cmp"

	"github.com/medchain/medchain/store"
)

// bit returns bit d (0 = most significant) of a key hash.
func bit(kh *[32]byte, d int) byte { return (kh[d>>3] >> (7 - uint(d&7))) & 1 }

// xbit returns bit d of a working leaf's key hash. Past the fp only full key
// hashes have bits; a bucket whose leaves need them is wide, so reaching
// this otherwise is a broken invariant.
func xbit(x *xleaf, d int) byte {
	if d >= fpBits && !x.full {
		panic(store.Fault{Err: errTreeInvariant})
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

func (t *smt) bucket(n ref) *bucketNode { return t.buckets.at(n.index()) }

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
