package node

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/internal/ports"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// extractFixture unpacks a testdata .tar.gz into a temporary directory.
func extractFixture(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("fixture entry %q escapes", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// freeListen points a loaded configuration at free loopback ports.
func freeListen(t *testing.T, cfg *config.Config) {
	t.Helper()
	addrs, err := ports.Addrs(3)
	if err != nil {
		t.Fatal(err)
	}
	cfg.P2P.Listen, cfg.RPC.Listen, cfg.API.Listen = addrs[0], addrs[1], addrs[2]
	cfg.LogLevel = "error"
}

func recordID(t *testing.T, s string) consent.RecordID {
	t.Helper()
	var id consent.RecordID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		t.Fatalf("record id %q", s)
	}
	copy(id[:], b)
	return id
}

// A home written by the release before state format 3 (testdata/README.md):
// refused at start with the command to run; `state migrate` copies the
// database aside and migrates it; the node then starts at the same height
// and app hash, serves the records written before, and goes on with the
// new format (the index digest appears with the next index write).
func TestMigrateFormat2Home(t *testing.T) {
	home := filepath.Join(extractFixture(t, "format2-home.tar.gz"), "home")
	cfg, err := config.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	freeListen(t, &cfg)
	lg := slog.New(slog.DiscardHandler)
	if _, err := New(home, cfg, lg); !errors.Is(err, merkle.ErrStateFormat) || !strings.Contains(err.Error(), "medchain state migrate") {
		t.Fatalf("format 2 home at start: %v, want a refusal naming the migration", err)
	}
	before, err := merkle.ReadInfo(config.DataDir(home))
	if err != nil || before.Format != 2 || before.Version == 0 {
		t.Fatalf("fixture: %+v %v", before, err)
	}

	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	res, err := MigrateState(home, at)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != 2 || res.To != merkle.StateFormat || res.Height != before.Version || !bytes.Equal(res.AppHash, before.Root) {
		t.Fatalf("migration %+v, state before %+v", res, before)
	}
	if want := filepath.Join(config.DataDir(home), "medchain.db.format2-20261205T080000Z"); res.Backup != want {
		t.Fatalf("backup at %s, want %s", res.Backup, want)
	}
	if info, err := merkle.ReadInfo(config.DataDir(home)); err != nil || info.Format != merkle.StateFormat || info.Version != before.Version {
		t.Fatalf("after: %+v %v", info, err)
	}
	// The copy is the untouched format 2 database.
	bdir := t.TempDir()
	if err := os.Rename(res.Backup, filepath.Join(bdir, merkle.DBName)); err != nil {
		t.Fatal(err)
	}
	if info, err := merkle.ReadInfo(bdir); err != nil || info.Format != 2 || !bytes.Equal(info.Root, before.Root) {
		t.Fatalf("backup: %+v %v", info, err)
	}
	if again, err := MigrateState(home, at); err != nil || again.Backup != "" || again.From != merkle.StateFormat {
		t.Fatalf("second migration: %+v %v, want nothing to do", again, err)
	}

	n, err := New(home, cfg, lg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	snap, err := n.App().SnapshotAt(before.Version)
	if err != nil || !bytes.Equal(snap.Hash(), before.Root) {
		t.Fatalf("state at %d after the migration: %v", before.Version, err)
	}
	ks := keystore.Open(config.KeysDir(home))
	patient, err := ks.Load("patient1", devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	// The records written by the previous release, through their index keys.
	found := map[consent.RecordID]bool{}
	for _, r := range records.ByPatient(snap, patient.Address()) {
		found[r.ID] = true
	}
	for _, id := range []string{"51b50067a438948fcdf13cc7fc412f0d", "4a4018ebc7a750bcc05a5411f39929d0"} {
		if !found[recordID(t, id)] {
			t.Fatalf("record %s of patient1 not listed after the migration", id)
		}
	}
	if snap.Get(store.IndexDigestKey) != nil {
		t.Fatal("an index digest before any index write")
	}

	// A new transaction that writes index keys: the chain goes on in format 3.
	doctor2, err := ks.Load("doctor2", devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tx := sm.SignTx(patient, n.ChainID(), n.Sequence(patient.Address()), 0, &consent.MsgGrant{
		Patient: patient.Address(), Grantee: consent.Account(doctor2.Address()), Actions: consent.ActRead, Purpose: "treatment"})
	out, err := n.Submit(ctx, tx, true)
	if err != nil || out.Code != 0 {
		t.Fatalf("grant after the migration: %v %+v", err, out)
	}
	if n.App().Committed().Get(store.IndexDigestKey) == nil {
		t.Fatal("no index digest after an index write in format 3")
	}
}
