package node

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/gateway"
	"github.com/medchain/medchain/store/merkle"
)

// A backup is a gzip-compressed tar archive:
//
//	data/medchain.db/…      the state database (a Pebble checkpoint)
//	cometbft/<id>.kv        CometBFT's databases (blockstore, state, evidence), key-value dumps
//	data/audit-outbox/…     the gateway's audit outbox (a Pebble checkpoint), when there is one
//	blobs/…                 the local blob store (ciphertexts)
//	config/…                configuration and genesis
//	keys/…, config/priv_validator_key.json, config/node_key.json, config/gateway.pass,
//	data/priv_validator_state.json   only with IncludeKeys
//	medchain-backup.json    the manifest, last: height, app hash, and every file's size and SHA-256
//
// Restore refuses an archive whose files differ from the manifest, or
// whose gzip stream is damaged (its CRC-32).

// BackupManifestName is the manifest's name in the archive.
const BackupManifestName = "medchain-backup.json"

// BackupFormat numbers the archive layout.
const BackupFormat = 1

// BackupManifest describes a backup.
type BackupManifest struct {
	Format      int          `json:"format"`
	Medchain    string       `json:"medchain"`
	ChainID     string       `json:"chain_id"`
	Height      int64        `json:"height"`
	AppHash     string       `json:"app_hash"`
	Created     time.Time    `json:"created"`
	IncludeKeys bool         `json:"include_keys"`
	Files       []BackupFile `json:"files"`
}

// BackupFile is one file of a backup.
type BackupFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BackupOptions choose what a backup holds.
type BackupOptions struct {
	// IncludeKeys adds the node's private keys: the validator and node keys,
	// the signing state, the account keystore and the gateway passphrase.
	IncludeKeys bool
	Now         time.Time
}

// keyFiles are the files of a home that hold or unlock private keys,
// relative to the home.
var keyFiles = []string{
	"config/priv_validator_key.json", "config/node_key.json", "config/gateway.pass", "data/priv_validator_state.json",
}

// snapshot is a consistent copy of a node's databases, taken from a running
// node (Node.Backup) or a stopped one (BackupStopped), in a scratch folder.
type snapshot struct {
	home    string
	cfg     config.Config
	scratch string
	height  int64
	appHash []byte
	chainID string
	outbox  bool
}

// Backup writes a backup of the running node to w. Blocks wait while the
// databases are copied (a checkpoint of the state, snapshots of CometBFT's
// databases); the copies are then written out while the node goes on.
func (n *Node) Backup(w io.Writer, o BackupOptions) (*BackupManifest, error) {
	s, err := n.takeSnapshot()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(s.scratch)
	return s.write(w, o)
}

func (n *Node) takeSnapshot() (*snapshot, error) {
	scratch, err := os.MkdirTemp(config.DataDir(n.home), ".backup-")
	if err != nil {
		return nil, err
	}
	s := &snapshot{home: n.home, cfg: n.cfg, scratch: scratch, chainID: n.genesis.ChainID}
	fail := func(err error) (*snapshot, error) {
		os.RemoveAll(scratch)
		return nil, err
	}
	n.dbMu.Lock()
	dbs := n.cmtDB
	n.dbMu.Unlock()
	// With the app paused, the state stays at its height V; CometBFT may
	// still save block V+1 and its state of V. Taken in this order, the
	// copies are one of the states a crash can leave (block store at V or
	// V+1, CometBFT's state at V-1 or V), which CometBFT's start-up
	// handshake completes.
	height, hash, resume := n.app.Pause()
	s.height, s.appHash = height, hash
	iters := map[string]dbm.Iterator{}
	closeIters := func() {
		for _, it := range iters {
			it.Close()
		}
	}
	for _, id := range slices.Sorted(maps.Keys(dbs)) { // blockstore, evidence, state: block store first
		it, err := dbs[id].Iterator(nil, nil) // a snapshot of the database
		if err != nil {
			resume()
			closeIters()
			return fail(fmt.Errorf("snapshot %s: %w", id, err))
		}
		iters[id] = it
	}
	err = n.tree.Checkpoint(filepath.Join(scratch, "state"))
	if err == nil && n.outbox != nil {
		err = n.outbox.Checkpoint(filepath.Join(scratch, "outbox"))
		s.outbox = true
	}
	resume()
	if err != nil {
		closeIters()
		return fail(fmt.Errorf("checkpoint: %w", err))
	}
	for _, id := range slices.Sorted(maps.Keys(iters)) {
		err := dumpKV(filepath.Join(scratch, id+".kv"), iters[id])
		iters[id].Close()
		delete(iters, id)
		if err != nil {
			closeIters()
			return fail(fmt.Errorf("dump %s: %w", id, err))
		}
	}
	return s, nil
}

// cometDBs are the CometBFT databases a backup holds (the transaction
// indexer is off: medchain indexes with the state).
var cometDBs = []string{"blockstore", "evidence", "state"}

// BackupStopped writes a backup of the stopped node whose home is home.
func BackupStopped(home string, w io.Writer, o BackupOptions) (*BackupManifest, error) {
	cfg, err := config.Load(home)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	gen, err := cmttypes.GenesisDocFromFile(config.GenesisPath(home))
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	info, err := merkle.ReadInfo(config.DataDir(home))
	if err != nil {
		return nil, fmt.Errorf("%w (a running node is backed up through its admin socket)", err)
	}
	if info.Format != merkle.StateFormat {
		return nil, fmt.Errorf("%w: state format %d; migrate it first (medchain state migrate)", merkle.ErrStateFormat, info.Format)
	}
	scratch, err := os.MkdirTemp(config.DataDir(home), ".backup-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	s := &snapshot{home: home, cfg: cfg, scratch: scratch, height: info.Version, appHash: info.Root, chainID: gen.ChainID}
	cc := cfg.CometBFT(home)
	for _, id := range cometDBs {
		db, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: id, Config: cc})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", id, err)
		}
		it, err := db.Iterator(nil, nil)
		if err == nil {
			err = dumpKV(filepath.Join(scratch, id+".kv"), it)
			it.Close()
		}
		db.Close()
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", id, err)
		}
	}
	if err := merkle.CheckpointDir(config.DataDir(home), filepath.Join(scratch, "state")); err != nil {
		return nil, err
	}
	if _, err := os.Stat(OutboxDir(home)); err == nil {
		if err := gateway.CheckpointOutbox(OutboxDir(home), filepath.Join(scratch, "outbox")); err != nil {
			return nil, err
		}
		s.outbox = true
	}
	return s.write(w, o)
}

// dumpKV writes every pair of an iterator: uvarint(len(key)) ‖ key ‖
// uvarint(len(value)) ‖ value.
func dumpKV(file string, it dbm.Iterator) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var lb []byte
	for ; it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		lb = binary.AppendUvarint(lb[:0], uint64(len(k)))
		bw.Write(lb)
		bw.Write(k)
		lb = binary.AppendUvarint(lb[:0], uint64(len(v)))
		bw.Write(lb)
		bw.Write(v)
	}
	if err := it.Error(); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// blobDir is the local blob store's folder ("" with S3).
func blobDir(home string, cfg config.Config) string {
	if cfg.Blobs.S3 != nil {
		return ""
	}
	dir := cfg.Blobs.Dir
	if dir == "" {
		dir = filepath.Join("data", "blobs")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(home, dir)
	}
	return dir
}

// write archives the snapshot with the home's blobs, configuration and
// (when asked) keys, and the manifest last.
func (s *snapshot) write(w io.Writer, o BackupOptions) (*BackupManifest, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	m := &BackupManifest{Format: BackupFormat, Medchain: app.SoftVersion, ChainID: s.chainID, Height: s.height,
		AppHash: strings.ToUpper(hex.EncodeToString(s.appHash)), Created: o.Now.UTC(), IncludeKeys: o.IncludeKeys}
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	add := func(name, file string) error {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: m.Created, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(tw, h), f)
		if err != nil {
			return err
		}
		if n != st.Size() {
			return fmt.Errorf("%s changed while backed up", file)
		}
		m.Files = append(m.Files, BackupFile{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	}
	addTree := func(prefix, dir string, skip func(rel string) bool) error {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			if skip != nil && skip(rel) {
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			return add(path.Join(prefix, rel), p)
		})
	}
	err := addTree("data/medchain.db", filepath.Join(s.scratch, "state"), nil)
	for _, id := range cometDBs {
		if err == nil {
			if _, serr := os.Stat(filepath.Join(s.scratch, id+".kv")); serr == nil {
				err = add("cometbft/"+id+".kv", filepath.Join(s.scratch, id+".kv"))
			}
		}
	}
	if err == nil && s.outbox {
		err = addTree("data/audit-outbox", filepath.Join(s.scratch, "outbox"), nil)
	}
	if err == nil {
		if dir := blobDir(s.home, s.cfg); dir != "" {
			// Content-addressed files, written once: a copy taken while
			// the node runs holds every blob of the state copied above.
			err = addTree("blobs", dir, func(rel string) bool { return strings.HasPrefix(path.Base(rel), ".") })
		}
	}
	if err == nil {
		err = addTree("config", filepath.Join(s.home, "config"), func(rel string) bool {
			return slices.Contains(keyFiles, "config/"+rel)
		})
	}
	if err == nil && o.IncludeKeys {
		for _, f := range keyFiles {
			if _, serr := os.Stat(filepath.Join(s.home, f)); serr == nil && err == nil {
				err = add(f, filepath.Join(s.home, f))
			}
		}
		if err == nil {
			err = addTree("keys", config.KeysDir(s.home), nil)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: BackupManifestName, Mode: 0o600, Size: int64(len(mb)), ModTime: m.Created, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(mb); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return m, zw.Close()
}

// ErrBadBackup: the archive is damaged or not a medchain backup.
var ErrBadBackup = errors.New("backup damaged or not a medchain backup")

// Restore writes the backup read from r into a new home (which must not
// exist or be empty) after checking every file against the manifest. A
// backup without keys gets a new node key and a new validator key: the
// restored node joins as a full node; to restore a validator, restore a
// backup taken with keys (or put its key files in place before starting,
// with the newest signing state). Nothing is left at home on error.
func Restore(r io.Reader, home string) (*BackupManifest, error) {
	if ents, err := os.ReadDir(home); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty: restore into a new home", home)
	}
	parent := filepath.Dir(filepath.Clean(home))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, ".restore-")
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	m, err := unpack(r, tmp)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(tmp)
	if err != nil {
		return nil, fmt.Errorf("%w: config: %v", ErrBadBackup, err)
	}
	cc := cfg.CometBFT(tmp)
	for _, id := range cometDBs {
		if err := loadKV(filepath.Join(tmp, "cometbft", id+".kv"), id, cc); err != nil {
			return nil, fmt.Errorf("restore %s: %w", id, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(tmp, "cometbft")); err != nil {
		return nil, err
	}
	if src := filepath.Join(tmp, "blobs"); exists(src) {
		dst := blobDir(home, cfg)
		if dst == "" {
			return nil, errors.New("the backup holds blobs, the configuration an S3 store: copy them to the bucket or change blobs in config/medchain.json")
		}
		if filepath.IsAbs(cfg.Blobs.Dir) {
			if ents, err := os.ReadDir(dst); err == nil && len(ents) > 0 {
				return nil, fmt.Errorf("blob folder %s (absolute, from the configuration) is not empty", dst)
			}
		} else {
			rel, _ := filepath.Rel(home, dst)
			dst = filepath.Join(tmp, rel)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, err
		}
		if err := os.Rename(src, dst); err != nil {
			if err := copyDir(src, dst); err != nil {
				return nil, err
			}
		}
	}
	if !m.IncludeKeys {
		if _, err := p2p.LoadOrGenNodeKey(cc.NodeKeyFile()); err != nil {
			return nil, err
		}
		privval.LoadOrGenFilePV(cc.PrivValidatorKeyFile(), cc.PrivValidatorStateFile())
	}
	info, err := merkle.ReadInfo(config.DataDir(tmp))
	if err != nil {
		return nil, fmt.Errorf("%w: state: %v", ErrBadBackup, err)
	}
	if info.Version != m.Height || !strings.EqualFold(hex.EncodeToString(info.Root), m.AppHash) {
		return nil, fmt.Errorf("%w: the state is at height %d (%X), the manifest says %d (%s)", ErrBadBackup, info.Version, info.Root, m.Height, m.AppHash)
	}
	if err := os.Remove(home); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.Rename(tmp, home); err != nil {
		return nil, err
	}
	done = true
	return m, nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// unpack extracts the archive into dir, hashing each file, and checks the
// files against the manifest (the last entry).
func unpack(r io.Reader, dir string) (*BackupManifest, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBackup, err)
	}
	tr := tar.NewReader(zr)
	got := map[string]BackupFile{}
	var mb []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadBackup, err)
		}
		if mb != nil {
			return nil, fmt.Errorf("%w: entries after the manifest", ErrBadBackup)
		}
		name := h.Name
		if h.Typeflag != tar.TypeReg || name != path.Clean(name) || path.IsAbs(name) || strings.HasPrefix(name, "../") || name == ".." {
			return nil, fmt.Errorf("%w: entry %q", ErrBadBackup, name)
		}
		if name == BackupManifestName {
			if mb, err = io.ReadAll(io.LimitReader(tr, 64<<20)); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadBackup, err)
			}
			continue
		}
		if _, dup := got[name]; dup {
			return nil, fmt.Errorf("%w: %s twice", ErrBadBackup, name)
		}
		f, err := createIn(dir, name)
		if err != nil {
			return nil, err
		}
		hs := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, hs), tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadBackup, name, err)
		}
		got[name] = BackupFile{Name: name, Size: n, SHA256: hex.EncodeToString(hs.Sum(nil))}
	}
	// Reading to the end checks the gzip stream's CRC-32.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBackup, err)
	}
	if mb == nil {
		return nil, fmt.Errorf("%w: no manifest (%s)", ErrBadBackup, BackupManifestName)
	}
	var m BackupManifest
	dec := json.NewDecoder(bytes.NewReader(mb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrBadBackup, err)
	}
	if m.Format != BackupFormat {
		return nil, fmt.Errorf("%w: backup format %d, this medchain reads %d", ErrBadBackup, m.Format, BackupFormat)
	}
	if len(m.Files) != len(got) {
		return nil, fmt.Errorf("%w: %d files, the manifest lists %d", ErrBadBackup, len(got), len(m.Files))
	}
	for _, f := range m.Files {
		if g, ok := got[f.Name]; !ok || g != f {
			return nil, fmt.Errorf("%w: %s does not match its checksum", ErrBadBackup, f.Name)
		}
	}
	return &m, nil
}

// discard is the file of a check without extraction.
type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) Close() error                { return nil }

func createIn(dir, name string) (io.WriteCloser, error) {
	if dir == "" {
		return discard{}, nil
	}
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// VerifyBackup reads a backup and checks every file against its manifest,
// writing nothing.
func VerifyBackup(r io.Reader) (*BackupManifest, error) { return unpack(r, "") }

// loadKV writes a dump of dumpKV into a new CometBFT database.
func loadKV(file, id string, cc *cmtcfg.Config) error {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	db, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: id, Config: cc})
	if err != nil {
		return err
	}
	defer db.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	read := func() ([]byte, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, err
		}
		if n > 1<<30 {
			return nil, fmt.Errorf("%w: a %d-byte entry", ErrBadBackup, n)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(br, b)
		return b, err
	}
	batch := db.NewBatch()
	size := 0
	for {
		k, err := read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		v, err := read()
		if err != nil {
			return fmt.Errorf("%w: truncated dump", ErrBadBackup)
		}
		if err := batch.Set(k, v); err != nil {
			return err
		}
		if size += len(k) + len(v); size > 16<<20 {
			if err := batch.Write(); err != nil {
				return err
			}
			batch.Close()
			batch, size = db.NewBatch(), 0
		}
	}
	defer batch.Close()
	return batch.WriteSync()
}
