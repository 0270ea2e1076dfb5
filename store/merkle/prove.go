package merkle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/medchain/medchain/store"
)

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
		hi = store.PrefixEnd(prefixHash)
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

// ErrNotProvable is returned by Prove for a version whose tree nodes are no
// longer kept.
var ErrNotProvable = fmt.Errorf("%w: proofs are kept for the last %d versions", ErrNoVersion, ProvableVersions)

// Prove returns the value at key (nil when absent) and an ICS23 proof of its
// membership, or of its absence, under the snapshot's root hash. Index keys
// have no proofs (store.ErrIndexKey).
func (s *Snapshot) Prove(key []byte) (value []byte, proof *ics23.CommitmentProof, err error) {
	if store.IsIndexKey(key) {
		return nil, nil, store.ErrIndexKey
	}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(store.Fault)
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
		store.Check(err)
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
