package merkle

import (
	"bytes"
	"cmp"
	"slices"
)

// sortScratch is what Commit's sorts reuse from one version to the next.
type sortScratch struct {
	hash   []hashWrite
	side   []Side
	counts [1 << 16]int32
}

// sortStable sorts xs by key, keeping the order of writes with equal keys
// (a key added then deleted in one version: the last write wins in a
// batch). It is what Commit sorts a version's writes with before the
// database batch: the hash index's key hashes and the side data's keys.
//
// Those keys are spread evenly in their first two bytes (a SHA-256 hash,
// or a one-byte family before a hash or an address), so a stable counting
// sort on those 16 bits puts a version's writes into 65,536 buckets of a
// few each, and an insertion sort finishes each bucket: about two moves
// and a few comparisons per write. slices.SortStableFunc, which this
// replaced, moves each element O(log² n) times (insertion-sorted blocks,
// then in-place rotations), and the two sorts were a tenth of a block's
// commit. A bucket that is not small (keys sharing their first two bytes:
// block positions, the same height) is checked for order, which it usually
// is, and otherwise sorted by position.
//
// tmp is scratch of at least len(xs) elements; counts is scratch too.
func sortStable[T any](xs, tmp []T, counts *[1 << 16]int32, key func(*T) []byte) {
	if len(xs) < 256 {
		sortBucket(xs, tmp, key)
		return
	}
	if sorted(xs, key) {
		return
	}
	clear(counts[:])
	for i := range xs {
		counts[digit(key(&xs[i]))]++
	}
	var sum int32
	for d, c := range counts {
		counts[d] = sum
		sum += c
	}
	tmp = tmp[:len(xs)]
	for i := range xs {
		d := digit(key(&xs[i]))
		tmp[counts[d]] = xs[i]
		counts[d]++
	}
	copy(xs, tmp)
	// counts[d] is now where bucket d ends.
	lo := int32(0)
	for _, hi := range counts {
		if hi-lo > 1 {
			sortBucket(xs[lo:hi], tmp[lo:hi], key)
		}
		lo = hi
	}
	clear(tmp) // no references kept beyond the sort
}

// digit is a key's first two bytes, zero past its end (a shorter key sorts
// first among those sharing its bytes, and its bucket is sorted whole).
func digit(k []byte) int {
	switch len(k) {
	case 0:
		return 0
	case 1:
		return int(k[0]) << 8
	}
	return int(k[0])<<8 | int(k[1])
}

// sortBucket sorts a bucket stably: by insertion when small; otherwise,
// unless already in order, by sorting positions (ties broken by position)
// and moving each element once, through tmp (at least len(xs) long).
func sortBucket[T any](xs, tmp []T, key func(*T) []byte) {
	if len(xs) <= 32 {
		for i := 1; i < len(xs); i++ {
			for j := i; j > 0 && bytes.Compare(key(&xs[j-1]), key(&xs[j])) > 0; j-- {
				xs[j-1], xs[j] = xs[j], xs[j-1]
			}
		}
		return
	}
	if sorted(xs, key) {
		return
	}
	pos := make([]int32, len(xs))
	for i := range pos {
		pos[i] = int32(i)
	}
	slices.SortFunc(pos, func(i, j int32) int {
		if c := bytes.Compare(key(&xs[i]), key(&xs[j])); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	tmp = tmp[:len(xs)]
	for k, i := range pos {
		tmp[k] = xs[i]
	}
	copy(xs, tmp)
	clear(tmp)
}

func sorted[T any](xs []T, key func(*T) []byte) bool {
	for i := 1; i < len(xs); i++ {
		if bytes.Compare(key(&xs[i-1]), key(&xs[i])) > 0 {
			return false
		}
	}
	return true
}
