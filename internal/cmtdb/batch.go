package cmtdb

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	dbm "github.com/cometbft/cometbft-db"
)

// batch is a dbm.Batch over a Pebble batch. b is nil once the batch has been
// written or closed. A batch is not safe for concurrent use.
type batch struct {
	db *DB
	b  *pebble.Batch
}

var _ dbm.Batch = (*batch)(nil)

// Set queues a write of value under key. Pebble copies both.
func (b *batch) Set(key, value []byte) error {
	if len(key) == 0 {
		return ErrKeyEmpty
	}
	if value == nil {
		return ErrValueNil
	}
	if b.b == nil {
		return ErrBatchClosed
	}
	if err := b.b.Set(key, value, nil); err != nil {
		return fmt.Errorf("cmtdb: batch set: %w", err)
	}
	return nil
}

// Delete queues a delete of key. Pebble copies it.
func (b *batch) Delete(key []byte) error {
	if len(key) == 0 {
		return ErrKeyEmpty
	}
	if b.b == nil {
		return ErrBatchClosed
	}
	if err := b.b.Delete(key, nil); err != nil {
		return fmt.Errorf("cmtdb: batch delete: %w", err)
	}
	return nil
}

// Write applies the batch without syncing, then closes it.
func (b *batch) Write() error { return b.write(pebble.NoSync) }

// WriteSync applies the batch and syncs, then closes it.
func (b *batch) WriteSync() error { return b.write(pebble.Sync) }

func (b *batch) write(o *pebble.WriteOptions) error {
	if b.b == nil {
		return ErrBatchClosed
	}
	if err := b.db.rlock(); err != nil {
		return err
	}
	err := b.b.Commit(o)
	b.db.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("cmtdb: batch write: %w", err)
	}
	return b.Close()
}

// Close releases the batch. It is idempotent.
func (b *batch) Close() error {
	if b.b == nil {
		return nil
	}
	err := b.b.Close()
	b.b = nil
	if err != nil {
		return fmt.Errorf("cmtdb: batch close: %w", err)
	}
	return nil
}
