package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/store/merkle"
)

// State sync: every Interval heights the app writes the committed state as
// a snapshot (format 1) under Dir, and keeps the last Keep. A node joining
// by state sync fetches one from its peers: CometBFT verifies the
// snapshot's height and app hash with its light client, the app checks
// every chunk against the hashes in the snapshot's metadata and, at the
// end, the state's root against the verified app hash.
//
// Format 1: the state's pairs (proven keys and index keys) in key order,
// each uvarint(len(key)) ‖ key ‖ uvarint(len(value)) ‖ value, cut into
// chunks of about ChunkBytes; the metadata is the SHA-256 of every chunk,
// in order, and the snapshot's hash is the SHA-256 of the metadata.
// Side data (the transaction index) is not in a snapshot: a state-synced
// node finds transactions from its sync height on.
const (
	SnapshotFormat uint32 = 1
	ChunkBytes            = 4 << 20
)

// SnapshotOptions configure the snapshots a node offers.
type SnapshotOptions struct {
	Dir      string // "" : no snapshots offered or restored
	Interval int64  // take one every Interval heights (0: none taken)
	Keep     int    // how many to keep (default 2)
}

type snapshotter struct {
	opts SnapshotOptions
	mu   sync.Mutex // one export at a time
	wg   sync.WaitGroup

	// restore in progress (OfferSnapshot → ApplySnapshotChunk)
	restore *restoreState
}

type restoreState struct {
	snap    *abci.Snapshot
	appHash []byte
	hashes  [][32]byte
	next    uint32
	imp     *merkle.Import
}

type snapshotMeta struct {
	Height   int64  `json:"height"`
	Format   uint32 `json:"format"`
	Chunks   uint32 `json:"chunks"`
	Hash     []byte `json:"hash"`
	Metadata []byte `json:"metadata"`
}

func (s *snapshotter) dir(h int64) string { return filepath.Join(s.opts.Dir, strconv.FormatInt(h, 10)) }

// maybeSnapshot starts an export of the committed version when due.
func (a *App) maybeSnapshot(snap *merkle.Snapshot) {
	s := a.snaps
	if s == nil || s.opts.Interval <= 0 || snap.Version()%s.opts.Interval != 0 {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.export(snap); err != nil {
			a.log.Error("state sync snapshot failed", "height", snap.Version(), "err", err)
			return
		}
		a.log.Info("state sync snapshot taken", "height", snap.Version())
	}()
}

// WaitSnapshots waits for snapshot exports in progress (tests, shutdown).
func (a *App) WaitSnapshots() {
	if a.snaps != nil {
		a.snaps.wg.Wait()
	}
}

func (s *snapshotter) export(snap *merkle.Snapshot) (err error) {
	defer func() {
		if r := recover(); r != nil { // a store fault: the snapshot's version is gone
			err = fmt.Errorf("%v", r)
		}
	}()
	final := s.dir(snap.Version())
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	tmp := final + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	var (
		chunk  []byte
		hashes []byte
		n      uint32
		werr   error
	)
	flush := func() {
		if werr != nil {
			return
		}
		h := sha256.Sum256(chunk)
		hashes = append(hashes, h[:]...)
		werr = os.WriteFile(filepath.Join(tmp, fmt.Sprintf("chunk-%06d", n)), chunk, 0o600)
		n++
		chunk = chunk[:0]
	}
	snap.Iterate(nil, nil, func(k, v []byte) bool {
		chunk = binary.AppendUvarint(chunk, uint64(len(k)))
		chunk = append(chunk, k...)
		chunk = binary.AppendUvarint(chunk, uint64(len(v)))
		chunk = append(chunk, v...)
		if len(chunk) >= ChunkBytes {
			flush()
		}
		return werr == nil
	})
	if len(chunk) > 0 || n == 0 {
		flush()
	}
	if werr != nil {
		return werr
	}
	h := sha256.Sum256(hashes)
	meta, _ := json.Marshal(snapshotMeta{Height: snap.Version(), Format: SnapshotFormat, Chunks: n, Hash: h[:], Metadata: hashes})
	if err := os.WriteFile(filepath.Join(tmp, "snapshot.json"), meta, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	// Keep the newest.
	hs := s.heights()
	keep := s.opts.Keep
	if keep <= 0 {
		keep = defaultSnapshotKeep
	}
	for len(hs) > keep {
		_ = os.RemoveAll(s.dir(hs[0]))
		hs = hs[1:]
	}
	return nil
}

// heights lists the snapshots on disk, oldest first.
func (s *snapshotter) heights() []int64 {
	ents, _ := os.ReadDir(s.opts.Dir)
	var hs []int64
	for _, e := range ents {
		if h, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && e.IsDir() {
			hs = append(hs, h)
		}
	}
	slices.Sort(hs)
	return hs
}

func (s *snapshotter) meta(h int64) (*snapshotMeta, error) {
	b, err := os.ReadFile(filepath.Join(s.dir(h), "snapshot.json"))
	if err != nil {
		return nil, err
	}
	var m snapshotMeta
	return &m, json.Unmarshal(b, &m)
}

func (a *App) ListSnapshots(context.Context, *abci.RequestListSnapshots) (*abci.ResponseListSnapshots, error) {
	resp := &abci.ResponseListSnapshots{}
	if a.snaps == nil {
		return resp, nil
	}
	for _, h := range a.snaps.heights() {
		m, err := a.snaps.meta(h)
		if err != nil {
			continue
		}
		resp.Snapshots = append(resp.Snapshots, &abci.Snapshot{Height: uint64(m.Height), Format: m.Format, Chunks: m.Chunks, Hash: m.Hash, Metadata: m.Metadata})
	}
	return resp, nil
}

func (a *App) LoadSnapshotChunk(_ context.Context, req *abci.RequestLoadSnapshotChunk) (*abci.ResponseLoadSnapshotChunk, error) {
	if a.snaps == nil || req.Format != SnapshotFormat {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	b, err := os.ReadFile(filepath.Join(a.snaps.dir(int64(req.Height)), fmt.Sprintf("chunk-%06d", req.Chunk)))
	if err != nil {
		return &abci.ResponseLoadSnapshotChunk{}, nil // pruned meanwhile: the peer asks another
	}
	return &abci.ResponseLoadSnapshotChunk{Chunk: b}, nil
}

func (a *App) OfferSnapshot(_ context.Context, req *abci.RequestOfferSnapshot) (*abci.ResponseOfferSnapshot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	reject := func(r abci.ResponseOfferSnapshot_Result) (*abci.ResponseOfferSnapshot, error) {
		return &abci.ResponseOfferSnapshot{Result: r}, nil
	}
	if a.snaps == nil {
		return reject(abci.ResponseOfferSnapshot_ABORT)
	}
	sn := req.Snapshot
	if sn == nil || sn.Format != SnapshotFormat {
		return reject(abci.ResponseOfferSnapshot_REJECT_FORMAT)
	}
	h := sha256.Sum256(sn.Metadata)
	if len(sn.Metadata) != 32*int(sn.Chunks) || sn.Chunks == 0 || !bytes.Equal(h[:], sn.Hash) || len(req.AppHash) != 32 {
		return reject(abci.ResponseOfferSnapshot_REJECT)
	}
	if a.snaps.restore != nil {
		a.snaps.restore.imp.Abort()
		a.snaps.restore = nil
	}
	imp, err := a.tree.BeginImport()
	if err != nil {
		a.log.Error("state sync: cannot restore", "err", err)
		return reject(abci.ResponseOfferSnapshot_ABORT)
	}
	rs := &restoreState{snap: sn, appHash: bytes.Clone(req.AppHash), imp: imp}
	for i := 0; i < int(sn.Chunks); i++ {
		var c [32]byte
		copy(c[:], sn.Metadata[32*i:])
		rs.hashes = append(rs.hashes, c)
	}
	a.snaps.restore = rs
	a.log.Info("state sync: restoring snapshot", "height", sn.Height, "chunks", sn.Chunks)
	return reject(abci.ResponseOfferSnapshot_ACCEPT)
}

func (a *App) ApplySnapshotChunk(_ context.Context, req *abci.RequestApplySnapshotChunk) (*abci.ResponseApplySnapshotChunk, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	res := func(r abci.ResponseApplySnapshotChunk_Result) *abci.ResponseApplySnapshotChunk {
		return &abci.ResponseApplySnapshotChunk{Result: r}
	}
	if a.snaps == nil || a.snaps.restore == nil {
		return res(abci.ResponseApplySnapshotChunk_ABORT), nil
	}
	rs := a.snaps.restore
	if req.Index != rs.next || int(req.Index) >= len(rs.hashes) {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY, RefetchChunks: []uint32{rs.next}}, nil
	}
	if sha256.Sum256(req.Chunk) != rs.hashes[req.Index] {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY,
			RefetchChunks: []uint32{req.Index}, RejectSenders: []string{req.Sender}}, nil
	}
	if err := applyPairs(rs.imp, req.Chunk); err != nil {
		rs.imp.Abort()
		a.snaps.restore = nil
		a.log.Error("state sync: bad snapshot", "err", err)
		return res(abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT), nil
	}
	rs.next++
	if int(rs.next) < len(rs.hashes) {
		return res(abci.ResponseApplySnapshotChunk_ACCEPT), nil
	}
	a.snaps.restore = nil
	if err := rs.imp.Finish(int64(rs.snap.Height), rs.appHash); err != nil {
		a.log.Error("state sync: snapshot does not match the verified app hash", "err", err)
		return res(abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT), nil
	}
	snap, err := a.tree.Snapshot(int64(rs.snap.Height))
	if err != nil {
		return nil, err
	}
	a.committed.Store(snap)
	a.log.Info("state sync: state restored", "height", rs.snap.Height)
	return res(abci.ResponseApplySnapshotChunk_ACCEPT), nil
}

// applyPairs feeds a chunk's pairs to the import; a chunk holds whole pairs.
func applyPairs(imp *merkle.Import, b []byte) error {
	for len(b) > 0 {
		var kv [2][]byte
		for i := range kv {
			n, w := binary.Uvarint(b)
			if w <= 0 || n > uint64(len(b)-w) {
				return errors.New("truncated pair")
			}
			kv[i], b = b[w:w+int(n)], b[w+int(n):]
		}
		if err := imp.Put(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}
