package merkle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/medchain/medchain/store"
)

// Import writes a state received whole (a state sync snapshot) into an
// empty tree: Put each pair, then Finish at the snapshot's version. Unlike
// Set, Put takes the index digest's key and index keys as they are, without
// folding a new digest: the pairs are a committed state, not a block's
// writes.
type Import struct {
	t    *Tree
	last []byte
}

// ErrImport: the imported state is not what it claims.
var ErrImport = errors.New("state import")

// BeginImport starts an import into the tree, which must hold no version.
func (t *Tree) BeginImport() (*Import, error) {
	if t.Version() != 0 {
		return nil, fmt.Errorf("%w: the state already holds version %d", ErrImport, t.Version())
	}
	t.Rollback()
	t.ck.suppress = true // the whole state is no change to log
	return &Import{t: t}, nil
}

// Put adds one pair; keys must come in increasing order.
func (im *Import) Put(key, value []byte) error {
	if im.last != nil && bytes.Compare(key, im.last) <= 0 {
		return fmt.Errorf("%w: keys out of order", ErrImport)
	}
	if len(key) == 0 || value == nil {
		return fmt.Errorf("%w: an empty key or value", ErrImport)
	}
	im.last = bytes.Clone(key)
	t := im.t
	if store.IsIndexKey(key) {
		t.work.Set(key, value)
		return nil
	}
	kh := sha256.Sum256(key)
	vh := sha256.Sum256(value)
	lh := leafHash(&kh, &vh)
	t.setLeaf(key, &kh, &lh)
	t.work.Set(key, value)
	return nil
}

// Finish commits the imported state as version, if its root is appHash;
// otherwise it discards it.
func (im *Import) Finish(version int64, appHash []byte) error {
	t := im.t
	if h := t.trie.rootHash(); !bytes.Equal(h[:], appHash) {
		t.Rollback()
		t.ck.suppress = false
		return fmt.Errorf("%w: the state hashes to %X, want %X", ErrImport, h, appHash)
	}
	_, _, err := t.commitAt(version, nil)
	t.ck.suppress = false // already false after a successful commit
	return err
}

// Abort discards what was imported.
func (im *Import) Abort() {
	im.t.Rollback()
	im.t.ck.suppress = false
}
