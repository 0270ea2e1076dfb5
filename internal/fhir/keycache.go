package fhir

import (
	"sync"

	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/x/consent"
)

// keyCache keeps opened data keys, so that reading a record version again
// costs no HPKE decapsulation. It never decides anything: every read is
// still judged by consent.MayRead on the latest state first, an erased
// record is gone before its key is looked for, and a key is only put here
// after it was opened with a key this node legitimately holds (the
// organization's, or a session's delegated key, whose cache dies with the
// session). Bounded: when full, an arbitrary entry makes room.
type keyCache struct {
	mu  sync.Mutex
	max int
	m   map[versionRef][envelope.DataKeySize]byte
}

type versionRef struct {
	id      consent.RecordID
	version uint32
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, m: map[versionRef][envelope.DataKeySize]byte{}}
}

func (c *keyCache) get(id consent.RecordID, v uint32) ([envelope.DataKeySize]byte, bool) {
	if c == nil {
		return [envelope.DataKeySize]byte{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.m[versionRef{id, v}]
	return k, ok
}

func (c *keyCache) put(id consent.RecordID, v uint32, k [envelope.DataKeySize]byte) {
	if c == nil || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for old, dk := range c.m {
			clear(dk[:])
			delete(c.m, old)
			break
		}
	}
	c.m[versionRef{id, v}] = k
}

// wipe forgets every key.
func (c *keyCache) wipe() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		delete(c.m, k)
	}
}
