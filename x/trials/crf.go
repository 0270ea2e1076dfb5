package trials

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/medchain/medchain/crypto"
)

// A batch of case-report-form data is anchored as the head of an RFC 6962
// (Certificate Transparency; RFC 9162 section 2.1) Merkle tree with SHA-256:
// leaf hash SHA-256(0x00 ‖ leaf), interior node SHA-256(0x01 ‖ left ‖ right),
// the split at the largest power of two below the size. The 0x00/0x01
// prefixes keep a leaf from being passed off as a node (second-preimage
// resistance); the leaf itself starts with a domain tag so that no other
// medchain structure hashes like a datum.
//
//	Leaf = "medchain/trial-crf/v1" ‖ 0x00 ‖ trial id (11 bytes)
//	       ‖ participant address (20) ‖ record content hash (32)
//	       ‖ collected (8 bytes, big-endian unix seconds)
//
// The record content hash is the SHA-256 of the datum's ciphertext, as
// records/add registers it; the data stay off chain, encrypted.
const leafTag = "medchain/trial-crf/v1"

// Datum is one leaf of a batch: a record of one participant, with its
// claimed collection time.
type Datum struct {
	Participant crypto.Address
	RecordHash  [32]byte
	Collected   int64 // unix seconds
}

// LeafData is the leaf encoding of d in trial id.
func LeafData(id string, d Datum) []byte {
	b := make([]byte, 0, len(leafTag)+1+IDLen+20+32+8)
	b = append(append(b, leafTag...), 0)
	b = append(b, id...)
	b = append(b, d.Participant[:]...)
	b = append(b, d.RecordHash[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(d.Collected))
}

// LeafHash is the RFC 6962 leaf hash of d in trial id.
func LeafHash(id string, d Datum) []byte { return rfc6962.DefaultHasher.HashLeaf(LeafData(id, d)) }

// Root is the RFC 6962 tree head over the leaf hashes, in order.
func Root(leaves [][]byte) [32]byte {
	var out [32]byte
	copy(out[:], mth(leaves))
	return out
}

func mth(l [][]byte) []byte {
	switch len(l) {
	case 0:
		return rfc6962.DefaultHasher.EmptyRoot()
	case 1:
		return l[0]
	}
	k := split(len(l))
	return rfc6962.DefaultHasher.HashChildren(mth(l[:k]), mth(l[k:]))
}

// split is the largest power of two smaller than n (n > 1).
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// InclusionProof is the RFC 6962 audit path of leaf index in leaves.
func InclusionProof(leaves [][]byte, index int) ([][]byte, error) {
	if index < 0 || index >= len(leaves) {
		return nil, fmt.Errorf("leaf %d of a tree of %d", index, len(leaves))
	}
	return path(leaves, index), nil
}

func path(l [][]byte, m int) [][]byte {
	if len(l) <= 1 {
		return nil
	}
	k := split(len(l))
	if m < k {
		return append(path(l[:k], m), mth(l[k:]))
	}
	return append(path(l[k:], m-k), mth(l[:k]))
}

// ErrNotIncluded is returned when an inclusion proof does not lead to the root.
var ErrNotIncluded = errors.New("the datum's inclusion proof does not lead to the anchored root")

// VerifyInclusion checks an audit path from a leaf hash to root, with the
// transparency-dev/merkle verifier (RFC 9162 section 2.1.3.2).
func VerifyInclusion(leafHash []byte, index, size uint64, auditPath [][]byte, root [32]byte) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leafHash, auditPath, root[:]); err != nil {
		return fmt.Errorf("%w: %v", ErrNotIncluded, err)
	}
	return nil
}
