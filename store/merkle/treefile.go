package merkle

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cespare/xxhash/v2"
)

// A tree checkpoint is the Merkle tree of one committed version written to
// a file, so that a node opening a large state reads the tree in one
// sequential pass instead of rebuilding it from every stored key. The file
// holds the tree's nodes in depth-first order (root, left subtree, right
// subtree), each with its stored hash:
//
//	header  = magic (8) ‖ treeFileFormat (4) ‖ fpBits (1) ‖ bucketMax (1) ‖ 0 0
//	          ‖ version (8) ‖ root hash (32) ‖ leaves (8)                   64 bytes
//	node    = 0x00                                    empty subtree
//	        | 0x01 ‖ hash (32) ‖ node ‖ node          inner node
//	        | 0x02 ‖ n ‖ hash (32) ‖ n × (fp (8) ‖ leaf hash (32))          bucket
//	        | 0x03 ‖ n ‖ hash (32) ‖ n × (fp ‖ leaf hash) ‖ n × key hash (32)  wide bucket
//	trailer = xxHash64 of everything before it (8)
//
// Integers are big-endian. The file is written to a temporary name, synced
// and renamed, so a crash while writing leaves the previous file (or none).
// A file is used only when its checksum, format and fp width match and,
// after the versions since it were replayed from the change log, the tree's
// root equals the database's committed root.
const (
	treeFileName   = "medchain.tree"
	treeFileFormat = 1
	treeHeaderLen  = 64
)

var treeMagic = [8]byte{'m', 'c', 't', 'r', 'e', 'e', 0, 1}

var errTreeFile = errors.New("tree checkpoint")

type treeHeader struct {
	version int64
	root    [32]byte
	leaves  int64
}

func (h *treeHeader) encode() []byte {
	b := make([]byte, 0, treeHeaderLen)
	b = append(b, treeMagic[:]...)
	b = binary.BigEndian.AppendUint32(b, treeFileFormat)
	b = append(b, byte(fpBits), bucketMax, 0, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(h.version))
	b = append(b, h.root[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(h.leaves))
}

func decodeTreeHeader(b []byte) (treeHeader, error) {
	var h treeHeader
	switch {
	case len(b) < treeHeaderLen || !bytes.Equal(b[:8], treeMagic[:]):
		return h, fmt.Errorf("%w: not a tree checkpoint", errTreeFile)
	case binary.BigEndian.Uint32(b[8:]) != treeFileFormat:
		return h, fmt.Errorf("%w: format %d, this medchain reads %d", errTreeFile, binary.BigEndian.Uint32(b[8:]), treeFileFormat)
	case int(b[12]) != fpBits || b[13] != bucketMax:
		return h, fmt.Errorf("%w: written with %d-bit fps and buckets of %d, this tree uses %d and %d", errTreeFile, b[12], b[13], fpBits, bucketMax)
	}
	h.version = int64(binary.BigEndian.Uint64(b[16:]))
	copy(h.root[:], b[24:56])
	h.leaves = int64(binary.BigEndian.Uint64(b[56:]))
	if h.version <= 0 || h.leaves < 0 {
		return h, fmt.Errorf("%w: version %d, %d leaves", errTreeFile, h.version, h.leaves)
	}
	return h, nil
}

// Node tags.
const (
	tagEmpty byte = iota
	tagInner
	tagBucket
	tagWide
)

// hashWriter checksums what it writes.
type hashWriter struct {
	w io.Writer
	d *xxhash.Digest
}

func (h hashWriter) Write(p []byte) (int, error) {
	h.d.Write(p)
	return h.w.Write(p)
}

// writeTreeFile writes the tree of a committed version (root, with hash and
// leaves) as dir/treeFileName and returns the file's size. It reads nodes
// that the version holds and the writer does not change (copy on write);
// the caller keeps them from being reused meanwhile (smt.pin).
func writeTreeFile(dir string, t *smt, root ref, h treeHeader) (size int64, err error) {
	final := filepath.Join(dir, treeFileName)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	d := xxhash.New()
	bw := bufio.NewWriterSize(hashWriter{f, d}, 1<<20)
	bw.Write(h.encode())
	w := treeWriter{t: t, w: bw}
	w.node(root)
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	sum := binary.BigEndian.AppendUint64(nil, d.Sum64())
	if _, err := f.Write(sum); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return 0, err
	}
	return st.Size(), syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return firstErr(d.Sync(), d.Close())
}

type treeWriter struct {
	t   *smt
	w   *bufio.Writer
	buf []byte
}

func (w *treeWriter) node(n ref) {
	t := w.t
	b := w.buf[:0]
	switch {
	case n == 0:
		b = append(b, tagEmpty)
	case n.isBucket():
		bk := t.bucket(n)
		tag := tagBucket
		if bk.wide {
			tag = tagWide
		}
		b = append(b, tag, bk.n)
		b = append(b, bk.hash[:]...)
		run := t.leaves.slice(bk.run, bk.runLen())
		for i := range bk.n {
			b = binary.BigEndian.AppendUint64(b, run[i].fp)
			b = append(b, run[i].lh[:]...)
		}
		if bk.wide {
			for i := range bk.n {
				b = append(b, run[bk.n+i].lh[:]...)
			}
		}
	default:
		in := t.inners.at(n.index())
		b = append(b, tagInner)
		b = append(b, in.hash[:]...)
		w.w.Write(b)
		w.buf = b
		w.node(in.l)
		w.node(in.r)
		return
	}
	w.w.Write(b) // errors stay in the bufio.Writer until Flush
	w.buf = b
}

// readTreeFile loads the tree checkpoint dir/treeFileName into t, an empty
// tree, and returns its header. The nodes join generation t.gen.
func readTreeFile(dir string, t *smt) (h treeHeader, err error) {
	f, err := os.Open(filepath.Join(dir, treeFileName))
	if err != nil {
		return h, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return h, err
	}
	body := st.Size() - 8
	if body < treeHeaderLen+1 {
		return h, fmt.Errorf("%w: %d bytes, too short", errTreeFile, st.Size())
	}
	var sum [8]byte
	if _, err := f.ReadAt(sum[:], body); err != nil {
		return h, fmt.Errorf("%w: %v", errTreeFile, err)
	}
	d := xxhash.New()
	r := &treeReader{t: t, r: bufio.NewReaderSize(io.TeeReader(io.LimitReader(f, body), d), 1<<20)}
	hb, err := r.next(treeHeaderLen)
	if err != nil {
		return h, err
	}
	if h, err = decodeTreeHeader(hb); err != nil {
		return h, err
	}
	root, err := r.node(0)
	if err != nil {
		return h, err
	}
	if _, err := r.r.Peek(1); err != io.EOF {
		return h, fmt.Errorf("%w: bytes after the tree", errTreeFile)
	}
	if d.Sum64() != binary.BigEndian.Uint64(sum[:]) {
		return h, fmt.Errorf("%w: checksum mismatch", errTreeFile)
	}
	if r.leaves != h.leaves {
		return h, fmt.Errorf("%w: %d leaves, the header says %d", errTreeFile, r.leaves, h.leaves)
	}
	if got := t.hash(root, 0); got != h.root {
		return h, fmt.Errorf("%w: the tree's root is %X, the header says %X", errTreeFile, got, h.root)
	}
	t.root, t.keys = root, int(h.leaves)
	return h, nil
}

type treeReader struct {
	t      *smt
	r      *bufio.Reader
	leaves int64
}

// next returns the next n bytes, valid until the following call.
func (r *treeReader) next(n int) ([]byte, error) {
	b, err := r.r.Peek(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: truncated", errTreeFile)
		}
		return nil, fmt.Errorf("%w: %v", errTreeFile, err)
	}
	r.r.Discard(n)
	return b, nil
}

func (r *treeReader) node(depth int) (ref, error) {
	b, err := r.next(1)
	if err != nil {
		return 0, err
	}
	t := r.t
	switch tag := b[0]; tag {
	case tagEmpty:
		return 0, nil
	case tagInner:
		if depth >= 255 {
			return 0, fmt.Errorf("%w: an inner node at depth %d", errTreeFile, depth)
		}
		b, err := r.next(32)
		if err != nil {
			return 0, err
		}
		i := t.inners.alloc()
		*t.inners.at(i) = innerNode{hash: [32]byte(b), gen: t.gen}
		l, err := r.node(depth + 1)
		if err != nil {
			return 0, err
		}
		rr, err := r.node(depth + 1)
		if err != nil {
			return 0, err
		}
		if l == 0 && rr == 0 {
			return 0, fmt.Errorf("%w: an inner node without children", errTreeFile)
		}
		in := t.inners.at(i)
		in.l, in.r = l, rr
		return ref(i), nil
	case tagBucket, tagWide:
		b, err := r.next(33)
		if err != nil {
			return 0, err
		}
		n := b[0]
		wide := tag == tagWide
		if n == 0 || n > bucketMax || (wide && n < 2) {
			return 0, fmt.Errorf("%w: a bucket of %d leaves", errTreeFile, n)
		}
		bk := bucketNode{hash: [32]byte(b[1:]), gen: t.gen, n: n, wide: wide}
		bk.run = t.leaves.alloc(bk.runLen())
		run := t.leaves.slice(bk.run, bk.runLen())
		lb, err := r.next(int(n) * 40)
		if err != nil {
			return 0, err
		}
		for i := range int(n) {
			run[i].fp = binary.BigEndian.Uint64(lb[i*40:])
			run[i].lh = [32]byte(lb[i*40+8 : i*40+40])
		}
		if wide {
			kb, err := r.next(int(n) * 32)
			if err != nil {
				return 0, err
			}
			for i := range int(n) {
				run[int(n)+i] = leaf{lh: [32]byte(kb[i*32 : i*32+32])}
			}
		}
		i := t.buckets.alloc()
		*t.buckets.at(i) = bk
		r.leaves += int64(n)
		return ref(i) | bucketBit, nil
	default:
		return 0, fmt.Errorf("%w: unknown node tag %d", errTreeFile, tag)
	}
}
