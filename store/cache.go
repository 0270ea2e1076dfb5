package store

import (
	"bytes"

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
	writes *btree.BTreeG[entry]
}

// entry is a buffered write; a nil value marks a delete.
type entry struct {
	key string
	val []byte
}

func entryLess(a, b entry) bool { return a.key < b.key }

// NewCache returns an empty cache over parent.
func NewCache(parent Reader) *Cache {
	return &Cache{parent: parent, writes: btree.NewG(32, entryLess)}
}

func (c *Cache) Get(key []byte) []byte {
	if e, ok := c.writes.Get(entry{key: string(key)}); ok {
		return e.val
	}
	return c.parent.Get(key)
}

func (c *Cache) Set(key, value []byte) {
	if len(key) == 0 || value == nil {
		panic(Fault{errEmpty})
	}
	c.writes.ReplaceOrInsert(entry{key: string(key), val: bytes.Clone(value)})
}

func (c *Cache) Delete(key []byte) { c.writes.ReplaceOrInsert(entry{key: string(key)}) }

// Len reports the number of buffered writes (deletes included).
func (c *Cache) Len() int { return c.writes.Len() }

// Iterate merges the buffered writes with the parent's keys.
func (c *Cache) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	var mine []entry
	visit := func(e entry) bool { mine = append(mine, e); return true }
	if end == nil {
		c.writes.AscendGreaterOrEqual(entry{key: string(start)}, visit)
	} else {
		c.writes.AscendRange(entry{key: string(start)}, entry{key: string(end)}, visit)
	}
	i := 0
	stopped := false
	// emitBefore emits buffered entries with keys below k.
	emitBefore := func(k string) bool {
		for i < len(mine) && mine[i].key < k {
			e := mine[i]
			i++
			if e.val != nil && !fn([]byte(e.key), e.val) {
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
		if i < len(mine) && mine[i].key == string(k) {
			e := mine[i] // the buffered write shadows the parent's value
			i++
			if e.val != nil && !fn(k, e.val) {
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
		if e := mine[i]; e.val != nil && !fn([]byte(e.key), e.val) {
			return
		}
	}
}

// Write applies the buffered writes to the parent in key order and empties the cache.
func (c *Cache) Write() {
	if t, ok := c.parent.(*Tree); ok {
		es := make([]entry, 0, c.writes.Len())
		c.writes.Ascend(func(e entry) bool {
			es = append(es, e)
			return true
		})
		t.writeAll(es)
		c.writes.Clear(false)
		return
	}
	kv, ok := c.parent.(KV)
	if !ok {
		panic(Fault{errReadOnly})
	}
	c.writes.Ascend(func(e entry) bool {
		if e.val == nil {
			kv.Delete([]byte(e.key))
		} else {
			kv.Set([]byte(e.key), e.val)
		}
		return true
	})
	c.writes.Clear(false)
}

// Discard drops the buffered writes.
func (c *Cache) Discard() { c.writes.Clear(false) }
