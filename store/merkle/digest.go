package merkle

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/medchain/medchain/store"
)

// indexDigestTag separates the index digest's hash from every other hash.
const indexDigestTag = "medchain/index-digest/v1"

// foldIndexWrites makes the app hash cover index keys. When the working
// version wrote index keys, it sets the proven key store.IndexDigestKey to
//
//	SHA-256(indexDigestTag ‖ previous ‖ write ‖ write ‖ ...)
//
// where previous is the digest as last committed (32 zero bytes before the
// first), and each of the version's index writes, in key order, deletes
// included, is uvarint(len(key)) ‖ key ‖ 0x00 for a delete, or
// uvarint(len(key)) ‖ key ‖ 0x01 ‖ uvarint(len(value)) ‖ value. The digest
// chains every version's index writes since genesis: two nodes that ever
// wrote different index entries hold different app hashes from that
// version on. A version without index writes leaves the key as it was.
//
// It runs before a working hash is taken; if index keys are written after
// that, the next working hash folds the version's writes again from the
// committed digest, so the result does not depend on when hashes are asked.
func (t *Tree) foldIndexWrites() {
	if !t.indexDirty {
		return
	}
	prev := t.base.Get(store.IndexDigestKey)
	if prev == nil {
		prev = make([]byte, sha256.Size)
	}
	h := sha256.New()
	h.Write([]byte(indexDigestTag))
	h.Write(prev)
	var buf []byte
	t.work.Ascend([]byte{store.IndexKeyStart}, func(w store.Write) bool {
		buf = binary.AppendUvarint(buf[:0], uint64(len(w.Key)))
		buf = append(buf, w.Key...)
		if w.Value == nil {
			buf = append(buf, 0)
		} else {
			buf = append(buf, 1)
			buf = binary.AppendUvarint(buf, uint64(len(w.Value)))
		}
		h.Write(buf)
		h.Write(w.Value)
		return true
	})
	digest := h.Sum(nil)
	kh := sha256.Sum256(store.IndexDigestKey)
	vh := sha256.Sum256(digest)
	lh := leafHash(&kh, &vh)
	t.setLeaf(store.IndexDigestKey, &kh, &lh)
	t.work.Set(store.IndexDigestKey, digest)
	t.indexDirty = false
}

// reserved panics with a Fault for a write of the index digest's key: only
// the tree writes it. (No module writes under its prefix either; sm lists
// it as reserved.)
func reserved(key []byte) {
	if len(key) == 1 && key[0] == store.IndexDigestKey[0] {
		panic(store.Fault{Err: errReserved})
	}
}
