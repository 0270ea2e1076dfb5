package app

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/exec"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// Mempool is the application's side of CometBFT's mempool: the signers'
// pending sequences (committed sequence plus the transactions the mempool
// holds), the bundles the node staged, what a recheck needs of each bundle
// the mempool holds, and the signatures already verified. Every check it
// makes is exec.Core's CheckTx; what it adds is this bookkeeping.
//
// Concurrency: safe for concurrent use. CometBFT calls CheckTx (new and
// rechecks) under its mempool lock and calls Commit with that lock held
// until the commit's rechecks have rebuilt the pending sequences. Stage, the
// node's own intake, must not run in the middle of those rechecks (it would
// see some signers' pending transactions missing): it takes the lock the
// node binds with Bind, CometBFT's mempool, itself.
type Mempool struct {
	core    *exec.Core
	chainID func() string
	// blockTime is the committed state's block time (unix seconds).
	blockTime func() int64
	// state is what checks read: the committed state, or before the first
	// commit the genesis state (committed false), held until release.
	state func() (kv store.Reader, committed bool, release func())

	gate      sync.Locker // CometBFT's mempool lock (Bind); a no-op until bound
	executing execGate    // the block executing, which AwaitBlock waits for (execgate.go)

	mu         sync.Mutex
	pending    map[crypto.Address]uint64 // next sequence including mempool txs
	pendingTxs int                       // transactions in the mempool (bundled ones each count)
	epoch      uint64                    // commits so far: a Stage is valid until the next
	staged     map[[32]byte]stagedBundle // bundles Stage checked, until CheckTx sees them
	inMempool  map[[32]byte][]bundled    // the mempool's bundles' signers and sequences, for rechecks
	checkReads *store.Memo               // reads of the committed snapshot
	verified   *sigCache                 // safe for concurrent use

	// open guards the state against Close: checks hold it for reading.
	// CometBFT rechecks the mempool after a commit on a goroutine of its
	// own that its Stop does not wait for; without this, a recheck still
	// running when the node closes its database panics ("pebble: closed").
	open   sync.RWMutex
	closed bool
}

// errStopping refuses checks once the node is closing its state.
var errStopping = sm.Wrapf(sm.ErrInternal, "the node is stopping")

// enter reports whether checks may read the state; on true the caller must
// call m.open.RUnlock when done.
func (m *Mempool) enter() bool {
	m.open.RLock()
	if m.closed {
		m.open.RUnlock()
		return false
	}
	return true
}

// Close waits for the checks in progress and refuses every later one: call
// it before the state it reads is closed.
func (m *Mempool) Close() {
	m.open.Lock()
	m.closed = true
	m.open.Unlock()
}

// stagedBundle is a bundle Stage built from transactions it checked: the
// mempool's CheckTx of it need not check them again, unless a commit came in
// between (the commit's rechecks rebuilt the pending sequences without them).
type stagedBundle struct {
	epoch uint64
	n     int
}

// bundled is what a recheck needs of a transaction in a bundle the mempool
// holds: who signed it with which sequence, and whether it was already
// invalid when first checked.
type bundled struct {
	signer crypto.Address
	seq    uint64
	bad    bool
}

// maxRemembered bounds inMempool (bundles, not transactions); past it a
// bundle is rechecked in full.
const maxRemembered = 1 << 16

type noLock struct{}

func (noLock) Lock()   {}
func (noLock) Unlock() {}

func newMempool(core *exec.Core, chainID func() string, state func() (store.Reader, bool, func()), blockTime func() int64) *Mempool {
	return &Mempool{
		core: core, chainID: chainID, state: state, blockTime: blockTime, gate: noLock{},
		pending:   map[crypto.Address]uint64{},
		staged:    map[[32]byte]stagedBundle{},
		inMempool: map[[32]byte][]bundled{},
		verified:  newSigCache(1 << 18),
	}
}

// Bind makes Stage hold l (CometBFT's mempool, whose Lock CometBFT holds
// from before Commit to the end of its rechecks) while it stages. A node
// binds its mempool before it takes transactions in.
func (m *Mempool) Bind(l sync.Locker) { m.gate = l }

// Next implements exec.Pending. Call with m.mu held.
func (m *Mempool) Next(a crypto.Address) (uint64, bool) {
	s, ok := m.pending[a]
	return s, ok
}

// PendingTxs is how many transactions the mempool holds, counting each
// bundled transaction.
func (m *Mempool) PendingTxs() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pendingTxs
}

// view is what checks read: the committed snapshot with its reads
// remembered until the next commit (rechecks read the same signers'
// accounts and the same parameters thousands of times per snapshot), or
// the genesis state. Call with m.mu held and the state's release pending.
func (m *Mempool) view(kv store.Reader, committed bool) store.Reader {
	if !committed {
		return kv
	}
	if m.checkReads == nil || !m.checkReads.Over(kv) {
		n := 0
		if m.checkReads != nil {
			n = m.checkReads.Len() // a snapshot's checks read about as many keys as the last one's
		}
		m.checkReads = store.NewMemoSized(kv, n)
	}
	return m.checkReads
}

// check is one transaction's mempool check: Stateless, then the core's
// CheckTx against pending sequences, recording the accepted one as pending.
// Call with m.mu held.
func (m *Mempool) check(kv store.Reader, tx *sm.Tx, hash [32]byte, rt sm.Route, sigs exec.SigChecker, opt exec.CheckOptions) (info bundled, held bool, err error) {
	opt.BlockTime = m.blockTime()
	r := m.core.CheckTx(kv, m, tx, hash, rt, sigs, opt)
	if r.Err == nil && !r.Held {
		m.pending[tx.Signer()] = r.Next
	}
	return bundled{signer: tx.Signer(), seq: tx.Body.Sequence, bad: r.Err != nil}, r.Held, r.Err
}

// checkRaw decodes and checks a transaction met for the first time here.
func (m *Mempool) checkRaw(kv store.Reader, raw []byte, opt exec.CheckOptions) (bundled, bool, error) {
	tx, err := sm.DecodeTx(raw)
	if err != nil {
		return bundled{bad: true}, false, err
	}
	rt, err := m.core.Stateless(m.chainID(), tx)
	if err != nil {
		return bundled{signer: tx.Signer(), seq: tx.Body.Sequence, bad: true}, false, err
	}
	return m.check(kv, tx, sm.TxHash(raw), rt, cacheSigs{m.verified}, opt)
}

// CheckTx is the mempool's check of a CometBFT transaction.
func (m *Mempool) CheckTx(raw []byte, recheck bool) *abci.ResponseCheckTx {
	if !m.enter() {
		return errResponse(errStopping, "")
	}
	defer m.open.RUnlock()
	kv, committed, release := m.state()
	defer release()
	if sm.IsBundle(raw) {
		return m.checkBundle(kv, committed, raw, recheck)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, err := m.checkRaw(m.view(kv, committed), raw, exec.CheckOptions{Recheck: recheck})
	if err != nil {
		return errResponse(err, "")
	}
	m.pendingTxs++
	return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}
}

func errResponse(err error, prefix string) *abci.ResponseCheckTx {
	code, space, log := sm.ABCIInfo(err)
	return &abci.ResponseCheckTx{Code: code, Codespace: space, Log: prefix + log}
}

// Intake is a batch of transactions on their way in, each decoded, hashed
// and signature-checked once (Prepare), then staged (Stage).
type Intake struct {
	raws   [][]byte
	hashes [][32]byte
	txs    []*sm.Tx // nil where it does not decode
	errs   []error  // the decoding error
	sigOK  []bool
}

// Hashes are the transactions' hashes.
func (in *Intake) Hashes() [][32]byte { return in.hashes }

// Subset is the intake of the transactions at idx, in that order.
func (in *Intake) Subset(idx []int) *Intake {
	out := &Intake{}
	for _, i := range idx {
		out.raws = append(out.raws, in.raws[i])
		out.hashes = append(out.hashes, in.hashes[i])
		out.txs = append(out.txs, in.txs[i])
		out.errs = append(out.errs, in.errs[i])
		out.sigOK = append(out.sigOK, in.sigOK[i])
	}
	return out
}

// SigChecker is the intake's signature results.
func (in *Intake) sigs(i int) exec.SigChecker { return fixedSig(in.sigOK[i]) }

type fixedSig bool

func (f fixedSig) CheckSig([32]byte, *sm.Tx) bool { return bool(f) }

// Prepare decodes and hashes raws and checks their signatures in batches
// spread over every core, remembering the valid ones. It changes no state
// and takes no lock the mempool's checks wait for. The node's own intake
// calls AwaitBlock first (execgate.go).
func (m *Mempool) Prepare(raws [][]byte) *Intake {
	in := &Intake{raws: raws, hashes: make([][32]byte, len(raws)), txs: make([]*sm.Tx, len(raws)), errs: make([]error, len(raws)), sigOK: make([]bool, len(raws))}
	items := make([]crypto.SigItem, 0, len(raws))
	at := make([]int, 0, len(raws))
	for i, raw := range raws {
		in.hashes[i] = sm.TxHash(raw)
		tx, err := sm.DecodeTx(raw)
		if err != nil {
			in.errs[i] = err
			continue
		}
		in.txs[i] = tx
		if m.verified.has(in.hashes[i]) {
			in.sigOK[i] = true
			continue
		}
		items = append(items, exec.SigItem(tx))
		at = append(at, i)
	}
	var good [][32]byte
	for j, valid := range parallelVerify(items) {
		if valid {
			in.sigOK[at[j]] = true
			good = append(good, in.hashes[at[j]])
		}
	}
	m.verified.add(good...)
	return in
}

// Stage checks the intake's transactions, in order, exactly as CheckTx
// checks a transaction alone, and packs the accepted ones into bundles of at
// most maxBundle bytes for the node to hand to the mempool, in order.
// errs[i] is nil for an accepted transaction and its reason otherwise;
// sizes[k] is how many accepted transactions bundles[k] holds. Accepted
// transactions count as pending (their signers' next sequences move on) from
// now on, so the node must submit every bundle returned, or call Unstage
// for one it could not submit.
func (m *Mempool) Stage(in *Intake, maxBundle int) (bundles [][]byte, sizes []int, errs []error, err error) {
	defer guard(&err)
	if !m.enter() {
		return nil, nil, nil, errStopping
	}
	defer m.open.RUnlock()
	m.gate.Lock()
	defer m.gate.Unlock()
	kv, committed, release := m.state()
	defer release()
	m.mu.Lock()
	defer m.mu.Unlock()
	kv = m.view(kv, committed)
	chainID := m.chainID()
	errs = make([]error, len(in.raws))
	var accepted [][]byte
	var infos []bundled
	for i, tx := range in.txs {
		if tx == nil {
			errs[i] = in.errs[i]
			continue
		}
		rt, err := m.core.Stateless(chainID, tx)
		var info bundled
		if err == nil {
			info, _, err = m.check(kv, tx, in.hashes[i], rt, in.sigs(i), exec.CheckOptions{})
		}
		if errs[i] = err; err == nil {
			accepted = append(accepted, in.raws[i])
			infos = append(infos, info)
		}
	}
	bundles, sizes = sm.PackBundles(accepted, maxBundle, 0)
	for i, b := range bundles {
		h := sha256.Sum256(b)
		m.staged[h] = stagedBundle{epoch: m.epoch, n: sizes[i]}
		m.remember(h, infos[:sizes[i]])
		infos = infos[sizes[i]:]
	}
	return bundles, sizes, errs, nil
}

// Unstage forgets a bundle Stage built that never reached the mempool. Its
// transactions stay counted as pending until the next commit's rechecks
// rebuild the pending sequences from the mempool.
func (m *Mempool) Unstage(bundle []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := sha256.Sum256(bundle)
	delete(m.staged, h)
	delete(m.inMempool, h)
}

// committed forgets what a commit made stale: the pending sequences (the
// rechecks rebuild them from the mempool), staged bundles (a new epoch) and
// the block's bundles, which left the mempool.
func (m *Mempool) committed(blockBundles [][32]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.pending)
	m.pendingTxs = 0
	m.epoch++
	for _, h := range blockBundles {
		delete(m.inMempool, h)
	}
}

func (m *Mempool) remember(h [32]byte, txs []bundled) {
	if len(m.inMempool) < maxRemembered {
		m.inMempool[h] = txs
	}
}

// checkBundle is CheckTx of a bundle. A bundle this node staged in the
// current epoch was checked already. Any other bundle (from a peer, or
// rechecked after a commit) has each transaction checked in order as if it
// came alone, except that one whose sequence is ahead is held; the bundle
// is kept while at least one of them is valid or held. The others cannot
// take effect: PrepareProposal leaves out what would fail its sequence, and
// at execution each transaction is authenticated and sequenced on its own.
func (m *Mempool) checkBundle(kv store.Reader, committed bool, raw []byte, recheck bool) *abci.ResponseCheckTx {
	h := sha256.Sum256(raw)
	m.mu.Lock()
	if recheck {
		if infos, ok := m.inMempool[h]; ok {
			defer m.mu.Unlock()
			return m.recheckBundle(m.view(kv, committed), h, infos)
		}
	} else { // a bundle this node staged needs no second look
		st, ok := m.staged[h]
		delete(m.staged, h)
		if ok && st.epoch == m.epoch {
			m.pendingTxs += st.n
			m.mu.Unlock()
			return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}
		}
	}
	m.mu.Unlock()
	txs, err := sm.DecodeBundle(raw)
	if err != nil {
		return errResponse(err, "")
	}
	var in *Intake
	var routes []sm.Route
	if !recheck {
		// A peer's bundle: verify its signatures in batches on every core
		// before taking the lock, and refuse it whole if it holds a
		// transaction that can never be valid.
		in = m.Prepare(txs)
		if routes, err = m.wellFormed(in); err != nil {
			return errResponse(err, "")
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	kv = m.view(kv, committed)
	var first error
	valid, held := 0, 0
	infos := make([]bundled, 0, len(txs))
	opt := exec.CheckOptions{HoldAhead: true, Recheck: recheck}
	for i, raw := range txs {
		var info bundled
		var hold bool
		var err error
		if in != nil { // well formed: decoded, verified, routed
			info, hold, err = m.check(kv, in.txs[i], in.hashes[i], routes[i], in.sigs(i), opt)
		} else {
			info, hold, err = m.checkRaw(kv, raw, opt)
		}
		infos = append(infos, info)
		switch {
		case err != nil:
			if first == nil {
				first = err
			}
		case hold:
			held++
		default:
			valid++
		}
	}
	m.pendingTxs += valid
	if valid+held == 0 {
		delete(m.inMempool, h)
		return errResponse(first, "no valid transaction in bundle: ")
	}
	m.remember(h, infos)
	return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}
}

// wellFormed refuses a bundle holding a transaction that can never be
// valid: one that does not decode, is for another chain, carries a
// malformed message or a wrong signature. A node bundles only transactions
// that passed all of these, so such a bundle was built to waste the
// network's time. It returns each transaction's route.
func (m *Mempool) wellFormed(in *Intake) ([]sm.Route, error) {
	chainID := m.chainID()
	routes := make([]sm.Route, len(in.txs))
	for i, tx := range in.txs {
		var err error
		switch {
		case tx == nil:
			err = in.errs[i]
		default:
			if err = exec.CheckChainID(chainID, tx); err == nil && !in.sigOK[i] {
				err = sm.ErrBadSignature
			}
			if err == nil {
				routes[i], err = m.core.Message(tx)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("bundle refused: transaction %d: %w", i, err)
		}
	}
	return routes, nil
}

// recheckBundle rechecks a bundle from what its first check remembered:
// each transaction's sequence against the signer's pending one, without
// decoding it, verifying it or running the other envelope checks again. A
// commit changes sequences for all; the other checks (the account may sign,
// the fee is covered) rarely change between check and inclusion, and a
// transaction that no longer passes them fails at execution without effect.
// Rechecks run under the mempool's lock, which the next proposal waits for,
// so a full recheck of tens of thousands of transactions after every block
// delayed the next one. Call with m.mu held.
func (m *Mempool) recheckBundle(kv store.Reader, h [32]byte, infos []bundled) *abci.ResponseCheckTx {
	valid, held := 0, 0
	for i := range infos {
		t := &infos[i]
		if t.bad {
			continue
		}
		next, ok := m.pending[t.signer]
		if !ok {
			if acct := accounts.GetAccount(kv, t.signer); acct != nil {
				next = acct.Sequence
			}
		}
		switch {
		case t.seq == next:
			m.pending[t.signer] = next + 1
			valid++
		case t.seq > next && t.seq-next <= exec.MaxAhead:
			held++
		default:
			t.bad = true // stale for good: sequences only grow
		}
	}
	m.pendingTxs += valid
	if valid+held == 0 {
		delete(m.inMempool, h)
		return &abci.ResponseCheckTx{Code: sm.ErrBadSequence.Code, Codespace: sm.ErrBadSequence.Codespace,
			Log: "no valid transaction in bundle: " + sm.ErrBadSequence.Desc}
	}
	return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}
}

// cacheSigs checks a signature unless the cache says it was verified, and
// remembers it when valid.
type cacheSigs struct{ c *sigCache }

func (s cacheSigs) CheckSig(h [32]byte, tx *sm.Tx) bool {
	if s.c.has(h) {
		return true
	}
	if it := exec.SigItem(tx); !crypto.Verify(it.Pub, it.Msg, it.Sig) {
		return false
	}
	s.c.add(h)
	return true
}

// blockVerifier is the block's exec.Verifier: signatures CheckTx verified
// are taken from the cache (and leave it); the others are verified in
// batches on every core.
type blockVerifier struct{ c *sigCache }

func (v blockVerifier) VerifyBlock(txs []*exec.BlockTx) {
	var batch []crypto.SigItem
	var idx []*exec.BlockTx
	for _, t := range txs {
		if v.c.take(t.Hash) {
			continue
		}
		batch = append(batch, exec.SigItem(t.Tx))
		idx = append(idx, t)
	}
	for j, valid := range parallelVerify(batch) {
		if !valid {
			idx[j].Err = sm.ErrBadSignature
		}
	}
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

// sigCache remembers hashes of transactions whose signature was verified.
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
