package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
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
		"tree":   func(*testing.T) store.KV { return merkle.NewMemTree() },
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
	// Up to 8·12 short keys and 150 writes: caches that stay within their
	// sorted slice and caches that outgrow it, in the middle of the writes.
	// Half the keys are 1 to 11 bytes of 0x00, 0x01 and 0xff, often
	// sharing their first eight: the tree compares keys by their first
	// eight bytes, zero-padded, before comparing them whole.
	alphabet := []byte{0x00, 0x01, 0xff}
	key := func() []byte {
		if rng.IntN(2) == 0 {
			return []byte{byte('a' + rng.IntN(8)), byte('a' + rng.IntN(12))}
		}
		k := make([]byte, 1+rng.IntN(11))
		for i := range k {
			if i < 6 && rng.IntN(4) != 0 {
				k[i] = 0x01 // a common head
				continue
			}
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return k
	}
	for round := range 600 {
		parent := store.NewMemory()
		model := map[string]string{}
		for range rng.IntN(12) {
			k, v := key(), fmt.Sprint(rng.IntN(100))
			parent.Set(k, []byte(v))
			model[string(k)] = v
		}
		c := store.NewCache(parent)
		for range rng.IntN(150) {
			k := key()
			if got, want := c.Get(k), model[string(k)]; string(got) != want {
				t.Fatalf("round %d: Get(%q) = %q, want %q", round, k, got, want)
			}
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

// A callback may write to the cache it iterates: the iteration goes on over
// the writes buffered when it began, in both of a cache's forms.
func TestCacheWriteWhileIterating(t *testing.T) {
	for _, n := range []int{3, 40} {
		c := store.NewCache(store.NewMemory())
		for i := range n {
			c.Set([]byte(fmt.Sprintf("k%02d", i)), []byte("v"))
		}
		var seen []string
		c.Iterate(nil, nil, func(k, v []byte) bool {
			seen = append(seen, string(k))
			c.Set([]byte("a"+string(k)), []byte("w")) // lands before the keys still to come
			c.Delete(k)
			return true
		})
		if len(seen) != n || seen[0] != "k00" || seen[n-1] != fmt.Sprintf("k%02d", n-1) {
			t.Fatalf("%d writes: iteration saw %v", n, seen)
		}
		if c.Len() != 2*n || c.Get([]byte("ak00")) == nil || c.Get([]byte("k00")) != nil {
			t.Fatalf("%d writes: after the iteration %d writes buffered", n, c.Len())
		}
	}
}

// BenchmarkBlockCacheWrites writes transactions' caches of 10 writes each
// into a block's cache, as a block of 3,000 and one of 17,500 transactions
// does: keys are a family byte, a 20-byte address and an 8-byte id, as most
// state keys are. ns/op is per write.
func BenchmarkBlockCacheWrites(b *testing.B) {
	for _, txs := range []int{3_000, 17_500} {
		b.Run(fmt.Sprint(txs), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 6))
			keys := make([][]byte, txs*10)
			for i := range keys {
				k := make([]byte, 29)
				k[0] = byte(0x10 + rng.IntN(12))
				for j := 1; j < len(k); j++ {
					k[j] = byte(rng.Uint32())
				}
				keys[i] = k
			}
			val := make([]byte, 100)
			b.ResetTimer()
			n := 0
			for n < b.N {
				block := store.NewCache(store.NewMemory())
				for t := 0; t < txs && n < b.N; t++ {
					tx := store.NewCache(block)
					for _, k := range keys[t*10 : t*10+10] {
						tx.Set(k, val)
					}
					tx.Write()
					n += 10
				}
			}
		})
	}
}
