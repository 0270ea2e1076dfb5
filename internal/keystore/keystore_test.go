package keystore

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/medchain/medchain/crypto"
)

const pass = "correct horse battery staple"

// goldenV1 is a version-1 file written by this package (LightParams,
// passphrase pass). It pins the format: files written today must stay
// readable. The key is a throwaway.
const (
	goldenV1 = `{
  "version": 1,
  "name": "golden",
  "address": "mc6096e8aea1e847e4278b0bbc0b640090db2f92b1",
  "pub_key": "613c2606f3d238941ad6bf1668e9698ccf66cb0bec598dabb529736dfe967a8f",
  "enc_key": "7363654914f230bab91dbde4f8d872e6a1b234e3d0c554628a7a6e58f9959b44",
  "kdf": "argon2id",
  "kdf_params": {
    "time": 1,
    "memory_kib": 8192,
    "threads": 1,
    "salt": "2a371884d29fcc5cca4cff5ecc1d3ece"
  },
  "cipher": "xchacha20poly1305",
  "nonce": "7cefcb2e2d41d58d7b15aefa9eb8a39933e3294883f15970",
  "ciphertext": "653587f20726cf164eb54835c123bf0c0cc5fc52e507e994546b2a804f5e6ed5f83f539e0dfb1bc4734014fdb01f7dd903dbf7c0787cd24c92dad589e0cd7cbc3b8d481cd11a6b0f2184590b60b0af72"
}
`
	goldenSeeds   = "bc295aaf516964b05341d258f7cdf2f77b5288b9abe8f4bdf020982ad8dd6b3736db95521ea0e64ee4dbfc0de4e39b9691c2b0d3e54c58bfa19e456c6cb3a53a"
	goldenAddress = "mc6096e8aea1e847e4278b0bbc0b640090db2f92b1"
)

// newStore returns an empty store in a directory that does not exist yet,
// with light KDF parameters so that tests run fast.
func newStore(t *testing.T) *Store {
	t.Helper()
	return &Store{Dir: filepath.Join(t.TempDir(), "keys"), Params: LightParams()}
}

func mustCreate(t *testing.T, s *Store, name string) *crypto.PrivKey {
	t.Helper()
	k, err := s.Create(name, pass)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	return k
}

func sameKey(a, b *crypto.PrivKey) bool {
	as, ae := a.Seeds()
	bs, be := b.Seeds()
	return string(as) == string(bs) && string(ae) == string(be)
}

func TestCreateLoad(t *testing.T) {
	s := newStore(t)
	k := mustCreate(t, s, "alice")

	got, err := s.Load("alice", pass)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !sameKey(got, k) {
		t.Fatal("loaded key differs from created key")
	}
	info, err := s.Info("alice")
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	want := Info{Name: "alice", Address: k.Address(), PubKey: k.PubKey(), EncKey: k.EncKey()}
	if info != want {
		t.Fatalf("Info = %+v, want %+v", info, want)
	}
}

func TestGoldenV1(t *testing.T) {
	s := newStore(t)
	writeRaw(t, s, "golden", []byte(goldenV1))

	k, err := s.Load("golden", pass)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := k.Address().String(); got != goldenAddress {
		t.Errorf("address = %s, want %s", got, goldenAddress)
	}
	seeds, err := s.Export("golden", pass)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if seeds != goldenSeeds {
		t.Error("exported seeds differ from the golden seeds")
	}
}

func TestDefaultStoreParams(t *testing.T) {
	if got := Open("x").Params; got != DefaultParams() {
		t.Errorf("Open params = %+v, want DefaultParams", got)
	}
	if got := (&Store{}).params(); got != DefaultParams() {
		t.Errorf("zero Store params = %+v, want DefaultParams", got)
	}
	want := KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 2}
	if DefaultParams() != want {
		t.Errorf("DefaultParams = %+v, want %+v", DefaultParams(), want)
	}
}

func TestKDFParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    KDFParams
		ok   bool
	}{
		{name: "default", p: DefaultParams(), ok: true},
		{name: "light", p: LightParams(), ok: true},
		{name: "max", p: KDFParams{Time: 100, MemoryKiB: 4 << 20, Threads: 255}, ok: true},
		{name: "zero", p: KDFParams{}},
		{name: "time 0", p: KDFParams{Time: 0, MemoryKiB: 8 << 10, Threads: 1}},
		{name: "time 101", p: KDFParams{Time: 101, MemoryKiB: 8 << 10, Threads: 1}},
		{name: "threads 0", p: KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 0}},
		{name: "memory over 4 GiB", p: KDFParams{Time: 1, MemoryKiB: 4<<20 + 1, Threads: 1}},
		{name: "memory under 8 KiB per lane", p: KDFParams{Time: 1, MemoryKiB: 15, Threads: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.ok && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrBadParams) {
				t.Fatalf("Validate = %v, want ErrBadParams", err)
			}
		})
	}
}

func TestStoreRefusesBadParams(t *testing.T) {
	s := newStore(t)
	s.Params = KDFParams{Time: 1, MemoryKiB: 1 << 30, Threads: 1}
	if _, err := s.Create("alice", pass); !errors.Is(err, ErrBadParams) {
		t.Fatalf("Create = %v, want ErrBadParams", err)
	}
	if _, err := s.Info("alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Info after failed Create = %v, want ErrNotFound", err)
	}
}

func TestWrongPassphrase(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "alice")
	_, err := s.Load("alice", "not the passphrase")
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Load = %v, want ErrWrongPassphrase", err)
	}
	if strings.Contains(err.Error(), "not the passphrase") || strings.Contains(err.Error(), pass) {
		t.Fatalf("error %q quotes a passphrase", err)
	}
	if _, err := s.Export("alice", ""); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Export = %v, want ErrWrongPassphrase", err)
	}
}

func TestLoadNotFound(t *testing.T) {
	s := newStore(t)
	if _, err := s.Load("nobody", pass); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load = %v, want ErrNotFound", err)
	}
	if _, err := s.Info("nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Info = %v, want ErrNotFound", err)
	}
}

func TestCreateExisting(t *testing.T) {
	s := newStore(t)
	k := mustCreate(t, s, "alice")
	if _, err := s.Create("alice", "other"); !errors.Is(err, ErrExists) {
		t.Fatalf("Create = %v, want ErrExists", err)
	}
	other, _ := crypto.GenerateKey(nil)
	if err := s.Import("alice", "other", other); !errors.Is(err, ErrExists) {
		t.Fatalf("Import = %v, want ErrExists", err)
	}
	got, err := s.Load("alice", pass)
	if err != nil || !sameKey(got, k) {
		t.Fatalf("original key not intact: %v", err)
	}
}

// Two writers racing for one name: exactly one wins, and the file is the
// winner's. The early existence check cannot decide this; the link does.
func TestCreateRace(t *testing.T) {
	s := newStore(t)
	const n = 4
	var wg sync.WaitGroup
	keys := make([]*crypto.PrivKey, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], errs[i] = s.Create("alice", pass)
		}()
	}
	wg.Wait()

	var winner *crypto.PrivKey
	for i, err := range errs {
		switch {
		case err == nil && winner == nil:
			winner = keys[i]
		case err == nil:
			t.Fatal("two concurrent Creates succeeded")
		case !errors.Is(err, ErrExists):
			t.Fatalf("Create: %v", err)
		}
	}
	if winner == nil {
		t.Fatal("no Create succeeded")
	}
	got, err := s.Load("alice", pass)
	if err != nil || !sameKey(got, winner) {
		t.Fatalf("stored key is not the winner's: %v", err)
	}
	assertNoTempFiles(t, s.Dir)
}

func TestBadNames(t *testing.T) {
	bad := []string{
		"", "../x", "A B", "Alice", "a/b", `a\b`, ".", "..", ".hidden", "-flag", "_x",
		"a b", "a\x00b", "ä", "alice.json/../../etc", strings.Repeat("a", 65),
	}
	s := newStore(t)
	for _, name := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Create(name, pass); !errors.Is(err, ErrBadName) {
				t.Errorf("Create = %v, want ErrBadName", err)
			}
			if _, err := s.Load(name, pass); !errors.Is(err, ErrBadName) {
				t.Errorf("Load = %v, want ErrBadName", err)
			}
			if _, err := s.Info(name); !errors.Is(err, ErrBadName) {
				t.Errorf("Info = %v, want ErrBadName", err)
			}
		})
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("bad names touched the disk: %v", err)
	}

	for _, name := range []string{"a", "0", "alice", "node-0", "k.v_1", "a..b", strings.Repeat("z", 64)} {
		if err := CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", name, err)
		}
	}
}

func TestListSorted(t *testing.T) {
	s := newStore(t)
	if got, err := s.List(); err != nil || len(got) != 0 {
		t.Fatalf("List of missing dir = %v, %v; want empty", got, err)
	}
	// File-name order is a-b.json, a.b.json, a.json, b.json; name order differs.
	names := []string{"b", "a.b", "a", "a-b"}
	keys := map[string]*crypto.PrivKey{}
	for _, n := range names {
		keys[n] = mustCreate(t, s, n)
	}
	// Files that are not keys are ignored.
	for _, junk := range []string{"README", "notes.txt", "Upper.json", ".tmp-key-123"} {
		if err := os.WriteFile(filepath.Join(s.Dir, junk), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(s.Dir, "dir.json"), 0o700); err != nil {
		t.Fatal(err)
	}

	infos, err := s.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var got []string
	for _, in := range infos {
		got = append(got, in.Name)
		if in.Address != keys[in.Name].Address() {
			t.Errorf("%s: address %s, want %s", in.Name, in.Address, keys[in.Name].Address())
		}
	}
	if want := []string{"a", "a-b", "a.b", "b"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("List names = %v, want %v", got, want)
	}
}

func TestListCorruptFile(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "alice")
	writeRaw(t, s, "bob", []byte("{}"))
	if _, err := s.List(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("List = %v, want ErrCorrupt", err)
	}
}

func TestFindByAddress(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "alice")
	bob := mustCreate(t, s, "bob")

	info, err := s.FindByAddress(bob.Address())
	if err != nil {
		t.Fatalf("FindByAddress: %v", err)
	}
	if info.Name != "bob" {
		t.Fatalf("FindByAddress = %q, want bob", info.Name)
	}
	stranger, _ := crypto.GenerateKey(nil)
	if _, err := s.FindByAddress(stranger.Address()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FindByAddress(stranger) = %v, want ErrNotFound", err)
	}
}

func TestFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	s := newStore(t)
	mustCreate(t, s, "alice")

	st, err := os.Stat(filepath.Join(s.Dir, "alice.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("file mode = %o, want 600", m)
	}
	st, err = os.Stat(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o700 {
		t.Errorf("dir mode = %o, want 700", m)
	}
	assertNoTempFiles(t, s.Dir)
}

// Each edit changes one thing in alice's file. Edits to the public fields
// either break a consistency check (ErrCorrupt) or the associated data
// (ErrWrongPassphrase); none may yield a key.
func TestTamper(t *testing.T) {
	other, _ := crypto.GenerateKey(nil)
	tests := []struct {
		name    string
		edit    func(m map[string]any)
		wantErr error
	}{
		{
			name:    "flipped ciphertext byte",
			edit:    func(m map[string]any) { m["ciphertext"] = flipHex(m["ciphertext"].(string)) },
			wantErr: ErrWrongPassphrase,
		},
		{
			name:    "flipped nonce byte",
			edit:    func(m map[string]any) { m["nonce"] = flipHex(m["nonce"].(string)) },
			wantErr: ErrWrongPassphrase,
		},
		{
			name:    "flipped salt byte",
			edit:    func(m map[string]any) { kdf(m)["salt"] = flipHex(kdf(m)["salt"].(string)) },
			wantErr: ErrWrongPassphrase,
		},
		{
			name:    "kdf time raised",
			edit:    func(m map[string]any) { kdf(m)["time"] = 2 },
			wantErr: ErrWrongPassphrase,
		},
		{
			name:    "address alone",
			edit:    func(m map[string]any) { m["address"] = other.Address().String() },
			wantErr: ErrCorrupt,
		},
		{
			name: "address and pub_key of another key",
			edit: func(m map[string]any) {
				m["address"] = other.Address().String()
				m["pub_key"] = other.PubKey().String()
			},
			wantErr: ErrWrongPassphrase,
		},
		{
			name:    "enc_key of another key",
			edit:    func(m map[string]any) { m["enc_key"] = other.EncKey().String() },
			wantErr: ErrWrongPassphrase,
		},
		{
			name:    "name field",
			edit:    func(m map[string]any) { m["name"] = "bob" },
			wantErr: ErrCorrupt,
		},
		{
			name:    "version",
			edit:    func(m map[string]any) { m["version"] = 2 },
			wantErr: ErrCorrupt,
		},
		{
			name:    "cipher",
			edit:    func(m map[string]any) { m["cipher"] = "aes-256-gcm" },
			wantErr: ErrCorrupt,
		},
		{
			name:    "kdf",
			edit:    func(m map[string]any) { m["kdf"] = "scrypt" },
			wantErr: ErrCorrupt,
		},
		{
			name:    "unknown field",
			edit:    func(m map[string]any) { m["comment"] = "hi" },
			wantErr: ErrCorrupt,
		},
		{
			name:    "short ciphertext",
			edit:    func(m map[string]any) { m["ciphertext"] = m["ciphertext"].(string)[2:] },
			wantErr: ErrCorrupt,
		},
		{
			name:    "missing salt",
			edit:    func(m map[string]any) { delete(kdf(m), "salt") },
			wantErr: ErrCorrupt,
		},
	}
	s := newStore(t)
	mustCreate(t, s, "alice")
	orig := readRaw(t, s, "alice")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(orig, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			writeRaw(t, s, "alice", b)
			t.Cleanup(func() { writeRaw(t, s, "alice", orig) })

			k, err := s.Load("alice", pass)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Load = %v, want %v", err, tc.wantErr)
			}
			if k != nil {
				t.Fatal("Load returned a key with its error")
			}
		})
	}
}

// A whole file moved to another name, with its name field edited to match,
// passes every check except the associated data.
func TestRenamedFile(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "alice")
	var m map[string]any
	if err := json.Unmarshal(readRaw(t, s, "alice"), &m); err != nil {
		t.Fatal(err)
	}
	m["name"] = "bob"
	b, _ := json.Marshal(m)
	writeRaw(t, s, "bob", b)

	if _, err := s.Info("bob"); err != nil {
		t.Fatalf("Info: %v (the public fields are consistent)", err)
	}
	if _, err := s.Load("bob", pass); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Load = %v, want ErrWrongPassphrase", err)
	}
}

// A crafted file that asks for absurd KDF costs is rejected before the KDF
// runs: no 4 GiB allocation, no hundred-pass loop.
func TestAbsurdParamsRejected(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
	}{
		{name: "memory 4 GiB + 1 KiB", params: map[string]any{"memory_kib": 4<<20 + 1}},
		{name: "memory max uint32", params: map[string]any{"memory_kib": uint32(1<<32 - 1)}},
		{name: "memory over uint32", params: map[string]any{"memory_kib": uint64(1 << 40)}},
		{name: "time 101", params: map[string]any{"time": 101}},
		{name: "time max uint32", params: map[string]any{"time": uint32(1<<32 - 1)}},
		{name: "time 0", params: map[string]any{"time": 0}},
		{name: "threads 0", params: map[string]any{"threads": 0}},
		{name: "threads 256", params: map[string]any{"threads": 256}},
		{name: "negative memory", params: map[string]any{"memory_kib": -1}},
	}
	s := newStore(t)
	mustCreate(t, s, "alice")
	orig := readRaw(t, s, "alice")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(orig, &m); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.params {
				kdf(m)[k] = v
			}
			b, _ := json.Marshal(m)
			writeRaw(t, s, "alice", b)
			t.Cleanup(func() { writeRaw(t, s, "alice", orig) })

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := s.Load("alice", pass)
			runtime.ReadMemStats(&after)

			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load = %v, want ErrCorrupt", err)
			}
			// LightParams alone would allocate 8 MiB; a rejected file allocates
			// only what decoding needs.
			if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
				t.Fatalf("Load allocated %d bytes before rejecting the file", d)
			}
			if _, err := s.Info("alice"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Info = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestOversizeFile(t *testing.T) {
	s := newStore(t)
	writeRaw(t, s, "big", []byte(`{"name":"`+strings.Repeat("a", maxFileSize)+`"}`))
	if _, err := s.Info("big"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Info = %v, want ErrCorrupt", err)
	}
}

func TestImportExport(t *testing.T) {
	src := newStore(t)
	k := mustCreate(t, src, "alice")
	seeds, err := src.Export("alice", pass)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if len(seeds) != 128 {
		t.Fatalf("Export gave %d hex digits, want 128", len(seeds))
	}

	parsed, err := ParseSeedHex("  " + seeds + "\n")
	if err != nil {
		t.Fatalf("ParseSeedHex: %v", err)
	}
	if !sameKey(parsed, k) {
		t.Fatal("parsed key differs from exported key")
	}

	dst := newStore(t)
	if err := dst.Import("restored", "new passphrase", parsed); err != nil {
		t.Fatalf("Import: %v", err)
	}
	got, err := dst.Load("restored", "new passphrase")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !sameKey(got, k) || got.Address() != k.Address() {
		t.Fatal("imported key differs from original")
	}
	if err := dst.Import("nil", pass, nil); err == nil {
		t.Fatal("Import(nil key) succeeded")
	}
}

func TestParseSeedHexRejects(t *testing.T) {
	secret := strings.Repeat("ab", 63) // a would-be secret that must not be echoed
	tests := []struct{ name, in string }{
		{name: "empty", in: ""},
		{name: "short", in: secret},
		{name: "long", in: secret + "abcdef"},
		{name: "non-hex", in: secret + "zz"},
		{name: "inner space", in: secret[:64] + " " + secret[64:] + "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSeedHex(tc.in)
			if !errors.Is(err, ErrBadSeed) {
				t.Fatalf("ParseSeedHex = %v, want ErrBadSeed", err)
			}
			if strings.Contains(err.Error(), "ab") {
				t.Fatalf("error %q echoes the input", err)
			}
		})
	}
}

// FuzzDecodeKeyFile checks that decoding arbitrary bytes never panics, that
// only ErrCorrupt comes back, and that whatever decodes is within the KDF
// limits and survives a re-encoding unchanged. The decoder never runs the
// KDF, so the fuzzer cannot make it expensive.
func FuzzDecodeKeyFile(f *testing.F) {
	f.Add([]byte(goldenV1))
	f.Add([]byte(`{}`))
	f.Add([]byte(strings.Replace(goldenV1, `"memory_kib": 8192`, `"memory_kib": 4294967295`, 1)))
	f.Add([]byte(strings.Replace(goldenV1, `"threads": 1`, `"threads": 256`, 1)))
	f.Add([]byte(strings.Replace(goldenV1, `"name": "golden"`, `"name": "../golden"`, 1)))
	f.Add([]byte(goldenV1 + "{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kf, err := decodeKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if err := kf.params().Validate(); err != nil {
			t.Fatalf("decoded params out of range: %v", err)
		}
		out, err := kf.marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := decodeKeyFile(out)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(kf, again) {
			t.Fatalf("re-decode differs:\n%+v\n%+v", kf, again)
		}
	})
}

func kdf(m map[string]any) map[string]any { return m["kdf_params"].(map[string]any) }

// flipHex changes the first hex digit of s.
func flipHex(s string) string {
	if s[0] == '0' {
		return "1" + s[1:]
	}
	return "0" + s[1:]
}

func readRaw(t *testing.T, s *Store, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeRaw(t *testing.T, s *Store, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, name+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}
