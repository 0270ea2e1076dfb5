package merkle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cockroachdb/pebble"
	"github.com/medchain/medchain/store"
)

// Info is what the state database says about itself, read without
// loading the tree.
type Info struct {
	Format  int    // StateFormat of the layout; 1 for a database without the format key
	Version int64  // last committed version (0: none)
	Root    []byte // app hash committed for Version
}

// ReadInfo reads the format and the last committed version of the state
// database in dir/DBName. The database must not be open elsewhere (a
// running node holds its lock).
func ReadInfo(dir string) (Info, error) {
	db, err := pebble.Open(filepath.Join(dir, DBName), &pebble.Options{Logger: quietLogger{}, ErrorIfNotExists: true})
	if err != nil {
		return Info{}, fmt.Errorf("open state db: %w", err)
	}
	defer db.Close()
	return readInfo(db)
}

func readInfo(db *pebble.DB) (Info, error) {
	meta, err := get(db, keyMeta)
	if err != nil {
		return Info{}, err
	}
	format, err := get(db, keyFormat)
	if err != nil {
		return Info{}, err
	}
	info := Info{Format: 1}
	if len(format) == 1 {
		info.Format = int(format[0])
	}
	if meta == nil && format == nil {
		info.Format = 0 // created, never written
	}
	if meta != nil {
		if len(meta) != 40 {
			return Info{}, fmt.Errorf("corrupt metadata (%d bytes)", len(meta))
		}
		info.Version = int64(binary.BigEndian.Uint64(meta))
		info.Root = bytes.Clone(meta[8:])
	}
	return info, nil
}

// ErrMigrate: the state database cannot be migrated to StateFormat.
var ErrMigrate = errors.New("state migration")

// MigrateFormat2 turns a state database of format 2 into format 3 in place.
//
// The two formats store the same keys the same way; format 3 adds the
// index digest (store.IndexDigestKey), a proven key that is absent until a
// version writes index keys. So the root of a format 2 database is also
// its root read as format 3: the committed version keeps its app hash, and
// the digest chain starts, from 32 zero bytes, with the next version that
// writes index keys. What changes is how the versions after it are hashed:
// every validator of a network must migrate at the same height (see
// docs/operations.md).
//
// The migration refuses a database holding the digest's key (format 2
// never reserved it; no module of that release wrote it), then sets the
// format and loads the tree, which checks that the stored keys hash to the
// committed root. If that check fails the format is set back.
func MigrateFormat2(dir string) (Info, error) {
	path := filepath.Join(dir, DBName)
	db, err := pebble.Open(path, &pebble.Options{Logger: quietLogger{}, ErrorIfNotExists: true})
	if err != nil {
		return Info{}, fmt.Errorf("open state db: %w", err)
	}
	info, err := readInfo(db)
	if err == nil && info.Format != 2 {
		err = fmt.Errorf("%w: the database is format %d; only format 2 is migrated (this medchain reads format %d)", ErrMigrate, info.Format, StateFormat)
	}
	if err == nil {
		var v []byte
		if v, err = get(db, append(bytes.Clone(prefixState), store.IndexDigestKey...)); err == nil && v != nil {
			err = fmt.Errorf("%w: the database holds key %X, which format 3 reserves for the index digest", ErrMigrate, store.IndexDigestKey)
		}
	}
	if err == nil {
		err = db.Set(keyFormat, []byte{StateFormat}, pebble.Sync)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return info, err
	}
	t, lerr := OpenTree(dir)
	if lerr == nil {
		ok := t.Version() == info.Version && bytes.Equal(t.Hash(), info.Root)
		lerr = t.Close()
		if !ok && lerr == nil {
			lerr = fmt.Errorf("%w: the migrated state does not load at version %d", ErrMigrate, info.Version)
		}
	}
	if lerr != nil {
		if db, err := pebble.Open(path, &pebble.Options{Logger: quietLogger{}}); err == nil {
			_ = db.Set(keyFormat, []byte{2}, pebble.Sync)
			_ = db.Close()
		}
		return info, fmt.Errorf("%w: %v (format set back to 2)", ErrMigrate, lerr)
	}
	info.Format = StateFormat
	return info, nil
}

// Checkpoint writes a consistent copy of the committed database to the new
// directory dst (hard links where the file system allows). It runs beside
// readers and the node's commits: the copy holds whole versions only.
func (t *Tree) Checkpoint(dst string) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return errors.New("state db closed")
	}
	return t.db.Checkpoint(dst, pebble.WithFlushedWAL())
}

// CheckpointDir is Checkpoint of the database in dir/DBName, which no
// process may hold open (a stopped node's).
func CheckpointDir(dir, dst string) error {
	db, err := pebble.Open(filepath.Join(dir, DBName), &pebble.Options{Logger: quietLogger{}, ErrorIfNotExists: true})
	if err != nil {
		return fmt.Errorf("open state db: %w", err)
	}
	return firstErr(db.Checkpoint(dst, pebble.WithFlushedWAL()), db.Close())
}
