package merkle

import "encoding/binary"

// smt is a sparse Merkle tree over SHA-256(key), held in memory: the
// authenticated structure whose root is the app hash. Its hashing is the one
// ICS23's SmtSpec verifies (github.com/celestiaorg/smt):
//
//	leaf  = SHA-256(0x00 ‖ SHA-256(key) ‖ SHA-256(value))
//	inner = SHA-256(0x01 ‖ left ‖ right)
//	empty = 32 zero bytes
//
// A subtree holding one leaf is that leaf (it sits at the shallowest depth
// where it is alone); an inner node at depth d splits its keys on bit d of
// their key hash, and may have one empty child when all its keys share that
// bit. The shape, and so every hash, is a function of the key set alone,
// whatever the order of writes.
//
// In memory the tree's lower part is kept in buckets: a subtree of at most
// bucketMax leaves is stored as its leaves, sorted by key hash, and one
// cached hash; its inner nodes are not stored but recomputed from the leaves
// when the bucket changes or a proof passes through it. Most of a binary tree's inner nodes sit in such small subtrees,
// so this keeps about 0.3 stored inner nodes per key instead of 1.5, at the
// price of a few more hashes per changed bucket. Every stored inner node has
// more than bucketMax leaves under it: a bucket that would overflow becomes
// an inner node over two buckets, and an inner node left with bucketMax or
// fewer leaves under two buckets becomes one bucket again.
//
// A leaf keeps its leaf hash and only the first 64 bits of its key hash
// (fp): enough to order and split the leaves of a bucket, which share their
// first bits and almost never share 64. The rare bucket holding two leaves
// with one fp is wide: it keeps their full key hashes as well. The tree
// learns a leaf's full key hash only when a new key's fp meets it, from the
// database's hash → key index (resolve); and whether a key whose fp it holds
// is that key, from the state (exists). Tree supplies both.
//
// Nodes live in chunked arenas addressed by 32-bit references, and a
// bucket's leaves in a run of consecutive slots of a leaf arena, so the tree
// holds no Go pointers for the garbage collector to scan. Writes copy the
// nodes they change (copy on write): the committed versions' roots stay
// intact for readers while the next version is built, and the nodes a
// version replaced are reused only once that version is too old to be read.
// The tree does no locking; Tree serializes writers and guards reuse.
type smt struct {
	inners  arena[innerNode]
	buckets arena[bucketNode]
	leaves  runArena
	gen     uint32 // generation of the working version; nodes of gen are mutable
	root    ref    // working root
	// retired holds, per committed version, the nodes that version's writes
	// replaced; they become free once that version leaves the readable window.
	retired []retiredSet
	cur     retiredSet // replaced during the working version
	found   bool       // set by insert: the key was there
	prev    [32]byte   // set by set and remove when the key was there: its leaf hash before
	// pin, when not 0, is a committed version whose nodes a reader outside
	// the writer's lock still walks (a checkpoint being written): nodes it
	// holds are not reused until it is unpinned.
	pin  int64
	keys int // leaves in the working tree
	kept int // leaves in the last committed tree
	// filter holds the fps of the committed tree's leaves and of leaves
	// added since (fpfilter.go); Tree rebuilds it at commit.
	filter fpFilter

	// exists reports whether the working state holds key (before the write
	// in progress). It is asked only when a leaf has key's fp, and only
	// about the key being written (Tree.writeBatch relies on that).
	exists func(key []byte) bool
	// resolve returns the full key hash of the working tree's leaf with fp
	// and leaf hash lh.
	resolve func(fp uint64, lh *[32]byte) [32]byte
}

// bucketMax is the most leaves a bucket holds. Larger buckets store fewer
// inner nodes but rehash more leaves when one of theirs changes.
const bucketMax = 8

type retiredSet struct {
	version int64
	inners  []uint32
	buckets []uint32 // with their leaf runs
}

// ref addresses a node: 0 is the empty subtree, bucketBit marks a bucket.
type ref uint32

const bucketBit ref = 1 << 31

func (r ref) isBucket() bool { return r&bucketBit != 0 }

func (r ref) index() uint32 { return uint32(r &^ bucketBit) }

type innerNode struct {
	hash  [32]byte
	l, r  ref
	gen   uint32
	dirty bool // hash not yet computed
}

type bucketNode struct {
	hash  [32]byte // hash of the subtree the leaves form
	run   uint32   // first leaf in the leaf arena
	gen   uint32
	n     uint8 // leaves, 1..bucketMax
	dirty bool  // hash not yet computed
	wide  bool  // two leaves share an fp: the run holds n leaves, then n full key hashes
}

// runLen is the number of slots of a bucket's run.
func (b *bucketNode) runLen() uint8 {
	if b.wide {
		return 2 * b.n
	}
	return b.n
}

// leaf is one key of the tree as stored: the first 64 bits of its key hash,
// and its leaf hash. In a wide bucket's second half, lh holds a full key
// hash instead.
type leaf struct {
	fp uint64
	lh [32]byte
}

// xleaf is a leaf while the tree works on it: kh is the full key hash when
// full, else only its first 8 bytes (fp) are meaningful.
type xleaf struct {
	kh   [32]byte
	lh   [32]byte
	full bool
}

func (x *xleaf) fp() uint64 { return fpOf(&x.kh) }

// fpBits is how many leading bits of a key hash a leaf keeps (at most 64).
// Tests lower it to make keys share fps.
var fpBits = 64

func fpOf(kh *[32]byte) uint64 {
	return binary.BigEndian.Uint64(kh[:8]) >> (64 - fpBits) << (64 - fpBits)
}

var emptyHash [32]byte
