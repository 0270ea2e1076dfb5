package store

import (
	"bytes"
	"sort"
)

// Cache buffers writes over a parent KV. Write applies them to the parent in
// key order; dropping the Cache discards them. This is how a transaction that
// fails changes nothing.
type Cache struct {
	parent KV
	writes map[string][]byte // nil value marks a delete
}

// NewCache returns an empty cache over parent.
func NewCache(parent KV) *Cache { return &Cache{parent: parent, writes: map[string][]byte{}} }

func (c *Cache) Get(key []byte) []byte {
	if v, ok := c.writes[string(key)]; ok {
		return v
	}
	return c.parent.Get(key)
}

func (c *Cache) Set(key, value []byte) {
	if len(key) == 0 || value == nil {
		panic(Fault{errEmpty})
	}
	c.writes[string(key)] = bytes.Clone(value)
}

func (c *Cache) Delete(key []byte) { c.writes[string(key)] = nil }

// Iterate merges the buffered writes with the parent's keys.
func (c *Cache) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	var mine []string
	for k := range c.writes {
		if k >= string(start) && (end == nil || k < string(end)) {
			mine = append(mine, k)
		}
	}
	sort.Strings(mine)
	i := 0
	stopped := false
	emitMine := func(upto string, inclusive bool) bool {
		for i < len(mine) && (mine[i] < upto || (inclusive && mine[i] == upto)) {
			k := mine[i]
			i++
			if v := c.writes[k]; v != nil {
				if !fn([]byte(k), v) {
					return false
				}
			}
		}
		return true
	}
	c.parent.Iterate(start, end, func(k, v []byte) bool {
		if !emitMine(string(k), false) {
			stopped = true
			return false
		}
		if _, over := c.writes[string(k)]; over {
			if i < len(mine) && mine[i] == string(k) {
				i++
				if w := c.writes[string(k)]; w != nil {
					if !fn(k, w) {
						stopped = true
						return false
					}
				}
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
		if v := c.writes[mine[i]]; v != nil {
			if !fn([]byte(mine[i]), v) {
				return
			}
		}
	}
}

// Write applies the buffered writes to the parent in key order and empties the cache.
func (c *Cache) Write() {
	keys := make([]string, 0, len(c.writes))
	for k := range c.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := c.writes[k]; v == nil {
			c.parent.Delete([]byte(k))
		} else {
			c.parent.Set([]byte(k), v)
		}
	}
	clear(c.writes)
}

// Discard drops the buffered writes.
func (c *Cache) Discard() { clear(c.writes) }
