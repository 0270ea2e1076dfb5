package exec

import (
	"testing"

	"github.com/medchain/medchain/store"
)

// TestValidation checks the read-set validation on its own: a read is
// stale exactly when a transaction committed after it changed what it
// returned (a key's value, or the pairs of a range up to where the reader
// stopped).
func TestValidation(t *testing.T) {
	type step struct {
		name  string
		read  func(r *recorder)
		write []store.Write // committed by the next transaction, after the read
		valid bool
	}
	collect := func(start, end string, stopAfter int) func(r *recorder) {
		return func(r *recorder) {
			seen := 0
			var e []byte
			if end != "" {
				e = []byte(end)
			}
			r.Iterate([]byte(start), e, func(k, v []byte) bool { seen++; return stopAfter == 0 || seen < stopAfter })
		}
	}
	get := func(k string) func(r *recorder) { return func(r *recorder) { r.Get([]byte(k)) } }
	set := func(k, v string) store.Write { return store.Write{Key: k, Value: []byte(v)} }
	del := func(k string) store.Write { return store.Write{Key: k} }
	for _, tc := range []step{
		{"get, unrelated write", get("a1"), []store.Write{set("b1", "x")}, true},
		{"get, key rewritten", get("a1"), []store.Write{set("a1", "y")}, false},
		{"get, key rewritten with the same value", get("a1"), []store.Write{set("a1", "1")}, true},
		{"get absent, key created", get("a2"), []store.Write{set("a2", "2")}, false},
		{"get, key deleted", get("a1"), []store.Write{del("a1")}, false},
		{"get absent, absent key deleted", get("a2"), []store.Write{del("a2")}, true},
		{"range, key inserted inside", collect("a", "b", 0), []store.Write{set("a2", "2")}, false},
		{"range, key deleted inside", collect("a", "b", 0), []store.Write{del("a3")}, false},
		{"range, value changed inside", collect("a", "b", 0), []store.Write{set("a3", "z")}, false},
		{"range, key inserted at its end (excluded)", collect("a", "b", 0), []store.Write{set("b", "z")}, true},
		{"range, key inserted before its start", collect("a1x", "b", 0), []store.Write{set("a1", "z")}, true},
		{"unbounded range, key inserted far after", collect("a", "", 0), []store.Write{set("z9", "z")}, false},
		{"range stopped after a1, key inserted after a1", collect("a", "b", 1), []store.Write{set("a2", "2")}, true},
		{"range stopped after a1, key inserted before a1", collect("a", "b", 1), []store.Write{set("a0", "0")}, false},
		{"range stopped after a1, a1 changed", collect("a", "b", 1), []store.Write{set("a1", "9")}, false},
		{"range, key inserted and deleted again", collect("a", "b", 0), []store.Write{set("a2", "2"), del("a2")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := store.NewMemory()
			base.Set([]byte("a1"), []byte("1"))
			base.Set([]byte("a3"), []byte("3"))
			base.Set([]byte("c1"), []byte("c"))
			s := &shared{block: store.NewCache(base), marks: map[string]int{}}
			s.apply(0, []store.Write{set("c2", "c")}) // an earlier transaction
			var log readLog
			tc.read(&recorder{s: s, log: &log})
			// Transactions 1 and 2 commit after the read: the first
			// writes, the second (if there are two writes) undoes.
			for i, w := range tc.write {
				s.apply(1+i, []store.Write{w})
			}
			if got := s.valid(&log); got != tc.valid {
				t.Fatalf("valid = %v, want %v", got, tc.valid)
			}
		})
	}
}
