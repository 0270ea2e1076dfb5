package blob

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTestLocal is a Local store in a fresh temporary directory.
func newTestLocal(t *testing.T, opts ...Option) *Local {
	t.Helper()
	l, err := NewLocal(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLocalConformance(t *testing.T) {
	runConformance(t, harness{
		open: func(t *testing.T, opts ...Option) Store { return newTestLocal(t, opts...) },
		corrupt: func(t *testing.T, s Store, h Hash, data []byte) {
			if err := os.WriteFile(s.(*Local).path(h), data, fileMode); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func TestLocalLayout(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("ciphertext")
	h, err := l.Put(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	name := HashString(h)
	path := filepath.Join(dir, name[:2], name)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("blob not at DIR/ab/abcd…: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", di.Mode().Perm())
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("fan-out directory holds %d entries, want only the blob (no temporary files left)", len(entries))
	}

	// A second store on the same directory sees the blob: nothing is cached.
	l2, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l2.Get(context.Background(), h); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reopened Get = %q, %v", got, err)
	}
}

func TestLocalListSkipsStrays(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := l.Put(context.Background(), []byte("real"))
	if err != nil {
		t.Fatal(err)
	}
	name := HashString(h)
	other := HashString(Sum([]byte("other")))
	strays := []string{
		filepath.Join(name[:2], tempPrefix+"123"),       // a write in progress
		filepath.Join(name[:2], strings.ToUpper(name)),  // not the canonical name
		filepath.Join(name[:2], other),                  // in the wrong fan-out directory
		filepath.Join(name[:2], name[:10]),              // too short
		filepath.Join("zz", name),                       // not a fan-out directory
		filepath.Join(name[:2]+"x", name),               // not a fan-out directory
		"README",                                        // at the top
		filepath.Join(other[:2], other[:63]+"g"),        // not hex
		filepath.Join(other[:2], other+".bak"),          // suffix
		filepath.Join(other[:2], "."+other),             // hidden
		filepath.Join(other[:2], tempPrefix+other[:10]), // another temp
	}
	for _, p := range strays {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A directory named like a blob is not a blob.
	if err := os.Mkdir(filepath.Join(dir, other[:2], other), 0o700); err != nil {
		t.Fatal(err)
	}
	got := listAll(t, l)
	if len(got) != 1 || got[h] != 4 {
		t.Fatalf("List = %v, want only %s", got, name)
	}
	if _, err := l.Get(context.Background(), Sum([]byte("other"))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of a directory: %v, want ErrCorrupt", err)
	}
}

func TestNewLocalRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "ab")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(sub, tempPrefix+"stale")
	fresh := filepath.Join(sub, tempPrefix+"fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLocal(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file removed (another writer may own it): %v", err)
	}
}

func TestLocalRePutRefreshesModTime(t *testing.T) {
	l := newTestLocal(t)
	ctx := context.Background()
	h, err := l.Put(ctx, []byte("blob"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(l.path(h), old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Put(ctx, []byte("blob")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(l.path(h))
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(fi.ModTime()) > time.Hour {
		t.Fatalf("modification time %v not refreshed by a second Put", fi.ModTime())
	}
}
