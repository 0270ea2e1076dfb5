package exec

import (
	"strconv"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/session"
)

// BlockTx is one transaction of a block, bundled or alone, decoded once and
// hashed once.
type BlockTx struct {
	Hash [32]byte
	Tx   *sm.Tx // nil when it did not decode
	// Err is why it cannot execute before execution starts: it did not
	// decode, or (set by the Verifier) its signature is invalid.
	Err error
}

// Verifier checks the signatures of a block's transactions that no earlier
// check verified, setting Err to sm.ErrBadSignature on the invalid ones. It
// is given only transactions that decoded (Err nil, Tx set).
type Verifier interface {
	VerifyBlock(txs []*BlockTx)
}

// SerialVerifier verifies every signature, in one batch, on the calling
// goroutine.
type SerialVerifier struct{}

// VerifyBlock implements Verifier.
func (SerialVerifier) VerifyBlock(txs []*BlockTx) {
	items := make([]crypto.SigItem, len(txs))
	for i, t := range txs {
		items[i] = SigItem(t.Tx)
	}
	for i, ok := range crypto.BatchVerify(items) {
		if !ok {
			txs[i].Err = sm.ErrBadSignature
		}
	}
}

// SigItem is what verifying tx's signature takes.
func SigItem(tx *sm.Tx) crypto.SigItem {
	return crypto.SigItem{Pub: tx.Body.Signer, Msg: sm.SignBytes(tx.BodyBytes), Sig: tx.Sig}
}

// Outer is one CometBFT transaction of a block: a transaction alone, or a
// bundle whose transactions are Txs[First:First+N] of the BlockResult.
type Outer struct {
	Bundle   bool
	Err      error // a malformed bundle: none of it executes
	First, N int
}

// TxResult is the outcome of one transaction. Index is its position in the
// block counting each bundled transaction (CometBFT counts a bundle once).
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

// BlockResult is what a block did.
type BlockResult struct {
	Outer []Outer
	Txs   []TxResult
	// Valset are the validator changes of the block, the last per key.
	Valset []sm.ValidatorUpdate
	// Events are the block's own events: those of the modules' BeginBlock
	// and EndBlock hooks, in that order.
	Events []sm.Event
	// AppHash is the state's root after the block.
	AppHash []byte
	// Reexecuted counts the transactions parallel execution ran again
	// because what they read changed (0 when serial). A measure, not part
	// of consensus: it depends on timing.
	Reexecuted int
}

// Flatten splits a block's CometBFT transactions into its transactions,
// decoding and hashing each once.
func Flatten(raws [][]byte) ([]Outer, []BlockTx) {
	outer := make([]Outer, len(raws))
	flat := make([]BlockTx, 0, len(raws))
	add := func(raw []byte) {
		tx, err := sm.DecodeTx(raw)
		flat = append(flat, BlockTx{Hash: sm.TxHash(raw), Tx: tx, Err: err})
	}
	for i, raw := range raws {
		outer[i].First = len(flat)
		if !sm.IsBundle(raw) {
			add(raw)
			outer[i].N = 1
			continue
		}
		outer[i].Bundle = true
		inner, err := sm.DecodeBundle(raw)
		if err != nil {
			outer[i].Err = err
			continue
		}
		for _, tx := range inner {
			add(tx)
		}
		outer[i].N = len(inner)
	}
	return outer, flat
}

// DeliverBlock executes a block's CometBFT transactions over state: each
// transaction authenticated, sequenced, charged and executed in order (see
// deliverTx), then the end of the block. The block's writes collect in a
// sorted cache and reach state once, at the end: iterating a tree with
// unsaved writes costs as much as all of them. The transactions run
// serially or in parallel as SetExecution chose, with the same results.
func (c *Core) DeliverBlock(state State, blk BlockContext, raws [][]byte, v Verifier) BlockResult {
	outer, flat := Flatten(raws)
	var unverified []*BlockTx
	for i := range flat {
		if flat[i].Err == nil {
			unverified = append(unverified, &flat[i])
		}
	}
	if len(unverified) > 0 {
		v.VerifyBlock(unverified)
	}
	par := c.execution.parallel(len(flat))
	expect := int(c.blockWrites.Load())
	block := store.NewCacheSized(state, expect)
	if par {
		block = store.NewCacheSized(&gate{kv: state}, expect)
	}
	valset := &sm.ValidatorUpdates{}
	ctx := sm.Context{ChainID: blk.ChainID, Height: blk.Height, Time: blk.Time, Store: block, Valset: valset}
	res := BlockResult{Outer: outer, Txs: make([]TxResult, len(flat))}
	blockEvents := &sm.Events{}
	hookCtx := ctx
	hookCtx.Events = blockEvents
	for _, m := range c.router.Modules() {
		if h, ok := m.(sm.BeginBlocker); ok {
			h.BeginBlock(hookCtx, blk.Info)
		}
	}
	nBegin := blockEvents.Len()
	if par {
		res.Reexecuted = c.deliverParallel(ctx, block, flat, res.Txs)
	} else {
		for i := range flat {
			res.Txs[i] = c.deliverTx(ctx, &flat[i], i)
		}
	}
	for _, m := range c.router.Modules() {
		if o, ok := m.(sm.UsageObserver); ok {
			o.ObserveUsage(hookCtx, len(flat))
		}
	}
	for _, m := range c.router.Modules() {
		if h, ok := m.(sm.EventEndBlocker); ok {
			h.EndBlockEvents(hookCtx, eventsSoFar(blockEvents.List(), nBegin, res.Txs))
			continue
		}
		if h, ok := m.(sm.EndBlocker); ok {
			h.EndBlock(hookCtx)
		}
	}
	res.Events = blockEvents.List()
	c.blockWrites.Store(int64(block.Len()))
	block.Write()
	res.Valset = valset.List() // the end of the block
	res.AppHash = state.WorkingHash()
	return res
}

// deliverTx runs one transaction of a block. A transaction that fails
// authentication changes nothing; once authenticated, the signer's sequence
// advances and the fee is charged even when the message then fails, so that
// an included transaction can never be replayed. The message itself runs
// under sm.Isolate: on failure its writes are discarded and every event of
// the transaction dropped.
func (c *Core) deliverTx(ctx sm.Context, bt *BlockTx, index int) TxResult {
	r := TxResult{Hash: bt.Hash, Height: ctx.Height, Index: index}
	if bt.Tx != nil {
		r.Type, r.HasSigner, r.Signer, r.Sequence = bt.Tx.Body.Type, true, bt.Tx.Signer(), bt.Tx.Body.Sequence
	}
	err := bt.Err
	events := &sm.Events{}
	if err == nil {
		ctx.Events = events
		err = c.deliver(ctx, bt.Tx)
	}
	r.Code, r.Codespace, r.Log = sm.ABCIInfo(err)
	if err == nil {
		r.Events = events.List()
	}
	return r
}

func (c *Core) deliver(ctx sm.Context, tx *sm.Tx) error {
	if err := CheckChainID(ctx.ChainID, tx); err != nil {
		return err
	}
	rt, ok := c.router.Route(tx.Body.Type)
	if !ok {
		return sm.Wrapf(sm.ErrUnknownType, "%q", tx.Body.Type)
	}
	who, keyErr := session.Authorize(ctx.Store, tx.Body.Signer, tx.Body.Type, ctx.Time.Unix())
	now := ctx.Time.Unix()
	if err := c.authenticate(ctx.Store, tx, rt, who, keyErr, who.Sequence(), now); err != nil {
		return err
	}
	signer, acct := who.Address, who.Account
	if acct != nil {
		who.Advance(ctx.Store)
	}
	if err := c.fees.ChargeFee(ctx.Store, tx, signer, acct, now); err != nil {
		return err
	}
	if acct != nil {
		accounts.PutAccount(ctx.Store, acct)
	}
	_, msg, err := c.router.DecodeMsg(tx.Body)
	if err != nil {
		return err
	}
	ctx.Signer = signer
	ctx.Key = tx.Body.Signer
	ctx.Events.Emit("message",
		sm.Attr{Key: "type", Value: tx.Body.Type},
		sm.Attr{Key: "signer", Value: signer.String()},
		sm.Attr{Key: "sequence", Value: strconv.FormatUint(tx.Body.Sequence, 10)})
	return sm.Isolate(ctx, func(ctx sm.Context) error { return rt.Exec(ctx, msg) })
}

// eventsSoFar lists a block's events in order: the first nBegin block
// events (BeginBlock), each successful transaction's, then the remaining
// block events (EndBlock hooks run so far).
func eventsSoFar(block []sm.Event, nBegin int, txs []TxResult) []sm.Event {
	out := append([]sm.Event(nil), block[:nBegin]...)
	for i := range txs {
		if txs[i].Code == 0 {
			out = append(out, txs[i].Events...)
		}
	}
	return append(out, block[nBegin:]...)
}
