package merkle

import (
	"crypto/sha256"
	"sync"
)

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
