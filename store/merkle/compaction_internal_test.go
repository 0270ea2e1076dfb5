//go:build unix

package merkle

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCompactionTuning checks that a node's state database is opened with
// tuneCompaction's settings, read back from the OPTIONS file Pebble writes,
// and that the benchmark's switch gives Pebble's defaults.
func TestCompactionTuning(t *testing.T) {
	options := func(t *testing.T) string {
		dir := t.TempDir()
		tr, err := OpenTreeWith(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		files, err := filepath.Glob(filepath.Join(dir, DBName, "OPTIONS-*"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no OPTIONS file: %v", err)
		}
		b, err := os.ReadFile(files[len(files)-1])
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tuned := options(t)
	for _, want := range []string{"l0_compaction_threshold=8\n", "l0_stop_writes_threshold=40\n", "lbase_max_bytes=268435456\n"} {
		if !strings.Contains(tuned, want) {
			t.Errorf("state database options lack %q", strings.TrimSpace(want))
		}
	}
	pebbleDefaults = true
	defer func() { pebbleDefaults = false }()
	if def := options(t); !strings.Contains(def, "l0_compaction_threshold=4\n") || !strings.Contains(def, "lbase_max_bytes=67108864\n") {
		t.Errorf("with pebbleDefaults the options are not Pebble's defaults")
	}
}

// BenchmarkCompaction measures what the state database costs the node's
// CPU for a block's writes, Pebble's background flushes and compactions
// included, with tuneCompaction's settings and with Pebble's defaults. The
// blocks are shaped like issue 13's mix (Session 17's account of a
// transaction's ~875 bytes): each of 3,000 transactions updates one of
// 20,000 accounts, adds one state key (a hash, so in random order; the tree
// adds its hash index and change-log entries) and three transaction-index
// side entries (by position, by hash, by signer). One op is one block on a
// fresh database, as a fresh `medchain dev` under `medchain bench` sees it;
// run it with -benchtime=190x (docs/performance.md, Session 22) so that
// several L0 compactions happen. cpu-µs/tx is the process's user and system CPU from the first
// block until Pebble has no flush or compaction running, per transaction;
// written-B/tx what Pebble flushed and compacted.
func BenchmarkCompaction(b *testing.B) {
	for _, c := range []struct {
		name     string
		defaults bool
	}{{"tuned", false}, {"pebble-defaults", true}} {
		b.Run(c.name, func(b *testing.B) {
			old := pebbleDefaults
			pebbleDefaults = c.defaults
			defer func() { pebbleDefaults = old }()
			benchCompaction(b)
		})
	}
}

func benchCompaction(b *testing.B) {
	tr, err := OpenTreeWith(b.TempDir(), Options{}) // with the change log, as a node has it
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	const perBlock, accounts = 3000, 20_000
	hash := func(tag byte, i uint64) []byte {
		h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte{tag}, i))
		return h[:]
	}
	account := func(i uint64) []byte { return append([]byte{0x03}, hash('a', i)[:20]...) }
	record := func(i uint64) []byte { return append([]byte{0xB0}, hash('r', i)...) }
	// Values of random bytes, as the state's are (hashes, keys,
	// signatures, wrapped keys): they compress as poorly.
	rng := rand.NewChaCha8([32]byte{1})
	val := make([]byte, 120)
	entries := make([]byte, 250*perBlock)
	side := make([]Side, 0, 3*perBlock)
	var tx uint64
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	next := wall0
	for h := range b.N {
		// Paced like a node under load (a block every 150 ms here, every
		// 300-400 ms on a node): flushes and compactions run between
		// commits, as they do there, instead of piling up behind them.
		time.Sleep(time.Until(next))
		next = next.Add(150 * time.Millisecond)
		side = side[:0]
		_, _ = rng.Read(entries)
		for i := range perBlock {
			_, _ = rng.Read(val)
			entry := entries[250*i : 250*(i+1)]
			acct := account(tx * 7919 % accounts)
			tr.Set(acct, val[:80])
			tr.Set(record(tx), val)
			pos := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, uint64(h)), uint32(i))
			side = append(side,
				Side{Key: append([]byte{'b'}, pos...), Value: entry},
				Side{Key: append([]byte{'t'}, hash('t', tx)...), Value: pos},
				Side{Key: append(append([]byte{'a'}, acct[1:]...), pos...), Value: []byte{}})
			tx++
		}
		tr.WorkingHash()
		if _, _, err := tr.Commit(side...); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		m := tr.db.Metrics()
		if m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			break
		}
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	b.StopTimer()
	m := tr.db.Metrics()
	total := m.Total()
	b.ReportMetric(float64(cpu.Microseconds())/float64(tx), "cpu-µs/tx")
	b.ReportMetric(float64(total.BytesFlushed+total.BytesCompacted)/float64(tx), "written-B/tx")
	b.ReportMetric(float64(m.Levels[0].Sublevels), "L0-sublevels")
	b.ReportMetric(wall.Seconds(), "wall-s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
