package app

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/exec"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/fees"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/links"
	"github.com/medchain/medchain/x/mint"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/research"
	"github.com/medchain/medchain/x/session"
	"github.com/medchain/medchain/x/staking"
	"github.com/medchain/medchain/x/supply"
	"github.com/medchain/medchain/x/telemed"
	"github.com/medchain/medchain/x/trials"
)

// Version of the application protocol, reported in Info.
const (
	AppVersion  uint64 = 1
	SoftVersion        = "0.1.0"
)

// ParamMinFee is the smallest fee a transaction may carry (x/fees).
const ParamMinFee = fees.ParamMinFee

// TxResult is the outcome of one committed transaction, handed to the
// commit listener after the block is durably saved, and kept in the
// transaction index.
type TxResult = exec.TxResult

// App is the medchain ABCI application.
type App struct {
	abci.BaseApplication

	log    *slog.Logger
	tree   *merkle.Tree
	core   *exec.Core
	params *params.Registry

	// CometBFT calls each ABCI connection from its own goroutine
	// (proxy.NewConnSyncLocalClientCreator): CheckTx runs beside
	// FinalizeBlock and Commit. mu guards the consensus connection's state
	// (the working tree and the block in progress); the mempool guards its
	// own. CheckTx reads only the committed snapshot, never the working
	// tree, once the first block is committed.
	mu      sync.Mutex
	block   *blockState // between FinalizeBlock and Commit
	mempool *Mempool

	chainID atomic.Pointer[string]

	committed     atomic.Pointer[merkle.Snapshot]
	committedTime atomic.Int64 // block time (unix nanoseconds) of the committed state
	onCommit      func(height int64, results []TxResult)

	upgrades Upgrades
	onHalt   func(*UpgradeHalt)
	snaps    *snapshotter // nil: no state sync snapshots
	halted   atomic.Pointer[UpgradeHalt]
	pruning  Pruning
}

// blockState is a finalized block awaiting Commit.
type blockState struct {
	time    time.Time
	results []TxResult
	bundles [][32]byte // hashes of the block's bundles: they leave the mempool
}

var _ abci.Application = (*App)(nil)

// Options configure an App.
type Options struct {
	Logger *slog.Logger
	// OnCommit, when set, is called after each Commit with the block's results.
	OnCommit func(height int64, results []TxResult)
	// Upgrades are the migrations this binary runs when an approved
	// upgrade's height is reached (nil: none; see Registered).
	Upgrades Upgrades
	// OnHalt, when set, is called (inside FinalizeBlock, before it returns
	// the error) when the app refuses a block at an upgrade's height.
	OnHalt func(*UpgradeHalt)
	// Snapshots configure the state sync snapshots offered and restored.
	Snapshots SnapshotOptions
	// Execution is how blocks run their transactions: serially (the zero
	// value, the reference) or in parallel with the same results.
	Execution exec.Execution
	// Pruning is the block store's retention policy (the zero value keeps
	// every block).
	Pruning Pruning
}

// NewCore builds the execution core with medchain's modules and their
// parameters: this is the one place where domains are wired into the state
// machine.
func NewCore() (*exec.Core, *params.Registry) {
	reg := params.NewRegistry()
	for _, defs := range [][]params.Def{fees.ParamDefs, mint.ParamDefs, gov.ParamDefs, consent.ParamDefs, accounts.ParamDefs, staking.ParamDefs, telemed.ParamDefs, research.ParamDefs, policy.ParamDefs} {
		for _, d := range defs {
			reg.Declare(d)
		}
	}
	feeKeeper := fees.Module{Keeper: fees.Keeper{Params: reg}}
	pol := &policy.Module{Params: reg}
	router := sm.NewRouter(
		accounts.Module{Params: reg},
		&gov.Module{Params: reg, Active: staking.Active},
		&consent.Module{Params: reg},
		records.Module{},
		audit.Module{},
		session.Module{},
		// x/mint's BeginBlock fills the provision pool that staking's
		// BeginBlock distributes in the same block.
		mint.Module{Params: reg},
		staking.New(reg),
		trials.Module{},
		&telemed.Module{Params: reg},
		&research.Module{Params: reg},
		links.Module{},
		supply.Module{},
		feeKeeper,
		// Its genesis records the supply as the sum of what the modules
		// before it credited (x/policy after it credits nothing).
		bank.Module{},
		pol, // last: its EndBlock fires automations from the events of the whole block
	)
	pol.Route = router.Route
	for _, d := range fees.TypeParamDefs(router.Types()) {
		reg.Declare(d)
	}
	return exec.New(router, feeKeeper.Keeper), reg
}

// New builds the application over a tree with NewCore's modules.
func New(tree *merkle.Tree, opts Options) *App {
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	core, reg := NewCore()
	core.SetExecution(opts.Execution)
	a := &App{
		log:      lg,
		tree:     tree,
		params:   reg,
		core:     core,
		onCommit: opts.OnCommit,
		upgrades: opts.Upgrades,
		onHalt:   opts.OnHalt,
		pruning:  opts.Pruning,
	}
	if opts.Snapshots.Dir != "" {
		a.snaps = &snapshotter{opts: opts.Snapshots}
	}
	a.mempool = newMempool(a.core, a.ChainID, a.checkState, func() int64 { return a.CommittedTime().Unix() })
	if v := tree.Version(); v > 0 {
		snap, err := tree.Snapshot(v)
		if err == nil {
			a.committed.Store(snap)
		}
	}
	return a
}

// Params exposes the parameter registry (read-only use by queries).
func (a *App) Params() *params.Registry { return a.params }

// Router exposes the message routes (documentation, CLI).
func (a *App) Router() *sm.Router { return a.core.Router() }

// Core is the execution core the app translates ABCI to.
func (a *App) Core() *exec.Core { return a.core }

// Mempool is the application's side of the mempool (the node's intake).
func (a *App) Mempool() *Mempool { return a.mempool }

// checkState is what mempool checks read: the committed snapshot, or
// before the first commit the genesis state in the working tree, which
// FinalizeBlock writes (held under mu until release).
func (a *App) checkState() (store.Reader, bool, func()) {
	if s := a.committed.Load(); s != nil {
		return s, true, func() {}
	}
	a.mu.Lock()
	if s := a.committed.Load(); s != nil {
		a.mu.Unlock()
		return s, true, func() {}
	}
	return a.tree, false, a.mu.Unlock
}

// Committed returns the latest committed state, or nil before the first block.
func (a *App) Committed() *merkle.Snapshot { return a.committed.Load() }

// CommittedTime returns the block time of the committed state, or the zero
// time before the first commit of this process.
func (a *App) CommittedTime() time.Time {
	if n := a.committedTime.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return time.Time{}
}

// SnapshotAt returns the committed state at a height.
func (a *App) SnapshotAt(height int64) (*merkle.Snapshot, error) {
	if s := a.committed.Load(); s != nil && (height == 0 || height == s.Version()) {
		return s, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tree.Snapshot(height)
}

// ChainID returns the chain id once known (InitChain or the first block).
func (a *App) ChainID() string {
	if p := a.chainID.Load(); p != nil {
		return *p
	}
	return ""
}

// SetChainID sets the chain id on restart (from the genesis document); it is
// needed before the first CheckTx.
func (a *App) SetChainID(id string) { a.chainID.Store(&id) }

// guard turns a store fault panic into a Go error: the node is broken.
func guard(err *error) {
	if r := recover(); r != nil {
		var f store.Fault
		if e, ok := r.(error); ok && errors.As(e, &f) {
			*err = f
			return
		}
		panic(r)
	}
}

func (a *App) Info(_ context.Context, _ *abci.RequestInfo) (*abci.ResponseInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return &abci.ResponseInfo{
		Data:             "medchain",
		Version:          SoftVersion,
		AppVersion:       AppVersion,
		LastBlockHeight:  a.tree.Version(),
		LastBlockAppHash: a.tree.Hash(),
	}, nil
}

// GenesisState is the app_state of the genesis document: one entry per module.
type GenesisState = exec.Genesis

func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (resp *abci.ResponseInitChain, err error) {
	defer guard(&err)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.SetChainID(req.ChainId)
	var gs GenesisState
	if len(req.AppStateBytes) > 0 {
		if err := json.Unmarshal(req.AppStateBytes, &gs); err != nil {
			return nil, fmt.Errorf("genesis app_state: %w", err)
		}
	}
	if err := a.core.InitGenesis(a.tree, exec.BlockContext{ChainID: req.ChainId, Height: req.InitialHeight, Time: req.Time}, gs); err != nil {
		return nil, err
	}
	if err := checkGenesisValidators(a.tree, req.Validators); err != nil {
		return nil, err
	}
	return &abci.ResponseInitChain{AppHash: a.tree.WorkingHash()}, nil
}

// checkGenesisValidators requires the consensus genesis validators to be the
// ones gov's genesis lists, so that state and consensus agree from block 1.
func checkGenesisValidators(kv store.Reader, vals []abci.ValidatorUpdate) error {
	want := gov.Validators(kv)
	if len(vals) != len(want) {
		return fmt.Errorf("%w: consensus genesis has %d validators, app state %d", gov.ErrGenesisValidator, len(vals), len(want))
	}
	for _, v := range vals {
		pk := v.PubKey.GetEd25519()
		if len(pk) != crypto.PubKeySize {
			return fmt.Errorf("%w: validators must use ed25519 keys", gov.ErrGenesisValidator)
		}
		var pub crypto.PubKey
		copy(pub[:], pk)
		gv := gov.GetValidator(kv, pub)
		if gv == nil || gv.Power != v.Power {
			return fmt.Errorf("%w: validator %x (power %d) not in app state", gov.ErrGenesisValidator, pk, v.Power)
		}
	}
	return nil
}

func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (resp *abci.ResponseCheckTx, err error) {
	defer guard(&err)
	return a.mempool.CheckTx(req.Tx, req.Type == abci.CheckTxType_Recheck), nil
}

// PreVerify checks the signatures of transactions about to be submitted, in
// batches spread over every core, and remembers the valid ones so that
// CheckTx (which the mempool calls one at a time) does not verify them again.
// It changes no state. The node's intake uses Mempool.Prepare, whose result
// Stage takes without decoding again.
func (a *App) PreVerify(raws [][]byte) { a.mempool.Prepare(raws) }

// Stage is Mempool.Stage of raws (see Mempool.Prepare).
func (a *App) Stage(raws [][]byte, maxBundle int) (bundles [][]byte, sizes []int, errs []error, err error) {
	return a.mempool.Stage(a.mempool.Prepare(raws), maxBundle)
}

// Unstage is Mempool.Unstage.
func (a *App) Unstage(bundle []byte) { a.mempool.Unstage(bundle) }

// PendingTxs is Mempool.PendingTxs.
func (a *App) PendingTxs() int { return a.mempool.PendingTxs() }

func (a *App) ProcessProposal(context.Context, *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
}

// FinalizeBlock hands the block to the core and translates its result: a
// bundle's CometBFT result is OK with its transactions' codes in Data.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (resp *abci.ResponseFinalizeBlock, err error) {
	defer guard(&err)
	a.mempool.executing.begin()
	a.mu.Lock()
	defer a.mu.Unlock()
	chainID := a.ChainID()
	if chainID == "" {
		return nil, errors.New("finalize block: chain id unknown")
	}
	upgradeEvents, err := a.upgrade(req.Height)
	if err != nil {
		return nil, err
	}
	res := a.core.DeliverBlock(a.tree, exec.BlockContext{ChainID: chainID, Height: req.Height, Time: req.Time, Info: blockInfo(req)}, req.Txs, blockVerifier{a.mempool.verified})
	bs := &blockState{time: req.Time, results: res.Txs}
	txResults := make([]*abci.ExecTxResult, len(req.Txs))
	for i, o := range res.Outer {
		switch {
		case o.Err != nil:
			code, space, log := sm.ABCIInfo(o.Err)
			txResults[i] = &abci.ExecTxResult{Code: code, Codespace: space, Log: log}
		case !o.Bundle:
			r := res.Txs[o.First]
			txResults[i] = &abci.ExecTxResult{Code: r.Code, Codespace: r.Codespace, Log: r.Log, Events: toABCIEvents(r.Events)}
		default:
			inner := make([]sm.BundleResult, o.N)
			for j, r := range res.Txs[o.First : o.First+o.N] {
				inner[j] = sm.BundleResult{Code: r.Code, Codespace: r.Codespace}
			}
			txResults[i] = &abci.ExecTxResult{Code: abci.CodeTypeOK, Data: sm.EncodeBundleResults(inner)}
		}
		if o.Bundle {
			bs.bundles = append(bs.bundles, sha256.Sum256(req.Txs[i]))
		}
	}
	a.block = bs
	var updates []abci.ValidatorUpdate
	for _, u := range res.Valset {
		updates = append(updates, abci.Ed25519ValidatorUpdate(u.PubKey[:], u.Power))
	}
	return &abci.ResponseFinalizeBlock{
		TxResults:        txResults,
		ValidatorUpdates: updates,
		Events:           append(upgradeEvents, toABCIEvents(res.Events)...),
		AppHash:          res.AppHash,
	}, nil
}

// blockInfo translates what CometBFT says about a block besides its
// transactions.
func blockInfo(req *abci.RequestFinalizeBlock) sm.BlockInfo {
	var info sm.BlockInfo
	copy(info.Proposer[:], req.ProposerAddress)
	for _, v := range req.DecidedLastCommit.Votes {
		var vi sm.VoteInfo
		copy(vi.Validator[:], v.Validator.Address)
		vi.Power = v.Validator.Power
		vi.Signed = v.BlockIdFlag == cmtproto.BlockIDFlagCommit
		info.LastCommit = append(info.LastCommit, vi)
	}
	for _, m := range req.Misbehavior {
		mb := sm.Misbehavior{Power: m.Validator.Power, Height: m.Height, Time: m.Time, TotalPower: m.TotalVotingPower}
		switch m.Type {
		case abci.MisbehaviorType_DUPLICATE_VOTE:
			mb.Kind = sm.MisbehaviorDuplicateVote
		case abci.MisbehaviorType_LIGHT_CLIENT_ATTACK:
			mb.Kind = sm.MisbehaviorLightClientAttack
		default:
			continue
		}
		copy(mb.Validator[:], m.Validator.Address)
		info.Misbehavior = append(info.Misbehavior, mb)
	}
	return info
}

func toABCIEvents(evs []sm.Event) []abci.Event {
	out := make([]abci.Event, len(evs))
	for i, e := range evs {
		attrs := make([]abci.EventAttribute, len(e.Attrs))
		for j, at := range e.Attrs {
			// Index stays false: CometBFT's indexer is off, medchain
			// indexes transactions itself (txindex.go).
			attrs[j] = abci.EventAttribute{Key: at.Key, Value: at.Value}
		}
		out[i] = abci.Event{Type: e.Type, Attributes: attrs}
	}
	return out
}

func (a *App) Commit(_ context.Context, _ *abci.RequestCommit) (*abci.ResponseCommit, error) {
	defer a.mempool.executing.end()
	a.mu.Lock()
	bs := a.block
	var index []merkle.Side
	if bs != nil {
		index = indexWrites(bs.results)
	}
	hash, version, err := a.tree.Commit(index...)
	if err != nil {
		a.mu.Unlock()
		return nil, fmt.Errorf("commit state: %w", err)
	}
	snap, err := a.tree.Snapshot(version)
	if err != nil {
		a.mu.Unlock()
		return nil, fmt.Errorf("commit state: %w", err)
	}
	a.committed.Store(snap)
	if bs != nil {
		a.committedTime.Store(bs.time.UnixNano())
	}
	a.maybeSnapshot(snap)
	a.block = nil
	a.mu.Unlock()
	// CometBFT holds the mempool's lock from before Commit until the
	// rechecks after it, so no CheckTx sees the state between the new
	// snapshot and the cleared sequences.
	var left [][32]byte
	if bs != nil {
		left = bs.bundles
	}
	a.mempool.committed(left)
	a.log.Debug("committed", "height", version, "app_hash", fmt.Sprintf("%X", hash))
	if a.onCommit != nil && bs != nil {
		a.onCommit(version, bs.results)
	}
	return &abci.ResponseCommit{RetainHeight: a.retainHeight(version)}, nil
}

// Query paths.
const (
	// QueryStore returns the value at the key in Data, with a proof when asked.
	QueryStore = "/store"
)

func (a *App) Query(_ context.Context, req *abci.RequestQuery) (resp *abci.ResponseQuery, err error) {
	defer guard(&err)
	if req.Path != QueryStore {
		return &abci.ResponseQuery{Code: ErrQueryPath.Code, Codespace: ErrQueryPath.Codespace, Log: "unknown query path " + strconv.Quote(req.Path)}, nil
	}
	snap, err := a.SnapshotAt(req.Height)
	if err != nil {
		return &abci.ResponseQuery{Code: ErrQueryHeight.Code, Codespace: ErrQueryHeight.Codespace, Log: err.Error()}, nil
	}
	resp = &abci.ResponseQuery{Key: req.Data, Height: snap.Version()}
	if !req.Prove {
		resp.Value = snap.Get(req.Data)
		return resp, nil
	}
	if store.IsIndexKey(req.Data) {
		return &abci.ResponseQuery{Code: ErrQueryIndexKey.Code, Codespace: ErrQueryIndexKey.Codespace, Log: store.ErrIndexKey.Error()}, nil
	}
	v, proof, err := snap.Prove(req.Data)
	if err != nil {
		return nil, err
	}
	resp.Value = v
	resp.ProofOps, err = ProofOps(req.Data, proof)
	return resp, err
}

// Query errors.
var (
	ErrQueryPath   = sm.Register("query", 1, "unknown query path")
	ErrQueryHeight = sm.Register("query", 2, "no state at that height")
	// ErrQueryIndexKey: a proof was asked for an index key (store.IsIndexKey).
	ErrQueryIndexKey = sm.Register("query", 3, "index keys have no proofs")
)
