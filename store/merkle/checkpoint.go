package merkle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/medchain/medchain/store"
)

// Tree checkpoints (treefile.go holds the file, changelog.go the log of
// changes since it). A tree opened from a directory keeps one checkpoint of
// its Merkle tree there and a log of the versions after it:
//
//   - After a commit, once CheckpointChanges proven keys changed (or
//     CheckpointVersions versions passed) since the last checkpoint, a new
//     one is written in the background from the committed version: its
//     nodes do not change (copy on write) and are not reused until the
//     file is written (smt.pin), so commits go on meanwhile.
//   - Close writes one of the last version when it changed anything since
//     the last checkpoint, so a node stopped cleanly replays nothing.
//   - Open reads the checkpoint of version V, replays the logged changes of
//     versions V+1 to the latest and checks the root against the committed
//     one. Anything wrong (no file, a bad checksum, a missing log entry, a
//     root that differs) is logged and the tree is rebuilt from the stored
//     keys, as without checkpoints; a checkpoint is then written at once.
//
// What a checkpoint saves is the rebuild's reading and hashing of every
// stored pair; what it trusts is its own content, checked by its checksum
// and the root: a database changed behind the node's back after the
// checkpoint was written is noticed only by a rebuild (CheckpointChanges < 0
// turns checkpoints off, and removing the file forces one).

// DefaultCheckpointChanges caps the changed keys after which a checkpoint is
// written; see Options.CheckpointChanges.
const DefaultCheckpointChanges = 1 << 18

// DefaultCheckpointVersions is Options.CheckpointVersions when 0.
const DefaultCheckpointVersions = 10_000

// DefaultCheckpointInterval is Options.CheckpointInterval when 0: under a
// sustained write load a checkpoint at most every two minutes costs a few
// per cent of a core even on a 10 M-record state, and a start after a
// crash replays at most two minutes of changes (or rebuilds, when that is
// cheaper).
const DefaultCheckpointInterval = 2 * time.Minute

// LoadStats tells how the tree was loaded when it was opened.
type LoadStats struct {
	// FromCheckpoint: the tree was read from a checkpoint of version
	// CheckpointVersion, then Replayed changed keys were applied.
	FromCheckpoint    bool
	CheckpointVersion int64
	Replayed          int
	// Rebuilt: the tree was rebuilt from the stored keys; Fallback says
	// why a checkpoint present was not used ("" when there was none).
	Rebuilt  bool
	Fallback string
	Seconds  float64 // the tree's loading, database open excluded
}

// ckpt is the state of a tree's checkpoints. Guarded by Tree.mu.
type ckpt struct {
	dir      string        // "" when checkpoints are off
	changes  int64         // cap on changed keys between checkpoints
	versions int64         // versions between checkpoints
	interval time.Duration // least time between background checkpoints (< 0: none)
	started  time.Time     // when the last background checkpoint started
	log      *slog.Logger

	last     int64         // version of the newest checkpoint on disk (0: none)
	changed  int64         // changed keys logged since it
	since    int64         // versions since it
	writing  chan struct{} // closed when the running writer ends; nil when none
	load     LoadStats
	suppress bool   // the working version is an import: no change log entry
	hook     func() // tests: runs in the background writer before it writes
}

func (c *ckpt) on() bool { return c.dir != "" }

// threshold is the number of changed keys after which a checkpoint is due
// for a tree of keys leaves: an eighth of the tree, at least 4096, at most
// the configured cap, so that a replay costs a fraction of a rebuild.
func (c *ckpt) threshold(keys int) int64 {
	return min(c.changes, max(int64(keys)/8, 4096))
}

// LoadStats reports how the tree was loaded at open.
func (t *Tree) LoadStats() LoadStats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.ck.load
}

// loadCheckpoint loads the tree from the checkpoint in the tree's directory
// and brings it to version, whose committed root is root. On error the
// tree is left in any state: the caller discards it.
func (t *Tree) loadCheckpoint(version int64, root []byte) (h treeHeader, replayed int, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(store.Fault)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%w: replay: %v", errTreeFile, f.Err)
		}
	}()
	// Read the log first: a missing entry makes the file useless.
	f, err := os.Open(filepath.Join(t.ck.dir, treeFileName))
	if err != nil {
		return h, 0, err
	}
	hb := make([]byte, treeHeaderLen)
	_, err = f.ReadAt(hb, 0)
	f.Close()
	if err != nil {
		return h, 0, fmt.Errorf("%w: header: %v", errTreeFile, err)
	}
	if h, err = decodeTreeHeader(hb); err != nil {
		return h, 0, err
	}
	if h.version > version {
		return h, 0, fmt.Errorf("%w: of version %d, newer than the state's %d", errTreeFile, h.version, version)
	}
	changes := map[string]*replayChange{}
	if h.version == version {
		if !bytes.Equal(h.root[:], root) {
			return h, 0, fmt.Errorf("%w: of version %d with root %X, committed as %X", errTreeFile, version, h.root, root)
		}
	} else if err := t.readChanges(h, version, changes); err != nil {
		return h, 0, err
	}
	// Replaying a changed key costs about five times what the rebuild
	// spends per key: past a fifth of the tree the rebuild is faster.
	if h.leaves > 0 && int64(len(changes)) > max(h.leaves/5, 1<<16) {
		return h, 0, fmt.Errorf("%w: %d keys changed since version %d, a rebuild of %d is faster", errTreeFile, len(changes), h.version, h.leaves)
	}
	if _, err := readTreeFile(t.ck.dir, &t.trie); err != nil {
		return h, 0, err
	}
	if err := t.replay(changes); err != nil {
		return h, 0, err
	}
	return h, len(changes), nil
}

// replayChange is a key's change from a checkpoint's version to the latest.
type replayChange struct {
	key []byte
	kh  [32]byte
	keyChange
}

// readChanges collects the logged changes of the versions after h's up to
// version; every one must be there, and the checkpoint's version's entry
// (when kept) must have its root.
func (t *Tree) readChanges(h treeHeader, version int64, out map[string]*replayChange) error {
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: changeKey(h.version), UpperBound: changeKey(version + 1)})
	if err != nil {
		return err
	}
	defer it.Close()
	next := h.version + 1
	for it.First(); it.Valid(); it.Next() {
		v := int64(bytesToUint64(it.Key()[1:]))
		if v == h.version {
			r, err := decodeChanges(it.Value(), func([]byte, *keyChange) {})
			if err != nil {
				return err
			}
			if r != h.root {
				return fmt.Errorf("%w: of version %d with root %X, but version %d was committed as %X", errTreeFile, h.version, h.root, v, r)
			}
			continue
		}
		if v != next {
			return fmt.Errorf("%w: the change log lacks version %d", errTreeFile, next)
		}
		next++
		_, err := decodeChanges(it.Value(), func(key []byte, c *keyChange) {
			if e, ok := out[string(key)]; ok {
				e.present, e.lh = c.present, c.lh
				return
			}
			e := &replayChange{key: bytes.Clone(key), keyChange: *c}
			out[string(e.key)] = e
		})
		if err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if next != version+1 {
		return fmt.Errorf("%w: the change log lacks version %d", errTreeFile, next)
	}
	return nil
}

func bytesToUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// replay applies changes to the tree as read from a checkpoint: first every
// changed key that was a leaf is removed, then every one that is a leaf now
// is inserted. While removing, the tree's leaves are unchanged keys (whose
// values in the database are theirs) and changed keys not yet removed
// (whose leaves the log gives); while inserting, every leaf is a key's
// latest. So a leaf whose full key hash the tree needs is found among the
// changes by its leaf hash, or else in the database.
func (t *Tree) replay(changes map[string]*replayChange) error {
	var byFP map[uint64][]*replayChange
	exists, resolve := t.trie.exists, t.trie.resolve
	defer func() { t.trie.exists, t.trie.resolve = exists, resolve }()
	t.trie.resolve = func(fp uint64, lh *[32]byte) [32]byte {
		if byFP == nil {
			byFP = map[uint64][]*replayChange{}
			for _, c := range changes {
				byFP[fpOf(&c.kh)] = append(byFP[fpOf(&c.kh)], c)
			}
		}
		for _, c := range byFP[fp] {
			if (c.existed && c.prev == *lh) || (c.present && c.lh == *lh) {
				return c.kh
			}
		}
		return t.resolveWork(fp, lh)
	}
	removing := true
	// The tree asks whether it holds a key only about the key being written:
	// one being removed was a leaf, one being inserted is not (any more).
	t.trie.exists = func([]byte) bool { return removing }
	for _, c := range changes {
		c.kh = sha256Key(c.key)
	}
	for _, c := range changes {
		if c.existed && !t.trie.remove(c.key, &c.kh) {
			return fmt.Errorf("%w: changed key %X is not in the checkpoint", errTreeFile, c.key)
		}
	}
	removing = false
	for _, c := range changes {
		if c.present && t.trie.set(c.key, &c.kh, &c.lh) {
			return fmt.Errorf("%w: changed key %X was not removed", errTreeFile, c.key)
		}
	}
	return nil
}

// maybeCheckpoint starts writing a checkpoint of the committed version in
// the background when one is due (or force). t.mu is held for writing.
func (t *Tree) maybeCheckpoint(force bool) {
	c := &t.ck
	if !c.on() || c.writing != nil || t.closed {
		return
	}
	if !force && c.changed < c.threshold(t.trie.kept) && c.since < c.versions {
		return
	}
	if !force && c.interval > 0 && !c.started.IsZero() && time.Since(c.started) < c.interval {
		return
	}
	if t.version == c.last && !force {
		return
	}
	done := make(chan struct{})
	c.writing = done
	c.started = time.Now()
	h := treeHeader{version: t.version, root: [32]byte(t.hash), leaves: int64(t.trie.kept)}
	root, changed, since := t.root, c.changed, c.since
	t.trie.pin = t.version
	go func() {
		defer close(done)
		if c.hook != nil {
			c.hook()
		}
		start := time.Now()
		size, err := writeTreeFile(c.dir, &t.trie, root, h)
		if err == nil {
			err = t.pruneChanges(h.version)
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		t.trie.pin = 0
		c.writing = nil
		if err != nil {
			c.log.Error("tree checkpoint not written", "version", h.version, "err", err)
			return
		}
		c.last = h.version
		c.changed -= changed
		c.since -= since
		c.log.Info("tree checkpoint written", "version", h.version, "leaves", h.leaves, "bytes", size, "seconds", time.Since(start).Seconds())
	}()
}

// waitCheckpoint waits for a running checkpoint writer. t.mu must not be
// held.
func (t *Tree) waitCheckpoint() {
	t.mu.RLock()
	done := t.ck.writing
	t.mu.RUnlock()
	if done != nil {
		<-done
	}
}

// closeCheckpoint writes a checkpoint of the last version, when it changed
// anything since the newest one, as the tree closes. t.mu is held.
func (t *Tree) closeCheckpoint() {
	c := &t.ck
	if !c.on() || t.version == 0 || t.version == c.last || (c.changed == 0 && c.last != 0) {
		return
	}
	h := treeHeader{version: t.version, root: [32]byte(t.hash), leaves: int64(t.trie.kept)}
	start := time.Now()
	size, err := writeTreeFile(c.dir, &t.trie, t.root, h)
	if err == nil {
		err = t.pruneChanges(h.version)
	}
	if err != nil {
		c.log.Error("tree checkpoint not written", "version", h.version, "err", err)
		return
	}
	c.last = h.version
	c.log.Info("tree checkpoint written at close", "version", h.version, "leaves", h.leaves, "bytes", size, "seconds", time.Since(start).Seconds())
}

// removeCheckpoint deletes the checkpoint file and the change log (when
// checkpoints are off, or the state is empty).
func removeTreeFiles(dir string) error {
	var errs []error
	for _, name := range []string{treeFileName, treeFileName + ".tmp"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func sha256Key(key []byte) [32]byte { return sha256.Sum256(key) }
