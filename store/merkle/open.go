package merkle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/medchain/medchain/store"
)

// OpenTree opens (or creates) the state stored in dir/DBName and loads its
// latest version, rebuilding the Merkle tree from the stored keys.
func OpenTree(dir string) (*Tree, error) { return OpenTreeWith(dir, Options{}) }

// Options tune a tree's memory; none changes what it stores or answers.
type Options struct {
	// ReadCacheBytes bounds the cache of the latest committed values
	// (latest): 0 means DefaultReadCacheBytes, a negative value none.
	ReadCacheBytes int64
}

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
	return openTree(filepath.Join(dir, DBName), nil, 256<<20, 64<<20, o.readCache())
}

// NewMemTree returns a tree held in memory (tests, determinism checks).
func NewMemTree() *Tree { return NewMemTreeWith(Options{ReadCacheBytes: 8 << 20}) }

// NewMemTreeWith is NewMemTree with options.
func NewMemTreeWith(o Options) *Tree {
	t, err := openTree("", vfs.NewMem(), 8<<20, 1<<20, o.readCache())
	if err != nil {
		panic(err) // cannot fail on an empty memory file system
	}
	return t
}

func openTree(path string, fs vfs.FS, cacheBytes int64, memtable uint64, readCache int64) (*Tree, error) {
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		MemTableSize: memtable,
		Logger:       quietLogger{},
		FS:           fs,
	}
	// Bloom filters make a lookup of an absent key (a new record id, a new
	// account) cost a memory probe per table instead of a block read.
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	opts.EnsureDefaults()
	db, err := pebble.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("open state db: %w", err)
	}
	t := &Tree{db: db, live: map[*pebble.Snapshot]struct{}{}, hash: emptyHash[:], latest: newLatest(readCache)}
	// While load rebuilds the tree there is no working version yet and every
	// key read is new to the tree.
	t.trie.exists = func(key []byte) bool { return t.work != nil && t.work.Get(key) != nil }
	t.trie.resolve = t.resolveWork
	if err := t.load(); err != nil {
		db.Close()
		return nil, err
	}
	return t, nil
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
		t.latest.reset(0)
		t.resetWork(0)
		return nil
	}
	if len(meta) != 40 {
		return fmt.Errorf("load state: corrupt metadata (%d bytes)", len(meta))
	}
	version := int64(binary.BigEndian.Uint64(meta))
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
	if !bytes.Equal(h[:], meta[8:]) {
		return fmt.Errorf("load state: the stored state hashes to %X, version %d was committed as %X", h, version, meta[8:])
	}
	t.version, t.hash = version, h[:]
	t.latest.reset(version)
	t.resetWork(version)
	t.snaps = append(t.snaps, t.newSnapshot())
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
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.base != nil {
		t.base.close()
	}
	for s := range t.live {
		s.Close()
	}
	clear(t.live)
	t.snaps = nil
	return t.db.Close()
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Fatalf(format string, args ...any) {
	panic(store.Fault{Err: fmt.Errorf("state db: "+format, args...)})
}
