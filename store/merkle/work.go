package merkle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/medchain/medchain/store"
)

// resetWork starts an empty working version over the database's content,
// committed version version.
func (t *Tree) resetWork(version int64) {
	if t.base != nil {
		store.Check(t.base.close())
	}
	t.hashIdx = t.hashIdx[:0]
	t.indexDirty = false
	// The database changes only at Commit, which starts a new base, so
	// the working version's reads are remembered: a block reads the same
	// accounts, parameters and absent keys over and over.
	t.base = &dbReader{db: t.db, prefixSeek: t.prefixSeek, absent: t.absent, cache: t.latest, version: version}
	// Sized as the last version's were: a block reads and writes about as
	// many keys as the one before it.
	reads, writes := 0, 0
	if t.work != nil {
		reads, writes = t.workReads.Len(), t.work.Len()
	}
	t.workReads = store.NewMemoSized(t.base, reads)
	t.work = store.NewCacheSized(t.workReads, writes)
}

// absent tells from the Merkle tree, without reading the database, that
// the latest committed version has no value at key. The tree holds every
// key's hash, and most reads of an absent key (a new record, a new grant)
// would otherwise cost a lookup in every level of the database. Most are
// answered by the fp filter alone (fpfilter.go), the rest by a walk of the
// tree. Only the writer calls it (through the working version), which is
// also the only goroutine that changes the committed root.
func (t *Tree) absent(key []byte) bool {
	if store.IsIndexKey(key) { // not in the tree: only the database knows, or the index filter
		return t.idx != nil && t.idx.absent(key)
	}
	kh := sha256.Sum256(key)
	if !t.trie.filter.mayContain(fpOf(&kh)) {
		return true
	}
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
	store.Check(err)
	for it.First(); it.Valid(); it.Next() {
		cands[[32]byte(it.Key()[1:])] = bytes.Clone(it.Value())
	}
	store.Check(firstErr(it.Error(), it.Close()))
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
			store.Check(err)
		} else {
			v = t.valueNow(key)
		}
		if isLeaf(&kh, v, lh) {
			return kh
		}
	}
	panic(store.Fault{Err: errTreeInvariant})
}

func (t *Tree) Get(key []byte) []byte { return t.work.Get(key) }

func (t *Tree) Set(key, value []byte) {
	reserved(key)
	if store.IsIndexKey(key) {
		t.indexDirty = true
	} else {
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
	existed := t.trie.set(key, kh, lh)
	if !existed {
		t.hashIdx = append(t.hashIdx, hashWrite{kh: *kh, key: bytes.Clone(key)})
	}
	if t.chg != nil && !t.ck.suppress {
		t.noteChange(key, existed, &t.trie.prev, lh)
	}
}

func (t *Tree) removeLeaf(key []byte, kh *[32]byte) {
	if t.trie.remove(key, kh) {
		t.hashIdx = append(t.hashIdx, hashWrite{kh: *kh})
		if t.chg != nil && !t.ck.suppress {
			t.noteChange(key, true, &t.trie.prev, nil)
		}
	}
}

// WriteBatch applies a cache's writes (store.BatchWriter): the hashing of
// keys and values, most of the cost, is spread over every core first; the
// tree and the working version then take the writes in order.
func (t *Tree) WriteBatch(ws []store.Write) { t.writeBatch(ws, nil) }

// TakeCache is WriteBatch for the writes of cache c (store.CacheTaker).
// When the working version holds no writes yet, as at the end of a block
// whose writes all went to the block's cache, it takes c's buffers over
// instead of inserting every write into its own again.
func (t *Tree) TakeCache(c *store.Cache, ws []store.Write) { t.writeBatch(ws, c) }

func (t *Tree) writeBatch(ws []store.Write, from *store.Cache) {
	type hashed struct{ kh, lh [32]byte }
	hs := make([]hashed, len(ws))
	workers := min(runtime.GOMAXPROCS(0), (len(ws)+255)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ws); i += workers {
				if store.IsIndexKey([]byte(ws[i].Key)) {
					continue
				}
				hs[i].kh = sha256.Sum256([]byte(ws[i].Key))
				if ws[i].Value != nil {
					vh := sha256.Sum256(ws[i].Value)
					hs[i].lh = leafHash(&hs[i].kh, &vh)
				}
			}
		}()
	}
	wg.Wait()
	// Taking the cache whole, the working version changes after the tree,
	// not write by write; meanwhile the tree reads the state as it was
	// before each write (setLeaf's comment): about the key written, the
	// working version is that, as the batch writes each key once; about
	// other keys (resolveWork), valueNow adds the batch's earlier writes.
	take := from != nil && t.work.Len() == 0
	if take {
		t.batch = ws
		defer func() { t.batch, t.batchAt = nil, 0 }()
	}
	for i, e := range ws {
		t.batchAt = i
		key := []byte(e.Key)
		reserved(key)
		index := store.IsIndexKey(key)
		t.indexDirty = t.indexDirty || index
		switch {
		case index:
		case e.Value == nil:
			t.removeLeaf(key, &hs[i].kh)
		default:
			t.setLeaf(key, &hs[i].kh, &hs[i].lh)
		}
		if !take {
			t.work.Adopt(e) // BatchWriter: the batch's values are ours to keep
		}
	}
	if take && !t.work.TakeFrom(from) {
		panic(store.Fault{Err: errTreeInvariant}) // nothing wrote to the working version meanwhile
	}
}

// valueNow is key's value in the working version as the tree has it so
// far: while a batch's leaves go in ahead of the working version
// (writeBatch), with the batch's writes before the current one.
func (t *Tree) valueNow(key []byte) []byte {
	if t.batch != nil {
		j, ok := slices.BinarySearchFunc(t.batch, key, func(w store.Write, k []byte) int { return strings.Compare(w.Key, string(k)) })
		if ok && j < t.batchAt {
			return t.batch[j].Value
		}
	}
	return t.work.Get(key)
}

func (t *Tree) Delete(key []byte) {
	reserved(key)
	if store.IsIndexKey(key) {
		t.indexDirty = true
	} else {
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
	t.foldIndexWrites()
	h := t.trie.rootHash()
	return h[:]
}

// Commit saves the working version, with any side writes, and returns its
// hash and number.
func (t *Tree) Commit(side ...Side) ([]byte, int64, error) {
	t.foldIndexWrites()
	t.mu.RLock()
	version := t.version + 1
	t.mu.RUnlock()
	return t.commitAt(version, side)
}

func (t *Tree) commitAt(version int64, side []Side) ([]byte, int64, error) {
	h := t.trie.rootHash()

	// Sized like the last version's batch: growing a batch of megabytes
	// copies it each time it doubles.
	b := t.db.NewBatchWithSize(t.batchHint + t.batchHint/8)
	var err error
	t.work.Ascend(nil, func(e store.Write) bool {
		k := append(prefixState[:1:1], e.Key...)
		if e.Value == nil {
			err = b.Delete(k, nil)
		} else {
			err = b.Set(k, e.Value, nil)
			if t.idx != nil { // before the version can be read
				t.idx.add(e.Key)
			}
		}
		return err == nil
	})
	// The memtable takes a batch's keys fastest in ascending order (each
	// insert starts from the last one's place): the state's keys come
	// sorted; sort the hash index's and the side data's too, keeping the
	// order of writes to one key.
	if t.sorting == nil {
		t.sorting = new(sortScratch)
	}
	sc := t.sorting
	sc.hash = slices.Grow(sc.hash[:0], len(t.hashIdx))
	sortStable(t.hashIdx, sc.hash, &sc.counts, func(w *hashWrite) []byte { return w.kh[:] })
	side = slices.Clone(side)
	sc.side = slices.Grow(sc.side[:0], len(side))
	sortStable(side, sc.side, &sc.counts, func(w *Side) []byte { return w.Key })
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
	// The change log's entry (changelog.go): none for an import, which no
	// earlier checkpoint can be brought across.
	var changed int
	if err == nil && t.chg != nil && !t.ck.suppress {
		var entry []byte
		entry, changed = t.encodeChanges(&h)
		err = b.Set(changeKey(version), entry, nil)
	}
	if err == nil {
		t.batchHint = b.Len()
		err = t.db.Apply(b, pebble.Sync)
	}
	b.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("commit state: %w", err)
	}
	// The database holds version now: so does the read cache, before
	// anything reads either again.
	t.latest.commit(version, func(fn func(string, []byte)) {
		t.work.Ascend(nil, func(e store.Write) bool {
			fn(e.Key, e.Value)
			return true
		})
	})
	t.resetWork(version)
	clear(t.chg)

	t.mu.Lock()
	defer t.mu.Unlock()
	t.version = version
	t.root = t.trie.commit(version, ProvableVersions)
	if t.trie.filter.full() { // the working tree is the committed one now
		t.trie.filter.rebuild(&t.trie, t.root, t.trie.keys)
	}
	t.hash = h[:]
	t.snaps = append(t.snaps, t.newSnapshot())
	if n := len(t.snaps); n > 1 { // only the latest version pools iterators
		t.snaps[n-2].its.close()
	}
	if n := len(t.snaps) - ReadableVersions; n > 0 {
		clear(t.snaps[:n]) // the pebble snapshots close once unreferenced
		t.snaps = t.snaps[n:]
	}
	t.ck.changed += int64(changed)
	t.ck.since++
	imported := t.ck.suppress
	t.ck.suppress = false
	t.maybeCheckpoint(imported)
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
	hi := store.PrefixEnd(prefixSide)
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
	clear(t.chg)
	t.indexDirty = false
	t.mu.RLock()
	root := t.root
	t.mu.RUnlock()
	t.trie.rollback(root)
}
