package merkle_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
)

func TestTreeCommitAndSnapshots(t *testing.T) {
	tr := merkle.NewMemTree()
	defer tr.Close()
	if tr.Version() != 0 {
		t.Fatalf("new tree at version %d", tr.Version())
	}
	if _, err := tr.Snapshot(1); !errors.Is(err, merkle.ErrNoVersion) {
		t.Fatalf("Snapshot(1) before any commit: %v, want ErrNoVersion", err)
	}

	tr.Set([]byte("a"), []byte("1"))
	working := tr.WorkingHash()
	hash1, v1, err := tr.Commit()
	if err != nil || v1 != 1 {
		t.Fatalf("Commit = %d, %v", v1, err)
	}
	if !bytes.Equal(hash1, working) || !bytes.Equal(tr.Hash(), hash1) {
		t.Fatalf("WorkingHash %x, Commit %x, Hash %x should agree", working, hash1, tr.Hash())
	}

	// An empty version keeps the root.
	hash2, v2, err := tr.Commit()
	if err != nil || v2 != 2 || !bytes.Equal(hash2, hash1) {
		t.Fatalf("empty commit = %x v%d %v, want same hash at v2", hash2, v2, err)
	}

	tr.Set([]byte("a"), []byte("2"))
	tr.Set([]byte("b"), []byte("3"))
	hash3, _, err := tr.Commit()
	if err != nil || bytes.Equal(hash3, hash1) {
		t.Fatalf("commit 3: %x %v", hash3, err)
	}

	// Uncommitted writes are visible in the working tree, not in snapshots,
	// and Rollback drops them.
	tr.Delete([]byte("b"))
	tr.Set([]byte("c"), []byte("4"))
	if tr.Get([]byte("b")) != nil || string(tr.Get([]byte("c"))) != "4" {
		t.Fatal("working tree does not show uncommitted writes")
	}
	if bytes.Equal(tr.WorkingHash(), hash3) {
		t.Fatal("working hash did not change with writes")
	}
	tr.Rollback()
	if string(tr.Get([]byte("b"))) != "3" || tr.Get([]byte("c")) != nil {
		t.Fatal("Rollback kept uncommitted writes")
	}
	if !bytes.Equal(tr.WorkingHash(), hash3) {
		t.Fatal("working hash after Rollback differs from the last commit")
	}

	s1, err := tr.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := tr.Snapshot(3)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Version() != 1 || !bytes.Equal(s1.Hash(), hash1) || !bytes.Equal(s3.Hash(), hash3) {
		t.Fatalf("snapshot versions/hashes wrong: v%d %x / %x", s1.Version(), s1.Hash(), s3.Hash())
	}
	if got := collect(s1, nil, nil); !slices.Equal(got, []kvPair{{"a", "1"}}) {
		t.Errorf("snapshot 1 = %v", got)
	}
	if got := collect(s3, nil, nil); !slices.Equal(got, []kvPair{{"a", "2"}, {"b", "3"}}) {
		t.Errorf("snapshot 3 = %v", got)
	}
	if got := string(s3.Get([]byte("a"))); got != "2" {
		t.Errorf("snapshot 3 Get(a) = %q", got)
	}
	var n int
	s3.Iterate(nil, nil, func(_, _ []byte) bool { n++; return false })
	if n != 1 {
		t.Errorf("snapshot iteration continued after false: %d", n)
	}
	for _, v := range []int64{0, -1, 4} {
		if _, err := tr.Snapshot(v); !errors.Is(err, merkle.ErrNoVersion) {
			t.Errorf("Snapshot(%d) = %v, want ErrNoVersion", v, err)
		}
	}
}

func TestTreeHashIsDeterministic(t *testing.T) {
	// The sparse Merkle tree's shape depends on the key set alone: the same
	// state gives the same root whatever the order of the writes.
	order := 7
	write := func(tr *merkle.Tree) []byte {
		for i := range 50 {
			k := (i * order) % 50
			tr.Set([]byte(fmt.Sprintf("k%02d", k)), []byte{byte(k)})
		}
		tr.Delete([]byte("k03"))
		h, _, err := tr.Commit()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, b := merkle.NewMemTree(), merkle.NewMemTree()
	ha := write(a)
	order = 13
	hb := write(b)
	if !bytes.Equal(ha, hb) {
		t.Fatalf("same writes, different roots: %x vs %x", ha, hb)
	}
	b.Set([]byte("k00"), []byte{0xff})
	hb2, _, _ := b.Commit()
	if bytes.Equal(ha, hb2) {
		t.Fatal("changing a value did not change the root")
	}
}

func TestTreeReopen(t *testing.T) {
	dir := t.TempDir()
	tr, err := merkle.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr.Set([]byte("a"), []byte("1"))
	tr.Commit()
	tr.Set([]byte("b"), []byte("2"))
	want, _, err := tr.Commit()
	if err != nil {
		t.Fatal(err)
	}
	tr.Set([]byte("uncommitted"), []byte("lost"))
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	tr, err = merkle.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Version() != 2 || !bytes.Equal(tr.Hash(), want) {
		t.Fatalf("reopened at v%d %x, want v2 %x", tr.Version(), tr.Hash(), want)
	}
	if got := collect(tr, nil, nil); !slices.Equal(got, []kvPair{{"a", "1"}, {"b", "2"}}) {
		t.Fatalf("reopened content = %v", got)
	}
	// Only the latest version is readable after a restart.
	if _, err := tr.Snapshot(1); !errors.Is(err, merkle.ErrNoVersion) {
		t.Fatalf("old version after reopen: %v, want ErrNoVersion", err)
	}
	if s, err := tr.Snapshot(2); err != nil || string(s.Get([]byte("a"))) != "1" || string(s.Get([]byte("b"))) != "2" {
		t.Fatalf("latest version after reopen: %v", err)
	}
	tr.Set([]byte("c"), []byte("3"))
	if _, v, err := tr.Commit(); err != nil || v != 3 {
		t.Fatalf("commit after reopen: v%d %v", v, err)
	}
}

func provenTree(t *testing.T) (*merkle.Tree, *merkle.Snapshot) {
	t.Helper()
	tr := merkle.NewMemTree()
	t.Cleanup(func() { tr.Close() })
	for i := range 20 {
		tr.Set([]byte(fmt.Sprintf("key%02d", 2*i)), []byte(fmt.Sprintf("value%d", i)))
	}
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	snap, err := tr.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	return tr, snap
}

func TestProofs(t *testing.T) {
	_, snap := provenTree(t)
	root := snap.Hash()

	tests := []struct {
		name    string
		key     string
		present bool
	}{
		{"member first", "key00", true},
		{"member middle", "key20", true},
		{"member last", "key38", true},
		{"absent between", "key21", false},
		{"absent before all", "a", false},
		{"absent after all", "zzz", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := []byte(tt.key)
			v, proof, err := snap.Prove(key)
			if err != nil {
				t.Fatal(err)
			}
			if (v != nil) != tt.present {
				t.Fatalf("Prove value = %q, present want %v", v, tt.present)
			}
			if err := merkle.VerifyProof(root, proof, key, v); err != nil {
				t.Fatalf("valid proof rejected: %v", err)
			}
			// A wrong root fails.
			bad := bytes.Clone(root)
			bad[0] ^= 1
			if merkle.VerifyProof(bad, proof, key, v) == nil {
				t.Error("proof verified against a wrong root")
			}
			if tt.present {
				// The proof is for this key only: not for another
				// present key, nor for an absent one.
				if merkle.VerifyProof(root, proof, []byte("key02"), v) == nil && tt.key != "key02" {
					t.Error("membership proof verified for another key")
				}
				if merkle.VerifyProof(root, proof, []byte("key01"), v) == nil {
					t.Error("membership proof verified for an absent key")
				}
				// A wrong value fails, and so does claiming absence.
				if merkle.VerifyProof(root, proof, key, []byte("forged")) == nil {
					t.Error("membership proof verified with a forged value")
				}
				if merkle.VerifyProof(root, proof, key, nil) == nil {
					t.Error("membership proof verified as non-membership")
				}
			} else {
				if merkle.VerifyProof(root, proof, key, []byte("invented")) == nil {
					t.Error("non-membership proof verified as membership")
				}
				// It cannot prove a present key absent.
				if merkle.VerifyProof(root, proof, []byte("key20"), nil) == nil {
					t.Error("non-membership proof verified for a present key")
				}
			}
		})
	}
	if merkle.VerifyProof(root, nil, []byte("key00"), []byte("value0")) == nil {
		t.Error("nil proof verified")
	}
}

func TestTamperedProofFails(t *testing.T) {
	_, snap := provenTree(t)
	root := snap.Hash()
	key := []byte("key10")
	v, proof, err := snap.Prove(key)
	if err != nil || v == nil {
		t.Fatalf("Prove: %q %v", v, err)
	}
	raw, err := proof.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Flip each byte of the encoded proof in turn: no tampered proof that
	// still decodes may verify.
	verified := 0
	for i := range raw {
		mod := bytes.Clone(raw)
		mod[i] ^= 0x01
		p := new(ics23.CommitmentProof)
		if p.Unmarshal(mod) != nil {
			continue
		}
		if merkle.VerifyProof(root, p, key, v) == nil {
			verified++
			t.Errorf("proof with byte %d flipped still verifies", i)
		}
	}
	if verified > 0 {
		t.Fatalf("%d tampered proofs verified", verified)
	}

	// And the untampered proof still does.
	if err := merkle.VerifyProof(root, proof, key, v); err != nil {
		t.Fatal(err)
	}

	// A proof taken from a later version does not verify against an older root.
	tr := merkle.NewMemTree()
	defer tr.Close()
	tr.Set(key, v)
	tr.Commit()
	tr.Set(key, []byte("newer"))
	tr.Commit()
	s1, _ := tr.Snapshot(1)
	s2, _ := tr.Snapshot(2)
	_, p2, err := s2.Prove(key)
	if err != nil {
		t.Fatal(err)
	}
	if merkle.VerifyProof(s1.Hash(), p2, key, []byte("newer")) == nil {
		t.Error("proof of version 2 verified against the root of version 1")
	}
}

// A cache over a read-only parent (a snapshot) is an overlay: reading and
// writing it works, writing it back is a store fault, not a silent no-op.
func TestCacheOverReadOnlyParent(t *testing.T) {
	tr := merkle.NewMemTree()
	defer tr.Close()
	tr.Set([]byte("a"), []byte("1"))
	tr.Commit()
	snap, err := tr.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	c := store.NewCache(snap)
	c.Set([]byte("b"), []byte("2"))
	if string(c.Get([]byte("a"))) != "1" || string(c.Get([]byte("b"))) != "2" {
		t.Fatal("overlay does not read through")
	}
	defer func() {
		var f store.Fault
		if r := recover(); r == nil || !errors.As(r.(error), &f) {
			t.Fatalf("Write over a snapshot: %v, want a store Fault", r)
		}
	}()
	c.Write()
}

// A cache written back to a tree (hashing spread over cores) gives the tree
// the same content and root as the same writes made one by one.
func TestCacheWriteToTreeMatchesSingleWrites(t *testing.T) {
	a, b := merkle.NewMemTree(), merkle.NewMemTree()
	defer a.Close()
	defer b.Close()
	for round := range 5 {
		c := store.NewCache(a)
		for i := range 3000 {
			k := []byte(fmt.Sprintf("k%05d", (i*7919+round*131)%4000))
			if (i+round)%5 == 0 {
				c.Delete(k)
				b.Delete(k)
				continue
			}
			v := []byte(fmt.Sprintf("v%d-%d", round, i))
			c.Set(k, v)
			b.Set(k, v)
		}
		c.Write()
		if !bytes.Equal(a.WorkingHash(), b.WorkingHash()) {
			t.Fatalf("round %d: root %x, one by one %x", round, a.WorkingHash(), b.WorkingHash())
		}
		ha, _, err := a.Commit()
		if err != nil {
			t.Fatal(err)
		}
		hb, _, _ := b.Commit()
		if !bytes.Equal(ha, hb) {
			t.Fatalf("round %d: committed %x, one by one %x", round, ha, hb)
		}
		for i := range 4000 {
			k := []byte(fmt.Sprintf("k%05d", i))
			if !bytes.Equal(a.Get(k), b.Get(k)) {
				t.Fatalf("round %d: %s = %q, one by one %q", round, k, a.Get(k), b.Get(k))
			}
		}
	}
}

type kvPair struct{ k, v string }

func collect(r store.Reader, start, end []byte) []kvPair {
	var out []kvPair
	r.Iterate(start, end, func(k, v []byte) bool {
		out = append(out, kvPair{string(k), string(v)})
		return true
	})
	return out
}
