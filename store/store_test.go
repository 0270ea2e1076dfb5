package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/medchain/medchain/store"
)

type kvPair struct{ k, v string }

func collect(r store.Reader, start, end []byte) []kvPair {
	var out []kvPair
	r.Iterate(start, end, func(k, v []byte) bool {
		out = append(out, kvPair{string(k), string(v)})
		return true
	})
	return out
}

func bs(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// kvImpls are the writable KV implementations; each must behave the same.
func kvImpls() map[string]func(t *testing.T) store.KV {
	return map[string]func(t *testing.T) store.KV{
		"memory": func(*testing.T) store.KV { return store.NewMemory() },
		"cache":  func(*testing.T) store.KV { return store.NewCache(store.NewMemory()) },
		"tree":   func(*testing.T) store.KV { return store.NewMemTree() },
	}
}

func TestKVContract(t *testing.T) {
	for name, mk := range kvImpls() {
		t.Run(name, func(t *testing.T) {
			kv := mk(t)
			if kv.Get([]byte("a")) != nil {
				t.Fatal("Get on empty store is not nil")
			}
			kv.Set([]byte("b"), []byte("2"))
			kv.Set([]byte("a"), []byte("1"))
			kv.Set([]byte("c"), []byte("3"))
			kv.Set([]byte("ab"), []byte("12"))
			kv.Set([]byte("b"), []byte("22")) // overwrite
			kv.Delete([]byte("c"))
			kv.Delete([]byte("zz")) // absent: no-op

			val := []byte("x")
			kv.Set([]byte("d"), val)
			val[0] = 'y' // the store must have copied the value
			if got := string(kv.Get([]byte("d"))); got != "x" {
				t.Errorf("Set did not copy its value: Get = %q", got)
			}

			key := []byte("e")
			kv.Set(key, []byte("5"))
			key[0] = 'f' // nor may it keep the caller's key buffer
			if got := string(kv.Get([]byte("e"))); got != "5" || kv.Get([]byte("f")) != nil {
				t.Errorf("Set did not copy its key: Get(e) = %q", got)
			}
			kv.Delete([]byte("e"))

			want := []kvPair{{"a", "1"}, {"ab", "12"}, {"b", "22"}, {"d", "x"}}
			if got := collect(kv, nil, nil); !slices.Equal(got, want) {
				t.Errorf("full iteration = %v, want %v", got, want)
			}
			if got := collect(kv, []byte("ab"), []byte("d")); !slices.Equal(got, want[1:3]) {
				t.Errorf("[ab, d) = %v, want %v", got, want[1:3])
			}
			if got := collect(kv, []byte("a"), store.PrefixEnd([]byte("a"))); !slices.Equal(got, want[:2]) {
				t.Errorf("prefix a = %v, want %v", got, want[:2])
			}
			if got := collect(kv, []byte("e"), nil); len(got) != 0 {
				t.Errorf("[e, ∞) = %v, want empty", got)
			}
			var n int
			kv.Iterate(nil, nil, func(_, _ []byte) bool { n++; return n < 2 })
			if n != 2 {
				t.Errorf("iteration continued after fn returned false: %d calls", n)
			}
		})
	}
}

func TestKVRejectsEmptyKeyAndNilValue(t *testing.T) {
	for name, mk := range kvImpls() {
		for _, tc := range []struct {
			name string
			k, v []byte
		}{{"empty key", nil, []byte("v")}, {"nil value", []byte("k"), nil}} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				kv := mk(t)
				defer func() {
					r := recover()
					var f store.Fault
					if e, ok := r.(error); !ok || !errors.As(e, &f) {
						t.Fatalf("Set(%q, %v) recovered %v, want a store.Fault", tc.k, tc.v, r)
					}
				}()
				kv.Set(tc.k, tc.v)
			})
		}
	}
}

func TestCheckPanicsWithFault(t *testing.T) {
	store.Check(nil) // must not panic
	base := errors.New("disk on fire")
	defer func() {
		f, ok := recover().(store.Fault)
		if !ok || !errors.Is(f, base) {
			t.Fatalf("Check recovered %v, want Fault wrapping the error", f)
		}
	}()
	store.Check(base)
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		in, want []byte
	}{
		{[]byte{0x01}, []byte{0x02}},
		{[]byte{0x01, 0x02}, []byte{0x01, 0x03}},
		{[]byte{0x01, 0xff}, []byte{0x02}},
		{[]byte{0x01, 0xff, 0xff}, []byte{0x02}},
		{[]byte{0xff}, nil},
		{[]byte{0xff, 0xff}, nil},
		{nil, nil},
	}
	for _, tt := range tests {
		in := bytes.Clone(tt.in)
		if got := store.PrefixEnd(tt.in); !bytes.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", tt.in, got, tt.want)
		}
		if !bytes.Equal(in, tt.in) {
			t.Errorf("PrefixEnd modified its input %x", in)
		}
	}
}

func TestMemoryLen(t *testing.T) {
	m := store.NewMemory()
	m.Set([]byte("a"), []byte("1"))
	m.Set([]byte("a"), []byte("2"))
	m.Set([]byte("b"), []byte("1"))
	m.Delete([]byte("a"))
	if m.Len() != 1 {
		t.Fatalf("Len = %d, want 1", m.Len())
	}
	// Iterating, then adding a key, must see the new key (sorted index refresh).
	collect(m, nil, nil)
	m.Set([]byte("0"), []byte("z"))
	if got := collect(m, nil, nil); !slices.Equal(got, []kvPair{{"0", "z"}, {"b", "1"}}) {
		t.Fatalf("after insert = %v", got)
	}
}

// TestCacheIterateMerge covers the cases where the cache's buffered writes
// and the parent's keys interleave: inserts before, between and after parent
// keys; overwrites; deletes of parent keys; deletes of keys that exist only
// in the cache; and ranges that cut through all of them.
func TestCacheIterateMerge(t *testing.T) {
	parent := store.NewMemory()
	for _, k := range []string{"b", "d", "f", "h"} {
		parent.Set([]byte(k), []byte("p"+k))
	}
	c := store.NewCache(parent)
	c.Set([]byte("a"), []byte("ca"))   // before all parent keys
	c.Set([]byte("c"), []byte("cc"))   // between
	c.Set([]byte("d"), []byte("cd"))   // overwrite
	c.Delete([]byte("f"))              // delete a parent key
	c.Set([]byte("g"), []byte("cg"))   // then delete a cache-only key
	c.Delete([]byte("g"))              //
	c.Delete([]byte("zz"))             // delete of a key that exists nowhere
	c.Set([]byte("i"), []byte("ci"))   // after all parent keys
	c.Set([]byte("hh"), []byte("chh")) // between the last parent key and i

	tests := []struct {
		name       string
		start, end string
		want       []kvPair
	}{
		{"all", "", "", []kvPair{{"a", "ca"}, {"b", "pb"}, {"c", "cc"}, {"d", "cd"}, {"h", "ph"}, {"hh", "chh"}, {"i", "ci"}}},
		{"from b", "b", "", []kvPair{{"b", "pb"}, {"c", "cc"}, {"d", "cd"}, {"h", "ph"}, {"hh", "chh"}, {"i", "ci"}}},
		{"c to h", "c", "h", []kvPair{{"c", "cc"}, {"d", "cd"}}},
		{"deleted range", "e", "g\xff", nil},
		{"only cache keys", "hh", "j", []kvPair{{"hh", "chh"}, {"i", "ci"}}},
		{"end at a cache key", "", "c", []kvPair{{"a", "ca"}, {"b", "pb"}}},
		{"past everything", "j", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collect(c, bs(tt.start), bs(tt.end))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Iterate(%q, %q) = %v, want %v", tt.start, tt.end, got, tt.want)
			}
		})
	}

	// Stopping early must stop in every phase: in cache keys before a
	// parent key, at an overwritten parent key, at a parent key, after the
	// parent is exhausted.
	all := collect(c, nil, nil)
	for stopAt := 1; stopAt <= len(all); stopAt++ {
		var got []kvPair
		c.Iterate(nil, nil, func(k, v []byte) bool {
			got = append(got, kvPair{string(k), string(v)})
			return len(got) < stopAt
		})
		if !slices.Equal(got, all[:stopAt]) {
			t.Errorf("stop after %d: got %v, want %v", stopAt, got, all[:stopAt])
		}
	}

	// Reads see the overlay; the parent is untouched until Write.
	if got := string(c.Get([]byte("d"))); got != "cd" {
		t.Errorf("cache Get(d) = %q", got)
	}
	if c.Get([]byte("f")) != nil {
		t.Error("cache Get of a deleted key is not nil")
	}
	if got := string(parent.Get([]byte("f"))); got != "pf" {
		t.Errorf("parent changed before Write: f = %q", got)
	}

	c.Write()
	want := []kvPair{{"a", "ca"}, {"b", "pb"}, {"c", "cc"}, {"d", "cd"}, {"h", "ph"}, {"hh", "chh"}, {"i", "ci"}}
	if got := collect(parent, nil, nil); !slices.Equal(got, want) {
		t.Fatalf("parent after Write = %v, want %v", got, want)
	}
	if got := collect(c, nil, nil); !slices.Equal(got, want) {
		t.Fatalf("cache after Write = %v, want the parent's view %v", got, want)
	}
}

func TestCacheDiscard(t *testing.T) {
	parent := store.NewMemory()
	parent.Set([]byte("k"), []byte("v"))
	c := store.NewCache(parent)
	c.Set([]byte("k"), []byte("w"))
	c.Set([]byte("n"), []byte("new"))
	c.Delete([]byte("k"))
	c.Discard()
	c.Write() // nothing left to write
	if got := collect(parent, nil, nil); !slices.Equal(got, []kvPair{{"k", "v"}}) {
		t.Fatalf("parent after Discard = %v", got)
	}
	if got := string(c.Get([]byte("k"))); got != "v" {
		t.Fatalf("cache after Discard reads %q, want the parent's value", got)
	}
}

func TestNestedCaches(t *testing.T) {
	parent := store.NewMemory()
	outer := store.NewCache(parent)
	outer.Set([]byte("a"), []byte("1"))
	inner := store.NewCache(outer)
	inner.Set([]byte("b"), []byte("2"))
	inner.Delete([]byte("a"))
	if got := collect(inner, nil, nil); !slices.Equal(got, []kvPair{{"b", "2"}}) {
		t.Fatalf("inner view = %v", got)
	}
	inner.Write()
	if got := collect(outer, nil, nil); !slices.Equal(got, []kvPair{{"b", "2"}}) {
		t.Fatalf("outer after inner.Write = %v", got)
	}
	if parent.Len() != 0 {
		t.Fatal("parent written before outer.Write")
	}
	outer.Write()
	if got := collect(parent, nil, nil); !slices.Equal(got, []kvPair{{"b", "2"}}) {
		t.Fatalf("parent = %v", got)
	}
}

// TestCacheMatchesModel applies random operations to a cache over a parent
// and to a plain map, and checks that every range iteration agrees.
func TestCacheMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte { return []byte{byte('a' + rng.IntN(8)), byte('a' + rng.IntN(3))} }
	for round := range 50 {
		parent := store.NewMemory()
		model := map[string]string{}
		for range rng.IntN(12) {
			k, v := key(), fmt.Sprint(rng.IntN(100))
			parent.Set(k, []byte(v))
			model[string(k)] = v
		}
		c := store.NewCache(parent)
		for range rng.IntN(20) {
			k := key()
			if rng.IntN(3) == 0 {
				c.Delete(k)
				delete(model, string(k))
			} else {
				v := fmt.Sprint(rng.IntN(100))
				c.Set(k, []byte(v))
				model[string(k)] = v
			}
		}
		for range 10 {
			start, end := key(), key()
			if rng.IntN(4) == 0 {
				end = nil
			}
			if rng.IntN(4) == 0 {
				start = nil
			}
			var want []kvPair
			for _, k := range slices.Sorted(mapsKeys(model)) {
				if k >= string(start) && (end == nil || k < string(end)) {
					want = append(want, kvPair{k, model[k]})
				}
			}
			if got := collect(c, start, end); !slices.Equal(got, want) {
				t.Fatalf("round %d: Iterate(%q, %q) = %v, want %v", round, start, end, got, want)
			}
		}
		c.Write()
		var want []kvPair
		for _, k := range slices.Sorted(mapsKeys(model)) {
			want = append(want, kvPair{k, model[k]})
		}
		if got := collect(parent, nil, nil); !slices.Equal(got, want) {
			t.Fatalf("round %d: parent after Write = %v, want %v", round, got, want)
		}
	}
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestTreeCommitAndSnapshots(t *testing.T) {
	tr := store.NewMemTree()
	defer tr.Close()
	if tr.Version() != 0 {
		t.Fatalf("new tree at version %d", tr.Version())
	}
	if _, err := tr.Snapshot(1); !errors.Is(err, store.ErrNoVersion) {
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
		if _, err := tr.Snapshot(v); !errors.Is(err, store.ErrNoVersion) {
			t.Errorf("Snapshot(%d) = %v, want ErrNoVersion", v, err)
		}
	}
}

func TestTreeHashIsDeterministic(t *testing.T) {
	// The sparse Merkle tree's shape depends on the key set alone: the same
	// state gives the same root whatever the order of the writes.
	order := 7
	write := func(tr *store.Tree) []byte {
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
	a, b := store.NewMemTree(), store.NewMemTree()
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
	tr, err := store.OpenTree(dir)
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

	tr, err = store.OpenTree(dir)
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
	if _, err := tr.Snapshot(1); !errors.Is(err, store.ErrNoVersion) {
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

func provenTree(t *testing.T) (*store.Tree, *store.Snapshot) {
	t.Helper()
	tr := store.NewMemTree()
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
			if err := store.VerifyProof(root, proof, key, v); err != nil {
				t.Fatalf("valid proof rejected: %v", err)
			}
			// A wrong root fails.
			bad := bytes.Clone(root)
			bad[0] ^= 1
			if store.VerifyProof(bad, proof, key, v) == nil {
				t.Error("proof verified against a wrong root")
			}
			if tt.present {
				// The proof is for this key only: not for another
				// present key, nor for an absent one.
				if store.VerifyProof(root, proof, []byte("key02"), v) == nil && tt.key != "key02" {
					t.Error("membership proof verified for another key")
				}
				if store.VerifyProof(root, proof, []byte("key01"), v) == nil {
					t.Error("membership proof verified for an absent key")
				}
				// A wrong value fails, and so does claiming absence.
				if store.VerifyProof(root, proof, key, []byte("forged")) == nil {
					t.Error("membership proof verified with a forged value")
				}
				if store.VerifyProof(root, proof, key, nil) == nil {
					t.Error("membership proof verified as non-membership")
				}
			} else {
				if store.VerifyProof(root, proof, key, []byte("invented")) == nil {
					t.Error("non-membership proof verified as membership")
				}
				// It cannot prove a present key absent.
				if store.VerifyProof(root, proof, []byte("key20"), nil) == nil {
					t.Error("non-membership proof verified for a present key")
				}
			}
		})
	}
	if store.VerifyProof(root, nil, []byte("key00"), []byte("value0")) == nil {
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
		if store.VerifyProof(root, p, key, v) == nil {
			verified++
			t.Errorf("proof with byte %d flipped still verifies", i)
		}
	}
	if verified > 0 {
		t.Fatalf("%d tampered proofs verified", verified)
	}

	// And the untampered proof still does.
	if err := store.VerifyProof(root, proof, key, v); err != nil {
		t.Fatal(err)
	}

	// A proof taken from a later version does not verify against an older root.
	tr := store.NewMemTree()
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
	if store.VerifyProof(s1.Hash(), p2, key, []byte("newer")) == nil {
		t.Error("proof of version 2 verified against the root of version 1")
	}
}

// A cache over a read-only parent (a snapshot) is an overlay: reading and
// writing it works, writing it back is a store fault, not a silent no-op.
func TestCacheOverReadOnlyParent(t *testing.T) {
	tr := store.NewMemTree()
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
	a, b := store.NewMemTree(), store.NewMemTree()
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

type countingReader struct {
	store.Reader
	iterations int
}

func (c *countingReader) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	c.iterations++
	c.Reader.Iterate(start, end, fn)
}

// A Memo serves a range it read to the end from memory, the same pairs in
// the same order; a range cut short by its callback, or too long, is read
// again.
func TestMemoRanges(t *testing.T) {
	m := store.NewMemory()
	for i := range 600 {
		m.Set([]byte(fmt.Sprintf("a/%03d", i)), []byte(fmt.Sprint(i)))
		m.Set([]byte(fmt.Sprintf("b/%d", i%5)), []byte("x"))
	}
	r := &countingReader{Reader: m}
	memo := store.NewMemo(r)
	list := func(start, end string, stopAfter int) []string {
		var out []string
		var e []byte
		if end != "" {
			e = []byte(end)
		}
		memo.Iterate([]byte(start), e, func(k, v []byte) bool {
			out = append(out, string(k)+"="+string(v))
			return len(out) != stopAfter
		})
		return out
	}
	first := list("b/", "b0", -1)
	if len(first) != 5 || r.iterations != 1 {
		t.Fatalf("first listing: %v after %d iterations", first, r.iterations)
	}
	if again := list("b/", "b0", -1); fmt.Sprint(again) != fmt.Sprint(first) || r.iterations != 1 {
		t.Fatalf("second listing %v read the store again (%d)", again, r.iterations)
	}
	if part := list("b/", "b0", 2); len(part) != 2 || r.iterations != 1 {
		t.Fatalf("a remembered listing cut short: %v (%d)", part, r.iterations)
	}
	list("a/1", "a/2", 3) // cut short: not remembered
	list("a/1", "a/2", -1)
	if r.iterations != 3 {
		t.Fatalf("%d iterations, want 3: a listing cut short was remembered", r.iterations)
	}
	list("a/", "a0", -1) // 600 pairs: too many to remember
	list("a/", "a0", -1)
	if r.iterations != 5 {
		t.Fatalf("%d iterations, want 5: a long listing was remembered", r.iterations)
	}
	if got := list("b/", "", -1); len(got) != 5 {
		t.Fatalf("open-ended range: %v", got)
	}
}
