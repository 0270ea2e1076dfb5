package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

// harness is one Store implementation under test.
type harness struct {
	// open returns an empty store with the given options.
	open func(t *testing.T, opts ...Option) Store
	// corrupt replaces the stored bytes of h with data, behind the store's back.
	corrupt func(t *testing.T, s Store, h Hash, data []byte)
}

func blobOf(i int) []byte {
	return []byte(fmt.Sprintf("ciphertext %d %s", i, bytes.Repeat([]byte{byte(i)}, i)))
}

// listAll collects a store's listing as hash → size.
func listAll(t *testing.T, s Store) map[Hash]int64 {
	t.Helper()
	got := map[Hash]int64{}
	err := s.List(context.Background(), func(h Hash, size int64, mod time.Time) bool {
		if _, dup := got[h]; dup {
			t.Errorf("List visited %s twice", HashString(h))
		}
		if mod.IsZero() {
			t.Errorf("List gave %s no modification time", HashString(h))
		}
		got[h] = size
		return true
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return got
}

func runConformance(t *testing.T, hs harness) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"put then get returns the bytes", func(t *testing.T, s Store) {
			data := blobOf(3)
			h, err := s.Put(ctx, data)
			if err != nil {
				t.Fatal(err)
			}
			if h != Sum(data) {
				t.Fatalf("Put returned %x, want SHA-256 %x", h, Sum(data))
			}
			got, err := s.Get(ctx, h)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get = %q, %v; want %q", got, err, data)
			}
			if ok, err := s.Has(ctx, h); !ok || err != nil {
				t.Fatalf("Has = %v, %v; want true", ok, err)
			}
		}},
		{"empty blob", func(t *testing.T, s Store) {
			h, err := s.Put(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, h)
			if err != nil || len(got) != 0 {
				t.Fatalf("Get = %q, %v; want empty", got, err)
			}
		}},
		{"missing blob is not found", func(t *testing.T, s Store) {
			h := Sum([]byte("never stored"))
			if _, err := s.Get(ctx, h); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get: %v, want ErrNotFound", err)
			}
			if ok, err := s.Has(ctx, h); ok || err != nil {
				t.Fatalf("Has = %v, %v; want false, nil", ok, err)
			}
		}},
		{"put expect with the right hash", func(t *testing.T, s Store) {
			data := blobOf(4)
			if err := s.PutExpect(ctx, Sum(data), data); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, Sum(data)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get = %q, %v", got, err)
			}
		}},
		{"put expect with the wrong hash stores nothing", func(t *testing.T, s Store) {
			data, other := blobOf(5), blobOf(6)
			if err := s.PutExpect(ctx, Sum(other), data); !errors.Is(err, ErrHashMismatch) {
				t.Fatalf("PutExpect: %v, want ErrHashMismatch", err)
			}
			for _, h := range []Hash{Sum(data), Sum(other)} {
				if ok, _ := s.Has(ctx, h); ok {
					t.Errorf("Has(%x) after a rejected put", h)
				}
			}
			if n := len(listAll(t, s)); n != 0 {
				t.Errorf("List has %d blobs after a rejected put", n)
			}
		}},
		{"put twice keeps one copy", func(t *testing.T, s Store) {
			data := blobOf(7)
			for range 2 {
				if _, err := s.Put(ctx, data); err != nil {
					t.Fatal(err)
				}
			}
			if got := listAll(t, s); len(got) != 1 || got[Sum(data)] != int64(len(data)) {
				t.Fatalf("List = %v, want one blob of %d bytes", got, len(data))
			}
		}},
		{"delete removes and is idempotent", func(t *testing.T, s Store) {
			keep, drop := blobOf(8), blobOf(9)
			for _, d := range [][]byte{keep, drop} {
				if _, err := s.Put(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				if err := s.Delete(ctx, Sum(drop)); err != nil {
					t.Fatalf("Delete: %v", err)
				}
			}
			if _, err := s.Get(ctx, Sum(drop)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
			}
			if ok, _ := s.Has(ctx, Sum(drop)); ok {
				t.Fatal("Has after Delete")
			}
			if got, err := s.Get(ctx, Sum(keep)); err != nil || !bytes.Equal(got, keep) {
				t.Fatalf("Get of the other blob = %q, %v", got, err)
			}
			if err := s.Delete(ctx, Sum([]byte("never stored"))); err != nil {
				t.Fatalf("Delete of a missing blob: %v", err)
			}
		}},
		{"list visits every blob with its size", func(t *testing.T, s Store) {
			want := map[Hash]int64{}
			for i := range 40 {
				d := blobOf(i)
				h, err := s.Put(ctx, d)
				if err != nil {
					t.Fatal(err)
				}
				want[h] = int64(len(d))
			}
			if got := listAll(t, s); !maps.Equal(got, want) {
				t.Fatalf("List = %d blobs, want %d: %v", len(got), len(want), got)
			}
		}},
		{"list stops when fn returns false", func(t *testing.T, s Store) {
			for i := range 5 {
				if _, err := s.Put(ctx, blobOf(i)); err != nil {
					t.Fatal(err)
				}
			}
			calls := 0
			err := s.List(ctx, func(Hash, int64, time.Time) bool { calls++; return calls < 2 })
			if err != nil || calls != 2 {
				t.Fatalf("List: %d calls, %v; want 2, nil", calls, err)
			}
		}},
		{"corrupted blob is not served, and a put repairs it", func(t *testing.T, s Store) {
			data := blobOf(10)
			h, err := s.Put(ctx, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range [][]byte{
				append(slices.Clone(data[:len(data)-1]), data[len(data)-1]^1), // bit flip, same size
				data[:len(data)/2], // truncated
				nil,                // emptied
			} {
				hs.corrupt(t, s, h, bad)
				if got, err := s.Get(ctx, h); !errors.Is(err, ErrCorrupt) || got != nil {
					t.Fatalf("Get of corrupted blob = %q, %v; want nil, ErrCorrupt", got, err)
				}
			}
			if _, err := s.Put(ctx, data); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, h); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get after repair = %q, %v", got, err)
			}
		}},
		{"concurrent puts of the same blob", func(t *testing.T, s Store) {
			data := bytes.Repeat([]byte("same ciphertext "), 4096)
			var wg sync.WaitGroup
			errs := make([]error, 16)
			for i := range errs {
				wg.Go(func() { _, errs[i] = s.Put(ctx, data) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, Sum(data)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get: %d bytes, %v", len(got), err)
			}
			if got := listAll(t, s); len(got) != 1 {
				t.Fatalf("List = %v, want one blob", got)
			}
		}},
		{"concurrent puts, gets and deletes of different blobs", func(t *testing.T, s Store) {
			var wg sync.WaitGroup
			errs := make([]error, 24)
			for i := range errs {
				wg.Go(func() {
					d := blobOf(i)
					h, err := s.Put(ctx, d)
					if err != nil {
						errs[i] = err
						return
					}
					if got, err := s.Get(ctx, h); err != nil || !bytes.Equal(got, d) {
						errs[i] = fmt.Errorf("blob %d: Get = %q, %v", i, got, err)
						return
					}
					if i%2 == 1 {
						errs[i] = s.Delete(ctx, h)
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if got := listAll(t, s); len(got) != len(errs)/2 {
				t.Fatalf("List has %d blobs, want %d", len(got), len(errs)/2)
			}
		}},
		{"cancelled context", func(t *testing.T, s Store) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := s.Put(cctx, blobOf(1)); !errors.Is(err, context.Canceled) {
				t.Errorf("Put: %v, want context.Canceled", err)
			}
			if _, err := s.Get(cctx, Sum(blobOf(1))); !errors.Is(err, context.Canceled) {
				t.Errorf("Get: %v, want context.Canceled", err)
			}
			if err := s.List(cctx, func(Hash, int64, time.Time) bool { return true }); !errors.Is(err, context.Canceled) {
				t.Errorf("List: %v, want context.Canceled", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, hs.open(t)) })
	}

	t.Run("size limit", func(t *testing.T) {
		s := hs.open(t, WithMaxSize(16))
		if _, err := s.Put(ctx, make([]byte, 16)); err != nil {
			t.Fatalf("Put at the limit: %v", err)
		}
		big := make([]byte, 17)
		if _, err := s.Put(ctx, big); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Put over the limit: %v, want ErrTooLarge", err)
		}
		if err := s.PutExpect(ctx, Sum(big), big); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("PutExpect over the limit: %v, want ErrTooLarge", err)
		}
		if ok, _ := s.Has(ctx, Sum(big)); ok {
			t.Fatal("a blob over the limit was stored")
		}
	})

	t.Run("oversized stored blob is not read", func(t *testing.T) {
		s := hs.open(t, WithMaxSize(16))
		small := make([]byte, 8)
		h, err := s.Put(ctx, small)
		if err != nil {
			t.Fatal(err)
		}
		hs.corrupt(t, s, h, make([]byte, 1<<10))
		if _, err := s.Get(ctx, h); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Get: %v, want ErrTooLarge", err)
		}
	})
}

func TestMemoryConformance(t *testing.T) {
	runConformance(t, harness{
		open: func(t *testing.T, opts ...Option) Store { return NewMemory(nil, opts...) },
		corrupt: func(t *testing.T, s Store, h Hash, data []byte) {
			m := s.(*Memory)
			m.mu.Lock()
			defer m.mu.Unlock()
			b := m.blobs[h]
			b.data = slices.Clone(data)
			m.blobs[h] = b
		},
	})
}
