package store

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/google/btree"
)

// Cache buffers writes over a parent, in key order. Write applies them to
// the parent (which must then be a KV) in key order; dropping the Cache
// discards them. Over a read-only parent (a snapshot) it is an overlay whose
// writes are only ever discarded. A transaction
// that fails changes nothing this way, and a block's writes reach the Merkle
// tree only once, at its end.
//
// Reads and range iteration cost O(log n) plus the keys visited, however many
// writes are buffered: a block's cache holds every write of the block, and
// iterating it must not cost more as the block grows.
type Cache struct {
	parent Reader
	// A cache holds its writes in one of two forms. While it holds at most
	// smallWrites keys (a transaction's cache nearly always does), they
	// are a slice kept in key order: no map, no tree, no allocation beyond
	// the slice. Past that, writes holds them in key order (a nil Value
	// marks a delete) and byKey the same by key: a point read costs a map
	// lookup instead of a walk of the tree comparing long, alike keys.
	small  []Write
	writes *btree.BTreeG[item]
	byKey  map[string][]byte
	expect int // writes expected (NewCacheSized): byKey's size when made
}

// smallWrites is the most keys a cache keeps in its sorted slice: inserting
// into a sorted slice of this size costs less than a tree's insert, and a
// binary search of it less than hashing the key.
const smallWrites = 32

// item is a write in a cache's tree, with its key's first eight bytes as a
// number. Most keys of a block differ there (a family byte, then an
// address, an id or a hash), so most comparisons in the tree read no key:
// in a block's tree of 100,000 and more writes each key read is a cache
// miss, and a block twice as large cost a third more per write, half of it
// comparing keys (BenchmarkDeliverBlockSize).
type item struct {
	head uint64 // the key's first 8 bytes, big-endian, zero past its end
	Write
}

func newItem(w Write) item {
	var b [8]byte
	copy(b[:], w.Key)
	return item{binary.BigEndian.Uint64(b[:]), w}
}

// itemLess orders by key: keys whose heads differ compare as their heads
// do (a key shorter than eight bytes is padded with zeros, and a zero pad
// below a real byte sorts as the shorter key does); equal heads compare
// whole.
func itemLess(a, b item) bool {
	if a.head != b.head {
		return a.head < b.head
	}
	return a.Key < b.Key
}

// smallIndex returns where key is or would be in c.small, and whether it is.
func (c *Cache) smallIndex(key string) (int, bool) {
	lo, hi := 0, len(c.small)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.small[m].Key < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(c.small) && c.small[lo].Key == key
}

// NewCache returns an empty cache over parent.
func NewCache(parent Reader) *Cache { return &Cache{parent: parent} }

// NewCacheSized returns an empty cache over parent that expects about n
// writes (a block's, as many as the block before): past smallWrites its map
// is made for n at once instead of growing there, rehashing as it doubles.
func NewCacheSized(parent Reader, n int) *Cache {
	return &Cache{parent: parent, expect: min(n, maxExpected)}
}

// maxExpected bounds a size hint: a state-sync import or a migration
// writes millions of keys in one version, and the blocks after it would
// otherwise make their maps that large.
const maxExpected = 1 << 17

func (c *Cache) Get(key []byte) []byte {
	if c.writes == nil {
		if i, ok := c.smallIndex(string(key)); ok {
			return c.small[i].Value
		}
		return c.parent.Get(key)
	}
	if v, ok := c.byKey[string(key)]; ok {
		return v
	}
	return c.parent.Get(key)
}

// put buffers w, keeping w.Value (which nothing may modify afterwards).
func (c *Cache) put(w Write) {
	if c.writes == nil {
		i, ok := c.smallIndex(w.Key)
		if ok {
			c.small[i].Value = w.Value
			return
		}
		if len(c.small) < smallWrites {
			c.small = slices.Insert(c.small, i, w)
			return
		}
		c.writes = btree.NewG(32, itemLess)
		c.byKey = make(map[string][]byte, max(2*smallWrites, c.expect))
		for _, e := range c.small {
			c.writes.ReplaceOrInsert(newItem(e))
			c.byKey[e.Key] = e.Value
		}
		c.small = nil
	}
	c.writes.ReplaceOrInsert(newItem(w))
	c.byKey[w.Key] = w.Value
}

// ascend calls fn with the buffered writes in [start, end) in key order (a
// nil end: no upper bound) until fn returns false.
func (c *Cache) ascend(start, end []byte, fn func(Write) bool) {
	if c.writes == nil {
		i, _ := c.smallIndex(string(start))
		for ; i < len(c.small); i++ {
			if end != nil && c.small[i].Key >= string(end) {
				return
			}
			if !fn(c.small[i]) {
				return
			}
		}
		return
	}
	if end == nil {
		c.writes.AscendGreaterOrEqual(newItem(Write{Key: string(start)}), func(i item) bool { return fn(i.Write) })
	} else {
		c.writes.AscendRange(newItem(Write{Key: string(start)}), newItem(Write{Key: string(end)}), func(i item) bool { return fn(i.Write) })
	}
}

func (c *Cache) Set(key, value []byte) {
	if len(key) == 0 || value == nil {
		panic(Fault{errEmpty})
	}
	c.put(Write{Key: string(key), Value: bytes.Clone(value)})
}

func (c *Cache) Delete(key []byte) { c.put(Write{Key: string(key)}) }

// Adopt buffers w as Set (or, for a nil Value, Delete) would, but keeps
// w.Value itself instead of a copy: the caller must never modify it again.
func (c *Cache) Adopt(w Write) {
	if len(w.Key) == 0 {
		panic(Fault{errEmpty})
	}
	c.put(w)
}

// Len reports the number of buffered writes (deletes included).
func (c *Cache) Len() int {
	if c.writes == nil {
		return len(c.small)
	}
	return len(c.byKey)
}

// Ascend calls fn with the buffered writes whose keys are start or above,
// in key order (a nil Value is a delete), until fn returns false. The
// writes are the Cache's own: fn must not modify them.
func (c *Cache) Ascend(start []byte, fn func(Write) bool) { c.ascend(start, nil, fn) }

// Iterate merges the buffered writes with the parent's keys.
func (c *Cache) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	var mine []Write
	if c.writes == nil {
		// The slice's writes in range are a part of it, in order already;
		// copied, as fn may write to this cache while it iterates.
		lo, _ := c.smallIndex(string(start))
		hi := len(c.small)
		if end != nil {
			hi, _ = c.smallIndex(string(end))
			hi = max(hi, lo)
		}
		if lo < hi {
			mine = slices.Clone(c.small[lo:hi])
		}
	} else {
		c.ascend(start, end, func(e Write) bool { mine = append(mine, e); return true })
	}
	if len(mine) == 0 {
		c.parent.Iterate(start, end, fn)
		return
	}
	i := 0
	stopped := false
	// emitBefore emits buffered entries with keys below k.
	emitBefore := func(k string) bool {
		for i < len(mine) && mine[i].Key < k {
			e := mine[i]
			i++
			if e.Value != nil && !fn([]byte(e.Key), e.Value) {
				return false
			}
		}
		return true
	}
	c.parent.Iterate(start, end, func(k, v []byte) bool {
		if !emitBefore(string(k)) {
			stopped = true
			return false
		}
		if i < len(mine) && mine[i].Key == string(k) {
			e := mine[i] // the buffered write shadows the parent's value
			i++
			if e.Value != nil && !fn(k, e.Value) {
				stopped = true
				return false
			}
			return true
		}
		if !fn(k, v) {
			stopped = true
			return false
		}
		return true
	})
	if stopped {
		return
	}
	for ; i < len(mine); i++ {
		if e := mine[i]; e.Value != nil && !fn([]byte(e.Key), e.Value) {
			return
		}
	}
}

// Write applies the buffered writes to the parent in key order and empties
// the cache: to a BatchWriter as one batch, to another KV one by one. Over
// a read-only parent it panics with a Fault.
func (c *Cache) Write() {
	if c.Len() == 0 {
		return
	}
	switch p := c.parent.(type) {
	case *Cache: // a transaction's writes into its block's: values are immutable, no copies
		c.ascend(nil, nil, func(e Write) bool {
			p.put(e)
			return true
		})
	case BatchWriter:
		var ws []Write
		if c.writes == nil {
			ws = c.small // WriteBatch may keep it: the cache lets go of it below
		} else {
			ws = make([]Write, 0, c.writes.Len())
			c.writes.Ascend(func(i item) bool {
				ws = append(ws, i.Write)
				return true
			})
		}
		if t, ok := p.(CacheTaker); ok {
			t.TakeCache(c, ws)
		} else {
			p.WriteBatch(ws)
		}
	case KV:
		c.ascend(nil, nil, func(e Write) bool {
			if e.Value == nil {
				p.Delete([]byte(e.Key))
			} else {
				p.Set([]byte(e.Key), e.Value)
			}
			return true
		})
	default:
		panic(Fault{errReadOnly})
	}
	c.clear()
}

func (c *Cache) clear() {
	c.small = nil
	if c.writes != nil {
		c.writes.Clear(false)
		clear(c.byKey)
	}
}

// TakeFrom makes src's buffered writes c's own, without copying them, and
// leaves src empty; it reports false, changing nothing, unless c buffers no
// writes. c keeps its parent: the writes must be ones that belong over it
// (src's parent reads through to c's, or is c).
func (c *Cache) TakeFrom(src *Cache) bool {
	if c.Len() != 0 {
		return false
	}
	c.small, c.writes, c.byKey = src.small, src.writes, src.byKey
	src.small, src.writes, src.byKey = nil, nil, nil
	return true
}

// Discard drops the buffered writes.
func (c *Cache) Discard() { c.clear() }
