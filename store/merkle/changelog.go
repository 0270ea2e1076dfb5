package merkle

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// The change log lets a tree loaded from a checkpoint of version V catch up
// with the database's latest version without reading the state: for each
// version it records the root hash and, for every proven key whose leaf the
// version changed, the key's leaf before the version (or its absence) and
// after it (or its removal). It is written in the version's own batch, so
// it is exactly as durable as the version, and entries older than the
// newest checkpoint are deleted once that checkpoint is on disk. It is
// local data: not part of the app hash, not exported by state sync.
//
//	'c' ‖ version (8 bytes, big-endian) →
//	    changeLogFormat ‖ root (32) ‖ uvarint(count) ‖ count × change
//	change = uvarint(len(key)) ‖ key ‖ flags ‖ [leaf hash before] ‖ [leaf hash after]
//
// flags bit 0: the key was a leaf before the version (its leaf hash follows);
// bit 1: the key is a leaf after it (its leaf hash follows).
var prefixChanges = []byte{'c'}

const changeLogFormat = 1

func changeKey(version int64) []byte {
	return binary.BigEndian.AppendUint64(prefixChanges[:1:1], uint64(version))
}

// keyChange is what the working version did to one proven key's leaf.
type keyChange struct {
	existed bool     // a leaf before the version
	present bool     // a leaf after it
	prev    [32]byte // leaf hash before, when existed
	lh      [32]byte // leaf hash after, when present
}

// noteChange records a write of key's leaf in the working version: existed
// and prev are the leaf before this write (prev nil when it did not exist),
// lh the leaf after it (nil: removed). The first write of a key in a
// version tells what it was before the version.
func (t *Tree) noteChange(key []byte, existed bool, prev *[32]byte, lh *[32]byte) {
	c, seen := t.chg[string(key)]
	if !seen {
		c.existed = existed
		if existed {
			c.prev = *prev
		}
	}
	c.present = lh != nil
	if lh != nil {
		c.lh = *lh
	}
	t.chg[string(key)] = c
}

// encodeChanges is the change log entry of the working version, whose root
// is root, and the number of changes it holds.
func (t *Tree) encodeChanges(root *[32]byte) ([]byte, int) {
	size := 1 + 32 + binary.MaxVarintLen64
	for k := range t.chg {
		size += binary.MaxVarintLen64 + len(k) + 1 + 64
	}
	out := make([]byte, 0, size)
	out = append(out, changeLogFormat)
	out = append(out, root[:]...)
	n := 0
	for _, c := range t.chg {
		if c.existed || c.present {
			n++
		}
	}
	out = binary.AppendUvarint(out, uint64(n))
	for k, c := range t.chg {
		if !c.existed && !c.present { // made and removed within the version
			continue
		}
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
		var flags byte
		if c.existed {
			flags |= 1
		}
		if c.present {
			flags |= 2
		}
		out = append(out, flags)
		if c.existed {
			out = append(out, c.prev[:]...)
		}
		if c.present {
			out = append(out, c.lh[:]...)
		}
	}
	return out, n
}

var errChangeLog = errors.New("change log")

// decodeChanges calls fn for each change of a log entry and returns the
// entry's root.
func decodeChanges(v []byte, fn func(key []byte, c *keyChange)) (root [32]byte, err error) {
	if len(v) < 33 || v[0] != changeLogFormat {
		return root, fmt.Errorf("%w: an entry of %d bytes, format %d", errChangeLog, len(v), firstByte(v))
	}
	copy(root[:], v[1:33])
	v = v[33:]
	n, k := binary.Uvarint(v)
	if k <= 0 {
		return root, fmt.Errorf("%w: bad count", errChangeLog)
	}
	v = v[k:]
	for range n {
		l, k := binary.Uvarint(v)
		if k <= 0 || l == 0 || uint64(len(v)-k) < l+1 {
			return root, fmt.Errorf("%w: a truncated change", errChangeLog)
		}
		key := v[k : k+int(l)]
		v = v[k+int(l):]
		flags := v[0]
		v = v[1:]
		var c keyChange
		c.existed, c.present = flags&1 != 0, flags&2 != 0
		if flags&^3 != 0 || (!c.existed && !c.present) {
			return root, fmt.Errorf("%w: bad flags %d", errChangeLog, flags)
		}
		for _, h := range []struct {
			on  bool
			out *[32]byte
		}{{c.existed, &c.prev}, {c.present, &c.lh}} {
			if !h.on {
				continue
			}
			if len(v) < 32 {
				return root, fmt.Errorf("%w: a truncated change", errChangeLog)
			}
			copy(h.out[:], v[:32])
			v = v[32:]
		}
		fn(key, &c)
	}
	if len(v) != 0 {
		return root, fmt.Errorf("%w: %d bytes after the changes", errChangeLog, len(v))
	}
	return root, nil
}

func firstByte(v []byte) int {
	if len(v) == 0 {
		return -1
	}
	return int(v[0])
}

// pruneChanges deletes the log entries of versions before version. Losing
// the deletion in a crash leaves entries no checkpoint needs, which the
// next pruning deletes.
func (t *Tree) pruneChanges(before int64) error {
	return t.db.DeleteRange(changeKey(0), changeKey(before), pebble.NoSync)
}
