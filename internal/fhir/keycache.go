package fhir

import (
	"sync"

	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/x/consent"
)

// keyCache keeps opened data keys, so that reading a record version again
// costs no HPKE decapsulation. It never decides anything: every read is
// still judged by consent.MayRead (and the session's limits) on the latest
// state first, an erased record is gone before its key is looked for, and a
// key is only put here after it was opened with a key this node legitimately
// holds (the organization's, or a session key, whose cache dies with the
// session), or was made by this node for a version it wrote. Bounded: when
// full, an arbitrary entry makes room. Keys are held behind pointers so that
// eviction and wipe zero the bytes the cache held, not a copy.
type keyCache struct {
	mu  sync.Mutex
	max int
	m   map[versionRef]*[envelope.DataKeySize]byte
}

type versionRef struct {
	id      consent.RecordID
	version uint32
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, m: map[versionRef]*[envelope.DataKeySize]byte{}}
}

// get returns a copy of a cached key; the caller zeroes its copy.
func (c *keyCache) get(id consent.RecordID, v uint32) ([envelope.DataKeySize]byte, bool) {
	if c == nil {
		return [envelope.DataKeySize]byte{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.m[versionRef{id, v}]
	if !ok {
		return [envelope.DataKeySize]byte{}, false
	}
	return *k, true
}

func (c *keyCache) put(id consent.RecordID, v uint32, k [envelope.DataKeySize]byte) {
	if c == nil || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ref := versionRef{id, v}
	if old, ok := c.m[ref]; ok {
		*old = k
		return
	}
	if len(c.m) >= c.max {
		for old, dk := range c.m {
			clear(dk[:])
			delete(c.m, old)
			break
		}
	}
	held := new([envelope.DataKeySize]byte)
	*held = k
	c.m[ref] = held
}

// wipe zeroes and forgets every key.
func (c *keyCache) wipe() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for ref, dk := range c.m {
		clear(dk[:])
		delete(c.m, ref)
	}
}
