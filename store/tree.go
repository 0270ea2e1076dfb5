package store

import (
	"bytes"
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/cosmos/iavl"
	iavldb "github.com/cosmos/iavl/db"
)

// Tree is the committed state: an IAVL tree whose root hash is the app hash.
// Writes go to the working version; Commit saves it atomically (one database
// batch, synced) as the next version. Version numbers equal block heights.
//
// Tree is not safe for concurrent writers; Snapshot values of saved versions
// are safe to read from any goroutine.
type Tree struct {
	db iavldb.DB
	mt *iavl.MutableTree
}

// treeCacheNodes is the number of IAVL nodes kept in memory.
const treeCacheNodes = 200_000

// OpenTree opens (or creates) the tree stored in dir/application.db and loads
// its latest saved version.
func OpenTree(dir string) (*Tree, error) {
	db, err := iavldb.NewDB("application", "goleveldb", dir)
	if err != nil {
		return nil, fmt.Errorf("open state db: %w", err)
	}
	return newTree(db)
}

// NewMemTree returns a tree held in memory (tests, determinism checks).
func NewMemTree() *Tree {
	t, err := newTree(iavldb.NewMemDB())
	if err != nil {
		panic(err) // cannot fail on an empty memory database
	}
	return t
}

func newTree(db iavldb.DB) (*Tree, error) {
	mt := iavl.NewMutableTree(db, treeCacheNodes, false, iavl.NewNopLogger(), iavl.SyncOption(true))
	if _, err := mt.Load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("load state tree: %w", err)
	}
	return &Tree{db: db, mt: mt}, nil
}

// Close closes the database.
func (t *Tree) Close() error { return t.db.Close() }

func (t *Tree) Get(key []byte) []byte {
	v, err := t.mt.Get(key)
	Check(err)
	return v
}

func (t *Tree) Set(key, value []byte) {
	if len(key) == 0 || value == nil {
		panic(Fault{errEmpty})
	}
	// iavl keeps the slices it is given; copy them as Memory and Cache do, so
	// that a caller reusing its buffer cannot change uncommitted state.
	_, err := t.mt.Set(bytes.Clone(key), bytes.Clone(value))
	Check(err)
}

func (t *Tree) Delete(key []byte) {
	_, _, err := t.mt.Remove(key)
	Check(err)
}

func (t *Tree) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	it, err := t.mt.Iterator(start, end, true)
	Check(err)
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if !fn(it.Key(), it.Value()) {
			return
		}
	}
	Check(it.Error())
}

// WorkingHash is the root hash the working version will have once committed.
func (t *Tree) WorkingHash() []byte { return t.mt.WorkingHash() }

// Version is the last saved version (0 before the first commit).
func (t *Tree) Version() int64 { return t.mt.Version() }

// Hash is the root hash of the last saved version.
func (t *Tree) Hash() []byte { return t.mt.Hash() }

// Commit saves the working version and returns its hash and number.
func (t *Tree) Commit() ([]byte, int64, error) { return t.mt.SaveVersion() }

// Rollback discards unsaved writes.
func (t *Tree) Rollback() { t.mt.Rollback() }

// ErrNoVersion is returned for a version that was never saved or was pruned.
var ErrNoVersion = errors.New("no such state version")

// Snapshot returns a read-only view of a saved version.
func (t *Tree) Snapshot(version int64) (*Snapshot, error) {
	if version <= 0 || !t.mt.VersionExists(version) {
		return nil, fmt.Errorf("%w: %d", ErrNoVersion, version)
	}
	it, err := t.mt.GetImmutable(version)
	if err != nil {
		return nil, fmt.Errorf("%w: %d: %v", ErrNoVersion, version, err)
	}
	return &Snapshot{it: it}, nil
}

// Snapshot is a read-only saved version of the tree.
type Snapshot struct{ it *iavl.ImmutableTree }

var _ Reader = (*Snapshot)(nil)

func (s *Snapshot) Version() int64 { return s.it.Version() }
func (s *Snapshot) Hash() []byte   { return s.it.Hash() }

func (s *Snapshot) Get(key []byte) []byte {
	v, err := s.it.Get(key)
	Check(err)
	return v
}

func (s *Snapshot) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	it, err := s.it.Iterator(start, end, true)
	Check(err)
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if !fn(it.Key(), it.Value()) {
			return
		}
	}
	Check(it.Error())
}

// Prove returns the value at key (nil when absent) and an ICS23 proof of its
// membership, or of its absence, under the snapshot's root hash.
func (s *Snapshot) Prove(key []byte) ([]byte, *ics23.CommitmentProof, error) {
	v, err := s.it.Get(key)
	if err != nil {
		return nil, nil, err
	}
	var p *ics23.CommitmentProof
	if v != nil {
		p, err = s.it.GetMembershipProof(key)
	} else {
		p, err = s.it.GetNonMembershipProof(key)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("prove: %w", err)
	}
	return v, p, nil
}

// VerifyProof checks an ICS23 proof for key against root: membership with
// value when value is non-nil, otherwise non-membership.
func VerifyProof(root []byte, proof *ics23.CommitmentProof, key, value []byte) error {
	if proof == nil {
		return errors.New("missing proof")
	}
	if value != nil {
		if !ics23.VerifyMembership(ics23.IavlSpec, root, proof, key, value) {
			return errors.New("membership proof does not verify against the root")
		}
		return nil
	}
	if !ics23.VerifyNonMembership(ics23.IavlSpec, root, proof, key) {
		return errors.New("non-membership proof does not verify against the root")
	}
	return nil
}
