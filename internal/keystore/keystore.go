package keystore

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/medchain/medchain/crypto"
)

// Errors returned by the store, wrapped with the key's name where there is one.
var (
	ErrNotFound        = errors.New("keystore: key not found")
	ErrExists          = errors.New("keystore: key already exists")
	ErrBadName         = errors.New("keystore: invalid key name")
	ErrWrongPassphrase = errors.New("keystore: wrong passphrase or altered key file")
	ErrCorrupt         = errors.New("keystore: corrupt key file")
	ErrBadParams       = errors.New("keystore: KDF parameters out of range")
	ErrBadSeed         = errors.New("keystore: seed must be 128 hex digits")
)

const (
	maxNameLen = 64
	fileExt    = ".json"
	fileMode   = 0o600
	dirMode    = 0o700
)

// Info is the public part of a key file, readable without the passphrase.
type Info struct {
	Name    string         `json:"name"`
	Address crypto.Address `json:"address"`
	PubKey  crypto.PubKey  `json:"pub_key"`
	EncKey  crypto.EncKey  `json:"enc_key"`
}

// Store is a directory of key files.
type Store struct {
	Dir string
	// Params is the KDF cost for files written from now on; the zero value
	// means DefaultParams. Existing files keep the cost they were written with.
	Params KDFParams
}

// Open returns the store in dir with DefaultParams. It does no I/O.
func Open(dir string) *Store { return &Store{Dir: dir, Params: DefaultParams()} }

// CheckName reports whether name is a valid key name: 1-64 characters of
// [a-z0-9._-], starting with a letter or digit.
func CheckName(name string) error {
	if len(name) == 0 || len(name) > maxNameLen {
		return fmt.Errorf("%w: %q: want 1-%d characters", ErrBadName, name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("%w: %q: want [a-z0-9._-], starting with a letter or digit", ErrBadName, name)
		}
	}
	return nil
}

// Create makes a new key, saves it under name encrypted with passphrase and
// returns it. It fails with ErrExists if name is taken.
func (s *Store) Create(name, passphrase string) (*crypto.PrivKey, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	key, err := newKey(randReader)
	if err != nil {
		return nil, fmt.Errorf("keystore: generating key: %w", err)
	}
	if err := s.Import(name, passphrase, key); err != nil {
		return nil, err
	}
	return key, nil
}

// randReader is where new seeds come from; tests replace it.
var randReader io.Reader = rand.Reader

// newKey makes a key from fresh seeds read into a buffer it clears: the
// seeds then live only in the key (whose copies Go cannot wipe).
func newKey(r io.Reader) (*crypto.PrivKey, error) {
	var seeds [seedsSize]byte
	defer clear(seeds[:])
	if _, err := io.ReadFull(r, seeds[:]); err != nil {
		return nil, err
	}
	return crypto.KeyFromSeeds(seeds[:crypto.SeedSize], seeds[crypto.SeedSize:])
}

// Import saves an existing key under name encrypted with passphrase. It fails
// with ErrExists if name is taken.
func (s *Store) Import(name, passphrase string, key *crypto.PrivKey) error {
	path, err := s.path(name)
	if err != nil {
		return err
	}
	if key == nil {
		return errors.New("keystore: nil key")
	}
	// Checked here too so that a taken name fails before the costly KDF;
	// writeNew is what makes the check race-free.
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %q", ErrExists, name)
	}
	f, err := sealKey(name, passphrase, key, s.params(), rand.Reader)
	if err != nil {
		return err
	}
	b, err := f.marshal()
	if err != nil {
		return err
	}
	if err := writeNew(s.Dir, path, b); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %q", ErrExists, name)
		}
		return fmt.Errorf("keystore: writing %q: %w", name, err)
	}
	return nil
}

// Load decrypts the key stored under name.
func (s *Store) Load(name, passphrase string) (*crypto.PrivKey, error) {
	f, err := s.read(name)
	if err != nil {
		return nil, err
	}
	key, err := f.open(passphrase)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", name, err)
	}
	return key, nil
}

// Export decrypts the key stored under name and returns its 64 seed bytes
// (signSeed||encSeed) as 128 hex digits, for a backup that ParseSeedHex reads.
// The result is the bare secret: it is the caller's to protect.
func (s *Store) Export(name, passphrase string) (string, error) {
	key, err := s.Load(name, passphrase)
	if err != nil {
		return "", err
	}
	seeds := seedBytes(key)
	defer clear(seeds)
	return hex.EncodeToString(seeds), nil
}

// ParseSeedHex rebuilds a key from Export's output. Surrounding whitespace is
// ignored. Errors never quote the input.
func ParseSeedHex(s string) (*crypto.PrivKey, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*seedsSize {
		return nil, ErrBadSeed
	}
	seeds, err := hex.DecodeString(s)
	if err != nil {
		return nil, ErrBadSeed
	}
	defer clear(seeds)
	key, err := crypto.KeyFromSeeds(seeds[:crypto.SeedSize], seeds[crypto.SeedSize:])
	if err != nil {
		return nil, ErrBadSeed
	}
	return key, nil
}

// Info returns the public part of the key stored under name.
func (s *Store) Info(name string) (Info, error) {
	f, err := s.read(name)
	if err != nil {
		return Info{}, err
	}
	return f.info(), nil
}

// List returns the public part of every key in the store, sorted by name.
// A missing directory is an empty store. Files whose names are not
// <valid name>.json are ignored; a corrupt key file is an error.
func (s *Store) List() ([]Info, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	var infos []Info
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), fileExt)
		if !ok || e.IsDir() || CheckName(name) != nil {
			continue
		}
		f, err := s.read(name)
		if err != nil {
			return nil, err
		}
		infos = append(infos, f.info())
	}
	// ReadDir sorts by file name, which is not name order: "a-b.json" < "a.json".
	slices.SortFunc(infos, func(a, b Info) int { return cmp.Compare(a.Name, b.Name) })
	return infos, nil
}

// FindByAddress returns the first key, in name order, with address addr.
func (s *Store) FindByAddress(addr crypto.Address) (Info, error) {
	infos, err := s.List()
	if err != nil {
		return Info{}, err
	}
	for _, in := range infos {
		if in.Address == addr {
			return in, nil
		}
	}
	return Info{}, fmt.Errorf("%w: address %s", ErrNotFound, addr)
}

func (s *Store) params() KDFParams {
	if s.Params == (KDFParams{}) {
		return DefaultParams()
	}
	return s.Params
}

func (s *Store) path(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	return filepath.Join(s.Dir, name+fileExt), nil
}

// read loads and decodes the file of name, checking that it names itself.
func (s *Store) read(name string) (*keyFile, error) {
	path, err := s.path(name)
	if err != nil {
		return nil, err
	}
	b, err := readLimited(path, maxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: reading %q: %w", name, err)
	}
	f, err := decodeKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", name, err)
	}
	if f.Name != name {
		return nil, fmt.Errorf("%w: file %s holds key %q", ErrCorrupt, name+fileExt, f.Name)
	}
	return f, nil
}

func (f *keyFile) info() Info {
	return Info{Name: f.Name, Address: f.Address, PubKey: f.PubKey, EncKey: f.EncKey}
}

// readLimited reads a regular file of at most max bytes; a longer file
// yields max+1 bytes, which the decoder rejects.
func readLimited(path string, max int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	return io.ReadAll(io.LimitReader(fh, max+1))
}

// writeNew writes data to path atomically and only if path does not exist:
// a temp file in the same directory is written and synced, then hard-linked
// to path. Unlike rename, link fails with fs.ErrExist rather than replacing a
// file that another writer put there since the caller's check.
func writeNew(dir, path string, data []byte) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-key-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(fileMode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a new directory entry durable. Windows cannot sync a
// directory and does not need to.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
