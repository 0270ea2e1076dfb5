package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/records"
)

// `medchain bench state` builds a state of many patients and records by
// executing signed transactions through the application (FinalizeBlock and
// Commit into an on-disk tree, as a node does, without CometBFT), measures
// memory and disk as it grows, then reopens it as a restarted node would and
// measures a workload on it. Patients' keys are derived from their index, so
// the builder never holds them all and a later process finds any patient
// again.

// The goal's state (docs/performance.md): extrapolations are evaluated there.
const (
	StateTargetPatients = 1_000_000
	StateTargetRecords  = 10_000_000
)

const (
	stateChainID       = "medchain-statesize"
	statePractitioners = 100    // genesis practitioners; patient i grants to practitioner i mod 100
	stateCheckSample   = 50_000 // patients the workload draws from
	stateBlockInterval = time.Second
	stateMetaFile      = "statesize.json"
)

// StateOptions describe a state-size run.
type StateOptions struct {
	// Home is the state folder: created, or empty, when building; an earlier
	// run's with ServeOnly.
	Home              string
	Patients          int
	RecordsPerPatient int
	Block             int // transactions per block while building
	Checkpoints       int // memory and disk are measured this many times while building (default 10)
	// ServeOnly measures an existing state (a fresh process is a restarted
	// node) instead of building one.
	ServeOnly bool
	// ServeDuration is the workload on the reopened state: half consent
	// checks, half blocks of records/add. Zero skips it.
	ServeDuration time.Duration
	ServeBlock    int // records/add per block of the workload (default 1000)
	// HeapProfile, when set, is where a heap profile is written at the end:
	// of the workload when there is one, else of the build.
	HeapProfile string
	Progress    io.Writer
	// NoTreeCheckpoint opens the state with tree checkpoints off (and
	// deletes any): every open rebuilds the Merkle tree from the stored keys.
	NoTreeCheckpoint bool
	// ReadCacheBytes sizes the state's read cache as the node's
	// state.read_cache_bytes does (0: the default).
	ReadCacheBytes int64
	// BlockCacheBytes sizes Pebble's block cache (0: merkle's default,
	// 256 MiB, which earlier figures used; a node sizes it from the
	// machine, state.block_cache_bytes).
	BlockCacheBytes int64
}

func (o *StateOptions) treeOptions() merkle.Options {
	opts := merkle.Options{ReadCacheBytes: o.ReadCacheBytes, BlockCacheBytes: o.BlockCacheBytes}
	if o.NoTreeCheckpoint {
		opts.CheckpointChanges = -1
	}
	return opts
}

// StateReport is the JSON document `medchain bench state --out` writes.
type StateReport struct {
	Tool          string      `json:"tool"`
	Date          time.Time   `json:"date"`
	Command       []string    `json:"command"`
	Machine       Machine     `json:"machine"`
	Params        StateParams `json:"params"`
	Build         *StateBuild `json:"build,omitempty"`
	Serve         *StateServe `json:"serve,omitempty"`
	Extrapolation []StateFit  `json:"extrapolation,omitempty"`
}

// StateParams are the parameters of a state-size run.
type StateParams struct {
	Home              string `json:"home"`
	ChainID           string `json:"chain_id"`
	Patients          int    `json:"patients"`
	RecordsPerPatient int    `json:"records_per_patient"`
	GrantsPerPatient  int    `json:"grants_per_patient"`
	Practitioners     int    `json:"practitioners"`
	Block             int    `json:"block_txs"`
	ServeOnly         bool   `json:"serve_only,omitempty"`
	ServeDuration     string `json:"serve_duration"`
	ServeBlock        int    `json:"serve_block_txs"`
}

// StateBuild describes the building of the state.
type StateBuild struct {
	Seconds     float64           `json:"seconds"`
	Txs         int64             `json:"txs"`
	Blocks      int64             `json:"blocks"`
	TxPerSec    float64           `json:"tx_per_sec"` // checkpoint measurements left out
	Height      int64             `json:"height"`
	AppHash     string            `json:"app_hash"`
	Checkpoints []StateCheckpoint `json:"checkpoints"`
}

// StateCheckpoint is the state and the process measured at one point of the
// build, every patient so far complete.
type StateCheckpoint struct {
	Patients  int64     `json:"patients"`
	Records   int64     `json:"records"`
	Consents  int64     `json:"consents"`
	Txs       int64     `json:"txs"`
	Height    int64     `json:"height"`
	Seconds   float64   `json:"seconds"`    // since the build started
	TxPerSec  float64   `json:"tx_per_sec"` // since the previous checkpoint
	DiskBytes int64     `json:"disk_bytes"` // the state folder
	Tree      TreeSize  `json:"tree"`       // keys and Merkle tree nodes in memory
	Mem       MemSample `json:"mem"`        // heap after a collection
}

// StateServe describes the reopened state and the workload run on it.
type StateServe struct {
	OpenSeconds float64 `json:"open_seconds"`
	// TreeLoad tells whether the tree came from a checkpoint or a rebuild;
	// CloseSeconds includes writing a checkpoint at close.
	TreeLoad     merkle.LoadStats `json:"tree_load"`
	CloseSeconds float64          `json:"close_seconds"`
	Height       int64            `json:"height"`
	Tree         TreeSize         `json:"tree"`     // after the workload
	MemOpen      MemSample        `json:"mem_open"` // after opening, after a collection
	// PeakFromOpen: PeakRSS values count from just before the reopening,
	// not from the start of the process.
	PeakFromOpen bool `json:"peak_from_open"`

	Checks       int64   `json:"consent_checks"`
	Allowed      int64   `json:"consent_allowed"`
	CheckSeconds float64 `json:"consent_check_seconds"`
	ChecksPerSec float64 `json:"consent_checks_per_sec"` // one goroutine

	Blocks          int     `json:"blocks"`
	Txs             int     `json:"txs"`
	CheckTxUs       float64 `json:"checktx_us_per_tx"`
	FinalizeMsPerTx float64 `json:"finalize_ms_per_tx"`
	CommitMsPerTx   float64 `json:"commit_ms_per_tx"`
	ExecMsPerTx     float64 `json:"exec_ms_per_tx"` // FinalizeBlock + Commit
	MaxBlockSeconds float64 `json:"max_block_seconds"`

	MaxRSS       uint64    `json:"max_rss"` // sampled every 250 ms during the workload
	MaxHeapInuse uint64    `json:"max_heap_inuse"`
	MemEnd       MemSample `json:"mem_end"` // after the workload, after a collection
	DiskBytes    int64     `json:"disk_bytes"`
}

// TreeSize is the size of the state tree: its proven keys (index keys are
// not counted), and the inner nodes and leaf buckets of the Merkle tree
// held in memory.
type TreeSize struct {
	Keys       int `json:"keys"`
	InnerNodes int `json:"inner_nodes"`
	Buckets    int `json:"buckets"`
}

func treeSize(t *merkle.Tree) TreeSize {
	st := t.Stats()
	return TreeSize{Keys: st.Keys, InnerNodes: st.InnerNodes, Buckets: st.Buckets}
}

// StateFit is a linear fit y = Intercept + PerRecord·records of one
// measurement over build checkpoints, evaluated at Records: an
// extrapolation, not a measurement.
type StateFit struct {
	Metric    string  `json:"metric"`
	From      string  `json:"from"` // which checkpoints
	Points    int     `json:"points"`
	Intercept float64 `json:"intercept"`
	PerRecord float64 `json:"per_record"`
	Records   int64   `json:"records"`
	Value     float64 `json:"value"`
}

// RunState builds the state of o (unless o.ServeOnly), then reopens it and
// runs the workload (when o.ServeDuration > 0).
func RunState(ctx context.Context, o StateOptions) (*StateReport, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	rep := &StateReport{Params: StateParams{
		Home: o.Home, ChainID: stateChainID, Patients: o.Patients, RecordsPerPatient: o.RecordsPerPatient, GrantsPerPatient: 1,
		Practitioners: statePractitioners, Block: o.Block, ServeOnly: o.ServeOnly, ServeDuration: o.ServeDuration.String(), ServeBlock: o.ServeBlock,
	}}
	if !o.ServeOnly {
		b, err := buildState(ctx, o)
		if err != nil {
			return nil, err
		}
		rep.Build = b
		rep.Extrapolation = extrapolate(b.Checkpoints)
	}
	if o.ServeDuration > 0 {
		s, meta, err := serveState(ctx, o)
		if err != nil {
			return rep, err
		}
		rep.Serve = s
		rep.Params.Patients, rep.Params.RecordsPerPatient = meta.Patients, meta.RecordsPerPatient
	}
	return rep, nil
}

func (o *StateOptions) check() error {
	if o.Home == "" {
		return errors.New("no state folder given")
	}
	if o.Checkpoints <= 0 {
		o.Checkpoints = 10
	}
	if o.ServeBlock <= 0 {
		o.ServeBlock = 1000
	}
	if o.ServeOnly {
		if o.ServeDuration <= 0 {
			return errors.New("measuring an existing state needs a workload duration")
		}
		return nil
	}
	if o.Patients < 1 || o.RecordsPerPatient < 1 || o.Block < 1 {
		return fmt.Errorf("patients, records per patient and block size must be positive (got %d, %d, %d)", o.Patients, o.RecordsPerPatient, o.Block)
	}
	o.Checkpoints = min(o.Checkpoints, o.Patients)
	return nil
}

func (o *StateOptions) printf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format, args...)
	}
}

// stateMeta is what a later process needs to find its way in a built state.
type stateMeta struct {
	ChainID           string    `json:"chain_id"`
	Patients          int       `json:"patients"`
	RecordsPerPatient int       `json:"records_per_patient"`
	Height            int64     `json:"height"`
	Time              time.Time `json:"time"` // of the block at Height
}

func writeStateMeta(dir string, m stateMeta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stateMetaFile), append(b, '\n'), 0o600)
}

func readStateMeta(dir string) (stateMeta, error) {
	var m stateMeta
	b, err := os.ReadFile(filepath.Join(dir, stateMetaFile))
	if err != nil {
		return m, fmt.Errorf("%s holds no state built by bench state: %w", dir, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", stateMetaFile, err)
	}
	return m, nil
}

// freshDir creates dir, or accepts it empty.
func freshDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o700)
	case err != nil:
		return err
	case len(ents) > 0:
		return fmt.Errorf("%s is not empty: the state is built in a new or empty folder", dir)
	}
	return nil
}

// dirSize is the total size of the regular files under dir. Files that
// vanish while it walks (goleveldb compactions) are skipped.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}

// stateNode drives an app as CometBFT would: one FinalizeBlock and Commit per
// block, a block every stateBlockInterval of block time.
type stateNode struct {
	app    *app.App
	height int64
	time   time.Time
}

// statePractitionerName names the j-th practitioner of the genesis (its
// key is stateNamedKey of the name).
func statePractitionerName(j int) string { return fmt.Sprintf("state-practitioner-%d", j) }

// statePractitioners are the addresses of the extra practitioners.
func statePractitionerAddrs() []crypto.Address {
	out := make([]crypto.Address, statePractitioners)
	for j := range out {
		out[j] = stateNamedKey(statePractitionerName(j)).Address()
	}
	return out
}

// stateNamedKey derives the key of a genesis account or organization from
// its name (the derivation of app/apptest's test network, so a state built
// by an earlier medchain is found again).
func stateNamedKey(name string) *crypto.PrivKey {
	s := sha256.Sum256([]byte("medchain/apptest/sign/" + name))
	e := sha256.Sum256([]byte("medchain/apptest/enc/" + name))
	k, err := crypto.KeyFromSeeds(s[:], e[:])
	if err != nil {
		panic(err) // 32-byte seeds cannot fail
	}
	return k
}

// stateGenesisTime is the state's first block time.
var stateGenesisTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// stateGenesis is the state's genesis: a hospital and a lab with their
// encryption keys, one validator run by the hospital, and statePractitioners
// practitioners split between the two. Patients register themselves.
func stateGenesis() (app.GenesisState, []abci.ValidatorUpdate, error) {
	const power = 10
	orgs := []accounts.GenesisOrg{
		{ID: "dev-hospital", Name: "Development General Hospital", Type: "hospital"},
		{ID: "dev-lab", Name: "Development Clinical Laboratory", Type: "lab"},
	}
	ag := accounts.Genesis{}
	for _, o := range orgs {
		o.EncKey = stateNamedKey("org/" + o.ID).EncKey()
		ag.Orgs = append(ag.Orgs, o)
	}
	for j := range statePractitioners {
		k := stateNamedKey(statePractitionerName(j))
		ag.Accounts = append(ag.Accounts, accounts.GenesisAccount{
			PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "member", Org: orgs[j%len(orgs)].ID, Role: accounts.RolePractitioner, Balance: 1_000_000,
		})
	}
	val := stateNamedKey("validator").PubKey()
	gg := gov.Genesis{Validators: []gov.GenesisValidator{{PubKey: val, Power: power, Org: orgs[0].ID}}}
	state := app.GenesisState{}
	for name, v := range map[string]any{"accounts": ag, "gov": gg} {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, nil, err
		}
		state[name] = raw
	}
	return state, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(val[:], power)}, nil
}

// initStateNode runs InitChain with stateGenesis.
func initStateNode(ctx context.Context, tree *merkle.Tree) (*stateNode, error) {
	state, vals, err := stateGenesis()
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	raw, err := json.Marshal(state)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	n := &stateNode{app: app.New(tree, app.Options{}), time: stateGenesisTime}
	if _, err := n.app.InitChain(ctx, &abci.RequestInitChain{
		Time: n.time, ChainId: stateChainID, InitialHeight: 1, Validators: vals, AppStateBytes: raw,
	}); err != nil {
		return nil, fmt.Errorf("init chain: %w", err)
	}
	return n, nil
}

// run executes and commits one block; every transaction must succeed.
func (n *stateNode) run(ctx context.Context, txs [][]byte) (finalize, commit time.Duration, err error) {
	n.height++
	n.time = n.time.Add(stateBlockInterval)
	t0 := time.Now()
	resp, err := n.app.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: txs, Height: n.height, Time: n.time})
	if err != nil {
		return 0, 0, fmt.Errorf("block %d: %w", n.height, err)
	}
	if err := allSucceeded(n.height, txs, resp.TxResults); err != nil {
		return 0, 0, err
	}
	t1 := time.Now()
	if _, err := n.app.Commit(ctx, &abci.RequestCommit{}); err != nil {
		return 0, 0, fmt.Errorf("commit block %d: %w", n.height, err)
	}
	return t1.Sub(t0), time.Since(t1), nil
}

func allSucceeded(height int64, txs [][]byte, res []*abci.ExecTxResult) error {
	if len(res) != len(txs) {
		return fmt.Errorf("block %d: %d results for %d transactions", height, len(res), len(txs))
	}
	for i, r := range res {
		if r.Code == abci.CodeTypeOK {
			continue
		}
		typ := "undecodable"
		if tx, err := sm.DecodeTx(txs[i]); err == nil {
			typ = tx.Body.Type
		}
		return fmt.Errorf("block %d tx %d (%s) failed: code %s/%d: %s", height, i, typ, r.Codespace, r.Code, r.Log)
	}
	return nil
}

// statePatientKey derives patient i's key.
func statePatientKey(i int) *crypto.PrivKey {
	s := stateHash("sign", i, 0)
	e := stateHash("enc", i, 0)
	k, err := crypto.KeyFromSeeds(s[:], e[:])
	if err != nil {
		panic(err) // 32-byte seeds cannot fail
	}
	return k
}

func stateHash(domain string, i, j int) [32]byte {
	b := binary.BigEndian.AppendUint64([]byte("medchain/bench/state/"+domain+"/"), uint64(i))
	return sha256.Sum256(binary.BigEndian.AppendUint64(b, uint64(j)))
}

// stateRecordID is the id and resource type of patient i's j-th record.
func stateRecordID(i, j int) (consent.RecordID, string) {
	h := stateHash("record", i, j)
	var id consent.RecordID
	copy(id[:], h[:])
	return id, resourceTypes[int(h[consent.RecordIDSize])%len(resourceTypes)]
}

// stateGen signs the transactions of the state's patients.
type stateGen struct {
	chainID       string
	k             int // records per patient
	practitioners []crypto.Address
	rng           *rand.Rand // wrapped-key bytes
}

func newStateGen(chainID string, k int, seed uint64) *stateGen {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], seed)
	return &stateGen{chainID: chainID, k: k, practitioners: statePractitionerAddrs(), rng: rand.New(rand.NewChaCha8(s))}
}

// practitionerOf is the practitioner patient i grants read and write to.
func (g *stateGen) practitionerOf(i int) crypto.Address {
	return g.practitioners[i%len(g.practitioners)]
}

// patientTxs signs patient i's transactions in sequence: registration, k
// records (each with one wrapped key, the patient's: the grant comes after
// them, as in the bench mix's records), a grant to its practitioner.
func (g *stateGen) patientTxs(i int) [][]byte {
	key := statePatientKey(i)
	addr := key.Address()
	out := make([][]byte, 0, g.k+2)
	out = append(out, sm.SignTx(key, g.chainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: key.EncKey()}))
	for j := range g.k {
		out = append(out, sm.SignTx(key, g.chainID, uint64(1+j), 0, g.record(i, j, addr)))
	}
	grant := &consent.MsgGrant{Patient: addr, Grantee: consent.Account(g.practitionerOf(i)),
		Actions: consent.ActRead | consent.ActWrite, Purpose: consent.PurposeTreatment}
	return append(out, sm.SignTx(key, g.chainID, uint64(g.k+1), 0, grant))
}

// record is patient i's j-th record (600 bytes, as the bench mix's) with a
// wrapped key for the patient and for each of readers.
func (g *stateGen) record(i, j int, patient crypto.Address, readers ...crypto.Address) *records.MsgAdd {
	id, typ := stateRecordID(i, j)
	m := &records.MsgAdd{ID: id, Patient: patient, ResourceType: typ, ContentHash: stateHash("content", i, j), Size: 600}
	for _, a := range append([]crypto.Address{patient}, readers...) {
		k := records.WrappedKey{Recipient: consent.Account(a)}
		g.fill(k.Enc[:])
		g.fill(k.CT[:])
		m.Keys = append(m.Keys, k)
	}
	slices.SortFunc(m.Keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
	return m
}

func (g *stateGen) fill(b []byte) {
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], g.rng.Uint64())
		copy(b[i:], w[:])
	}
}

// stateBlock is one block of the build.
type stateBlock struct {
	txs        [][]byte
	checkpoint bool // every patient so far is complete: measure after it
}

// produce signs the build's blocks in order, size transactions each, a
// shorter block ending at each of checkpoints evenly spaced patient counts.
func (g *stateGen) produce(ctx context.Context, patients, checkpoints, size int, out chan<- stateBlock) {
	defer close(out)
	send := func(b stateBlock) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	next := 0
	for c := 1; c <= checkpoints; c++ {
		var cur [][]byte
		for end := patients * c / checkpoints; next < end; next++ {
			cur = append(cur, g.patientTxs(next)...)
			for len(cur) > size {
				if !send(stateBlock{txs: cur[:size:size]}) {
					return
				}
				cur = cur[size:]
			}
		}
		if !send(stateBlock{txs: cur, checkpoint: true}) {
			return
		}
	}
}

// stateCounts are the patients, records and consents complete after the
// first txs transactions of the build, k records per patient.
func stateCounts(txs int64, k int) (patients, recs, consents int64) {
	per := int64(k) + 2
	patients = txs / per
	rem := txs % per
	return patients, patients*int64(k) + min(max(rem-1, 0), int64(k)), patients
}

// buildState builds the state in o.Home, a new or empty folder.
func buildState(ctx context.Context, o StateOptions) (*StateBuild, error) {
	if err := freshDir(o.Home); err != nil {
		return nil, err
	}
	tree, err := merkle.OpenTreeWith(o.Home, o.treeOptions())
	if err != nil {
		return nil, err
	}
	b, err := buildInto(ctx, tree, o)
	if cerr := tree.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close state: %w", cerr)
	}
	return b, err
}

func buildInto(ctx context.Context, tree *merkle.Tree, o StateOptions) (*StateBuild, error) {
	n, err := initStateNode(ctx, tree)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	blocks := make(chan stateBlock, 2)
	go newStateGen(stateChainID, o.RecordsPerPatient, 1).produce(ctx, o.Patients, o.Checkpoints, o.Block, blocks)
	o.printf("build: %d patients × (register, %d records, 1 grant) = %d transactions, %d per block, into %s\n",
		o.Patients, o.RecordsPerPatient, int64(o.Patients)*int64(o.RecordsPerPatient+2), o.Block, o.Home)
	b := &StateBuild{}
	prog := &buildProgress{o: &o, start: time.Now()}
	prog.last = prog.start
	for blk := range blocks {
		if _, _, err := n.run(ctx, blk.txs); err != nil {
			return nil, err
		}
		b.Txs += int64(len(blk.txs))
		b.Blocks++
		prog.tick(b.Txs)
		if blk.checkpoint {
			cp, err := prog.checkpoint(n, tree, b.Txs)
			if err != nil {
				return nil, err
			}
			b.Checkpoints = append(b.Checkpoints, cp)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("build interrupted after %d transactions: %w", b.Txs, err)
	}
	b.Seconds = time.Since(prog.start).Seconds()
	b.TxPerSec = float64(b.Txs) / (b.Seconds - prog.measuring.Seconds())
	b.Height = n.height
	b.AppHash = hex.EncodeToString(tree.Hash())
	meta := stateMeta{ChainID: stateChainID, Patients: o.Patients, RecordsPerPatient: o.RecordsPerPatient, Height: n.height, Time: n.time}
	if o.HeapProfile != "" && o.ServeDuration <= 0 {
		if err := writeHeapProfile(o.HeapProfile); err != nil {
			return nil, err
		}
	}
	return b, writeStateMeta(o.Home, meta)
}

// writeHeapProfile writes a profile of the live heap, after a collection.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// buildProgress prints the build's progress and takes its checkpoints.
type buildProgress struct {
	o         *StateOptions
	start     time.Time
	last      time.Time // of the last progress line
	lastTxs   int64
	cpTime    time.Time // end of the last checkpoint's measurement
	cpTxs     int64
	measuring time.Duration // spent measuring checkpoints
}

// buildProgressEvery is how often the build prints a progress line.
const buildProgressEvery = 10 * time.Second

func (p *buildProgress) tick(txs int64) {
	now := time.Now()
	if now.Sub(p.last) < buildProgressEvery {
		return
	}
	pat, recs, _ := stateCounts(txs, p.o.RecordsPerPatient)
	p.o.printf("[build %5.0fs] %d of %d patients, %d records, %d txs: %.0f tx/s now, %.0f tx/s overall\n",
		now.Sub(p.start).Seconds(), pat, p.o.Patients, recs, txs,
		float64(txs-p.lastTxs)/now.Sub(p.last).Seconds(), float64(txs)/(now.Sub(p.start)-p.measuring).Seconds())
	p.last, p.lastTxs = now, txs
}

// checkpoint measures the state folder and this process after the block
// that completed a checkpoint's patients.
func (p *buildProgress) checkpoint(n *stateNode, tree *merkle.Tree, txs int64) (StateCheckpoint, error) {
	t0 := time.Now()
	since := p.cpTime
	if since.IsZero() {
		since = p.start
	}
	cp := StateCheckpoint{Txs: txs, Height: n.height, Seconds: t0.Sub(p.start).Seconds(),
		TxPerSec: float64(txs-p.cpTxs) / t0.Sub(since).Seconds()}
	cp.Patients, cp.Records, cp.Consents = stateCounts(txs, p.o.RecordsPerPatient)
	var err error
	if cp.DiskBytes, err = dirSize(p.o.Home); err != nil {
		return cp, fmt.Errorf("size of the state: %w", err)
	}
	cp.Tree = treeSize(tree)
	cp.Mem = sampleMemory(true)
	p.cpTime, p.cpTxs = time.Now(), txs
	p.measuring += p.cpTime.Sub(t0)
	p.o.printf("[checkpoint] %d patients, %d records, %d consents: disk %s, heap in use %s, RSS %s, peak RSS %s (%.0f tx/s since the last)\n",
		cp.Patients, cp.Records, cp.Consents, mib(uint64(cp.DiskBytes)), mib(cp.Mem.HeapInuse), mib(cp.Mem.RSS), mib(cp.Mem.PeakRSS), cp.TxPerSec)
	return cp, nil
}

// statePatient is a patient of the workload.
type statePatient struct {
	index int
	addr  crypto.Address
}

// sampleStatePatients draws n patients at random (with repetition) and
// derives their addresses, on every core.
func sampleStatePatients(rng *rand.Rand, patients, n int) []statePatient {
	out := make([]statePatient, n)
	for i := range out {
		out[i].index = rng.IntN(patients)
	}
	workers := runtime.NumCPU()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				out[i].addr = statePatientKey(out[i].index).Address()
			}
		})
	}
	wg.Wait()
	return out
}

// serveState reopens the state in o.Home as a restarted node does and runs
// the workload on it.
func serveState(ctx context.Context, o StateOptions) (*StateServe, stateMeta, error) {
	meta, err := readStateMeta(o.Home)
	if err != nil {
		return nil, meta, err
	}
	debug.FreeOSMemory() // what the build left behind is not the node's
	s := &StateServe{PeakFromOpen: resetPeakRSS()}
	start := time.Now()
	tree, err := merkle.OpenTreeWith(o.Home, o.treeOptions())
	if err != nil {
		return nil, meta, err
	}
	defer func() {
		t0 := time.Now()
		tree.Close()
		s.CloseSeconds = time.Since(t0).Seconds()
		o.printf("serve: closed the state in %.2fs\n", s.CloseSeconds)
	}()
	a := app.New(tree, app.Options{})
	a.SetChainID(meta.ChainID)
	if tree.Version() != meta.Height || a.Committed() == nil {
		return nil, meta, fmt.Errorf("state at height %d, %s says %d", tree.Version(), stateMetaFile, meta.Height)
	}
	s.OpenSeconds = time.Since(start).Seconds()
	s.TreeLoad = tree.LoadStats()
	o.printf("serve: tree %+v\n", s.TreeLoad)
	s.Height = meta.Height
	s.MemOpen = sampleMemory(true)
	o.printf("serve: reopened height %d in %.2fs: heap in use %s, RSS %s\n", s.Height, s.OpenSeconds, mib(s.MemOpen.HeapInuse), mib(s.MemOpen.RSS))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	sample := sampleStatePatients(rng, meta.Patients, min(meta.Patients, stateCheckSample))
	if err := checkStateRecords(a.Committed(), sample[:min(len(sample), 100)]); err != nil {
		return nil, meta, err
	}
	n := &stateNode{app: a, height: meta.Height, time: meta.Time}
	g := newStateGen(meta.ChainID, meta.RecordsPerPatient, uint64(time.Now().UnixNano()))
	w := watchMemory(250 * time.Millisecond)
	err = runStateChecks(ctx, s, a.Committed(), n.time.Unix(), g, sample, rng, o.ServeDuration/2)
	if err == nil {
		err = runStateBlocks(ctx, s, n, g, sample, o.ServeBlock, o.ServeDuration/2)
	}
	s.MaxRSS, s.MaxHeapInuse = w.Stop()
	if err != nil {
		return nil, meta, err
	}
	s.Tree = treeSize(tree)
	s.MemEnd = sampleMemory(true)
	if o.HeapProfile != "" {
		if err := writeHeapProfile(o.HeapProfile); err != nil {
			return nil, meta, err
		}
	}
	if s.DiskBytes, err = dirSize(o.Home); err != nil {
		return nil, meta, err
	}
	meta.Height, meta.Time = n.height, n.time
	return s, meta, writeStateMeta(o.Home, meta)
}

// checkStateRecords looks up the first record of each patient in the
// committed state.
func checkStateRecords(kv store.Reader, ps []statePatient) error {
	for _, p := range ps {
		id, typ := stateRecordID(p.index, 0)
		rec := records.GetRecord(kv, id)
		if rec == nil || rec.Patient != p.addr || rec.Type != typ {
			return fmt.Errorf("reopened state: record 0 of patient %d (%x) missing or wrong: %+v", p.index, id, rec)
		}
	}
	return nil
}

// runStateChecks runs consent checks on the committed state for d, on one
// goroutine: patient i's record read by its practitioner (allowed, by its
// consent), by the next practitioner (refused) and by the patient (allowed).
func runStateChecks(ctx context.Context, s *StateServe, kv store.Reader, now int64, g *stateGen, sample []statePatient, rng *rand.Rand, d time.Duration) error {
	start := time.Now()
	for ctx.Err() == nil {
		for range 1000 {
			p := sample[rng.IntN(len(sample))]
			id, typ := stateRecordID(p.index, rng.IntN(g.k))
			who, want := p.addr, true
			switch s.Checks % 3 {
			case 0:
				who = g.practitionerOf(p.index)
			case 1:
				who, want = g.practitionerOf(p.index+1), false
			}
			dec := consent.MayRead(kv, now, who, consent.Target{Patient: p.addr, Record: id, Type: typ})
			if dec.Allowed != want {
				return fmt.Errorf("consent check: %s reading %x of patient %d: allowed %v, want %v (%v)", who, id, p.index, dec.Allowed, want, dec.Err)
			}
			s.Checks++
			if dec.Allowed {
				s.Allowed++
			}
		}
		if time.Since(start) >= d {
			break
		}
	}
	s.CheckSeconds = time.Since(start).Seconds()
	s.ChecksPerSec = float64(s.Checks) / s.CheckSeconds
	return ctx.Err()
}

// runStateBlocks runs blocks of size records/add for d (at least one): each
// by a sampled patient, with wrapped keys for the patient and its
// practitioner (who holds a read consent), checked by CheckTx first as the
// mempool does, so that FinalizeBlock finds the signatures verified.
func runStateBlocks(ctx context.Context, s *StateServe, n *stateNode, g *stateGen, sample []statePatient, size int, d time.Duration) error {
	seqs := map[int]uint64{}
	var checkTx, finalize, commit time.Duration
	next := 0
	start := time.Now()
	for s.Blocks == 0 || time.Since(start) < d {
		if err := ctx.Err(); err != nil {
			return err
		}
		txs := make([][]byte, 0, size)
		for range size {
			p := sample[next%len(sample)]
			next++
			seq, ok := seqs[p.index]
			if !ok {
				acct := accounts.GetAccount(n.app.Committed(), p.addr)
				if acct == nil {
					return fmt.Errorf("reopened state: no account for patient %d", p.index)
				}
				seq = acct.Sequence
			}
			seqs[p.index] = seq + 1
			msg := g.record(p.index, int(seq), p.addr, g.practitionerOf(p.index)) // record j = seq: after the built ones
			txs = append(txs, sm.SignTx(statePatientKey(p.index), n.app.ChainID(), seq, 0, msg))
		}
		t0 := time.Now()
		for i, tx := range txs {
			r, err := n.app.CheckTx(ctx, &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
			if err != nil || r.Code != abci.CodeTypeOK {
				return fmt.Errorf("CheckTx of records/add %d: %v %s", i, err, r.GetLog())
			}
		}
		checkTx += time.Since(t0)
		f, c, err := n.run(ctx, txs)
		if err != nil {
			return err
		}
		finalize += f
		commit += c
		s.MaxBlockSeconds = max(s.MaxBlockSeconds, (f + c).Seconds())
		s.Blocks++
		s.Txs += len(txs)
	}
	tx := float64(s.Txs)
	s.CheckTxUs = float64(checkTx.Microseconds()) / tx
	s.FinalizeMsPerTx = float64(finalize.Microseconds()) / 1e3 / tx
	s.CommitMsPerTx = float64(commit.Microseconds()) / 1e3 / tx
	s.ExecMsPerTx = s.FinalizeMsPerTx + s.CommitMsPerTx
	return nil
}

// extrapolate fits disk and memory against records over all checkpoints and
// over the later half, and evaluates the fits at StateTargetRecords.
func extrapolate(cps []StateCheckpoint) []StateFit {
	metrics := []struct {
		name string
		get  func(StateCheckpoint) float64
	}{
		{"disk_bytes", func(c StateCheckpoint) float64 { return float64(c.DiskBytes) }},
		{"heap_inuse", func(c StateCheckpoint) float64 { return float64(c.Mem.HeapInuse) }},
		{"rss", func(c StateCheckpoint) float64 { return float64(c.Mem.RSS) }},
		{"peak_rss", func(c StateCheckpoint) float64 { return float64(c.Mem.PeakRSS) }},
	}
	sets := []struct {
		name string
		cps  []StateCheckpoint
	}{{"all checkpoints", cps}, {"later half of the checkpoints", cps[len(cps)/2:]}}
	var out []StateFit
	for _, set := range sets {
		if len(set.cps) < 2 {
			continue
		}
		for _, m := range metrics {
			xs, ys := make([]float64, len(set.cps)), make([]float64, len(set.cps))
			for i, c := range set.cps {
				xs[i], ys[i] = float64(c.Records), m.get(c)
			}
			a, b, ok := fitLine(xs, ys)
			if !ok {
				continue
			}
			out = append(out, StateFit{Metric: m.name, From: set.name, Points: len(xs), Intercept: a, PerRecord: b,
				Records: StateTargetRecords, Value: a + b*StateTargetRecords})
		}
	}
	return out
}

// fitLine is the least-squares line y = a + b·x; ok is false when the xs
// are all equal.
func fitLine(xs, ys []float64) (a, b float64, ok bool) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if n < 2 || den == 0 {
		return 0, 0, false
	}
	b = (n*sxy - sx*sy) / den
	return (sy - b*sx) / n, b, true
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Summary prints the checkpoints, the workload on the reopened state and the
// extrapolation to the goal's state.
func (r *StateReport) Summary(w io.Writer) {
	p := r.Params
	if b := r.Build; b != nil {
		fmt.Fprintf(w, "\nbuilt %d patients × %d records (+1 consent each) in %.0fs: %d txs in %d blocks, %.0f tx/s; height %d, app hash %s\n",
			p.Patients, p.RecordsPerPatient, b.Seconds, b.Txs, b.Blocks, b.TxPerSec, b.Height, b.AppHash)
		tw := newTable(w)
		fmt.Fprintln(tw, "patients\trecords\tconsents\tproven keys\tdisk MiB\theap alloc MiB\theap in use MiB\tRSS MiB\tpeak RSS MiB\ttx/s\t")
		for _, c := range b.Checkpoints {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", c.Patients, c.Records, c.Consents, c.Tree.Keys,
				mb(uint64(c.DiskBytes)), mb(c.Mem.HeapAlloc), mb(c.Mem.HeapInuse), mb(c.Mem.RSS), mb(c.Mem.PeakRSS), c.TxPerSec)
		}
		tw.Flush()
		if last := b.Checkpoints[len(b.Checkpoints)-1]; last.Records > 0 && last.Tree.Keys > 0 {
			fmt.Fprintf(w, "at the last checkpoint: %.1f proven state keys per record; disk %.0f bytes per record, %.0f per key; live heap %.0f bytes per key (%d Merkle inner nodes, %d buckets)\n",
				float64(last.Tree.Keys)/float64(last.Records), float64(last.DiskBytes)/float64(last.Records), float64(last.DiskBytes)/float64(last.Tree.Keys),
				float64(last.Mem.HeapAlloc)/float64(last.Tree.Keys), last.Tree.InnerNodes, last.Tree.Buckets)
		}
	}
	if s := r.Serve; s != nil {
		peak := "peak RSS since the process started"
		if s.PeakFromOpen {
			peak = "peak RSS since the reopening"
		}
		fmt.Fprintf(w, "\nreopened at height %d in %.2fs: then (collected) heap in use %s, RSS %s, %s %s; %d proven state keys, %d Merkle inner nodes and %d buckets after the workload\n",
			s.Height, s.OpenSeconds, mib(s.MemOpen.HeapInuse), mib(s.MemOpen.RSS), peak, mib(s.MemOpen.PeakRSS), s.Tree.Keys, s.Tree.InnerNodes, s.Tree.Buckets)
		fmt.Fprintf(w, "  consent checks: %.0f /s on one goroutine (%d checks, %d allowed, %.0fs)\n", s.ChecksPerSec, s.Checks, s.Allowed, s.CheckSeconds)
		fmt.Fprintf(w, "  records/add: %d blocks of %d: CheckTx %.0f µs/tx, FinalizeBlock %.3f ms/tx + Commit %.3f ms/tx = %.3f ms/tx (%.0f tx/s); slowest block %.2fs\n",
			s.Blocks, p.ServeBlock, s.CheckTxUs, s.FinalizeMsPerTx, s.CommitMsPerTx, s.ExecMsPerTx, 1e3/s.ExecMsPerTx, s.MaxBlockSeconds)
		fmt.Fprintf(w, "  memory during the workload: RSS max %s, heap in use max %s; %s %s; after it (collected) heap in use %s, RSS %s; disk %s\n",
			mib(s.MaxRSS), mib(s.MaxHeapInuse), peak, mib(s.MemEnd.PeakRSS), mib(s.MemEnd.HeapInuse), mib(s.MemEnd.RSS), mib(uint64(s.DiskBytes)))
	}
	if len(r.Extrapolation) > 0 {
		fmt.Fprintf(w, "\nEXTRAPOLATION, not measured: linear fits against records over the build's checkpoints, evaluated at %d records", StateTargetRecords)
		if p.RecordsPerPatient > 0 {
			fmt.Fprintf(w, " (%d patients at %d records each; the goal: %d patients, %d records)", StateTargetRecords/p.RecordsPerPatient, p.RecordsPerPatient, StateTargetPatients, StateTargetRecords)
		}
		fmt.Fprintln(w)
		tw := newTable(w)
		fmt.Fprintln(tw, "metric\tfrom\tpoints\tintercept MiB\tbytes per record\tat target GiB\t")
		for _, f := range r.Extrapolation {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.1f\t%.2f\t\n", f.Metric, f.From, f.Points, f.Intercept/(1<<20), f.PerRecord, f.Value/(1<<30))
		}
		tw.Flush()
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
}

// WriteJSON writes the report, indented.
func (r *StateReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
