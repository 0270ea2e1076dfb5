// Package cmtdb stores CometBFT's own databases (block store, state store,
// transaction and block indexes, evidence) in Pebble instead of goleveldb.
//
// DB implements cometbft-db's dbm.DB with the semantics its documentation
// gives and its goleveldb backend has: empty keys and nil values are errors,
// Get of a missing key returns nil and no error, iterators cover [start, end)
// with a nil bound meaning unbounded, and batches refuse use after Write,
// WriteSync or Close. Set, Delete and Write do not sync; SetSync, DeleteSync
// and WriteSync do. cometbft-db's own Pebble backend needs the pebbledb build
// tag; this package does not.
//
// Unlike goleveldb, Pebble panics when a closed database is used. DB returns
// ErrClosed instead, so a late read or write during node shutdown is an error
// to log, not a crash.
package cmtdb

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
)

// Errors returned by DB, its batches and iterators.
var (
	ErrClosed      = errors.New("cmtdb: database closed")
	ErrKeyEmpty    = errors.New("cmtdb: key cannot be empty")
	ErrValueNil    = errors.New("cmtdb: value cannot be nil")
	ErrBatchClosed = errors.New("cmtdb: batch has been written or closed")
)

// CacheBytes is the block cache size of each database.
const CacheBytes = 64 << 20

// DirSuffix ends the directory name of each database, so that a goleveldb
// directory (<id>.db) is never opened as Pebble by mistake.
const DirSuffix = ".pebble"

// Provider is a cmtcfg.DBProvider opening <DBDir>/<ID>.pebble.
func Provider(ctx *cmtcfg.DBContext) (dbm.DB, error) {
	db, err := Open(filepath.Join(ctx.Config.DBDir(), ctx.ID+DirSuffix))
	if err != nil {
		return nil, fmt.Errorf("cometbft %s db: %w", ctx.ID, err)
	}
	return db, nil
}

var _ cmtcfg.DBProvider = Provider

// DB is a Pebble database behind cometbft-db's DB interface. It is safe for
// concurrent use.
type DB struct {
	mu     sync.RWMutex // held for reading by every operation, for writing by Close
	closed bool
	db     *pebble.DB
}

var _ dbm.DB = (*DB)(nil)

// Open opens (or creates) the Pebble database in directory path.
func Open(path string) (*DB, error) {
	cache := pebble.NewCache(CacheBytes)
	defer cache.Unref() // the database holds its own reference
	opts := &pebble.Options{
		Cache:  cache,
		Logger: quiet,
	}
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].FilterType = pebble.TableFilter
	}
	opts.EnsureDefaults()
	db, err := pebble.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("cmtdb: open %s: %w", path, err)
	}
	return &DB{db: db}, nil
}

// rlock takes the read lock and reports ErrClosed if the database is closed,
// in which case the lock is already released.
func (d *DB) rlock() error {
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Get returns a copy of the value stored under key, or nil if there is none.
func (d *DB) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, ErrKeyEmpty
	}
	if err := d.rlock(); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	v, closer, err := d.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cmtdb: get: %w", err)
	}
	out := append(make([]byte, 0, len(v)), v...) // non-nil even when empty
	if err := closer.Close(); err != nil {
		return nil, fmt.Errorf("cmtdb: get: %w", err)
	}
	return out, nil
}

// Has reports whether key is stored.
func (d *DB) Has(key []byte) (bool, error) {
	v, err := d.Get(key)
	return v != nil, err
}

// Set stores value under key without syncing.
func (d *DB) Set(key, value []byte) error { return d.set(key, value, pebble.NoSync) }

// SetSync stores value under key and syncs.
func (d *DB) SetSync(key, value []byte) error { return d.set(key, value, pebble.Sync) }

func (d *DB) set(key, value []byte, o *pebble.WriteOptions) error {
	if len(key) == 0 {
		return ErrKeyEmpty
	}
	if value == nil {
		return ErrValueNil
	}
	if err := d.rlock(); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if err := d.db.Set(key, value, o); err != nil {
		return fmt.Errorf("cmtdb: set: %w", err)
	}
	return nil
}

// Delete removes key, if stored, without syncing.
func (d *DB) Delete(key []byte) error { return d.delete(key, pebble.NoSync) }

// DeleteSync removes key, if stored, and syncs.
func (d *DB) DeleteSync(key []byte) error { return d.delete(key, pebble.Sync) }

func (d *DB) delete(key []byte, o *pebble.WriteOptions) error {
	if len(key) == 0 {
		return ErrKeyEmpty
	}
	if err := d.rlock(); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if err := d.db.Delete(key, o); err != nil {
		return fmt.Errorf("cmtdb: delete: %w", err)
	}
	return nil
}

// Iterator returns an ascending iterator over [start, end).
func (d *DB) Iterator(start, end []byte) (dbm.Iterator, error) {
	return d.newIterator(start, end, false)
}

// ReverseIterator returns a descending iterator over [start, end).
func (d *DB) ReverseIterator(start, end []byte) (dbm.Iterator, error) {
	return d.newIterator(start, end, true)
}

// Close closes the database. Iterators must be closed first; Pebble reports
// any still open as an error. Closing twice returns ErrClosed.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.closed = true
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("cmtdb: close: %w", err)
	}
	return nil
}

// NewBatch returns a batch of writes applied atomically by Write or WriteSync.
func (d *DB) NewBatch() dbm.Batch {
	if err := d.rlock(); err != nil {
		return &batch{db: d} // every method but Close reports ErrBatchClosed
	}
	defer d.mu.RUnlock()
	return &batch{db: d, b: d.db.NewBatch()}
}

// Print writes the database's metrics and every key/value pair to stdout,
// for debugging.
func (d *DB) Print() error {
	if err := d.rlock(); err != nil {
		return err
	}
	fmt.Printf("%s\n", d.db.Metrics())
	d.mu.RUnlock()

	it, err := d.Iterator(nil, nil)
	if err != nil {
		return err
	}
	for ; it.Valid(); it.Next() {
		fmt.Printf("[%X]:\t[%X]\n", it.Key(), it.Value())
	}
	return errors.Join(it.Error(), it.Close())
}

// Stats returns Pebble's metrics: the full report under "pebble.metrics"
// and a few headline numbers. It returns nil once the database is closed.
func (d *DB) Stats() map[string]string {
	if d.rlock() != nil {
		return nil
	}
	defer d.mu.RUnlock()
	m := d.db.Metrics()
	return map[string]string{
		"pebble.metrics":        m.String(),
		"pebble.disk-usage":     strconv.FormatUint(m.DiskSpaceUsage(), 10),
		"pebble.cache-size":     strconv.FormatInt(m.BlockCache.Size, 10),
		"pebble.cache-hits":     strconv.FormatInt(m.BlockCache.Hits, 10),
		"pebble.cache-misses":   strconv.FormatInt(m.BlockCache.Misses, 10),
		"pebble.memtable-size":  strconv.FormatUint(m.MemTable.Size, 10),
		"pebble.compactions":    strconv.FormatInt(m.Compact.Count, 10),
		"pebble.read-amp":       strconv.Itoa(m.ReadAmp()),
		"pebble.live-iterators": strconv.FormatInt(m.TableIters, 10),
		"pebble.sstables":       strconv.FormatInt(m.Total().NumFiles, 10),
	}
}

// Compact compacts the keys in [start, end); nil bounds mean the first and
// last stored keys. Pebble needs start < end, so an empty database or range
// is a no-op.
func (d *DB) Compact(start, end []byte) error {
	if err := d.rlock(); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if start == nil || end == nil {
		first, last, err := d.keyRange()
		if err != nil {
			return err
		}
		if first == nil {
			return nil // empty database
		}
		if start == nil {
			start = first
		}
		if end == nil {
			end = append(last, 0) // just past the last key
		}
	}
	if bytes.Compare(start, end) >= 0 {
		return nil
	}
	if err := d.db.Compact(start, end, true); err != nil {
		return fmt.Errorf("cmtdb: compact: %w", err)
	}
	return nil
}

// keyRange returns copies of the first and last stored keys, or nils for an
// empty database. The caller holds the read lock.
func (d *DB) keyRange() (first, last []byte, err error) {
	it, err := d.db.NewIter(nil)
	if err != nil {
		return nil, nil, fmt.Errorf("cmtdb: compact: %w", err)
	}
	if it.First() {
		first = bytes.Clone(it.Key())
	}
	if it.Last() {
		last = bytes.Clone(it.Key())
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, nil, fmt.Errorf("cmtdb: compact: %w", err)
	}
	return first, last, nil
}

// quiet discards Pebble's informational logging for every DB. A fatal
// condition still stops the node, by panicking.
var quiet quietLogger

type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Errorf("cmtdb: pebble: "+format, args...))
}

// NodeProvider is the DBProvider medchain's nodes use: a store that an
// earlier version created with goleveldb (<ID>.db) stays goleveldb, every
// new store is Pebble.
func NodeProvider(ctx *cmtcfg.DBContext) (dbm.DB, error) {
	if _, err := os.Stat(filepath.Join(ctx.Config.DBDir(), ctx.ID+".db")); err == nil {
		return cmtcfg.DefaultDBProvider(ctx)
	}
	return Provider(ctx)
}

var _ cmtcfg.DBProvider = NodeProvider
