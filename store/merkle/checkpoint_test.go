package merkle

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/medchain/medchain/store"
)

// twin drives a tree on disk with tree checkpoints and an in-memory tree
// without, with the same writes: after every commit, and after every reopen
// of the disk tree, both must have the same root, keys and values. The
// in-memory tree is built by writes alone, never from a checkpoint, so it
// is the tree rebuilt from scratch the checkpointed one must equal.
type twin struct {
	t     *testing.T
	dir   string
	opts  Options
	disk  *Tree
	mem   *Tree
	model map[string]string
	rng   *rand.Rand
	keys  int
}

// ckOpts: checkpoints only when a test asks for one (or at close).
var ckOpts = Options{CheckpointChanges: 1 << 40, CheckpointVersions: 1 << 40}

func newTwin(t *testing.T, keys int) *twin {
	tw := &twin{t: t, dir: t.TempDir(), opts: ckOpts, mem: NewMemTree(), model: map[string]string{},
		rng: rand.New(rand.NewPCG(7, uint64(keys))), keys: keys}
	t.Cleanup(func() { tw.mem.Close() })
	tw.open()
	t.Cleanup(func() {
		if tw.disk != nil {
			tw.disk.Close()
		}
	})
	return tw
}

func (tw *twin) open() LoadStats {
	tw.t.Helper()
	tr, err := OpenTreeWith(tw.dir, tw.opts)
	if err != nil {
		tw.t.Fatal(err)
	}
	tw.disk = tr
	tw.check()
	return tr.LoadStats()
}

// rounds commits n versions of random writes: sets, updates, deletes, an
// index key now and then (so the index digest, a proven key, changes).
func (tw *twin) rounds(n int) {
	tw.t.Helper()
	for range n {
		if tw.rng.IntN(8) == 0 { // a failed block: nothing of it stays
			tw.disk.Set([]byte("rolled back"), []byte("x"))
			tw.disk.Delete([]byte("k0001"))
			tw.disk.Rollback()
		}
		for range 1 + tw.rng.IntN(60) {
			k := fmt.Sprintf("k%04d", tw.rng.IntN(tw.keys))
			switch r := tw.rng.IntN(10); {
			case r < 3:
				tw.disk.Delete([]byte(k))
				tw.mem.Delete([]byte(k))
				delete(tw.model, k)
			case r == 3:
				ik := []byte{store.IndexKeyStart, byte(tw.rng.IntN(50))}
				tw.disk.Set(ik, []byte("i"))
				tw.mem.Set(ik, []byte("i"))
			default:
				v := fmt.Sprint(tw.rng.Uint64())
				tw.disk.Set([]byte(k), []byte(v))
				tw.mem.Set([]byte(k), []byte(v))
				tw.model[k] = v
			}
		}
		h1, _, err := tw.disk.Commit()
		if err != nil {
			tw.t.Fatal(err)
		}
		h2, _, _ := tw.mem.Commit()
		if !bytes.Equal(h1, h2) {
			tw.t.Fatalf("v%d: disk %X, memory %X", tw.disk.Version(), h1, h2)
		}
	}
}

func (tw *twin) check() {
	tw.t.Helper()
	d, m := tw.disk, tw.mem
	if d.Version() != m.Version() || !bytes.Equal(d.Hash(), m.Hash()) {
		tw.t.Fatalf("disk v%d %X, memory v%d %X", d.Version(), d.Hash(), m.Version(), m.Hash())
	}
	if d.Version() == 0 {
		return
	}
	if d.Stats().Keys != m.Stats().Keys {
		tw.t.Fatalf("disk holds %d keys, memory %d", d.Stats().Keys, m.Stats().Keys)
	}
	snap, err := d.Snapshot(d.Version())
	if err != nil {
		tw.t.Fatal(err)
	}
	for i := range tw.keys {
		k := fmt.Sprintf("k%04d", i)
		want, ok := tw.model[k]
		if got := d.Get([]byte(k)); string(got) != want || (got != nil) != ok {
			tw.t.Fatalf("%s = %q, want %q", k, got, want)
		}
		if i%7 != 0 {
			continue
		}
		v, p, err := snap.Prove([]byte(k))
		if err != nil {
			tw.t.Fatalf("prove %s: %v", k, err)
		}
		if err := VerifyProof(d.Hash(), p, []byte(k), v); err != nil {
			tw.t.Fatalf("proof of %s: %v", k, err)
		}
	}
}

// crash closes the disk tree as a killed process leaves it: no checkpoint
// at close.
func (tw *twin) crash() {
	tw.disk.waitCheckpoint()
	tw.disk.mu.Lock()
	tw.disk.ck.dir = ""
	tw.disk.mu.Unlock()
	tw.disk.Close()
	tw.disk = nil
}

func (tw *twin) close() {
	if err := tw.disk.Close(); err != nil {
		tw.t.Fatal(err)
	}
	tw.disk = nil
}

// checkpointNow writes a checkpoint of the last version and waits for it.
func checkpointNow(tr *Tree) {
	tr.mu.Lock()
	tr.maybeCheckpoint(true)
	tr.mu.Unlock()
	tr.waitCheckpoint()
}

func (tw *twin) changeLog() (versions []int64) {
	it, err := tw.disk.db.NewIter(&pebble.IterOptions{LowerBound: prefixChanges, UpperBound: store.PrefixEnd(prefixChanges)})
	if err != nil {
		tw.t.Fatal(err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		versions = append(versions, int64(bytesToUint64(it.Key()[1:])))
	}
	return versions
}

func forFPs(t *testing.T, fn func(t *testing.T)) {
	for _, bits := range []int{64, 12, 8, 6} {
		t.Run(fmt.Sprintf("fp of %d bits", bits), func(t *testing.T) {
			defer SetFPBits(bits)()
			fn(t)
		})
	}
}

// A tree reopened after a crash loads the checkpoint of an older version,
// replays the versions after it from the change log (sets, updates,
// deletes, buckets that split, merge and turn wide), and is the tree a
// rebuild gives: same root, keys, values and proofs, and the next versions
// hash alike. A clean close leaves a checkpoint of the last version.
func TestCheckpointReplay(t *testing.T) {
	forFPs(t, func(t *testing.T) {
		tw := newTwin(t, 400)
		if st := tw.disk.LoadStats(); st.FromCheckpoint || st.Rebuilt {
			t.Fatalf("empty state loaded as %+v", st)
		}
		tw.rounds(5)
		checkpointNow(tw.disk)
		at := tw.disk.Version()
		if log := tw.changeLog(); len(log) != 1 || log[0] != at {
			t.Fatalf("change log after a checkpoint at %d: %v, want only %d", at, log, at)
		}
		tw.rounds(40)
		tw.crash()
		st := tw.open()
		if !st.FromCheckpoint || st.CheckpointVersion != at || st.Replayed == 0 || st.Rebuilt {
			t.Fatalf("reopened as %+v, want from the checkpoint at %d with a replay", st, at)
		}
		tw.rounds(20)
		tw.crash() // the same checkpoint, a longer replay
		if st := tw.open(); st.CheckpointVersion != at {
			t.Fatalf("reopened as %+v", st)
		}
		tw.rounds(10)
		last := tw.disk.Version()
		tw.close()
		st = tw.open()
		if !st.FromCheckpoint || st.CheckpointVersion != last || st.Replayed != 0 {
			t.Fatalf("after a clean close: %+v, want the checkpoint of %d", st, last)
		}
		if log := tw.changeLog(); len(log) != 1 || log[0] != last {
			t.Fatalf("change log: %v, want only %d", log, last)
		}
		tw.rounds(10)
		tw.check()
	})
}

// A checkpoint is written in the background from a committed version while
// the writer commits more than ProvableVersions versions: the version's
// nodes are not reused meanwhile, and the file is that version's tree.
func TestCheckpointWhileCommitting(t *testing.T) {
	forFPs(t, func(t *testing.T) {
		tw := newTwin(t, 300)
		tw.rounds(10)
		release := make(chan struct{})
		tw.disk.mu.Lock()
		tw.disk.ck.hook = func() { <-release }
		tw.disk.maybeCheckpoint(true)
		tw.disk.mu.Unlock()
		at := tw.disk.Version()
		tw.rounds(3 * ProvableVersions)
		close(release)
		tw.disk.waitCheckpoint()
		if tw.disk.ck.last != at {
			t.Fatalf("checkpoint at %d, want %d", tw.disk.ck.last, at)
		}
		tw.rounds(3)
		tw.crash()
		if st := tw.open(); !st.FromCheckpoint || st.CheckpointVersion != at {
			t.Fatalf("reopened as %+v, want from %d", st, at)
		}
		tw.rounds(5)
	})
}

// A checkpoint that cannot be used is logged, and the tree rebuilt from the
// stored keys (the same root); a new checkpoint is written right away.
func TestCheckpointFallback(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, tw *twin, file string)
		reason string
	}{
		{"a flipped bit in a leaf", func(t *testing.T, tw *twin, file string) {
			b := readFile(t, file)
			b[len(b)-9] ^= 0x20 // the last hash before the trailer
			writeFile(t, file, b)
		}, "checksum"},
		{"a flipped bit anywhere", func(t *testing.T, tw *twin, file string) {
			b := readFile(t, file)
			b[len(b)/2] ^= 0x20
			writeFile(t, file, b)
		}, "tree checkpoint"},
		{"truncated", func(t *testing.T, tw *twin, file string) {
			b := readFile(t, file)
			writeFile(t, file, b[:len(b)*2/3])
		}, "tree checkpoint"},
		{"only a header", func(t *testing.T, tw *twin, file string) {
			writeFile(t, file, readFile(t, file)[:treeHeaderLen])
		}, "too short"},
		{"another format", func(t *testing.T, tw *twin, file string) {
			b := readFile(t, file)
			b[11] = 9
			writeFile(t, file, b)
		}, "format 9"},
		{"not a checkpoint", func(t *testing.T, tw *twin, file string) {
			writeFile(t, file, bytes.Repeat([]byte("medchain"), 200))
		}, "not a tree checkpoint"},
		{"a lost log entry", func(t *testing.T, tw *twin, file string) {
			db, err := pebble.Open(filepath.Join(tw.dir, DBName), &pebble.Options{Logger: quietLogger{}})
			if err != nil {
				t.Fatal(err)
			}
			db.Delete(changeKey(tw.mem.Version()-3), pebble.Sync)
			db.Close()
		}, "lacks version"},
		{"a log entry without its changes", func(t *testing.T, tw *twin, file string) {
			db, err := pebble.Open(filepath.Join(tw.dir, DBName), &pebble.Options{Logger: quietLogger{}})
			if err != nil {
				t.Fatal(err)
			}
			for v := tw.mem.Version(); ; v-- {
				k := changeKey(v)
				e, c, err := db.Get(k)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				decodeChanges(e, func([]byte, *keyChange) { n++ })
				head := bytes.Clone(e[:33])
				c.Close()
				if n > 0 {
					db.Set(k, append(head, 0), pebble.Sync)
					break
				}
			}
			db.Close()
		}, "tree checkpoint"},
		{"another state's checkpoint", func(t *testing.T, tw *twin, file string) {
			other := t.TempDir()
			o, err := OpenTreeWith(other, ckOpts)
			if err != nil {
				t.Fatal(err)
			}
			for v := range tw.mem.Version() {
				o.Set([]byte("other"), []byte{byte(v)})
				o.Commit()
			}
			o.Close()
			writeFile(t, file, readFile(t, filepath.Join(other, treeFileName)))
		}, "committed as"},
		{"a newer version", func(t *testing.T, tw *twin, file string) {
			b := readFile(t, file)
			b[22] = 1 // version 256 and more; the checksum then fails too
			writeFile(t, file, b)
		}, "newer than the state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forFPs(t, func(t *testing.T) {
				tw := newTwin(t, 300)
				tw.rounds(4)
				checkpointNow(tw.disk)
				tw.rounds(6)
				tw.crash()
				file := filepath.Join(tw.dir, treeFileName)
				c.damage(t, tw, file)
				st := tw.open()
				if !st.Rebuilt || st.FromCheckpoint || !strings.Contains(st.Fallback, c.reason) {
					t.Fatalf("opened as %+v, want a rebuild because of %q", st, c.reason)
				}
				tw.disk.waitCheckpoint()
				tw.rounds(3)
				tw.crash()
				if st := tw.open(); !st.FromCheckpoint || st.Fallback != "" {
					t.Fatalf("after the rebuild's checkpoint: %+v", st)
				}
			})
		})
	}
}

// A crash while a checkpoint is written leaves its temporary file, which
// the next open removes, using the previous checkpoint.
func TestCheckpointPartialWrite(t *testing.T) {
	tw := newTwin(t, 200)
	tw.rounds(5)
	checkpointNow(tw.disk)
	at := tw.disk.Version()
	tw.rounds(5)
	tw.crash()
	tmp := filepath.Join(tw.dir, treeFileName+".tmp")
	full := readFile(t, filepath.Join(tw.dir, treeFileName))
	writeFile(t, tmp, full[:len(full)/2])
	if st := tw.open(); !st.FromCheckpoint || st.CheckpointVersion != at {
		t.Fatalf("opened as %+v, want from %d", st, at)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("the partial file is still there: %v", err)
	}
	// No checkpoint at all yet, and a partial first one: a rebuild.
	tw.crash()
	os.Remove(filepath.Join(tw.dir, treeFileName))
	writeFile(t, tmp, full[:100])
	if st := tw.open(); !st.Rebuilt || st.Fallback != "" {
		t.Fatalf("opened as %+v, want a plain rebuild", st)
	}
}

// With checkpoints off the file and the change log are removed (they would
// go stale), and every open rebuilds; turned on again, the first open
// rebuilds and writes a checkpoint.
func TestCheckpointsOff(t *testing.T) {
	tw := newTwin(t, 200)
	tw.rounds(5)
	tw.close()
	tw.opts = Options{CheckpointChanges: -1}
	if st := tw.open(); !st.Rebuilt {
		t.Fatalf("opened as %+v", st)
	}
	if _, err := os.Stat(filepath.Join(tw.dir, treeFileName)); !os.IsNotExist(err) {
		t.Fatalf("checkpoint kept with checkpoints off: %v", err)
	}
	tw.rounds(5)
	if log := tw.changeLog(); len(log) != 0 {
		t.Fatalf("change log with checkpoints off: %v", log)
	}
	tw.close()
	tw.opts = ckOpts
	if st := tw.open(); !st.Rebuilt || st.Fallback != "" {
		t.Fatalf("opened as %+v", st)
	}
	tw.rounds(2)
	tw.crash()
	if st := tw.open(); !st.FromCheckpoint {
		t.Fatalf("opened as %+v", st)
	}
}

// Checkpoints are written by themselves once enough keys changed, or
// enough versions passed; the change log keeps only what the newest needs.
func TestCheckpointThresholds(t *testing.T) {
	tw := newTwin(t, 5000)
	tw.disk.Close()
	tw.opts = Options{CheckpointVersions: 1 << 40, CheckpointInterval: -1}
	tw.open()
	for tw.disk.Version() < 1000 && tw.disk.ck.last == 0 {
		tw.rounds(1)
		tw.disk.waitCheckpoint()
	}
	if tw.disk.ck.last == 0 || tw.disk.ck.last >= 1000 {
		t.Fatalf("no checkpoint after 4096 changes: last %d at v%d", tw.disk.ck.last, tw.disk.Version())
	}
	if log := tw.changeLog(); log[0] != tw.disk.ck.last {
		t.Fatalf("change log starts at %d, checkpoint at %d", log[0], tw.disk.ck.last)
	}
	tw.close()
	tw.opts = Options{CheckpointVersions: 3, CheckpointInterval: -1}
	tw.open()
	tw.rounds(4)
	tw.disk.waitCheckpoint()
	if v := tw.disk.Version(); tw.disk.ck.last < v-1 {
		t.Fatalf("checkpoint at %d after 4 versions (at %d)", tw.disk.ck.last, v)
	}
}

// A state received by state sync is checkpointed as soon as it is
// imported; versions after it replay from the change log, and a checkpoint
// left by another state in the directory is not used.
func TestCheckpointImport(t *testing.T) {
	forFPs(t, func(t *testing.T) {
		tw := newTwin(t, 300)
		tw.rounds(12)
		snap, err := tw.mem.Snapshot(tw.mem.Version())
		if err != nil {
			t.Fatal(err)
		}
		tw.close()
		stale := readFile(t, filepath.Join(tw.dir, treeFileName))

		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, treeFileName), stale)
		dst, err := OpenTreeWith(dir, ckOpts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, treeFileName)); !os.IsNotExist(err) {
			t.Fatalf("an empty state kept a checkpoint: %v", err)
		}
		im, err := dst.BeginImport()
		if err != nil {
			t.Fatal(err)
		}
		snap.Iterate(nil, nil, func(k, v []byte) bool {
			if err := im.Put(k, v); err != nil {
				t.Fatal(err)
			}
			return true
		})
		if err := im.Finish(snap.Version(), snap.Hash()); err != nil {
			t.Fatal(err)
		}
		dst.waitCheckpoint()
		if dst.ck.last != snap.Version() {
			t.Fatalf("no checkpoint after the import: %d", dst.ck.last)
		}
		if log, _ := firstKey(dst.db, prefixChanges); log != nil {
			t.Fatalf("the import logged changes: %X", log)
		}
		tw.disk, tw.dir = dst, dir
		tw.rounds(6)
		tw.crash()
		if st := tw.open(); !st.FromCheckpoint || st.CheckpointVersion != snap.Version() || st.Replayed == 0 {
			t.Fatalf("reopened as %+v", st)
		}
		tw.rounds(3)
	})
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
