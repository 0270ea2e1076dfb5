package merkle

import (
	"unsafe"

	"github.com/medchain/medchain/store"
)

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
		panic(store.Fault{Err: errTreeFull})
	}
	if a.chunks[c] == nil {
		growChunks(a.chunks[:], c)
	}
	a.n++
	return i
}

// growChunks allocates chunks[c]: the first chunk alone (a small tree stays
// small), later ones hugeGroup at a time in one allocation whose interior is
// backed by huge pages where the kernel allows (adviseHuge). A large tree's
// nodes then cost a page fault per 2 MiB instead of per 4 KiB when they are
// first written (loading a checkpoint of 30 M keys is mostly that) and far
// fewer TLB misses when the tree is walked. The chunks must hold no
// pointers.
func growChunks[C any](chunks []*C, c uint32) {
	if c == 0 {
		chunks[0] = new(C)
		return
	}
	g := make([]C, min(hugeGroup, len(chunks)-int(c)))
	adviseHuge(unsafe.Pointer(&g[0]), uintptr(len(g))*unsafe.Sizeof(g[0]))
	for k := range g {
		chunks[int(c)+k] = &g[k]
	}
}

// hugeGroup is how many chunks an arena allocates at once past its first.
const hugeGroup = 8

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
		panic(store.Fault{Err: errTreeFull})
	}
	if a.chunks[c] == nil {
		growChunks(a.chunks[:], c)
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
