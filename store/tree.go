package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"
	ics23 "github.com/cosmos/ics23/go"
)

// Tree is the committed state: key-value pairs in a Pebble database, and a
// sparse Merkle tree over them (smt) whose root is the app hash. Writes go to
// the working version (a sorted in-memory cache and the tree's working root);
// Commit writes them to the database in one synced batch as the next version.
// Version numbers equal block heights.
//
// The Merkle tree is held in memory only (about 60 bytes per key: see smt)
// and is rebuilt from the database when the tree is opened; the database holds each
// key once, so a write costs one database put instead of a path of tree
// nodes. See docs/performance.md for the measurements behind this design.
//
// The last ReadableVersions versions can be read (Snapshot), and the last
// ProvableVersions proven. Tree is not safe for concurrent writers; Snapshot
// values are safe to use from any goroutine.
type Tree struct {
	db   *pebble.DB
	work *Cache    // uncommitted writes over the latest committed state
	base *dbReader // the committed state under work (through a Memo)

	mu      sync.RWMutex // guards everything below and the reuse of tree nodes
	trie    smt
	version int64
	root    ref // committed root
	hash    []byte
	snaps   []*Snapshot // readable versions, oldest first
	// hashIdx are the working version's changes to the 'h' index, in
	// order: a key new to the tree gets its entry, a removed one loses it; a
	// key whose value changed keeps the entry it has.
	hashIdx []hashWrite
	live    map[*pebble.Snapshot]struct{}
	closed  bool
}

const (
	// ReadableVersions is how many recent versions Snapshot can return.
	ReadableVersions = 100
	// ProvableVersions is how many recent versions can produce proofs. The
	// tree keeps the nodes these versions share with no later one.
	ProvableVersions = 8
)

type hashWrite struct {
	kh  [32]byte
	key []byte // nil: delete the entry
}

// Database key space.
var (
	prefixState = []byte{'s'} // 's' ‖ key → value
	prefixHash  = []byte{'h'} // 'h' ‖ SHA-256(key) → key (for absence proofs)
	keyMeta     = []byte{'m'} // version (8 bytes) ‖ root (32 bytes)
	keyFormat   = []byte{'f'} // StateFormat (one byte)
	prefixSide  = []byte{'x'} // 'x' ‖ key → value: data outside the Merkle tree
)

// StateFormat numbers the layout of the state database. Format 2 keeps
// index keys (IsIndexKey) out of the Merkle tree; a database of format 1
// (no format key) hashes them, so its app hashes cannot be reproduced.
const StateFormat = 2

// ErrStateFormat is returned when opening a state database that an earlier
// medchain wrote in another layout.
var ErrStateFormat = errors.New("state written by an earlier medchain in another layout")

// IndexKeyStart is the first key byte of index keys: see IsIndexKey.
const IndexKeyStart = 0x80

// IsIndexKey reports whether key is an index key: a key whose first byte is
// IndexKeyStart or above. Index keys are stored, read, listed and committed
// like any other key, in the same atomic batch, but they are not leaves of
// the Merkle tree: the app hash does not cover them and Prove refuses them.
// Modules keep there the listings they derive from proven keys (a patient's
// records, a grantee's consents): every node derives the same ones, and a
// proof of the underlying key proves what the index points at. The tree's
// memory and hashing are then spent on the keys that need proofs.
func IsIndexKey(key []byte) bool { return len(key) > 0 && key[0] >= IndexKeyStart }

// ErrIndexKey is returned by Prove for an index key.
var ErrIndexKey = errors.New("index keys are not in the Merkle tree and have no proofs; prove the keys they point at")

// Side is a write outside the Merkle tree (an index of committed blocks,
// say) saved in the same atomic, synced batch as a version: after a crash
// the side data and the state agree. Side data is not part of the app hash
// and is not proven; a nil Value deletes the key.
type Side struct {
	Key, Value []byte
}

// DBName is the state database's directory name under a node's data directory.
const DBName = "medchain.db"

// OpenTree opens (or creates) the state stored in dir/DBName and loads its
// latest version, rebuilding the Merkle tree from the stored keys.
func OpenTree(dir string) (*Tree, error) {
	return openTree(filepath.Join(dir, DBName), nil, 256<<20, 64<<20)
}

// NewMemTree returns a tree held in memory (tests, determinism checks).
func NewMemTree() *Tree {
	t, err := openTree("", vfs.NewMem(), 8<<20, 1<<20)
	if err != nil {
		panic(err) // cannot fail on an empty memory file system
	}
	return t
}

func openTree(path string, fs vfs.FS, cacheBytes int64, memtable uint64) (*Tree, error) {
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
	t := &Tree{db: db, live: map[*pebble.Snapshot]struct{}{}, hash: emptyHash[:]}
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
			f, ok := r.(Fault)
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
		t.resetWork()
		return nil
	}
	if len(meta) != 40 {
		return fmt.Errorf("load state: corrupt metadata (%d bytes)", len(meta))
	}
	version := int64(binary.BigEndian.Uint64(meta))
	// Index keys sort after every proven key and are not in the tree.
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: prefixState, UpperBound: []byte{prefixState[0], IndexKeyStart}})
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
	t.resetWork()
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

// resetWork starts an empty working version over the database's content.
func (t *Tree) resetWork() {
	if t.base != nil {
		Check(t.base.close())
	}
	t.hashIdx = t.hashIdx[:0]
	// The database changes only at Commit, which starts a new base, so
	// the working version's reads are remembered: a block reads the same
	// accounts, parameters and absent keys over and over.
	t.base = &dbReader{db: t.db, absent: t.absent}
	t.work = NewCache(NewMemo(t.base))
}

// absent tells from the Merkle tree, without reading the database, that
// the latest committed version has no value at key. The tree holds every
// key's hash, and most reads of an absent key (a new record, a new grant)
// would otherwise cost a lookup in every level of the database. Only the
// writer calls it (through the working version), which is also the only
// goroutine that changes the committed root.
func (t *Tree) absent(key []byte) bool {
	if IsIndexKey(key) {
		return false // not in the tree: only the database knows
	}
	kh := sha256.Sum256(key)
	return !t.trie.mayContain(t.root, &kh)
}

// resolveWork returns the full key hash of the working tree's leaf with
// fp and leaf hash lh: from the hash → key index as committed and as the
// working version changed it; among keys sharing fp, the one whose value
// gives lh. Two keys sharing 64 bits of their hashes are rare (about one
// pair in a state of 6·10⁹ keys), so this costs a database scan only then.
func (t *Tree) resolveWork(fp uint64, lh *[32]byte) [32]byte {
	cands := map[[32]byte][]byte{}
	lo, hi := fpRange(fp)
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	Check(err)
	for it.First(); it.Valid(); it.Next() {
		cands[[32]byte(it.Key()[1:])] = bytes.Clone(it.Value())
	}
	Check(firstErr(it.Error(), it.Close()))
	for _, w := range t.hashIdx {
		if fpOf(&w.kh) != fp {
			continue
		}
		if w.key == nil {
			delete(cands, w.kh)
		} else {
			cands[w.kh] = w.key
		}
	}
	for kh, key := range cands {
		var v []byte
		if t.work == nil { // load: the database is the whole state
			v, err = get(t.db, append(prefixState[:1:1], key...))
			Check(err)
		} else {
			v = t.work.Get(key)
		}
		if isLeaf(&kh, v, lh) {
			return kh
		}
	}
	panic(Fault{errTreeInvariant})
}

// isLeaf reports whether the key with hash kh and value v (nil: absent) has
// leaf hash lh.
func isLeaf(kh *[32]byte, v []byte, lh *[32]byte) bool {
	if v == nil {
		return false
	}
	vh := sha256.Sum256(v)
	return leafHash(kh, &vh) == *lh
}

// fpRange is the range of the hash → key index holding the key hashes
// whose fp is fp.
func fpRange(fp uint64) (lo, hi []byte) {
	lo = binary.BigEndian.AppendUint64(prefixHash[:1:1], fp)
	hi = binary.BigEndian.AppendUint64(prefixHash[:1:1], fp+(1<<(64-fpBits)))
	if fp+(1<<(64-fpBits)) == 0 { // the last fp
		hi = PrefixEnd(prefixHash)
	}
	return lo, hi
}

// resolveIn returns the full key hash and the key of snapshot's leaf with
// fp and leaf hash lh (see resolveWork).
func (s *Snapshot) resolveIn(fp uint64, lh *[32]byte) ([32]byte, []byte, error) {
	lo, hi := fpRange(fp)
	it, err := s.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return [32]byte{}, nil, err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		kh := [32]byte(it.Key()[1:])
		key := bytes.Clone(it.Value())
		if isLeaf(&kh, s.Get(key), lh) {
			return kh, key, nil
		}
	}
	if err := it.Error(); err != nil {
		return [32]byte{}, nil, err
	}
	return [32]byte{}, nil, errors.New("prove: the key of a neighbouring leaf is missing")
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

func (t *Tree) Get(key []byte) []byte { return t.work.Get(key) }

func (t *Tree) Set(key, value []byte) {
	if !IsIndexKey(key) {
		kh := sha256.Sum256(key)
		vh := sha256.Sum256(value)
		lh := leafHash(&kh, &vh)
		t.setLeaf(key, &kh, &lh)
	}
	t.work.Set(key, value)
}

// setLeaf and removeLeaf change the tree before the working version: the
// tree may ask the working version whether it holds the key.
func (t *Tree) setLeaf(key []byte, kh, lh *[32]byte) {
	if !t.trie.set(key, kh, lh) {
		t.hashIdx = append(t.hashIdx, hashWrite{kh: *kh, key: bytes.Clone(key)})
	}
}

func (t *Tree) removeLeaf(key []byte, kh *[32]byte) {
	if t.trie.remove(key, kh) {
		t.hashIdx = append(t.hashIdx, hashWrite{kh: *kh})
	}
}

// writeAll applies a cache's writes (Cache.Write): the hashing of keys and
// values, most of the cost, is spread over every core first; the tree and
// the working version then take the writes in order.
func (t *Tree) writeAll(es []entry) {
	type hashed struct{ kh, lh [32]byte }
	hs := make([]hashed, len(es))
	workers := min(runtime.GOMAXPROCS(0), (len(es)+255)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(es); i += workers {
				if IsIndexKey([]byte(es[i].key)) {
					continue
				}
				hs[i].kh = sha256.Sum256([]byte(es[i].key))
				if es[i].val != nil {
					vh := sha256.Sum256(es[i].val)
					hs[i].lh = leafHash(&hs[i].kh, &vh)
				}
			}
		}()
	}
	wg.Wait()
	for i, e := range es {
		key := []byte(e.key)
		index := IsIndexKey(key)
		switch {
		case e.val == nil:
			if !index {
				t.removeLeaf(key, &hs[i].kh)
			}
			t.work.Delete(key)
		default:
			if !index {
				t.setLeaf(key, &hs[i].kh, &hs[i].lh)
			}
			t.work.Set(key, e.val)
		}
	}
}

func (t *Tree) Delete(key []byte) {
	if !IsIndexKey(key) {
		kh := sha256.Sum256(key)
		t.removeLeaf(key, &kh)
	}
	t.work.Delete(key)
}

func (t *Tree) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	t.work.Iterate(start, end, fn)
}

// WorkingHash is the root hash the working version will have once committed.
func (t *Tree) WorkingHash() []byte {
	h := t.trie.rootHash()
	return h[:]
}

// Version is the last committed version (0 before the first commit).
func (t *Tree) Version() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.version
}

// Hash is the root hash of the last committed version.
func (t *Tree) Hash() []byte {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return bytes.Clone(t.hash)
}

// Commit saves the working version, with any side writes, and returns its
// hash and number.
func (t *Tree) Commit(side ...Side) ([]byte, int64, error) {
	h := t.trie.rootHash()
	t.mu.RLock()
	version := t.version + 1
	t.mu.RUnlock()

	b := t.db.NewBatch()
	var err error
	t.work.writes.Ascend(func(e entry) bool {
		k := append(prefixState[:1:1], e.key...)
		if e.val == nil {
			err = b.Delete(k, nil)
		} else {
			err = b.Set(k, e.val, nil)
		}
		return err == nil
	})
	for _, w := range t.hashIdx {
		if err != nil {
			break
		}
		hk := append(prefixHash[:1:1], w.kh[:]...)
		if w.key == nil {
			err = b.Delete(hk, nil)
		} else {
			err = b.Set(hk, w.key, nil)
		}
	}
	for _, w := range side {
		if err != nil {
			break
		}
		k := append(prefixSide[:1:1], w.Key...)
		if w.Value == nil {
			err = b.Delete(k, nil)
		} else {
			err = b.Set(k, w.Value, nil)
		}
	}
	meta := binary.BigEndian.AppendUint64(nil, uint64(version))
	meta = append(meta, h[:]...)
	if err == nil {
		err = b.Set(keyMeta, meta, nil)
	}
	if err == nil {
		err = t.db.Apply(b, pebble.Sync)
	}
	b.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("commit state: %w", err)
	}
	t.resetWork()

	t.mu.Lock()
	defer t.mu.Unlock()
	t.version = version
	t.root = t.trie.commit(version, ProvableVersions)
	t.hash = h[:]
	t.snaps = append(t.snaps, t.newSnapshot())
	if n := len(t.snaps) - ReadableVersions; n > 0 {
		clear(t.snaps[:n]) // the pebble snapshots close once unreferenced
		t.snaps = t.snaps[n:]
	}
	return bytes.Clone(t.hash), version, nil
}

// SideGet reads committed side data (nil when absent).
func (t *Tree) SideGet(key []byte) ([]byte, error) {
	return get(t.db, append(prefixSide[:1:1], key...))
}

// SideIterate calls fn for committed side data with keys in [start, end) in
// order, until fn returns false. A nil end means every key from start on.
func (t *Tree) SideIterate(start, end []byte, fn func(key, value []byte) bool) error {
	lo := append(prefixSide[:1:1], start...)
	hi := PrefixEnd(prefixSide)
	if end != nil {
		hi = append(prefixSide[:1:1], end...)
	}
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if !fn(it.Key()[1:], it.Value()) {
			break
		}
	}
	return firstErr(it.Error(), it.Close())
}

// Rollback discards the working version's writes.
func (t *Tree) Rollback() {
	t.work.Discard()
	t.hashIdx = t.hashIdx[:0]
	t.mu.RLock()
	root := t.root
	t.mu.RUnlock()
	t.trie.rollback(root)
}

// Stats reports the size of the state: keys, and the Merkle tree's parts in
// memory. Nodes and leaf slots count those of the kept versions too.
type Stats struct {
	Keys       int // keys in the working version
	InnerNodes int // stored inner nodes
	Buckets    int // buckets of leaves
	LeafSlots  int // leaves stored in buckets
}

// Stats counts the committed and working tree's nodes.
func (t *Tree) Stats() Stats {
	return Stats{Keys: t.trie.keys, InnerNodes: t.trie.inners.live(), Buckets: t.trie.buckets.live(), LeafSlots: t.trie.leaves.live()}
}

// ErrNoVersion is returned for a version that was never saved or is no
// longer kept.
var ErrNoVersion = errors.New("no such state version")

// Snapshot returns a read-only view of a committed version.
func (t *Tree) Snapshot(version int64) (*Snapshot, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i := len(t.snaps) - 1; i >= 0; i-- {
		if s := t.snaps[i]; s.version == version {
			return s, nil
		}
	}
	if version > 0 && version <= t.version {
		return nil, fmt.Errorf("%w: %d (the last %d versions are kept)", ErrNoVersion, version, ReadableVersions)
	}
	return nil, fmt.Errorf("%w: %d", ErrNoVersion, version)
}

// newSnapshot captures the committed version; t.mu is held for writing. The
// database snapshot is closed when the Snapshot becomes unreachable.
func (t *Tree) newSnapshot() *Snapshot {
	ps := t.db.NewSnapshot()
	t.live[ps] = struct{}{}
	s := &Snapshot{tree: t, snap: ps, version: t.version, root: t.root, hash: t.hash}
	runtime.AddCleanup(s, t.closeSnapshot, ps)
	return s
}

func (t *Tree) closeSnapshot(ps *pebble.Snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.live[ps]; ok {
		delete(t.live, ps)
		ps.Close()
	}
}

// Snapshot is a read-only committed version of the state.
type Snapshot struct {
	tree    *Tree
	snap    *pebble.Snapshot
	version int64
	root    ref
	hash    []byte
}

var _ Reader = (*Snapshot)(nil)

func (s *Snapshot) Version() int64 { return s.version }
func (s *Snapshot) Hash() []byte   { return bytes.Clone(s.hash) }

func (s *Snapshot) Get(key []byte) []byte {
	v, err := get(s.snap, append(prefixState[:1:1], key...))
	Check(err)
	return v
}

func (s *Snapshot) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	iterate(s.snap, start, end, fn)
}

// ErrNotProvable is returned by Prove for a version whose tree nodes are no
// longer kept.
var ErrNotProvable = fmt.Errorf("%w: proofs are kept for the last %d versions", ErrNoVersion, ProvableVersions)

// Prove returns the value at key (nil when absent) and an ICS23 proof of its
// membership, or of its absence, under the snapshot's root hash. Index keys
// have no proofs (ErrIndexKey).
func (s *Snapshot) Prove(key []byte) (value []byte, proof *ics23.CommitmentProof, err error) {
	if IsIndexKey(key) {
		return nil, nil, ErrIndexKey
	}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(Fault)
			if !ok {
				panic(r)
			}
			value, proof, err = nil, nil, fmt.Errorf("prove: %w", f.Err)
		}
	}()
	t := s.tree
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed || s.version <= t.version-ProvableVersions {
		return nil, nil, ErrNotProvable
	}
	v := s.Get(key)
	kh := sha256.Sum256(key)
	if v != nil {
		p := s.exist(key, v, &kh)
		return v, &ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Exist{Exist: p}}, nil
	}
	resolve := func(fp uint64, lh *[32]byte) [32]byte {
		kh, _, err := s.resolveIn(fp, lh)
		Check(err)
		return kh
	}
	prev, hasPrev, next, hasNext := t.trie.neighbors(s.root, &kh, resolve)
	non := &ics23.NonExistenceProof{Key: key}
	for _, nb := range []struct {
		leaf xleaf
		has  bool
		out  **ics23.ExistenceProof
	}{{prev, hasPrev, &non.Left}, {next, hasNext, &non.Right}} {
		if !nb.has {
			continue
		}
		nkh, nk := nb.leaf.kh, []byte(nil)
		var err error
		if nb.leaf.full {
			nk, err = get(s.snap, append(prefixHash[:1:1], nkh[:]...))
			if err == nil && nk == nil {
				err = errors.New("prove: the key of a neighbouring leaf is missing")
			}
		} else {
			nkh, nk, err = s.resolveIn(nb.leaf.fp(), &nb.leaf.lh)
		}
		if err != nil {
			return nil, nil, err
		}
		nv := s.Get(nk)
		if nv == nil {
			return nil, nil, fmt.Errorf("prove: a neighbouring leaf has no value")
		}
		*nb.out = s.exist(nk, nv, &nkh)
	}
	if non.Left == nil && non.Right == nil {
		return nil, nil, errors.New("prove: the state is empty")
	}
	return nil, &ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Nonexist{Nonexist: non}}, nil
}

// exist builds the existence proof of a present key; t.mu is held.
func (s *Snapshot) exist(key, value []byte, kh *[32]byte) *ics23.ExistenceProof {
	path := s.tree.trie.lookup(s.root, kh)
	ops := make([]*ics23.InnerOp, len(path))
	for i, st := range path {
		op := &ics23.InnerOp{Hash: ics23.HashOp_SHA256}
		if st.right {
			op.Prefix = append([]byte{1}, st.sibling[:]...)
		} else {
			op.Prefix = []byte{1}
			op.Suffix = bytes.Clone(st.sibling[:])
		}
		ops[len(path)-1-i] = op // leaf first
	}
	return &ics23.ExistenceProof{Key: key, Value: value, Leaf: ics23.SmtSpec.LeafSpec, Path: ops}
}

// VerifyProof checks an ICS23 proof for key against root: membership with
// value when value is non-nil, otherwise non-membership.
func VerifyProof(root []byte, proof *ics23.CommitmentProof, key, value []byte) error {
	if proof == nil {
		return errors.New("missing proof")
	}
	if value != nil {
		if !ics23.VerifyMembership(ics23.SmtSpec, root, proof, key, value) {
			return errors.New("membership proof does not verify against the root")
		}
		return nil
	}
	if !ics23.VerifyNonMembership(ics23.SmtSpec, root, proof, key) {
		return errors.New("non-membership proof does not verify against the root")
	}
	return nil
}

// pebbleReader is what a database and its snapshots have in common.
type pebbleReader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

func get(r pebbleReader, key []byte) ([]byte, error) {
	v, c, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	return out, c.Close()
}

// stateBounds maps a state key range to database bounds.
func stateBounds(start, end []byte) (lo, hi []byte) {
	lo = append(prefixState[:1:1], start...)
	hi = PrefixEnd(prefixState)
	if end != nil {
		hi = append(prefixState[:1:1], end...)
	}
	return lo, hi
}

func iterate(r pebbleReader, start, end []byte, fn func(key, value []byte) bool) {
	lo, hi := stateBounds(start, end)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	Check(err)
	for it.First(); it.Valid(); it.Next() {
		if !fn(bytes.Clone(it.Key()[1:]), bytes.Clone(it.Value())) {
			break
		}
	}
	Check(firstErr(it.Error(), it.Close()))
}

// dbReader reads the latest committed state from the database for the
// working version.
type dbReader struct {
	db *pebble.DB
	// absent, when set, answers for keys the state does not hold.
	absent func(key []byte) bool
	// it is one iterator reused for every range read (re-bounded each
	// time): opening a Pebble iterator costs more than most range reads.
	// The database does not change while the dbReader is in use.
	it        *pebble.Iterator
	iterating bool
}

func (r *dbReader) close() error {
	if r.it == nil {
		return nil
	}
	err := r.it.Close()
	r.it = nil
	return err
}

func (r *dbReader) Get(key []byte) []byte {
	if r.absent != nil && r.absent(key) {
		return nil
	}
	v, err := get(r.db, append(prefixState[:1:1], key...))
	Check(err)
	return v
}

func (r *dbReader) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	if r.iterating { // a range read inside another's callback
		iterate(r.db, start, end, fn)
		return
	}
	r.iterating = true
	defer func() { r.iterating = false }()
	lo, hi := stateBounds(start, end)
	if r.it == nil {
		it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		Check(err)
		r.it = it
	} else {
		r.it.SetBounds(lo, hi)
	}
	// fn may read through the same reader: hand it copies.
	for ok := r.it.First(); ok; ok = r.it.Next() {
		if !fn(bytes.Clone(r.it.Key()[1:]), bytes.Clone(r.it.Value())) {
			break
		}
	}
	Check(r.it.Error())
}

var (
	errReadOnly      = errors.New("write through a cache over a read-only state")
	errTreeFull      = errors.New("state tree: node arena full")
	errTreeInvariant = errors.New("state tree: a leaf's full key hash is needed but unknown")
)

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(Fault{fmt.Errorf("state db: "+format, args...)})
}
