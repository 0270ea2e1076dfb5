package merkle

import (
	"bytes"
	"errors"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/medchain/medchain/store"
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
	db *pebble.DB
	// prefixSeek: the database was opened with the address-prefix comparer,
	// so listing reads may seek by prefix (prefix.go).
	prefixSeek bool
	work       *store.Cache // uncommitted writes over the latest committed state
	base       *dbReader    // the committed state under work (through workReads)
	workReads  *store.Memo  // base's reads, remembered until the next commit
	// latest caches values of the latest committed version for base and
	// for snapshots of that version.
	latest *latest
	// batchHint is the size of the last version's database batch.
	batchHint int
	// batch is the batch whose leaves writeBatch is putting into the tree
	// ahead of the working version, and batchAt the one it is at.
	batch   []store.Write
	batchAt int
	// sorting is Commit's scratch for sorting a version's writes.
	sorting *sortScratch
	// indexDirty: the working version wrote index keys since their digest
	// was last folded into the tree (foldIndexWrites).
	indexDirty bool

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
	live    map[*pebble.Snapshot]*iterPool
	closed  bool
	ck      ckpt // tree checkpoints (checkpoint.go)
	// chg are the working version's changes to proven keys' leaves, for
	// the change log (changelog.go); nil when checkpoints are off.
	chg map[string]keyChange
	// idx answers reads of absent keys of some index families
	// (idxfilter.go); nil until the tree is loaded.
	idx *idxFilter
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
// index keys (store.IsIndexKey) out of the Merkle tree; a database of
// format 1 (no format key) hashes them. Format 3 folds a digest of each
// version's index writes into the tree (store.IndexDigestKey), so the app
// hashes of format 2 blocks that wrote index keys differ. A database of
// another format is refused: its app hashes cannot be reproduced.
const StateFormat = 3

// ErrStateFormat is returned when opening a state database that an earlier
// medchain wrote in another layout.
var ErrStateFormat = errors.New("state written by an earlier medchain in another layout")

// Side is a write outside the Merkle tree (an index of committed blocks,
// say) saved in the same atomic, synced batch as a version: after a crash
// the side data and the state agree. Side data is not part of the app hash
// and is not proven; a nil Value deletes the key.
type Side struct {
	Key, Value []byte
}

// DBName is the state database's directory name under a node's data directory.
const DBName = "medchain.db"

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

// ReadCacheStats reports the read cache's traffic and size.
func (t *Tree) ReadCacheStats() CacheStats { return t.latest.snapshotStats() }

var (
	errReserved      = errors.New("state tree: a write to the index digest's key")
	errTreeFull      = errors.New("state tree: node arena full")
	errTreeInvariant = errors.New("state tree: a leaf's full key hash is needed but unknown")
)
