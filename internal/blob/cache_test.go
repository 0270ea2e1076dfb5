package blob

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
)

func TestCachedConformance(t *testing.T) {
	runConformance(t, harness{
		open: func(t *testing.T, opts ...Option) Store { return NewCached(newTestLocal(t, opts...), 1<<20) },
		// Corruption happens on disk; the cache copy is dropped as an
		// eviction would, so the next read sees what the disk holds.
		corrupt: func(t *testing.T, s Store, h Hash, data []byte) {
			c := s.(*Cached)
			if err := os.WriteFile(c.Store.(*Local).path(h), data, fileMode); err != nil {
				t.Fatal(err)
			}
			c.mu.Lock()
			if el, ok := c.byKey[h]; ok {
				c.remove(el)
			}
			c.mu.Unlock()
		},
	})
}

// countingStore counts the reads that reach it.
type countingStore struct {
	Store
	gets int
	// during runs inside Get, after the backing read.
	during func()
}

func (s *countingStore) Get(ctx context.Context, h Hash) ([]byte, error) {
	s.gets++
	data, err := s.Store.Get(ctx, h)
	if s.during != nil {
		s.during()
	}
	return data, err
}

func TestCachedServesRepeatReadsFromMemory(t *testing.T) {
	ctx := context.Background()
	back := &countingStore{Store: NewMemory(nil)}
	c := NewCached(back, 1<<10).(*Cached)
	data := bytes.Repeat([]byte("c"), 100)
	h, err := back.Put(ctx, data) // behind the cache's back: not cached
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		got, err := c.Get(ctx, h)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d: %q, %v", i, got, err)
		}
		got[0] = 'X' // a caller scribbling on its copy changes nothing cached
	}
	if back.gets != 1 {
		t.Fatalf("backing store read %d times, want 1", back.gets)
	}
	if st := c.Stats(); st.Hits != 2 || st.Misses != 1 || st.Bytes != 100 || st.Blobs != 1 {
		t.Fatalf("stats %+v", st)
	}
	if ok, err := c.Has(ctx, h); !ok || err != nil {
		t.Fatalf("Has = %v, %v", ok, err)
	}
}

func TestCachedEvictsLeastRecentlyUsedWithinBudget(t *testing.T) {
	ctx := context.Background()
	back := &countingStore{Store: NewMemory(nil)}
	c := NewCached(back, 800).(*Cached) // blobs up to 100 bytes are cached
	var hs []Hash
	for i := range 9 {
		h, err := c.Put(ctx, bytes.Repeat([]byte{byte(i)}, 100))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
		if i == 0 {
			continue
		}
		if _, err := c.Get(ctx, hs[0]); err != nil { // keep the first one warm
			t.Fatal(err)
		}
	}
	st := c.Stats()
	if st.Bytes > 800 || st.Blobs != 8 {
		t.Fatalf("stats %+v: over budget or wrong count", st)
	}
	back.gets = 0
	if _, err := c.Get(ctx, hs[0]); err != nil || back.gets != 0 {
		t.Fatalf("the recently used blob was evicted (%d backing reads, %v)", back.gets, err)
	}
	if _, err := c.Get(ctx, hs[1]); err != nil || back.gets != 1 {
		t.Fatalf("the least recently used blob was kept (%d backing reads, %v)", back.gets, err)
	}

	big, err := c.Put(ctx, bytes.Repeat([]byte("b"), 101))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.byKey[big]; ok {
		t.Fatal("a blob over an eighth of the budget was cached")
	}
}

func TestCachedDeleteIsNotUndoneByAConcurrentRead(t *testing.T) {
	ctx := context.Background()
	back := &countingStore{Store: NewMemory(nil)}
	c := NewCached(back, 1<<10).(*Cached)
	h, err := back.Put(ctx, []byte("old ciphertext"))
	if err != nil {
		t.Fatal(err)
	}
	// The read has the bytes from the backing store when the delete runs.
	back.during = func() {
		back.during = nil
		if err := c.Delete(ctx, h); err != nil {
			t.Error(err)
		}
	}
	if _, err := c.Get(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, h); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound (the racing read cached it again)", err)
	}
	if ok, _ := c.Has(ctx, h); ok {
		t.Fatal("Has after Delete = true")
	}
}

func TestNewCachedWithoutBudgetIsTheStore(t *testing.T) {
	m := NewMemory(nil)
	if s := NewCached(m, 0); s != Store(m) {
		t.Fatalf("NewCached(s, 0) = %T, want the store itself", s)
	}
}
