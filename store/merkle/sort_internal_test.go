package merkle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

type sortItem struct {
	k   []byte
	seq int
}

func sortItemKey(x *sortItem) []byte { return x.k }

// sortStable must order exactly as slices.SortStableFunc does, equal keys
// in their original order, whatever the keys' shape: uniform hashes (the
// hash index), a family byte before hashes and addresses (side data),
// keys sharing their first bytes (block positions), repeated keys, keys
// shorter than two bytes, input already sorted or reversed, and sizes on
// both sides of the small-input and small-bucket limits.
func TestSortStableMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	hash := func(i int) []byte { h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))); return h[:] }
	shapes := map[string]func(i int) []byte{
		"hashes": hash,
		"families": func(i int) []byte {
			switch i % 3 {
			case 0:
				return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte{'b'}, 77), uint32(i)) // positions
			case 1:
				return append([]byte{'t'}, hash(i)...)
			}
			return binary.BigEndian.AppendUint32(append([]byte{'s'}, hash(i % 41)[:20]...), uint32(i)) // a signer's
		},
		"repeats":   func(i int) []byte { return hash(r.IntN(50)) },
		"prefixed":  func(i int) []byte { return binary.BigEndian.AppendUint64([]byte{7, 7}, uint64(r.IntN(1000))) },
		"short":     func(i int) []byte { return hash(i)[:r.IntN(3)] },
		"ascending": func(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) },
		"descending": func(i int) []byte {
			return binary.BigEndian.AppendUint64(nil, uint64(1<<40-i))
		},
	}
	var counts [1 << 16]int32
	for name, key := range shapes {
		for _, n := range []int{0, 1, 31, 255, 256, 1000, 20_000} {
			xs := make([]sortItem, n)
			for i := range xs {
				xs[i] = sortItem{k: key(i), seq: i}
			}
			want := slices.Clone(xs)
			slices.SortStableFunc(want, func(a, b sortItem) int { return bytes.Compare(a.k, b.k) })
			tmp := make([]sortItem, n)
			sortStable(xs, tmp, &counts, sortItemKey)
			for i := range xs {
				if !bytes.Equal(xs[i].k, want[i].k) || xs[i].seq != want[i].seq {
					t.Fatalf("%s, %d items: position %d holds %x (write %d), want %x (write %d)", name, n, i, xs[i].k, xs[i].seq, want[i].k, want[i].seq)
				}
			}
			for i := range tmp {
				if tmp[i].k != nil {
					t.Fatalf("%s, %d items: scratch keeps a key", name, n)
				}
			}
		}
	}
}

// BenchmarkSortHashWrites sorts a block's hash index writes (random key
// hashes) the way Commit did and the way it does.
func BenchmarkSortHashWrites(b *testing.B) {
	for _, n := range []int{5_000, 20_000} {
		in := make([]hashWrite, n)
		for i := range in {
			in[i].kh = sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
			in[i].key = in[i].kh[:20]
		}
		ws := make([]hashWrite, n)
		b.Run(fmt.Sprintf("stdlib-%d", n), func(b *testing.B) {
			for b.Loop() {
				copy(ws, in)
				slices.SortStableFunc(ws, func(x, y hashWrite) int { return bytes.Compare(x.kh[:], y.kh[:]) })
			}
		})
		b.Run(fmt.Sprintf("radix-%d", n), func(b *testing.B) {
			tmp := make([]hashWrite, n)
			var counts [1 << 16]int32
			for b.Loop() {
				copy(ws, in)
				sortStable(ws, tmp, &counts, func(w *hashWrite) []byte { return w.kh[:] })
			}
		})
	}
}
