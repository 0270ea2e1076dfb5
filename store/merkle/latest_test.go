package merkle_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
)

// cacheTwins is the same sequence of operations on a tree with a small
// read cache (entries are evicted all the time) and one without, both on
// disk so that they can be reopened, and on a model of every committed
// version.
type cacheTwins struct {
	t                *testing.T
	dirC, dirU       string
	cached, uncached *merkle.Tree
	model            map[string][]byte   // the working version
	versions         []map[string][]byte // committed versions, from 1
	firstReadable    int64               // the version reopened last
	cacheBytes       int64               // the cached tree's read cache
}

func newCacheTwins(t *testing.T, cacheBytes int64) *cacheTwins {
	c := &cacheTwins{t: t, dirC: t.TempDir(), dirU: t.TempDir(), model: map[string][]byte{}}
	c.open(cacheBytes)
	return c
}

func (c *cacheTwins) open(cacheBytes int64) {
	c.cacheBytes = cacheBytes
	var err error
	if c.cached, err = merkle.OpenTreeWith(c.dirC, merkle.Options{ReadCacheBytes: cacheBytes}); err != nil {
		c.t.Fatal(err)
	}
	if c.uncached, err = merkle.OpenTreeWith(c.dirU, merkle.Options{ReadCacheBytes: -1}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cacheTwins) close() {
	if err := c.cached.Close(); err != nil {
		c.t.Fatal(err)
	}
	if err := c.uncached.Close(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cacheTwins) committed() map[string][]byte {
	if len(c.versions) == 0 {
		return map[string][]byte{}
	}
	return c.versions[len(c.versions)-1]
}

func (c *cacheTwins) set(k string, v []byte) {
	c.cached.Set([]byte(k), v)
	c.uncached.Set([]byte(k), v)
	c.model[k] = bytes.Clone(v)
}

func (c *cacheTwins) del(k string) {
	c.cached.Delete([]byte(k))
	c.uncached.Delete([]byte(k))
	delete(c.model, k)
}

// read checks the working version's value of k in both trees against the
// model, and the latest snapshot's against the last committed version.
func (c *cacheTwins) read(k string) {
	c.t.Helper()
	want := c.model[k]
	if got := c.cached.Get([]byte(k)); !bytes.Equal(got, want) {
		c.t.Fatalf("cached tree, working version: %q = %q, want %q", k, got, want)
	}
	if got := c.uncached.Get([]byte(k)); !bytes.Equal(got, want) {
		c.t.Fatalf("uncached tree, working version: %q = %q, want %q", k, got, want)
	}
	c.readAt(int64(len(c.versions)), k)
}

// readAt checks a committed version's value of k through both trees'
// snapshots.
func (c *cacheTwins) readAt(version int64, k string) {
	c.t.Helper()
	if version == 0 {
		return
	}
	want := c.versions[version-1][k]
	for name, tr := range map[string]*merkle.Tree{"cached": c.cached, "uncached": c.uncached} {
		s, err := tr.Snapshot(version)
		if err != nil {
			c.t.Fatalf("%s: %v", name, err)
		}
		got := s.Get([]byte(k))
		if !bytes.Equal(got, want) {
			c.t.Fatalf("%s tree, snapshot %d: %q = %q, want %q", name, version, k, got, want)
		}
		// A reader may keep and change what it got: the cache must not
		// hand out its own copy.
		if len(got) > 0 {
			got[0] ^= 0xff
		}
	}
}

func (c *cacheTwins) commit() {
	c.t.Helper()
	hc, vc, err := c.cached.Commit()
	if err != nil {
		c.t.Fatal(err)
	}
	hu, vu, err := c.uncached.Commit()
	if err != nil {
		c.t.Fatal(err)
	}
	if vc != vu || !bytes.Equal(hc, hu) {
		c.t.Fatalf("commit: cached tree v%d %X, uncached v%d %X", vc, hc, vu, hu)
	}
	snap := make(map[string][]byte, len(c.model))
	for k, v := range c.model {
		snap[k] = v
	}
	c.versions = append(c.versions, snap)
}

// endBlock ends a block as the random tests do: one in ten fails
// (Rollback), one in ten commits and restarts both trees (the cache starts
// empty, the snapshots before it are gone), the others commit.
func (c *cacheTwins) endBlock(rng *rand.Rand) {
	switch r := rng.IntN(10); {
	case r == 0:
		c.rollback()
	case r == 1:
		c.commit()
		c.close()
		c.open(c.cacheBytes)
		c.firstReadable = int64(len(c.versions))
	default:
		c.commit()
	}
}

// readable returns a random committed version still readable through
// snapshots, or 0 before the first commit.
func (c *cacheTwins) readable(rng *rand.Rand) int64 {
	n := int64(len(c.versions))
	if n == 0 {
		return 0
	}
	lo := max(c.firstReadable, n-merkle.ReadableVersions+1, 1)
	return lo + rng.Int64N(n-lo+1)
}

func (c *cacheTwins) rollback() {
	c.cached.Rollback()
	c.uncached.Rollback()
	c.model = map[string][]byte{}
	for k, v := range c.committed() {
		c.model[k] = v
	}
}

// TestReadCacheAgrees runs random blocks of reads, writes, deletes, index
// keys, failed blocks (Rollback), reads of older versions and restarts on a
// tree whose read cache is small enough to evict constantly and on one
// without: every read agrees with the model, and so does every app hash.
func TestReadCacheAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 13))
	c := newCacheTwins(t, 8<<10)
	defer func() { c.close() }()
	key := func() string {
		if rng.IntN(8) == 0 {
			return fmt.Sprintf("\x90idx/%03d", rng.IntN(60)) // an index key
		}
		return fmt.Sprintf("acct/%03d", rng.IntN(300))
	}
	for block := range 120 {
		for range 40 {
			k := key()
			switch op := rng.IntN(10); {
			case op < 5:
				c.read(k)
			case op < 8:
				c.set(k, fmt.Appendf(nil, "v%d-%d", block, rng.IntN(1000)))
				c.read(k)
			default:
				c.del(k)
				c.read(k)
			}
		}
		for range 5 {
			c.readAt(c.readable(rng), key())
		}
		c.endBlock(rng)
		for range 10 {
			c.read(key())
		}
	}
	if st := c.cached.ReadCacheStats(); st.Hits == 0 || st.Bytes > st.Limit {
		t.Fatalf("read cache stats %+v: expected hits within the limit", st)
	}
}

// TestReadCacheOldSnapshotDuringCommits reads an old version's snapshot
// from other goroutines while the writer commits new versions that change
// the same keys: the readers must never see a later value, and the writer
// must never see an earlier one.
func TestReadCacheOldSnapshotDuringCommits(t *testing.T) {
	tr, err := merkle.OpenTreeWith(t.TempDir(), merkle.Options{ReadCacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	const keys = 50
	k := func(i int) []byte { return fmt.Appendf(nil, "k%02d", i) }
	val := func(version int64, i int) []byte { return fmt.Appendf(nil, "v%d-%d", version, i) }
	for i := range keys {
		tr.Set(k(i), val(1, i))
	}
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				v := tr.Version()
				s, err := tr.Snapshot(v)
				if err != nil {
					continue // fell out of the window
				}
				i := n % keys
				if got := s.Get(k(i)); !bytes.Equal(got, val(v, i)) {
					errs <- fmt.Errorf("snapshot %d: %s = %s, want %s", v, k(i), got, val(v, i))
					return
				}
			}
		}()
	}
	for v := int64(2); v < 300; v++ {
		for i := range keys {
			if got := tr.Get(k(i)); !bytes.Equal(got, val(v-1, i)) {
				t.Fatalf("working version %d: %s = %s, want %s", v, k(i), got, val(v-1, i))
			}
			tr.Set(k(i), val(v, i))
		}
		if _, _, err := tr.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestReadCacheImport: a state imported whole (state sync) replaces what
// the cache remembered of the empty state.
func TestReadCacheImport(t *testing.T) {
	src := merkle.NewMemTree()
	defer src.Close()
	src.Set([]byte("a"), []byte("1"))
	src.Set([]byte{0x90, 'i'}, []byte("2"))
	h, v, err := src.Commit()
	if err != nil {
		t.Fatal(err)
	}
	dst := merkle.NewMemTree()
	defer dst.Close()
	if dst.Get([]byte("a")) != nil || dst.Get([]byte{0x90, 'i'}) != nil {
		t.Fatal("empty tree holds keys")
	}
	snap, err := src.Snapshot(v)
	if err != nil {
		t.Fatal(err)
	}
	im, err := dst.BeginImport()
	if err != nil {
		t.Fatal(err)
	}
	snap.Iterate(nil, nil, func(k, val []byte) bool {
		if err := im.Put(k, val); err != nil {
			t.Fatal(err)
		}
		return true
	})
	if err := im.Finish(v, h); err != nil {
		t.Fatal(err)
	}
	if got := dst.Get([]byte("a")); string(got) != "1" {
		t.Fatalf("after import a = %q", got)
	}
	if got := dst.Get([]byte{0x90, 'i'}); string(got) != "2" {
		t.Fatalf("after import the index key = %q", got)
	}
	s, err := dst.Snapshot(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Get([]byte("a")); string(got) != "1" {
		t.Fatalf("imported snapshot: a = %q", got)
	}
}

var _ store.Reader = (*merkle.Snapshot)(nil)

// list checks one party's whole listing (and, through a partial range and
// an early stop, reads the cache must not serve) in the working version
// and in committed versions, through both trees, against the model.
func (c *cacheTwins) list(prefix []byte, version int64) {
	c.t.Helper()
	end := store.PrefixEnd(prefix)
	modelList := func(m map[string][]byte, lo, hi []byte) []string {
		var out []string
		for k, v := range m {
			if k >= string(lo) && k < string(hi) {
				out = append(out, k+"="+string(v))
			}
		}
		slices.Sort(out)
		return out
	}
	collect := func(r store.Reader, lo, hi []byte, stopAfter int) []string {
		_, snapshot := r.(*merkle.Snapshot)
		var out []string
		r.Iterate(lo, hi, func(k, v []byte) bool {
			out = append(out, string(k)+"="+string(v))
			if snapshot {
				k[0] ^= 0xff // a snapshot's reader may change what it got
			}
			return len(out) != stopAfter
		})
		return out
	}
	mid := append(slices.Clone(prefix), 'm')
	part := func(name string, r store.Reader, m map[string][]byte, lo, hi []byte) {
		c.t.Helper()
		want := modelList(m, lo, hi)
		if len(want) > 1 { // stopped early: the rest of the listing must still be whole below
			if got := collect(r, lo, hi, 1); !slices.Equal(got, want[:1]) {
				c.t.Fatalf("%s: part [%q, %q) of listing %x stopped after one = %q, want %q", name, lo, hi, prefix, got, want[:1])
			}
		}
		if got := collect(r, lo, hi, -1); !slices.Equal(got, want) {
			c.t.Fatalf("%s: part [%q, %q) of listing %x = %q, want %q", name, lo, hi, prefix, got, want)
		}
	}
	check := func(name string, r store.Reader, m map[string][]byte) {
		c.t.Helper()
		// A part read first, before the whole listing is (this version's
		// first read of a short listing then reads it whole), and parts
		// around keys held and not: "a" keys, the "m" keys, one key.
		part(name, r, m, append(slices.Clone(prefix), 'a'), mid)
		part(name, r, m, append(slices.Clone(prefix), 'a', '0', '0', '2'), append(slices.Clone(prefix), 'a', '0', '0', '3'))
		part(name, r, m, append(slices.Clone(prefix), 'a', '0', '1'), append(slices.Clone(prefix), 'm', '0', '0', '2'))
		want := modelList(m, prefix, end)
		// A read stopped early comes first: it must not be remembered as
		// the whole listing.
		if len(want) > 1 {
			if got := collect(r, prefix, end, 1); !slices.Equal(got, want[:1]) {
				c.t.Fatalf("%s: listing %x stopped after one = %q, want %q", name, prefix, got, want[:1])
			}
		}
		for range 2 { // the second read may be served from the cache
			if got := collect(r, prefix, end, -1); !slices.Equal(got, want) {
				c.t.Fatalf("%s: listing %x = %q, want %q", name, prefix, got, want)
			}
		}
		if got, want := collect(r, mid, end, -1), modelList(m, mid, end); !slices.Equal(got, want) {
			c.t.Fatalf("%s: part of listing %x = %q, want %q", name, prefix, got, want)
		}
	}
	check("cached tree, working version", c.cached, c.model)
	check("uncached tree, working version", c.uncached, c.model)
	if version == 0 {
		return
	}
	for name, tr := range map[string]*merkle.Tree{"cached": c.cached, "uncached": c.uncached} {
		s, err := tr.Snapshot(version)
		if err != nil {
			c.t.Fatalf("%s: %v", name, err)
		}
		check(fmt.Sprintf("%s tree, snapshot %d", name, version), s, c.versions[version-1])
	}
}

// TestListingCacheAgrees runs random blocks of writes and deletes in a few
// parties' listings (a family the state filters by address), with listings
// read whole, in part and stopped early, in the working version and in
// committed ones, failed blocks and restarts, on a tree whose read cache
// evicts constantly and on one without: every listing agrees with the
// model. It also reads listings longer than the cache keeps.
func TestListingCacheAgrees(t *testing.T) {
	family := merkle.AddressListings()[0]
	rng := rand.New(rand.NewPCG(3, 17))
	c := newCacheTwins(t, 16<<10)
	defer func() { c.close() }()
	parties := make([][]byte, 6)
	for i := range parties {
		parties[i] = make([]byte, 21)
		parties[i][0] = family
		parties[i][20] = byte(i)
	}
	key := func(p []byte) string {
		n := 4
		if p[20] == 5 {
			n = 60 // a party with a listing too long to remember
		}
		return string(p) + fmt.Sprintf("%c%03d", "am"[rng.IntN(2)], rng.IntN(n))
	}
	for block := range 150 {
		for range 12 {
			p := parties[rng.IntN(len(parties))]
			switch op := rng.IntN(10); {
			case op < 4:
				c.list(p, int64(len(c.versions)))
			case op < 8:
				c.set(key(p), fmt.Appendf(nil, "v%d-%d", block, rng.IntN(1000)))
			default:
				c.del(key(p))
			}
		}
		if block == 0 { // the long listing, filled
			for i := range 60 {
				c.set(string(parties[5])+fmt.Sprintf("a%03d", i), []byte("x"))
			}
		}
		c.list(parties[rng.IntN(len(parties))], c.readable(rng))
		c.endBlock(rng)
		for _, p := range parties {
			c.list(p, int64(len(c.versions)))
		}
	}
}

// TestPartOfAListingIsServedFromTheWholeOne reads a patient's consents to
// one party, a part of the patient's listing (consent.Between), from a
// snapshot of the latest version: the first read fills the cache with the
// whole listing and the second is answered from it, with the same pairs;
// a write to the listing drops it; a listing longer than the cache keeps is
// read as asked, correctly, and never remembered.
func TestPartOfAListingIsServedFromTheWholeOne(t *testing.T) {
	tr, err := merkle.OpenTreeWith(t.TempDir(), merkle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	family := merkle.AddressListings()[0]
	party := func(i byte) []byte {
		p := make([]byte, 21)
		p[0], p[20] = family, i
		return p
	}
	short, long := party(1), party(2)
	for _, g := range []string{"a", "b", "c"} {
		for i := range 2 {
			tr.Set(fmt.Appendf(slices.Clone(short), "%s%d", g, i), []byte(g))
		}
	}
	for i := range 40 {
		tr.Set(fmt.Appendf(slices.Clone(long), "b%02d", i), []byte("x"))
	}
	commit := func() *merkle.Snapshot {
		t.Helper()
		_, v, err := tr.Commit()
		if err != nil {
			t.Fatal(err)
		}
		s, err := tr.Snapshot(v)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	part := func(s *merkle.Snapshot, p []byte, g string) []string {
		lo := append(slices.Clone(p), g...)
		var out []string
		s.Iterate(lo, store.PrefixEnd(lo), func(k, v []byte) bool {
			out = append(out, string(k[len(p):])+"="+string(v))
			return true
		})
		return out
	}
	stats := tr.ReadCacheStats
	s := commit()
	before := stats()
	if got, want := part(s, short, "b"), []string{"b0=b", "b1=b"}; !slices.Equal(got, want) {
		t.Fatalf("first read of a part = %q, want %q", got, want)
	}
	if got := stats(); got.ListingHits != before.ListingHits {
		t.Fatalf("first read of a part answered from the cache: %+v", got)
	}
	if got, want := part(s, short, "c"), []string{"c0=c", "c1=c"}; !slices.Equal(got, want) {
		t.Fatalf("second read of a part = %q, want %q", got, want)
	}
	if got := stats(); got.ListingHits != before.ListingHits+1 {
		t.Fatalf("second read of a part not answered from the remembered listing: %+v, before %+v", got, before)
	}

	tr.Set(append(slices.Clone(short), "b2"...), []byte("new"))
	s = commit()
	before = stats()
	if got, want := part(s, short, "b"), []string{"b0=b", "b1=b", "b2=new"}; !slices.Equal(got, want) {
		t.Fatalf("after a write, part = %q, want %q", got, want)
	}
	if got := stats(); got.ListingHits != before.ListingHits {
		t.Fatalf("a listing written since was answered from the cache: %+v", got)
	}

	for i := range 3 {
		if i == 1 { // the first read found the listing long: the next ones do not look for it
			before = stats()
		}
		if got := part(s, long, "b1"); len(got) != 10 || got[0] != "b10=x" || got[9] != "b19=x" {
			t.Fatalf("part of a long listing = %q", got)
		}
	}
	if got := stats(); got.ListingHits != before.ListingHits || got.ListingMisses != before.ListingMisses {
		t.Fatalf("parts of a long listing looked for in the cache again: %+v, before %+v", got, before)
	}
}
