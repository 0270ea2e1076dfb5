package blob

import (
	"container/list"
	"context"
	"slices"
	"sync"
)

// Cached is a Store that keeps the blobs it most recently read or wrote in
// memory, up to a byte budget, in front of another Store. Blobs are
// content-addressed and never change, so a cached copy is always the blob:
// it was checked against its hash when it entered, and Delete drops it.
// A read from the cache skips the backing store's file open, read and hash
// check (the FHIR read path's largest single cost before it, see
// docs/performance.md).
//
// What is cached is ciphertext, exactly what the backing store holds; the
// cache never sees a key. Blobs larger than an eighth of the budget are not
// cached, so one large document cannot evict everything else.
//
// A second process deleting from the same directory is not seen: a blob it
// removed stays readable here until evicted. Reads are gated by chain state
// first (a record and version must exist and be readable), so this serves
// nothing the chain no longer references.
type Cached struct {
	Store
	max int64

	mu    sync.Mutex
	size  int64
	order *list.List // of *cacheEntry, most recently used first
	byKey map[Hash]*list.Element
	// deletes counts Delete calls: a read that missed adds what it read
	// only if no Delete ran meanwhile, so a blob deleted during the read
	// is not cached again.
	deletes uint64

	hits, misses uint64
}

type cacheEntry struct {
	h    Hash
	data []byte
}

// NewCached wraps s with a cache of at most maxBytes of blob data; maxBytes
// <= 0 returns s itself.
func NewCached(s Store, maxBytes int64) Store {
	if maxBytes <= 0 {
		return s
	}
	return &Cached{Store: s, max: maxBytes, order: list.New(), byKey: make(map[Hash]*list.Element)}
}

// Get returns a copy of the cached blob, else reads it from the backing
// store and caches it.
func (c *Cached) Get(ctx context.Context, h Hash) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if el, ok := c.byKey[h]; ok {
		c.order.MoveToFront(el)
		c.hits++
		data := slices.Clone(el.Value.(*cacheEntry).data)
		c.mu.Unlock()
		return data, nil
	}
	c.misses++
	deletes := c.deletes
	c.mu.Unlock()
	data, err := c.Store.Get(ctx, h)
	if err != nil {
		return nil, err
	}
	c.add(h, data, deletes)
	return data, nil
}

// Has answers from the cache when it can.
func (c *Cached) Has(ctx context.Context, h Hash) (bool, error) {
	c.mu.Lock()
	_, ok := c.byKey[h]
	c.mu.Unlock()
	if ok {
		return true, ctx.Err()
	}
	return c.Store.Has(ctx, h)
}

// Put stores data and caches it: a blob just written is usually read soon.
func (c *Cached) Put(ctx context.Context, data []byte) (Hash, error) {
	deletes := c.deleteCount()
	h, err := c.Store.Put(ctx, data)
	if err == nil {
		c.add(h, data, deletes)
	}
	return h, err
}

// PutExpect stores data if it hashes to want, and caches it.
func (c *Cached) PutExpect(ctx context.Context, want Hash, data []byte) error {
	deletes := c.deleteCount()
	err := c.Store.PutExpect(ctx, want, data)
	if err == nil {
		c.add(want, data, deletes)
	}
	return err
}

// Delete drops the blob from the cache, then from the backing store.
func (c *Cached) Delete(ctx context.Context, h Hash) error {
	c.mu.Lock()
	c.deletes++
	if el, ok := c.byKey[h]; ok {
		c.remove(el)
	}
	c.mu.Unlock()
	err := c.Store.Delete(ctx, h)
	c.mu.Lock()
	c.deletes++ // a read that began during the backing store's delete
	c.mu.Unlock()
	return err
}

// CacheStats are a cache's counters since it was made.
type CacheStats struct {
	Hits, Misses uint64
	Bytes        int64
	Blobs        int
}

// Stats reports the cache's hits, misses and contents.
func (c *Cached) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Bytes: c.size, Blobs: len(c.byKey)}
}

func (c *Cached) deleteCount() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deletes
}

// add caches data under h unless it is too large or a Delete ran since
// deletes was read.
func (c *Cached) add(h Hash, data []byte, deletes uint64) {
	n := int64(len(data))
	if n > c.max/8 {
		return
	}
	e := &cacheEntry{h: h, data: slices.Clone(data)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deletes != deletes {
		return
	}
	if el, ok := c.byKey[h]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.byKey[h] = c.order.PushFront(e)
	c.size += n
	for c.size > c.max {
		c.remove(c.order.Back())
	}
}

func (c *Cached) remove(el *list.Element) {
	e := c.order.Remove(el).(*cacheEntry)
	delete(c.byKey, e.h)
	c.size -= int64(len(e.data))
}
