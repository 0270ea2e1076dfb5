package app

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/session"
)

// Version of the application protocol, reported in Info.
const (
	AppVersion  uint64 = 1
	SoftVersion        = "0.1.0"
)

// ParamMinFee is the smallest fee a transaction may carry.
const ParamMinFee = "tx.min_fee"

// TxResult is the outcome of one committed transaction, handed to the
// commit listener after the block is durably saved, and kept in the
// transaction index. Index is the transaction's position in its block
// counting each bundled transaction (CometBFT counts a bundle once).
type TxResult struct {
	Hash      [32]byte
	Height    int64
	Index     int
	Code      uint32
	Codespace string
	Log       string
	Events    []sm.Event
	// The envelope, when the transaction decoded.
	Type      string
	HasSigner bool
	Signer    crypto.Address
	Sequence  uint64
}

// App is the medchain ABCI application.
type App struct {
	abci.BaseApplication

	log    *slog.Logger
	tree   *merkle.Tree
	router *sm.Router
	params *params.Registry

	// CometBFT calls each ABCI connection from its own goroutine
	// (proxy.NewConnSyncLocalClientCreator): CheckTx runs beside
	// FinalizeBlock and Commit. mu guards the consensus connection's state
	// (the working tree and the block in progress); checkMu guards the
	// mempool's view of pending sequences. CheckTx reads only the committed
	// snapshot, never the working tree, once the first block is committed.
	mu         sync.Mutex
	block      *blockState // between FinalizeBlock and Commit
	checkMu    sync.Mutex
	pending    map[crypto.Address]uint64 // CheckTx: next sequence including mempool txs
	pendingTxs int                       // transactions in the mempool (bundled ones each count)
	epoch      uint64                    // commits so far: a Stage is valid until the next
	staged     map[[32]byte]stagedBundle // bundles Stage checked, until CheckTx sees them
	inMempool  map[[32]byte][]bundled    // the mempool's bundles' signers and sequences, for rechecks
	checkReads *store.Memo               // CheckTx's reads of the committed snapshot

	chainID  atomic.Pointer[string]
	verified *sigCache // safe for concurrent use

	committed     atomic.Pointer[merkle.Snapshot]
	committedTime atomic.Int64 // block time (unix nanoseconds) of the committed state
	onCommit      func(height int64, results []TxResult)
}

type blockState struct {
	height  int64
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
}

// New builds the application over a tree. The modules are fixed here: this is
// the one place where domains are wired into the state machine.
func New(tree *merkle.Tree, opts Options) *App {
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	reg := params.NewRegistry(params.Def{Name: ParamMinFee, Default: 0, Min: 0, Max: 1 << 40, Doc: "smallest fee a transaction may carry"})
	for _, defs := range [][]params.Def{gov.ParamDefs, consent.ParamDefs, accounts.ParamDefs} {
		for _, d := range defs {
			reg.Declare(d)
		}
	}
	a := &App{
		log:    lg,
		tree:   tree,
		params: reg,
		router: sm.NewRouter(
			accounts.Module{Params: reg},
			&gov.Module{Params: reg},
			&consent.Module{Params: reg},
			records.Module{},
			audit.Module{},
			session.Module{},
		),
		pending:   map[crypto.Address]uint64{},
		staged:    map[[32]byte]stagedBundle{},
		inMempool: map[[32]byte][]bundled{},
		verified:  newSigCache(1 << 18),
		onCommit:  opts.OnCommit,
	}
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
func (a *App) Router() *sm.Router { return a.router }

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
type GenesisState map[string]json.RawMessage

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
	known := map[string]bool{}
	ctx := sm.Context{ChainID: req.ChainId, Height: req.InitialHeight, Time: req.Time, Store: a.tree, Events: &sm.Events{}, Valset: &sm.ValidatorUpdates{}}
	for _, m := range a.router.Modules() {
		known[m.Name()] = true
		if err := m.InitGenesis(ctx, gs[m.Name()]); err != nil {
			return nil, err
		}
	}
	for name := range gs {
		if !known[name] {
			return nil, fmt.Errorf("genesis app_state: unknown module %q", name)
		}
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
	if a.committed.Load() == nil {
		// Before the first commit CheckTx reads the genesis state in the
		// working tree, which FinalizeBlock writes.
		a.mu.Lock()
		defer a.mu.Unlock()
	}
	if sm.IsBundle(req.Tx) {
		return a.checkBundle(req.Tx, req.Type == abci.CheckTxType_Recheck), nil
	}
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	_, _, res := a.checkTxInfo(req.Tx, false, req.Type == abci.CheckTxType_Recheck)
	if res != nil {
		code, space, log := sm.ABCIInfo(res)
		return &abci.ResponseCheckTx{Code: code, Codespace: space, Log: log}, nil
	}
	a.pendingTxs++
	return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}, nil
}

// maxAhead bounds how far ahead of a signer's pending sequence a bundled
// transaction from a peer may be and still be held (see checkTxInfo).
const maxAhead = 1 << 16

// checkTxInfo validates a transaction against committed state plus the
// transactions already accepted into the mempool, and returns its signer
// and sequence when it decoded. With holdAhead, a transaction whose
// sequence is ahead of the signer's pending one (a peer's bundle that
// overtook an earlier one of the same node on another gossip path) is held:
// valid in every other respect, kept in the mempool, but not counted as
// pending; PrepareProposal puts it in order or leaves it out.
//
// A recheck or a peer's bundle tests the sequence before the signature: a
// transaction a block made stale is dropped without verifying its signature
// again (the block took it out of the verified cache).
func (a *App) checkTxInfo(raw []byte, holdAhead, recheck bool) (info bundled, held bool, err error) {
	tx, err := sm.DecodeTx(raw)
	if err != nil {
		return bundled{bad: true}, false, err
	}
	return a.checkParsed(raw, tx, holdAhead, recheck)
}

// checkParsed is checkTxInfo for a transaction already decoded.
func (a *App) checkParsed(raw []byte, tx *sm.Tx, holdAhead, recheck bool) (info bundled, held bool, err error) {
	held, err = a.checkDecoded(raw, tx, holdAhead, recheck)
	return bundled{signer: tx.Signer(), seq: tx.Body.Sequence, bad: err != nil}, held, err
}

func (a *App) checkDecoded(raw []byte, tx *sm.Tx, holdAhead, recheck bool) (held bool, err error) {
	if chainID := a.ChainID(); tx.Body.ChainID != chainID {
		return false, sm.Wrapf(sm.ErrWrongChainID, "got %q, want %q", tx.Body.ChainID, chainID)
	}
	rt, _, err := a.router.DecodeMsg(tx.Body)
	if err != nil {
		return false, err
	}
	kv := a.checkState()
	signer := tx.Signer()
	who, werr := session.Authorize(kv, tx.Body.Signer, tx.Body.Type, a.CommittedTime().Unix())
	next, ok := a.pending[signer]
	if !ok {
		next = who.Sequence()
	}
	if (recheck || holdAhead) && tx.Body.Sequence < next {
		return false, sm.Wrapf(sm.ErrBadSequence, "got %d, want %d", tx.Body.Sequence, next)
	}
	h := sm.TxHash(raw)
	if !a.verified.has(h) {
		if it := sigItem(tx); !crypto.Verify(it.Pub, it.Msg, it.Sig) {
			return false, sm.ErrBadSignature
		}
		a.verified.add(h)
	}
	if seq := tx.Body.Sequence; holdAhead && seq > next && seq-next <= maxAhead {
		return true, a.authenticate(kv, tx, rt, who, werr, seq)
	}
	if err := a.authenticate(kv, tx, rt, who, werr, next); err != nil {
		return false, err
	}
	a.pending[signer] = next + 1
	return false, nil
}

// checkState is what CheckTx reads: the committed snapshot (its reads
// remembered until the next commit), or before the first commit the genesis
// state in the working tree. Call with checkMu held.
func (a *App) checkState() store.Reader {
	s := a.committed.Load()
	if s == nil {
		return a.tree
	}
	// Rechecks read the same signers' accounts and the same parameters
	// thousands of times per snapshot.
	if a.checkReads == nil || !a.checkReads.Over(s) {
		a.checkReads = store.NewMemo(s)
	}
	return a.checkReads
}

// authenticate applies the envelope rules shared by CheckTx and
// FinalizeBlock: the signer's key (session.Authorize: current account key
// or live session key within its limits), account, sequence and fee.
func (a *App) authenticate(kv store.Reader, tx *sm.Tx, rt sm.Route, who session.Principal, keyErr error, next uint64) error {
	if keyErr != nil {
		return keyErr
	}
	acct := who.Account
	if tx.Body.Sequence != next {
		return sm.Wrapf(sm.ErrBadSequence, "got %d, want %d", tx.Body.Sequence, next)
	}
	if acct == nil {
		if !rt.NewSigner {
			return sm.Wrapf(sm.ErrUnknownSigner, "%s", tx.Signer())
		}
		if tx.Body.Fee != 0 {
			return sm.Wrapf(sm.ErrFunds, "a new account has no balance for a fee")
		}
		return nil
	}
	if !accounts.CanSign(kv, acct) {
		return sm.Wrapf(sm.ErrInactive, "%s", acct.Address)
	}
	if min := a.params.Get(kv, ParamMinFee); tx.Body.Fee < min {
		return sm.Wrapf(sm.ErrFeeTooLow, "fee %d, minimum %d", tx.Body.Fee, min)
	}
	if tx.Body.Fee > acct.Balance {
		return sm.Wrapf(sm.ErrFunds, "balance %d, fee %d", acct.Balance, tx.Body.Fee)
	}
	return nil
}

func (a *App) ProcessProposal(context.Context, *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
}

func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (resp *abci.ResponseFinalizeBlock, err error) {
	defer guard(&err)
	a.mu.Lock()
	defer a.mu.Unlock()
	chainID := a.ChainID()
	if chainID == "" {
		return nil, errors.New("finalize block: chain id unknown")
	}
	// The block's writes collect in a sorted cache and reach the tree once,
	// at the end: iterating a tree with unsaved writes costs as much as all of
	// them, which made every range read of a transaction cost O(block).
	block := store.NewCache(a.tree)
	ctx := sm.Context{ChainID: chainID, Height: req.Height, Time: req.Time, Store: block, Events: &sm.Events{}, Valset: &sm.ValidatorUpdates{}}
	flat, txResults := a.verifyBlock(req.Txs)
	bs := &blockState{height: req.Height, time: req.Time, results: make([]TxResult, len(flat))}
	for _, raw := range req.Txs {
		if sm.IsBundle(raw) {
			bs.bundles = append(bs.bundles, sha256.Sum256(raw))
		}
	}
	var bundle []sm.BundleResult // the current bundle's results
	for i := range flat {
		ft := &flat[i]
		events := &sm.Events{}
		txErr := ft.err
		if txErr == nil {
			tctx := ctx
			tctx.Events = events
			txErr = a.deliver(tctx, ft.tx)
		}
		code, space, log := sm.ABCIInfo(txErr)
		if txErr != nil {
			events = &sm.Events{} // a failed message emits nothing
		}
		r := TxResult{Hash: ft.hash, Height: req.Height, Index: i, Code: code, Codespace: space, Log: log, Events: events.List()}
		if ft.tx != nil {
			r.Type, r.HasSigner, r.Signer, r.Sequence = ft.tx.Body.Type, true, ft.tx.Signer(), ft.tx.Body.Sequence
		}
		bs.results[i] = r
		if !ft.bundled {
			txResults[ft.outer] = &abci.ExecTxResult{Code: code, Codespace: space, Log: log, Events: toABCIEvents(events.List())}
			continue
		}
		bundle = append(bundle, sm.BundleResult{Code: code, Codespace: space})
		if ft.last {
			txResults[ft.outer] = &abci.ExecTxResult{Code: abci.CodeTypeOK, Data: sm.EncodeBundleResults(bundle)}
			bundle = nil
		}
	}
	for _, m := range a.router.Modules() {
		if eb, ok := m.(sm.EndBlocker); ok {
			if err := eb.EndBlock(ctx); err != nil {
				return nil, fmt.Errorf("end block %s: %w", m.Name(), err)
			}
		}
	}
	block.Write()
	a.block = bs
	var updates []abci.ValidatorUpdate
	for _, u := range ctx.Valset.List() {
		updates = append(updates, abci.Ed25519ValidatorUpdate(u.PubKey[:], u.Power))
	}
	return &abci.ResponseFinalizeBlock{
		TxResults:        txResults,
		ValidatorUpdates: updates,
		Events:           toABCIEvents(ctx.Events.List()),
		AppHash:          a.tree.WorkingHash(),
	}, nil
}

// blockTx is one transaction of a block, bundled or alone.
type blockTx struct {
	hash    [32]byte
	tx      *sm.Tx
	err     error // decoding or signature
	outer   int   // its CometBFT transaction's index in the block
	bundled bool
	last    bool // the last of its bundle
}

// verifyBlock flattens the block's bundles, decodes every transaction and
// checks the signatures that CheckTx has not already verified, in batches
// on every core. It returns the results of the CometBFT transactions that
// are malformed bundles; the others are filled in as the block executes.
func (a *App) verifyBlock(raws [][]byte) ([]blockTx, []*abci.ExecTxResult) {
	outer := make([]*abci.ExecTxResult, len(raws))
	flat := make([]blockTx, 0, len(raws))
	add := func(raw []byte, i int, bundled bool) {
		tx, err := sm.DecodeTx(raw)
		flat = append(flat, blockTx{hash: sm.TxHash(raw), tx: tx, err: err, outer: i, bundled: bundled})
	}
	for i, raw := range raws {
		if !sm.IsBundle(raw) {
			add(raw, i, false)
			continue
		}
		inner, err := sm.DecodeBundle(raw)
		if err != nil {
			code, space, log := sm.ABCIInfo(err)
			outer[i] = &abci.ExecTxResult{Code: code, Codespace: space, Log: log}
			continue
		}
		for _, tx := range inner {
			add(tx, i, true)
		}
		flat[len(flat)-1].last = true
	}
	var batch []crypto.SigItem
	var idx []int
	for i := range flat {
		ft := &flat[i]
		if ft.err != nil || a.verified.take(ft.hash) {
			continue
		}
		batch = append(batch, sigItem(ft.tx))
		idx = append(idx, i)
	}
	for j, valid := range parallelVerify(batch) {
		if !valid {
			flat[idx[j]].err = sm.ErrBadSignature
		}
	}
	return flat, outer
}

// PreVerify checks the signatures of transactions about to be submitted, in
// batches spread over every core, and remembers the valid ones so that
// CheckTx (which the mempool calls one at a time) does not verify them again.
// It changes no state: an invalid or undecodable transaction is simply not
// remembered, and CheckTx rejects it as before.
func (a *App) PreVerify(raws [][]byte) { a.preVerify(raws) }

// preVerify is PreVerify that also returns each transaction decoded (nil
// where it does not decode) and whether its signature is valid.
func (a *App) preVerify(raws [][]byte) (txs []*sm.Tx, sigOK []bool) {
	txs = make([]*sm.Tx, len(raws))
	sigOK = make([]bool, len(raws))
	items := make([]crypto.SigItem, 0, len(raws))
	at := make([]int, 0, len(raws))
	hashes := make([][32]byte, 0, len(raws))
	for i, raw := range raws {
		tx, err := sm.DecodeTx(raw)
		if err != nil {
			continue
		}
		txs[i] = tx
		h := sm.TxHash(raw)
		if a.verified.has(h) {
			sigOK[i] = true
			continue
		}
		items = append(items, sigItem(tx))
		at = append(at, i)
		hashes = append(hashes, h)
	}
	var good [][32]byte
	for j, valid := range parallelVerify(items) {
		if valid {
			sigOK[at[j]] = true
			good = append(good, hashes[j])
		}
	}
	a.verified.add(good...)
	return txs, sigOK
}

// sigItem is what verifying tx's signature takes.
func sigItem(tx *sm.Tx) crypto.SigItem {
	return crypto.SigItem{Pub: tx.Body.Signer, Msg: sm.SignBytes(tx.BodyBytes), Sig: tx.Sig}
}

// parallelVerify batch-verifies items in one chunk per core.
func parallelVerify(items []crypto.SigItem) []bool {
	const minChunk = 64 // below this a batch gains little from splitting
	workers := runtime.GOMAXPROCS(0)
	if n := (len(items) + minChunk - 1) / minChunk; n < workers {
		workers = n
	}
	if workers <= 1 {
		return crypto.BatchVerify(items)
	}
	ok := make([]bool, len(items))
	chunk := (len(items) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(items); lo += chunk {
		hi := min(lo+chunk, len(items))
		wg.Add(1)
		go func() {
			defer wg.Done()
			copy(ok[lo:hi], crypto.BatchVerify(items[lo:hi]))
		}()
	}
	wg.Wait()
	return ok
}

// deliver runs one authenticated transaction. The signer's sequence advances
// and the fee is charged even when the message fails, so that an included
// transaction can never be replayed; everything else the message wrote is
// discarded on failure.
func (a *App) deliver(ctx sm.Context, tx *sm.Tx) error {
	if tx.Body.ChainID != ctx.ChainID {
		return sm.Wrapf(sm.ErrWrongChainID, "got %q, want %q", tx.Body.ChainID, ctx.ChainID)
	}
	rt, ok := a.router.Route(tx.Body.Type)
	if !ok {
		return sm.Wrapf(sm.ErrUnknownType, "%q", tx.Body.Type)
	}
	who, werr := session.Authorize(ctx.Store, tx.Body.Signer, tx.Body.Type, ctx.Time.Unix())
	if err := a.authenticate(ctx.Store, tx, rt, who, werr, who.Sequence()); err != nil {
		return err
	}
	signer, acct := who.Address, who.Account
	if acct != nil {
		who.Advance(ctx.Store)
		if err := accounts.ChargeFee(ctx.Store, acct, tx.Body.Fee); err != nil {
			return err
		}
		accounts.PutAccount(ctx.Store, acct)
	}
	_, msg, err := a.router.DecodeMsg(tx.Body)
	if err != nil {
		return err
	}
	cache := store.NewCache(ctx.Store)
	ctx.Store = cache
	ctx.Signer = signer
	ctx.Key = tx.Body.Signer
	ctx.Events.Emit("message",
		sm.Attr{Key: "type", Value: tx.Body.Type},
		sm.Attr{Key: "signer", Value: signer.String()},
		sm.Attr{Key: "sequence", Value: strconv.FormatUint(tx.Body.Sequence, 10)})
	if err := rt.Exec(ctx, msg); err != nil {
		return err
	}
	cache.Write()
	return nil
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
	a.block = nil
	a.mu.Unlock()
	// CometBFT holds the mempool's lock from before Commit until the
	// rechecks after it, so no CheckTx sees the state between the new
	// snapshot and the cleared sequences.
	a.checkMu.Lock()
	clear(a.pending) // rechecks rebuild it from the mempool
	a.pendingTxs = 0
	a.epoch++
	if bs != nil {
		for _, h := range bs.bundles {
			delete(a.inMempool, h)
		}
	}
	a.checkMu.Unlock()
	a.log.Debug("committed", "height", version, "app_hash", fmt.Sprintf("%X", hash))
	if a.onCommit != nil && bs != nil {
		a.onCommit(version, bs.results)
	}
	return &abci.ResponseCommit{}, nil
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

// sigCache remembers hashes of transactions whose signature CheckTx verified.
// It is bounded: when full it is emptied, which costs only re-verification.
type sigCache struct {
	mu  sync.Mutex
	max int
	m   map[[32]byte]struct{}
}

func newSigCache(max int) *sigCache { return &sigCache{max: max, m: make(map[[32]byte]struct{})} }

func (c *sigCache) add(hs ...[32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range hs {
		if len(c.m) >= c.max {
			clear(c.m)
		}
		c.m[h] = struct{}{}
	}
}

func (c *sigCache) has(h [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[h]
	return ok
}

func (c *sigCache) take(h [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[h]; ok {
		delete(c.m, h)
		return true
	}
	return false
}
