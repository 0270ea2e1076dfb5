package merkle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/medchain/medchain/store"
)

// OpenTree opens (or creates) the state stored in dir/DBName and loads its
// latest version: from the tree checkpoint in dir when there is a valid
// one (checkpoint.go), else rebuilding the Merkle tree from the stored keys.
func OpenTree(dir string) (*Tree, error) { return OpenTreeWith(dir, Options{}) }

// Options tune a tree's memory and start-up; none changes what it stores
// or answers.
type Options struct {
	// ReadCacheBytes bounds the cache of the latest committed values
	// (latest): 0 means DefaultReadCacheBytes, a negative value none.
	ReadCacheBytes int64
	// CheckpointChanges caps the proven keys changed since the last tree
	// checkpoint after which a new one is written in the background (the
	// threshold is an eighth of the tree's keys, at least 4096, at most
	// this): 0 means DefaultCheckpointChanges; a negative value turns tree
	// checkpoints and their change log off (and deletes them), so every
	// open rebuilds the tree from the stored keys.
	CheckpointChanges int64
	// CheckpointVersions: a checkpoint is also written once this many
	// versions were committed since the last (0: DefaultCheckpointVersions).
	CheckpointVersions int64
	// CheckpointInterval is the least time between the starts of two
	// background checkpoints (0: DefaultCheckpointInterval; negative: no
	// least time). Writing one costs time in proportion to the whole tree
	// (seconds for tens of millions of keys), so under a sustained write
	// load the change thresholds alone would keep a core writing
	// checkpoints back to back. A clean close still writes one.
	CheckpointInterval time.Duration
	// Logger receives what happens to tree checkpoints (nil: discarded).
	Logger *slog.Logger
	// BlockCacheBytes is Pebble's block cache (0: DefaultBlockCacheBytes).
	BlockCacheBytes int64
}

// DefaultBlockCacheBytes is the state database's block cache unless
// Options say otherwise: what a node of 4 GiB can spare.
const DefaultBlockCacheBytes = 256 << 20

func (o Options) readCache() int64 {
	switch {
	case o.ReadCacheBytes == 0:
		return DefaultReadCacheBytes
	case o.ReadCacheBytes < 0:
		return 0
	}
	return o.ReadCacheBytes
}

// OpenTreeWith is OpenTree with options.
func OpenTreeWith(dir string, o Options) (*Tree, error) {
	cache := o.BlockCacheBytes
	if cache <= 0 {
		cache = DefaultBlockCacheBytes
	}
	return openTree(filepath.Join(dir, DBName), nil, cache, 64<<20, o, dir)
}

// NewMemTree returns a tree held in memory (tests, determinism checks).
func NewMemTree() *Tree { return NewMemTreeWith(Options{ReadCacheBytes: 8 << 20}) }

// NewMemTreeWith is NewMemTree with options.
func NewMemTreeWith(o Options) *Tree {
	t, err := openTree("", vfs.NewMem(), 8<<20, 1<<20, o, "")
	if err != nil {
		panic(err) // cannot fail on an empty memory file system
	}
	return t
}

// tuneCompaction sets how Pebble compacts the state database.
//
// Most of the state's keys are hashes, so every table flushed to L0 spans
// the whole key space and each L0 compaction rewrites all of the base level
// it overlaps. Letting L0 gather 8 sublevels first (Pebble's default is 4)
// and giving the base level 256 MiB (default 64 MiB) rewrites it about half
// as often: on a replay of a node's commits under issue 13's mix Pebble's
// CPU fell by 29 % (about 7 µs of the node's ~125 µs per transaction), in
// BenchmarkCompaction by a fifth, for one or two more L0 sublevels for a
// read to filter (docs/performance.md, Session 22). Writes stop only at 40
// sublevels (default 12), far
// above where compactions keep L0, so a burst of flushes does not stall a
// commit.
func tuneCompaction(o *pebble.Options) {
	o.L0CompactionThreshold = 8
	o.L0StopWritesThreshold = 40
	o.LBaseMaxBytes = 256 << 20
}

// pebbleDefaults opens databases with Pebble's default compaction settings
// instead of tuneCompaction's (BenchmarkCompaction's baseline).
var pebbleDefaults bool

// openTree opens the database at path; ckDir is where tree checkpoints are
// kept ("" for none).
func openTree(path string, fs vfs.FS, cacheBytes int64, memtable uint64, o Options, ckDir string) (*Tree, error) {
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		MemTableSize: memtable,
		Logger:       quietLogger{},
		FS:           fs,
		Comparer:     comparer,
	}
	// Bloom filters make a lookup of an absent key (a new record id, a new
	// account) cost a memory probe per table instead of a block read, and a
	// listing read (a patient's consents) skip the tables without the
	// patient's prefix (prefix.go). Tables written before prefixes keep
	// their whole-key filters until compaction rewrites them.
	var fp pebble.FilterPolicy = prefixBloom{bloom.FilterPolicy(10)}
	old := wholeKeyBloom{bloom.FilterPolicy(10)}
	opts.Filters = map[string]pebble.FilterPolicy{fp.Name(): fp, old.Name(): old}
	if wholeKeyFilters { // tests: open as a build before prefixes did
		opts.Comparer, fp, opts.Filters = nil, bloom.FilterPolicy(10), nil
	}
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = fp
	}
	if !pebbleDefaults {
		tuneCompaction(opts)
	}
	opts.EnsureDefaults()
	db, err := pebble.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("open state db: %w", err)
	}
	t := &Tree{db: db, prefixSeek: !wholeKeyFilters, live: map[*pebble.Snapshot]*iterPool{}, hash: emptyHash[:], latest: newLatest(o.readCache())}
	t.ck = ckpt{changes: o.CheckpointChanges, versions: o.CheckpointVersions, interval: o.CheckpointInterval, log: o.Logger}
	if t.ck.interval == 0 {
		t.ck.interval = DefaultCheckpointInterval
	}
	if t.ck.changes == 0 {
		t.ck.changes = DefaultCheckpointChanges
	}
	if t.ck.versions <= 0 {
		t.ck.versions = DefaultCheckpointVersions
	}
	if t.ck.log == nil {
		t.ck.log = slog.New(slog.DiscardHandler)
	}
	if ckDir != "" && t.ck.changes > 0 {
		t.ck.dir = ckDir
		t.chg = map[string]keyChange{}
	}
	// While load rebuilds the tree there is no working version yet and every
	// key read is new to the tree.
	t.trie.exists = func(key []byte) bool { return t.work != nil && t.work.Get(key) != nil }
	t.trie.resolve = t.resolveWork
	if ckDir != "" && !t.ck.on() {
		if err := t.dropCheckpoints(ckDir); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := t.load(); err != nil {
		db.Close()
		return nil, err
	}
	t.startIndexFilter()
	return t, nil
}

// dropCheckpoints deletes the tree checkpoint in dir and the change log:
// with checkpoints off the log is not kept, so they would go stale.
func (t *Tree) dropCheckpoints(dir string) error {
	if err := removeTreeFiles(dir); err != nil {
		return fmt.Errorf("remove tree checkpoint: %w", err)
	}
	v, err := firstKey(t.db, prefixChanges)
	if err == nil && v != nil {
		err = t.db.DeleteRange(prefixChanges, store.PrefixEnd(prefixChanges), pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("remove change log: %w", err)
	}
	return nil
}

// firstKey returns the first database key under prefix (nil: none).
func firstKey(db *pebble.DB, prefix []byte) ([]byte, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: store.PrefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	var k []byte
	if it.First() {
		k = bytes.Clone(it.Key())
	}
	return k, firstErr(it.Error(), it.Close())
}

// load reads the latest version and rebuilds the Merkle tree over it.
func (t *Tree) load() (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(store.Fault)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("load state: %w", f)
		}
	}()
	meta, err := get(t.db, keyMeta)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	t.trie.gen = 1
	format, err := get(t.db, keyFormat)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	if meta == nil && format == nil {
		if err := t.db.Set(keyFormat, []byte{StateFormat}, pebble.Sync); err != nil {
			return fmt.Errorf("create state: %w", err)
		}
		format = []byte{StateFormat}
	}
	if len(format) != 1 || format[0] != StateFormat {
		f := 1
		if len(format) == 1 {
			f = int(format[0])
		}
		return fmt.Errorf("load state: %w (format %d; this medchain reads format %d)", ErrStateFormat, f, StateFormat)
	}
	if meta == nil {
		if t.ck.on() { // a checkpoint of another state
			if err := removeTreeFiles(t.ck.dir); err != nil {
				return fmt.Errorf("load state: %w", err)
			}
		}
		t.latest.reset(0)
		t.resetWork(0)
		return nil
	}
	if len(meta) != 40 {
		return fmt.Errorf("load state: corrupt metadata (%d bytes)", len(meta))
	}
	version := int64(binary.BigEndian.Uint64(meta))
	start := time.Now()
	if t.ck.on() {
		os.Remove(filepath.Join(t.ck.dir, treeFileName+".tmp")) // a crash while writing one
		if ok := t.loadFromCheckpoint(version, meta[8:]); ok {
			t.ck.load.Seconds = time.Since(start).Seconds()
			t.ck.log.Info("tree loaded from checkpoint", "checkpoint", t.ck.load.CheckpointVersion, "version", version,
				"replayed", t.ck.load.Replayed, "seconds", t.ck.load.Seconds)
			t.finishLoad(version)
			t.maybeCheckpoint(false)
			return nil
		}
	}
	if err := t.rebuild(version, meta[8:]); err != nil {
		return err
	}
	t.ck.load.Rebuilt = true
	t.ck.load.Seconds = time.Since(start).Seconds()
	t.finishLoad(version)
	t.maybeCheckpoint(true)
	return nil
}

// loadFromCheckpoint loads the tree from the checkpoint, if there is a
// usable one, at version with committed root. On failure it logs why and
// leaves an empty tree.
func (t *Tree) loadFromCheckpoint(version int64, root []byte) bool {
	h, replayed, err := t.loadCheckpoint(version, root)
	if err == nil {
		t.root = t.trie.commit(version, ProvableVersions)
		if got := t.trie.hash(t.root, 0); !bytes.Equal(got[:], root) {
			err = fmt.Errorf("%w: of version %d, replayed to version %d, hashes to %X; committed as %X", errTreeFile, h.version, version, got, root)
		}
	}
	if err == nil {
		t.ck.load = LoadStats{FromCheckpoint: true, CheckpointVersion: h.version, Replayed: replayed}
		t.ck.last, t.ck.changed, t.ck.since = h.version, int64(replayed), version-h.version
		return true
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.ck.load.Fallback = ""
	} else {
		t.ck.load.Fallback = err.Error()
		t.ck.log.Warn("tree checkpoint not used; rebuilding the tree from the stored keys", "err", err)
	}
	t.trie = smt{gen: 1, exists: t.trie.exists, resolve: t.trie.resolve}
	t.root = 0
	return false
}

// finishLoad makes the loaded tree the committed version.
func (t *Tree) finishLoad(version int64) {
	t.version, t.hash = version, bytes.Clone(t.trieHash())
	t.trie.filter.rebuild(&t.trie, t.root, t.trie.keys)
	t.latest.reset(version)
	t.resetWork(version)
	t.snaps = append(t.snaps, t.newSnapshot())
}

func (t *Tree) trieHash() []byte {
	h := t.trie.hash(t.root, 0)
	return h[:]
}

// rebuild builds the tree from every stored pair and checks it against
// the committed root.
func (t *Tree) rebuild(version int64, root []byte) error {
	// Index keys sort after every proven key and are not in the tree.
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: prefixState, UpperBound: []byte{prefixState[0], store.IndexKeyStart}})
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	var b loadBatch
	for it.First(); it.Valid(); it.Next() {
		if b.add(it.Key()[1:], it.Value()) == loadBatchLen {
			b.insert(&t.trie)
		}
	}
	b.insert(&t.trie)
	if err := firstErr(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	t.root = t.trie.commit(version, ProvableVersions)
	h := t.trie.hash(t.root, 0)
	if !bytes.Equal(h[:], root) {
		return fmt.Errorf("load state: the stored state hashes to %X, version %d was committed as %X", h, version, root)
	}
	return nil
}

// loadBatch collects stored pairs while the tree is rebuilt. Inserting keys
// in random key-hash order costs a cache miss at most levels of the tree; a
// batch is hashed on every core, sorted by key hash and inserted in order,
// so that consecutive inserts share most of their path.
type loadBatch struct {
	buf []byte // keys and values, back to back
	es  []loadEntry
}

type loadEntry struct {
	kh, lh       [32]byte
	at           int // offset of the key in buf; the value follows it
	keyLen, vLen int
}

// loadBatchLen is the number of pairs a batch holds (about 50 MB).
const loadBatchLen = 1 << 18

func (b *loadBatch) add(key, val []byte) int {
	b.es = append(b.es, loadEntry{at: len(b.buf), keyLen: len(key), vLen: len(val)})
	b.buf = append(append(b.buf, key...), val...)
	return len(b.es)
}

func (b *loadBatch) insert(trie *smt) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(b.es); i += workers {
				e := &b.es[i]
				v := e.at + e.keyLen
				e.kh = sha256.Sum256(b.buf[e.at:v])
				vh := sha256.Sum256(b.buf[v : v+e.vLen])
				e.lh = leafHash(&e.kh, &vh)
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(b.es, func(x, y loadEntry) int { return bytes.Compare(x.kh[:], y.kh[:]) })
	for i := range b.es {
		e := &b.es[i]
		trie.set(b.buf[e.at:e.at+e.keyLen], &e.kh, &e.lh)
	}
	b.buf, b.es = b.buf[:0], b.es[:0]
}

// Close closes the database. Snapshots must not be used afterwards.
func (t *Tree) Close() error {
	t.waitCheckpoint()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	t.closeCheckpoint()
	if t.base != nil {
		t.base.close()
	}
	for s, pool := range t.live {
		pool.close()
		s.Close()
	}
	clear(t.live)
	t.snaps = nil
	if t.idx != nil {
		t.idx.close()
	}
	return t.db.Close()
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Fatalf(format string, args ...any) {
	panic(store.Fault{Err: fmt.Errorf("state db: "+format, args...)})
}
