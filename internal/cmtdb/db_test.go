package cmtdb

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
)

// The contract tests run one scenario against this package's DB and against
// cometbft-db's goleveldb backend (the backend CometBFT uses by default),
// record what each operation returned, and require identical transcripts.
// Errors are recorded as "err" since the two backends word them differently.

type backend struct {
	name string
	open func(t *testing.T) dbm.DB
}

var backends = []backend{
	{"pebble", func(t *testing.T) dbm.DB {
		db, err := Open(filepath.Join(t.TempDir(), "test"+DirSuffix))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}},
	{"goleveldb", func(t *testing.T) dbm.DB {
		db, err := dbm.NewDB("test", dbm.GoLevelDBBackend, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return db
	}},
}

// transcript records operation results.
type transcript struct{ lines []string }

func (r *transcript) add(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *transcript) err(op string, err error) {
	if err != nil {
		r.add("%s: err", op)
	} else {
		r.add("%s: ok", op)
	}
}

func (r *transcript) get(db dbm.DB, key []byte) {
	v, err := db.Get(key)
	switch {
	case err != nil:
		r.add("get %q: err", key)
	case v == nil:
		r.add("get %q: nil", key)
	default:
		r.add("get %q: %q", key, v)
	}
	ok, err := db.Has(key)
	if err != nil {
		r.add("has %q: err", key)
	} else {
		r.add("has %q: %v", key, ok)
	}
}

// iterate returns a function recording every key/value of an iterator, then
// closing it: r.iterate(label)(db.Iterator(start, end)).
func (r *transcript) iterate(label string) func(dbm.Iterator, error) {
	return func(it dbm.Iterator, err error) { r.record(label, it, err) }
}

func (r *transcript) record(label string, it dbm.Iterator, err error) {
	if err != nil {
		r.add("%s: err", label)
		return
	}
	s, e := it.Domain()
	var kvs []string
	for ; it.Valid(); it.Next() {
		kvs = append(kvs, fmt.Sprintf("%q=%q", it.Key(), it.Value()))
	}
	r.add("%s: domain [%q,%q) %s valid=%v", label, s, e, strings.Join(kvs, " "), it.Valid())
	r.err(label+" error", it.Error())
	r.err(label+" close", it.Close())
}

// compare runs scenario on every backend and requires equal transcripts.
func compare(t *testing.T, scenario func(t *testing.T, db dbm.DB, r *transcript)) {
	t.Helper()
	var want []string
	for _, b := range backends {
		db := b.open(t)
		r := &transcript{}
		scenario(t, db, r)
		_ = db.Close() // idempotence is tested separately
		if want == nil {
			want = r.lines
			continue
		}
		if !slices.Equal(want, r.lines) {
			t.Errorf("%s differs from %s:\n%s", b.name, backends[0].name, diff(want, r.lines))
		}
	}
	if len(want) == 0 {
		t.Fatal("empty transcript")
	}
}

func diff(a, b []string) string {
	var sb strings.Builder
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Fprintf(&sb, "  %d: %s\n  %d: %s\n", i, x, i, y)
		}
	}
	return sb.String()
}

func TestContractBasic(t *testing.T) {
	compare(t, func(t *testing.T, db dbm.DB, r *transcript) {
		r.get(db, []byte("missing"))
		r.err("set a", db.Set([]byte("a"), []byte("1")))
		r.err("setsync b", db.SetSync([]byte("b"), []byte("2")))
		r.err("set empty value", db.Set([]byte("e"), []byte{}))
		r.get(db, []byte("a"))
		r.get(db, []byte("b"))
		r.get(db, []byte("e")) // present with an empty value
		r.err("overwrite a", db.Set([]byte("a"), []byte("3")))
		r.get(db, []byte("a"))
		r.err("delete a", db.Delete([]byte("a")))
		r.err("deletesync b", db.DeleteSync([]byte("b")))
		r.err("delete missing", db.Delete([]byte("nope")))
		r.err("deletesync missing", db.DeleteSync([]byte("nope")))
		r.get(db, []byte("a"))
		r.get(db, []byte("b"))

		// Empty and nil keys, nil values.
		for _, k := range [][]byte{nil, {}} {
			r.get(db, k)
			r.err("set empty key", db.Set(k, []byte("v")))
			r.err("setsync empty key", db.SetSync(k, []byte("v")))
			r.err("delete empty key", db.Delete(k))
			r.err("deletesync empty key", db.DeleteSync(k))
		}
		r.err("set nil value", db.Set([]byte("k"), nil))
		r.err("setsync nil value", db.SetSync([]byte("k"), nil))
		r.get(db, []byte("k"))
		_, err := db.Iterator([]byte{}, nil)
		r.err("iterator empty start", err)
		_, err = db.Iterator(nil, []byte{})
		r.err("iterator empty end", err)
		_, err = db.ReverseIterator([]byte{}, nil)
		r.err("reverse empty start", err)
		_, err = db.ReverseIterator(nil, []byte{})
		r.err("reverse empty end", err)
	})
}

// iterKeys are stored by the iteration tests; bounds include stored keys,
// keys between them, and keys beyond both ends.
var (
	iterKeys = []string{"\x00", "a", "aa", "ab", "b", "c", "c\x00", "d", "\xff", "\xff\xff"}
	bounds   = []string{"", "\x00", "\x00\x00", "a", "a\x00", "aa", "b", "bb", "c", "d", "e", "\xff", "\xff\xff", "\xff\xff\xff"}
)

func bound(s string) []byte {
	if s == "" {
		return nil // unbounded
	}
	return []byte(s)
}

func fill(t *testing.T, db dbm.DB) {
	for i, k := range iterKeys {
		if err := db.Set([]byte(k), []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestContractIteration(t *testing.T) {
	compare(t, func(t *testing.T, db dbm.DB, r *transcript) {
		r.iterate("empty db forward")(db.Iterator(nil, nil))
		r.iterate("empty db reverse")(db.ReverseIterator(nil, nil))
		fill(t, db)
		for _, s := range bounds {
			for _, e := range bounds {
				label := fmt.Sprintf("[%q,%q)", s, e)
				r.iterate(label + " forward")(db.Iterator(bound(s), bound(e)))
				r.iterate(label + " reverse")(db.ReverseIterator(bound(s), bound(e)))
			}
		}
	})
}

// TestIterationModel checks our iterators against a direct computation of
// the domain, independently of goleveldb.
func TestIterationModel(t *testing.T) {
	db := backends[0].open(t)
	defer db.Close()
	fill(t, db)
	for _, s := range bounds {
		for _, e := range bounds {
			var want []string
			for _, k := range iterKeys {
				if dbm.IsKeyInDomain([]byte(k), bound(s), bound(e)) {
					want = append(want, k)
				}
			}
			check := func(dir string, it dbm.Iterator, err error, want []string) {
				if err != nil {
					t.Fatal(err)
				}
				defer it.Close()
				var got []string
				for ; it.Valid(); it.Next() {
					got = append(got, string(it.Key()))
				}
				if !slices.Equal(got, want) {
					t.Errorf("[%q,%q) %s: got %q, want %q", s, e, dir, got, want)
				}
			}
			it, err := db.Iterator(bound(s), bound(e))
			check("forward", it, err, want)
			it, err = db.ReverseIterator(bound(s), bound(e))
			rev := slices.Clone(want)
			slices.Reverse(rev)
			check("reverse", it, err, rev)
		}
	}
}

func TestContractIterationAfterWrites(t *testing.T) {
	compare(t, func(t *testing.T, db dbm.DB, r *transcript) {
		fill(t, db)
		r.err("overwrite b", db.Set([]byte("b"), []byte("new")))
		r.err("delete aa", db.Delete([]byte("aa")))
		r.err("add bb", db.SetSync([]byte("bb"), []byte("x")))
		r.iterate("forward")(db.Iterator([]byte("a"), []byte("c")))
		r.iterate("reverse")(db.ReverseIterator([]byte("a"), []byte("c")))

		b := db.NewBatch()
		r.err("batch delete b", b.Delete([]byte("b")))
		r.err("batch set ba", b.Set([]byte("ba"), []byte("y")))
		r.iterate("before batch write")(db.Iterator([]byte("a"), []byte("c")))
		r.err("batch write", b.Write())
		r.err("batch close", b.Close())
		r.iterate("after batch write")(db.Iterator([]byte("a"), []byte("c")))
		r.iterate("after batch write reverse")(db.ReverseIterator(nil, []byte("c")))
	})
}

func TestContractIteratorInvalid(t *testing.T) {
	compare(t, func(t *testing.T, db dbm.DB, r *transcript) {
		fill(t, db)
		it, err := db.Iterator([]byte("c"), []byte("d"))
		if err != nil {
			t.Fatal(err)
		}
		r.add("valid %v", it.Valid())
		it.Next()
		it.Next() // "c", "c\x00", then past the end
		r.add("valid %v", it.Valid())
		r.add("still invalid %v", it.Valid())
		r.add("key panics %v", panics(func() { it.Key() }))
		r.add("value panics %v", panics(func() { it.Value() }))
		r.add("next panics %v", panics(it.Next))
		r.err("error", it.Error())
		r.err("close", it.Close())
	})
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func TestContractBatch(t *testing.T) {
	compare(t, func(t *testing.T, db dbm.DB, r *transcript) {
		r.err("set x", db.Set([]byte("x"), []byte("old")))
		for _, sync := range []bool{false, true} {
			b := db.NewBatch()
			r.err("set a", b.Set([]byte("a"), []byte("1")))
			r.err("set b", b.Set([]byte("b"), []byte("2")))
			r.err("delete x", b.Delete([]byte("x")))
			r.err("delete missing", b.Delete([]byte("nope")))
			r.err("set empty value", b.Set([]byte("e"), []byte{}))
			r.err("set nil key", b.Set(nil, []byte("v")))
			r.err("set empty key", b.Set([]byte{}, []byte("v")))
			r.err("set nil value", b.Set([]byte("k"), nil))
			r.err("delete empty key", b.Delete([]byte{}))
			r.get(db, []byte("a")) // not visible before Write
			if sync {
				r.err("writesync", b.WriteSync())
			} else {
				r.err("write", b.Write())
			}
			r.get(db, []byte("a"))
			r.get(db, []byte("b"))
			r.get(db, []byte("e"))
			r.get(db, []byte("x"))
			r.get(db, []byte("k"))
			// Only Close is allowed after a write.
			r.err("set after write", b.Set([]byte("c"), []byte("3")))
			r.err("delete after write", b.Delete([]byte("a")))
			r.err("write after write", b.Write())
			r.err("writesync after write", b.WriteSync())
			r.err("close", b.Close())
			r.err("close again", b.Close())
			r.err("set x", db.Set([]byte("x"), []byte("old")))
		}

		// A closed batch is discarded, and refuses further use.
		b := db.NewBatch()
		r.err("set z", b.Set([]byte("z"), []byte("9")))
		r.err("close", b.Close())
		r.err("set after close", b.Set([]byte("z"), []byte("9")))
		r.err("delete after close", b.Delete([]byte("z")))
		r.err("write after close", b.Write())
		r.err("writesync after close", b.WriteSync())
		r.err("close again", b.Close())
		r.get(db, []byte("z"))

		// An empty batch writes.
		b = db.NewBatch()
		r.err("empty write", b.Write())
		r.err("close", b.Close())

		// A set then delete of one key in one batch leaves it deleted.
		b = db.NewBatch()
		r.err("set y", b.Set([]byte("y"), []byte("1")))
		r.err("delete y", b.Delete([]byte("y")))
		r.err("write", b.Write())
		r.get(db, []byte("y"))
		r.iterate("all")(db.Iterator(nil, nil))
	})
}

func TestContractClose(t *testing.T) {
	var want []string
	for _, b := range backends {
		db := b.open(t)
		r := &transcript{}
		r.err("set", db.Set([]byte("a"), []byte("1")))
		r.err("close", db.Close())
		_, err := db.Get([]byte("a"))
		r.err("get after close", err)
		_, err = db.Has([]byte("a"))
		r.err("has after close", err)
		r.err("set after close", db.Set([]byte("a"), []byte("2")))
		r.err("delete after close", db.Delete([]byte("a")))
		r.err("close again", db.Close())
		if want == nil {
			want = r.lines
		} else if !slices.Equal(want, r.lines) {
			t.Errorf("%s differs:\n%s", b.name, diff(want, r.lines))
		}
	}
}

// TestClosedNoPanic checks the operations that would make Pebble panic on a
// closed database return errors instead.
func TestClosedNoPanic(t *testing.T) {
	db := backends[0].open(t)
	b := db.NewBatch()
	if err := b.Set([]byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"setsync":     db.SetSync([]byte("a"), []byte("1")),
		"deletesync":  db.DeleteSync([]byte("a")),
		"compact":     db.Compact(nil, nil),
		"print":       db.Print(),
		"batch write": b.Write(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after close: %v, want ErrClosed", name, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Errorf("batch close after db close: %v", err)
	}
	if _, err := db.Iterator(nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("iterator after close: %v", err)
	}
	if _, err := db.ReverseIterator(nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("reverse iterator after close: %v", err)
	}
	nb := db.NewBatch()
	if err := nb.Set([]byte("a"), []byte("1")); err == nil {
		t.Error("batch from closed db accepted a write")
	}
	if err := nb.Close(); err != nil {
		t.Error(err)
	}
	if s := db.Stats(); s != nil {
		t.Errorf("stats after close: %v", s)
	}
}

// TestReturnedSlices checks Get, Key and Value return memory the caller may
// keep and modify.
func TestReturnedSlices(t *testing.T) {
	db := backends[0].open(t)
	defer db.Close()
	fill(t, db)

	v, err := db.Get([]byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	v[0] = 'X'
	if v2, _ := db.Get([]byte("a")); string(v2) != "v1" {
		t.Errorf("modifying Get's result changed the stored value: %q", v2)
	}

	// Given slices may be reused after the call returns.
	k, val := []byte("key"), []byte("val")
	if err := db.Set(k, val); err != nil {
		t.Fatal(err)
	}
	k[0], val[0] = 'X', 'X'
	if v, _ := db.Get([]byte("key")); string(v) != "val" {
		t.Errorf("stored value changed with the caller's buffer: %q", v)
	}

	// Iterator bounds may be reused too.
	start, end := []byte("a"), []byte("b")
	it, err := db.Iterator(start, end)
	if err != nil {
		t.Fatal(err)
	}
	start[0], end[0] = 'c', 'z'
	var keys, vals [][]byte
	for ; it.Valid(); it.Next() {
		keys, vals = append(keys, it.Key()), append(vals, it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	// Kept keys and values survive later moves and the iterator's close.
	want := []string{"a=v1", "aa=v2", "ab=v3"}
	var got []string
	for i := range keys {
		got = append(got, string(keys[i])+"="+string(vals[i]))
	}
	if !slices.Equal(got, want) {
		t.Errorf("kept key/values %q, want %q", got, want)
	}
	if s, e := it.Domain(); string(s) != "a" || string(e) != "b" {
		t.Errorf("domain [%q,%q), want [a,b)", s, e)
	}
}

func TestCompactStatsPrint(t *testing.T) {
	db := backends[0].open(t)
	defer db.Close()
	if err := db.Compact(nil, nil); err != nil {
		t.Fatalf("compact empty db: %v", err)
	}
	for i := range 5000 {
		if err := db.Set(fmt.Appendf(nil, "key%06d", i), bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2500 {
		if err := db.Delete(fmt.Appendf(nil, "key%06d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range [][2][]byte{
		{nil, nil},
		{[]byte("key001000"), nil},
		{nil, []byte("key001000")},
		{[]byte("key001000"), []byte("key002000")},
		{[]byte("z"), []byte("a")}, // empty range
		{[]byte("key004999"), nil}, // the last key alone
	} {
		if err := db.Compact(r[0], r[1]); err != nil {
			t.Errorf("compact [%q,%q): %v", r[0], r[1], err)
		}
	}
	if v, err := db.Get([]byte("key004999")); err != nil || len(v) != 100 {
		t.Errorf("after compaction: %d bytes, %v", len(v), err)
	}
	if v, err := db.Get([]byte("key000001")); err != nil || v != nil {
		t.Errorf("deleted key after compaction: %q, %v", v, err)
	}

	stats := db.Stats()
	for _, k := range []string{"pebble.metrics", "pebble.disk-usage", "pebble.sstables"} {
		if stats[k] == "" {
			t.Errorf("stats lack %s: %v", k, stats)
		}
	}

	// Print writes to stdout; send it to a pipe we drain.
	small := backends[0].open(t)
	defer small.Close()
	if err := small.Set([]byte{0xab}, []byte{0xcd}); err != nil {
		t.Fatal(err)
	}
	out := captureStdout(t, func() {
		if err := small.Print(); err != nil {
			t.Error(err)
		}
	})
	if !strings.Contains(out, "[AB]:\t[CD]") {
		t.Errorf("print output lacks the pair:\n%s", out)
	}
}

func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = wr
	done := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = b.ReadFrom(rd)
		done <- b.String()
	}()
	f()
	os.Stdout = old
	wr.Close()
	return <-done
}

func TestProvider(t *testing.T) {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(t.TempDir())
	ctx := &cmtcfg.DBContext{ID: "blockstore", Config: cfg}

	// A goleveldb store of the same ID is left alone.
	old, err := dbm.NewDB(ctx.ID, dbm.GoLevelDBBackend, cfg.DBDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := old.SetSync([]byte("k"), []byte("leveldb")); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Provider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get([]byte("k")); err != nil || v != nil {
		t.Errorf("new pebble store sees %q, %v", v, err)
	}
	if err := db.SetSync([]byte("k"), []byte("pebble")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(cfg.DBDir(), "blockstore.pebble")); err != nil || !fi.IsDir() {
		t.Fatalf("pebble directory: %v", err)
	}

	// Data persists across reopen.
	db, err = Provider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Get([]byte("k")); err != nil || string(v) != "pebble" {
		t.Errorf("after reopen: %q, %v", v, err)
	}
}
