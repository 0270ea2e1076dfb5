package node

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/blob"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/records"
)

// recordsAt lists a patient's records at a height with each version's
// ciphertext from the node's blob store: what the node serves.
func recordsAt(t *testing.T, n *Node, height int64, patient string) map[string][]byte {
	t.Helper()
	snap, err := n.App().SnapshotAt(height)
	if err != nil {
		t.Fatal(err)
	}
	k, err := keystore.Open(config.KeysDir(n.home)).Load(patient, devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := blob.NewLocal(blobDir(n.home, n.cfg))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, r := range records.ByPatient(snap, k.Address()) {
		v := records.GetVersion(snap, r.ID, r.Version)
		data, err := bs.Get(context.Background(), v.ContentHash)
		if err != nil {
			t.Fatalf("record %x: ciphertext: %v", r.ID, err)
		}
		out[string(r.ID[:])] = data
	}
	return out
}

// A backup of a running node (through its admin socket), restored into a
// new home: the restored node starts at the backup's height and app hash
// and serves the same records and ciphertexts. A damaged backup is refused
// and leaves nothing behind. A stopped node's backup with keys restores
// its keys.
func TestBackupRestore(t *testing.T) {
	home := filepath.Join(extractFixture(t, "format2-home.tar.gz"), "home")
	if _, err := MigrateState(home, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	freeListen(t, &cfg)
	lg := slog.New(slog.DiscardHandler)
	n, err := New(home, cfg, lg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	start := n.App().Committed().Version()
	waitHeight(t, n, start+2)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var buf bytes.Buffer
	ok, err := BackupRunning(ctx, home, &buf, false)
	if !ok || err != nil {
		n.Stop()
		t.Fatalf("backup of the running node: served %v, %v", ok, err)
	}
	m, err := VerifyBackup(bytes.NewReader(buf.Bytes()))
	if err != nil {
		n.Stop()
		t.Fatal(err)
	}
	if m.Height < start+2 || m.IncludeKeys {
		n.Stop()
		t.Fatalf("manifest: height %d (started at %d), keys %v", m.Height, start, m.IncludeKeys)
	}
	for _, f := range m.Files {
		if strings.HasPrefix(f.Name, "keys/") || strings.Contains(f.Name, "priv_validator_key") || strings.Contains(f.Name, "node_key") || strings.Contains(f.Name, "gateway.pass") {
			n.Stop()
			t.Fatalf("a backup without keys holds %s", f.Name)
		}
	}
	want := recordsAt(t, n, m.Height, "patient1")
	if len(want) < 2 {
		n.Stop()
		t.Fatalf("fixture has %d records of patient1", len(want))
	}
	snapHash := func(n *Node, h int64) string {
		s, err := n.App().SnapshotAt(h)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ToUpper(bytesHex(s.Hash()))
	}
	if got := snapHash(n, m.Height); got != m.AppHash {
		n.Stop()
		t.Fatalf("manifest app hash %s, node %s", m.AppHash, got)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	// A damaged copy is refused; nothing is left at its home.
	bad := bytes.Clone(buf.Bytes())
	bad[len(bad)/2] ^= 0x40
	badHome := filepath.Join(t.TempDir(), "bad")
	if _, err := Restore(bytes.NewReader(bad), badHome); !errors.Is(err, ErrBadBackup) {
		t.Fatalf("damaged backup: %v, want ErrBadBackup", err)
	}
	if _, err := os.Stat(badHome); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused restore left %s", badHome)
	}
	// Into a home that is in use: refused.
	if _, err := Restore(bytes.NewReader(buf.Bytes()), home); err == nil {
		t.Fatal("restore over an existing home")
	}

	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(bytes.NewReader(buf.Bytes()), restored); err != nil {
		t.Fatal(err)
	}
	// The keystore and the gateway's passphrase are not in the backup: the
	// operator puts them in place (the gateway's key unlocks with them).
	if err := copyTree(config.KeysDir(home), config.KeysDir(restored)); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(home, "config", "gateway.pass")); err != nil || os.WriteFile(filepath.Join(restored, "config", "gateway.pass"), b, 0o600) != nil {
		t.Fatal("gateway passphrase", err)
	}
	cfg2, err := config.Load(restored)
	if err != nil {
		t.Fatal(err)
	}
	freeListen(t, &cfg2)
	cfg2.State.ReadCacheBytes = 24 << 20 // the restored node's operator sizes its read cache
	n2, err := New(restored, cfg2, lg)
	if err != nil {
		t.Fatal(err)
	}
	if lim, def := n2.tree.ReadCacheStats().Limit, n.tree.ReadCacheStats().Limit; lim != 30<<20 || def != 160<<20 {
		t.Fatalf("read cache limits %d (state.read_cache_bytes 24 MiB: want 30 MiB with its listings) and %d (default: want 160 MiB)", lim, def)
	}
	if err := n2.Start(); err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	if v := n2.App().Committed().Version(); v < m.Height || v > m.Height+1 {
		t.Fatalf("restored node at height %d, backup at %d", v, m.Height)
	}
	if got := snapHash(n2, m.Height); got != m.AppHash {
		t.Fatalf("restored app hash %s, backup %s", got, m.AppHash)
	}
	got := recordsAt(t, n2, m.Height, "patient1")
	if len(got) != len(want) {
		t.Fatalf("restored node lists %d records, the source %d", len(got), len(want))
	}
	for id, c := range want {
		if !bytes.Equal(got[id], c) {
			t.Fatalf("record %x: ciphertext differs after the restore", id)
		}
	}
	if err := n2.Stop(); err != nil {
		t.Fatal(err)
	}

	// A stopped node's backup with keys carries its keys.
	buf.Reset()
	mk, err := BackupStopped(home, &buf, BackupOptions{IncludeKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := merkle.ReadInfo(config.DataDir(home))
	if !mk.IncludeKeys || mk.Height != info.Version {
		t.Fatalf("stopped backup: %+v", mk)
	}
	withKeys := filepath.Join(t.TempDir(), "with-keys")
	if _, err := Restore(bytes.NewReader(buf.Bytes()), withKeys); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config/priv_validator_key.json", "config/node_key.json", "keys/patient1.json"} {
		a, _ := os.ReadFile(filepath.Join(home, f))
		b, err := os.ReadFile(filepath.Join(withKeys, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s not restored: %v", f, err)
		}
	}
}

func bytesHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
