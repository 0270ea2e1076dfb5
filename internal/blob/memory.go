package blob

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is a Store in memory, for tests of the packages that use a Store.
type Memory struct {
	maxSize int64
	now     func() time.Time

	mu    sync.Mutex
	blobs map[Hash]memBlob
}

type memBlob struct {
	data []byte
	mod  time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty store. now stamps blobs' modification times;
// nil means time.Now.
func NewMemory(now func() time.Time, opts ...Option) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{maxSize: buildOptions(opts).maxSize, now: now, blobs: make(map[Hash]memBlob)}
}

func (m *Memory) Put(ctx context.Context, data []byte) (Hash, error) {
	h := Sum(data)
	return h, m.put(ctx, h, data)
}

func (m *Memory) PutExpect(ctx context.Context, want Hash, data []byte) error {
	if err := checkExpected(want, data); err != nil {
		return err
	}
	return m.put(ctx, want, data)
}

func (m *Memory) put(ctx context.Context, h Hash, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkSize(data, m.maxSize); err != nil {
		return err
	}
	b := memBlob{data: slices.Clone(data), mod: m.now()}
	m.mu.Lock()
	m.blobs[h] = b
	m.mu.Unlock()
	return nil
}

func (m *Memory) Get(ctx context.Context, h Hash) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	b, ok := m.blobs[h]
	m.mu.Unlock()
	if !ok {
		return nil, notFound(h)
	}
	if err := checkSize(b.data, m.maxSize); err != nil {
		return nil, err
	}
	if err := verify(h, b.data); err != nil {
		return nil, err
	}
	return slices.Clone(b.data), nil
}

func (m *Memory) Has(ctx context.Context, h Hash) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	_, ok := m.blobs[h]
	m.mu.Unlock()
	return ok, nil
}

func (m *Memory) Delete(ctx context.Context, h Hash) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.blobs, h)
	m.mu.Unlock()
	return nil
}

// List visits blobs in hash order. fn runs without the lock held, so it may
// call the store.
func (m *Memory) List(ctx context.Context, fn func(h Hash, size int64, mod time.Time) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	type entry struct {
		h    Hash
		size int64
		mod  time.Time
	}
	m.mu.Lock()
	entries := make([]entry, 0, len(m.blobs))
	for h, b := range m.blobs {
		entries = append(entries, entry{h, int64(len(b.data)), b.mod})
	}
	m.mu.Unlock()
	slices.SortFunc(entries, func(a, b entry) int { return slices.Compare(a.h[:], b.h[:]) })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !fn(e.h, e.size, e.mod) {
			return nil
		}
	}
	return nil
}
