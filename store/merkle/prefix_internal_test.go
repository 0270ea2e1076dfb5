package merkle

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/store"
)

// prefixModel writes keys of address listings and of other families into a
// tree, flushing after each commit so that they spread over many tables, and
// remembers what it wrote.
type prefixModel struct {
	rng   *rand.Rand
	addrs [][]byte // 20 bytes each
	kv    map[string]string
	n     int
}

func newPrefixModel() *prefixModel {
	m := &prefixModel{rng: rand.New(rand.NewPCG(7, 11)), kv: map[string]string{}}
	for range 300 {
		a := make([]byte, 20)
		for i := range a {
			a[i] = byte(m.rng.IntN(256))
		}
		m.addrs = append(m.addrs, a)
	}
	// Two addresses sharing 19 bytes: the prefix must tell them apart.
	twin := bytes.Clone(m.addrs[0])
	twin[19] ^= 1
	m.addrs = append(m.addrs, twin)
	return m
}

// families written: listings (0xA2, 0x40, 0x03) and others with keys of
// the same shapes (0x04, 0x20) or exactly an address (0x01).
var modelFamilies = []byte{0xA2, 0x40, 0x03, 0x04, 0x20, 0x01}

// write commits one version: keys for a third of the addresses (only the
// first two thirds ever get keys: the rest stay absent), some deletions.
func (m *prefixModel) write(t *testing.T, tr *Tree) {
	t.Helper()
	for range 400 {
		a := m.addrs[m.rng.IntN(len(m.addrs)*2/3)]
		f := modelFamilies[m.rng.IntN(len(modelFamilies))]
		k := append([]byte{f}, a...)
		if f != 0x01 {
			k = fmt.Appendf(k, "/%06d", m.rng.IntN(50))
		}
		if m.rng.IntN(8) == 0 {
			tr.Delete(k)
			delete(m.kv, string(k))
			continue
		}
		m.n++
		v := fmt.Sprintf("v%d", m.n)
		tr.Set(k, []byte(v))
		m.kv[string(k)] = v
	}
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tr.db.Flush(); err != nil {
		t.Fatal(err)
	}
}

func (m *prefixModel) want(lo, hi []byte) string {
	var ks []string
	for k := range m.kv {
		if k >= string(lo) && (hi == nil || k < string(hi)) {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	for i, k := range ks {
		ks[i] = fmt.Sprintf("%x=%s", k, m.kv[k])
	}
	return strings.Join(ks, " ")
}

type ranger interface {
	Iterate(start, end []byte, fn func(key, value []byte) bool)
	Get(key []byte) []byte
}

func got(r ranger, lo, hi []byte) string {
	var out []string
	r.Iterate(lo, hi, func(k, v []byte) bool {
		out = append(out, fmt.Sprintf("%x=%s", k, v))
		return true
	})
	return strings.Join(out, " ")
}

// check reads every address's listing of every family (whole, from a key
// inside it, and ranges across addresses) and point keys, present and
// absent, through r, against the model.
func (m *prefixModel) check(t *testing.T, what string, r ranger) {
	t.Helper()
	for _, f := range modelFamilies {
		for i, a := range m.addrs {
			p := append([]byte{f}, a...)
			for _, rg := range [][2][]byte{
				{p, store.PrefixEnd(p)},
				{fmt.Appendf(bytes.Clone(p), "/%06d", 25), store.PrefixEnd(p)},
				{p, fmt.Appendf(bytes.Clone(p), "/%06d", 25)},
			} {
				if g, w := got(r, rg[0], rg[1]), m.want(rg[0], rg[1]); g != w {
					t.Fatalf("%s: family %02x address %d [%x, %x): got %q, want %q", what, f, i, rg[0], rg[1], g, w)
				}
			}
			k := fmt.Appendf(bytes.Clone(p), "/%06d", i%50)
			if f == 0x01 {
				k = p
			}
			if g, w := string(r.Get(k)), m.kv[string(k)]; g != w {
				t.Fatalf("%s: get %x: %q, want %q", what, k, g, w)
			}
		}
		// Across addresses: no prefix.
		lo, hi := append([]byte{f}, 0x40), append([]byte{f}, 0x80)
		if g, w := got(r, lo, hi), m.want(lo, hi); g != w {
			t.Fatalf("%s: family %02x [%x, %x): got %q, want %q", what, f, lo, hi, g, w)
		}
	}
}

func openPrefixTree(t *testing.T, dir string, wholeKey bool) *Tree {
	t.Helper()
	wholeKeyFilters = wholeKey
	defer func() { wholeKeyFilters = false }()
	tr, err := openTree(dir+"/"+DBName, nil, 8<<20, 1<<20, Options{ReadCacheBytes: -1}, "")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestAddressPrefixFilters: listing reads seek by address prefix and skip
// tables by their filters, and read exactly what was written: from tables
// in L0 and, compacted, in L6; through the working tree and a snapshot;
// when the state was written before prefixes (whole-key filters) and read
// after, and when a build before prefixes reads a state written after.
func TestAddressPrefixFilters(t *testing.T) {
	dir := t.TempDir()
	m := newPrefixModel()

	tr := openPrefixTree(t, dir, true) // as an older build
	for range 6 {
		m.write(t, tr)
	}
	m.check(t, "older build", tr)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	tr = openPrefixTree(t, dir, false)
	m.check(t, "whole-key filters read with prefixes", tr)
	for range 6 {
		m.write(t, tr)
	}
	m.check(t, "mixed tables", tr)
	s, err := tr.Snapshot(tr.Version())
	if err != nil {
		t.Fatal(err)
	}
	// Listings of addresses never written, read from a snapshot (straight
	// from the database): tables are skipped by their filters.
	before := tr.db.Metrics().Filter
	absent := m.addrs[len(m.addrs)*2/3 : len(m.addrs)-1]
	for _, a := range absent {
		p := append([]byte{0xA2}, a...)
		if g := got(s, p, store.PrefixEnd(p)); g != "" {
			t.Fatalf("listing of an absent address: %q", g)
		}
	}
	if hits := tr.db.Metrics().Filter.Hits - before.Hits; hits < int64(len(absent)) {
		t.Fatalf("listing reads of %d absent addresses skipped %d tables by their filters, want ≥ %d", len(absent), hits, len(absent))
	}
	m.check(t, "snapshot", s)
	if err := tr.db.Compact([]byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	m.check(t, "compacted", tr)
	m.check(t, "compacted, snapshot", s)

	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	tr = openPrefixTree(t, dir, true) // rolled back to an older build
	m.check(t, "prefix filters read by an older build", tr)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSplitKeepsOrder: Pebble's requirements on Split hold for keys of
// every shape near the listings' prefix length.
func TestSplitKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	var keys [][]byte
	for range 3000 {
		k := make([]byte, rng.IntN(prefixLen+6))
		for i := range k {
			k[i] = byte(rng.IntN(4)) // few values: many shared prefixes
		}
		if len(k) > 0 && rng.IntN(2) == 0 {
			k[0] = prefixState[0]
		}
		if len(k) > 1 && rng.IntN(2) == 0 {
			k[1] = addressListings[rng.IntN(len(addressListings))]
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, bytes.Compare)
	for i, a := range keys {
		pa := a[:split(a)]
		if !bytes.HasPrefix(a, pa) || (len(pa) < len(a) && bytes.Compare(pa, a) >= 0) {
			t.Fatalf("split(%x) = %x", a, pa)
		}
		if i > 0 {
			b := keys[i-1]
			pb := b[:split(b)]
			if bytes.Compare(pb, pa) > 0 {
				t.Fatalf("%x ≤ %x but prefixes %x > %x", b, a, pb, pa)
			}
			if bytes.Equal(pa, pb) && bytes.Compare(b[len(pb):], a[len(pa):]) > 0 {
				t.Fatalf("suffixes of %x ≤ %x out of order", b, a)
			}
		}
	}
	if got := comparer.ImmediateSuccessor(nil, []byte{'s', 0xA2, 1, 2}); !bytes.Equal(got, []byte{'s', 0xA2, 1, 2, 0}) {
		t.Fatalf("ImmediateSuccessor of a short key: %x", got)
	}
}
