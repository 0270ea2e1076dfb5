package merkle_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/medchain/medchain/store/merkle"
)

// rangeOf is a snapshot's range [start, end) as "k=v" pairs.
func rangeOf(s *merkle.Snapshot, start, end string) string {
	var out []string
	var e []byte
	if end != "" {
		e = []byte(end)
	}
	s.Iterate([]byte(start), e, func(k, v []byte) bool {
		out = append(out, string(k)+"="+string(v))
		return true
	})
	return strings.Join(out, " ")
}

// TestSnapshotIteratorsReused: a snapshot's range reads reuse its idle
// iterators (re-bounded) and still see exactly its version's keys in range,
// whatever was read before, inside another read's callback, from other
// goroutines, or committed since; a closed tree leaks no iterator.
func TestSnapshotIteratorsReused(t *testing.T) {
	dir := t.TempDir()
	tr, err := merkle.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		tr.Set(fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "v1-%d", i))
	}
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	s1, err := tr.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	// Version 2 changes, removes and adds keys the reads below cover.
	tr.Set([]byte("k10"), []byte("v2"))
	tr.Delete([]byte("k11"))
	tr.Set([]byte("k105"), []byte("new"))
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	s2, err := tr.Snapshot(2)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the same reads again: version 2 (the latest) on reused iterators, version 1 on iterators of its own
		if got, want := rangeOf(s1, "k10", "k12"), "k10=v1-10 k11=v1-11"; got != want {
			t.Fatalf("version 1 [k10, k12): %q, want %q", got, want)
		}
		if got, want := rangeOf(s2, "k10", "k12"), "k10=v2 k105=new"; got != want {
			t.Fatalf("version 2 [k10, k12): %q, want %q", got, want)
		}
		if got, want := rangeOf(s1, "k48", ""), "k48=v1-48 k49=v1-49"; got != want {
			t.Fatalf("version 1 from k48: %q, want %q", got, want)
		}
		if got := rangeOf(s1, "k60", "k70"); got != "" {
			t.Fatalf("version 1 [k60, k70): %q, want nothing", got)
		}
		// Stopping early leaves the iterator reusable.
		n := 0
		s2.Iterate([]byte("k"), nil, func(_, _ []byte) bool { n++; return n < 3 })
		if n != 3 {
			t.Fatalf("early stop after %d keys, want 3", n)
		}
	}
	// A range read inside another's callback gets an iterator of its own.
	var nested []string
	s1.Iterate([]byte("k00"), []byte("k03"), func(k, _ []byte) bool {
		nested = append(nested, string(k)+":"+rangeOf(s1, "k20", "k22"))
		return true
	})
	if got, want := strings.Join(nested, " "), "k00:k20=v1-20 k21=v1-21 k01:k20=v1-20 k21=v1-21 k02:k20=v1-20 k21=v1-21"; got != want {
		t.Fatalf("nested reads: %q, want %q", got, want)
	}
	// Many goroutines at once (run with -race).
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				lo := (g*7 + i) % 48
				start, end := fmt.Sprintf("k%02d", lo), fmt.Sprintf("k%02d", lo+2)
				want := fmt.Sprintf("k%02d=v1-%d k%02d=v1-%d", lo, lo, lo+1, lo+1)
				if got := rangeOf(s1, start, end); got != want {
					errs <- fmt.Sprintf("[%s, %s): %q, want %q", start, end, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// Pebble refuses to close with an iterator open: the idle ones are
	// closed with the tree.
	if err := tr.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}
