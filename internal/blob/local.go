package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	fileMode   = 0o600
	dirMode    = 0o700
	tempPrefix = ".tmp-"
	// staleTemp is how old a temporary file must be before NewLocal deletes
	// it: far longer than any write takes, so a second process sharing the
	// directory never loses a file it is still writing.
	staleTemp = time.Hour
)

// Local is a Store in a directory of the node's disk.
type Local struct {
	dir     string
	maxSize int64
}

var _ Store = (*Local)(nil)

// NewLocal opens (making it if needed) the store in dir and removes
// temporary files a crash left behind.
func NewLocal(dir string, opts ...Option) (*Local, error) {
	o := buildOptions(opts)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	l := &Local{dir: abs, maxSize: o.maxSize}
	if err := l.removeStaleTemp(time.Now().Add(-staleTemp)); err != nil {
		return nil, err
	}
	return l, nil
}

// Dir is the store's directory.
func (l *Local) Dir() string { return l.dir }

func (l *Local) fanout(h Hash) string { return filepath.Join(l.dir, HashString(h)[:2]) }

func (l *Local) path(h Hash) string {
	s := HashString(h)
	return filepath.Join(l.dir, s[:2], s)
}

// Put stores data and returns its hash.
func (l *Local) Put(ctx context.Context, data []byte) (Hash, error) {
	h := Sum(data)
	return h, l.put(ctx, h, data)
}

// PutExpect stores data if it hashes to want.
func (l *Local) PutExpect(ctx context.Context, want Hash, data []byte) error {
	if err := checkExpected(want, data); err != nil {
		return err
	}
	return l.put(ctx, want, data)
}

// put writes data, whose hash the caller has checked is h.
func (l *Local) put(ctx context.Context, h Hash, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkSize(data, l.maxSize); err != nil {
		return err
	}
	// An intact copy is already there: keep it, but mark it as just written
	// so that age-based cleanup treats a re-upload like a new one.
	if _, err := l.read(h); err == nil {
		now := time.Now()
		if err := os.Chtimes(l.path(h), now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("blob: %w", err)
		}
		return nil
	}
	if err := l.mkFanout(h); err != nil {
		return err
	}
	return l.writeAtomic(h, data)
}

func (l *Local) mkFanout(h Hash) error {
	err := os.Mkdir(l.fanout(h), dirMode)
	switch {
	case err == nil:
		return syncDir(l.dir) // make the new directory itself durable
	case errors.Is(err, fs.ErrExist):
		return nil
	default:
		return fmt.Errorf("blob: %w", err)
	}
}

func (l *Local) writeAtomic(h Hash, data []byte) (err error) {
	dir := l.fanout(h)
	f, err := os.CreateTemp(dir, tempPrefix+"*") // mode 0600
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	// Concurrent puts of the same blob each rename their own temporary file
	// over the same name; rename is atomic and the bytes are equal, so
	// whichever lands last, the result is one intact copy.
	if err = os.Rename(tmp, l.path(h)); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	return syncDir(dir)
}

// Get returns the blob with hash h after checking its hash.
func (l *Local) Get(ctx context.Context, h Hash) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.read(h)
}

func (l *Local) read(h Hash) ([]byte, error) {
	f, err := os.Open(l.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(h)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, HashString(h))
	}
	if fi.Size() > l.maxSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, HashString(h), fi.Size(), l.maxSize)
	}
	// Read at most one byte past the limit, in case the file grows under us.
	data, err := io.ReadAll(io.LimitReader(f, l.maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	if err := checkSize(data, l.maxSize); err != nil {
		return nil, err
	}
	if err := verify(h, data); err != nil {
		return nil, err
	}
	return data, nil
}

// Has reports whether a file for h exists. It does not check its contents.
func (l *Local) Has(ctx context.Context, h Hash) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	_, err := os.Lstat(l.path(h))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("blob: %w", err)
	}
}

// Delete removes the blob and makes the removal durable.
func (l *Local) Delete(ctx context.Context, h Hash) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := os.Remove(l.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	return syncDir(l.fanout(h))
}

// List walks the fan-out directories in hash order. Files whose names are
// not hashes in the right directory (temporary files, strays) are skipped.
func (l *Local) List(ctx context.Context, fn func(h Hash, size int64, mod time.Time) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dirs, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 || !isLowerHex(d.Name()) {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(l.dir, d.Name()))
		if err != nil {
			return fmt.Errorf("blob: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			name := e.Name()
			if !e.Type().IsRegular() || !strings.HasPrefix(name, d.Name()) {
				continue
			}
			h, err := ParseHash(name)
			if err != nil {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since ReadDir
			}
			if err != nil {
				return fmt.Errorf("blob: %w", err)
			}
			if !fn(h, fi.Size(), fi.ModTime()) {
				return nil
			}
		}
	}
	return nil
}

func (l *Local) removeStaleTemp(before time.Time) error {
	dirs, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 || !isLowerHex(d.Name()) {
			continue
		}
		sub := filepath.Join(l.dir, d.Name())
		entries, err := os.ReadDir(sub)
		if err != nil {
			return fmt.Errorf("blob: %w", err)
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), tempPrefix) {
				continue
			}
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(before) {
				_ = os.Remove(filepath.Join(sub, e.Name()))
			}
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blob: sync %s: %w", dir, err)
	}
	return nil
}
