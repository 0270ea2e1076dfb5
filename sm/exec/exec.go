package exec

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/session"
)

// State is what the core executes a block over: the working state, and its
// root once the block's writes reached it (the app hash).
type State interface {
	store.KV
	WorkingHash() []byte
}

// Core executes transactions with a fixed set of modules.
type Core struct {
	router    *sm.Router
	fees      FeeRules
	execution Execution
	// blockWrites is how many keys the last block wrote: the next block's
	// cache is made for as many (store.NewCacheSized).
	blockWrites atomic.Int64
}

// FeeRules price and charge transactions: the one place the cost of a
// transaction is decided (x/fees implements them for the app; SignerPays
// is the plain rule). principal is the account the key signs for (its
// address even when it has no account yet: acct nil, a self-registration);
// now is the block time (unix seconds) the check is made at.
type FeeRules interface {
	// CheckFee reports why tx's fee cannot be paid, or nil: the fee is below
	// the minimum for its type, or whoever pays (the signer, or the
	// envelope's fee payer under an allowance) cannot.
	CheckFee(kv store.Reader, tx *sm.Tx, principal crypto.Address, acct *accounts.Account, now int64) error
	// ChargeFee takes the fee into the fee pool after CheckFee passed on the
	// same state; a fee the signer pays comes off acct, which the caller
	// stores.
	ChargeFee(kv store.KV, tx *sm.Tx, principal crypto.Address, acct *accounts.Account, now int64) error
}

// New builds a core over the router's modules with the fee rules.
func New(router *sm.Router, fees FeeRules) *Core {
	return &Core{router: router, fees: fees}
}

// SignerPays is the plain fee rule: the signer pays the fee it carries,
// which must be at least minFee of its type (nil: no minimum) and within
// its balance; a new account has no balance and pays nothing. A fee payer
// in the envelope is refused: sponsorship needs x/fees.
func SignerPays(minFee func(kv store.Reader, typ string) uint64) FeeRules { return signerPays{minFee} }

type signerPays struct {
	minFee func(kv store.Reader, typ string) uint64
}

func (r signerPays) CheckFee(kv store.Reader, tx *sm.Tx, _ crypto.Address, acct *accounts.Account, _ int64) error {
	if tx.Body.FeePayer != (crypto.Address{}) {
		return sm.Wrapf(sm.ErrFunds, "this chain has no fee sponsorship")
	}
	var min uint64
	if r.minFee != nil {
		min = r.minFee(kv, tx.Body.Type)
	}
	return CheckSignerFee(tx.Body.Fee, min, acct)
}

func (r signerPays) ChargeFee(kv store.KV, tx *sm.Tx, _ crypto.Address, acct *accounts.Account, _ int64) error {
	if acct == nil {
		return nil
	}
	return accounts.ChargeFee(kv, acct, tx.Body.Fee)
}

// CheckSignerFee is the rule for a fee the signer pays: at least min and
// within the balance; a new account (acct nil) pays nothing, so it may
// carry no fee, and is refused when the minimum is above zero.
func CheckSignerFee(fee, min uint64, acct *accounts.Account) error {
	if acct == nil {
		if fee != 0 {
			return sm.Wrapf(sm.ErrFunds, "a new account has no balance for a fee: a sponsor must pay it (fee_payer)")
		}
		if min > 0 {
			return sm.Wrapf(sm.ErrFeeTooLow, "fee 0, minimum %d: a sponsor must pay it (fee_payer)", min)
		}
		return nil
	}
	if fee < min {
		return sm.Wrapf(sm.ErrFeeTooLow, "fee %d, minimum %d", fee, min)
	}
	if fee > acct.Balance {
		return sm.Wrapf(sm.ErrFunds, "balance %d, fee %d", acct.Balance, fee)
	}
	return nil
}

// Router is the core's message routes.
func (c *Core) Router() *sm.Router { return c.router }

// BlockContext is the block being executed, as consensus decided it.
type BlockContext struct {
	ChainID string
	Height  int64
	Time    time.Time
	// Info is what consensus says about the block besides its transactions
	// (proposer, last commit's votes, evidence), for the modules' block
	// hooks.
	Info sm.BlockInfo
}

// Genesis is the app state of a genesis document: one entry per module.
type Genesis map[string]json.RawMessage

// InitGenesis loads each module's part of gs into kv, in module order; an
// entry for no module is an error. A module without a GenesisLoader has
// nothing to load: its entry, if any, is ignored.
func (c *Core) InitGenesis(kv store.KV, blk BlockContext, gs Genesis) error {
	ctx := sm.Context{ChainID: blk.ChainID, Height: blk.Height, Time: blk.Time, Store: kv, Events: &sm.Events{}, Valset: &sm.ValidatorUpdates{}}
	known := map[string]bool{}
	for _, m := range c.router.Modules() {
		known[m.Name()] = true
		if g, ok := m.(sm.GenesisLoader); ok {
			if err := g.InitGenesis(ctx, gs[m.Name()]); err != nil {
				return err
			}
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range gs {
			if !yield(k) {
				return
			}
		}
	}) {
		if !known[name] {
			return fmt.Errorf("genesis app_state: unknown module %q", name)
		}
	}
	return nil
}

// CheckChainID is the one chain id check of every path (mempool, bundle,
// block).
func CheckChainID(chainID string, tx *sm.Tx) error {
	if tx.Body.ChainID != chainID {
		return sm.Wrapf(sm.ErrWrongChainID, "got %q, want %q", tx.Body.ChainID, chainID)
	}
	return nil
}

// Stateless checks what needs no state: the chain id and the message
// (decoding and ValidateBasic). The route it returns is what CheckTx takes.
func (c *Core) Stateless(chainID string, tx *sm.Tx) (sm.Route, error) {
	if err := CheckChainID(chainID, tx); err != nil {
		return sm.Route{}, err
	}
	return c.Message(tx)
}

// Message checks the transaction's message alone: its type is routed, it
// decodes and passes ValidateBasic.
func (c *Core) Message(tx *sm.Tx) (sm.Route, error) {
	rt, _, err := c.router.DecodeMsg(tx.Body)
	return rt, err
}

// authenticate applies the envelope rules shared by CheckTx and
// DeliverBlock: the signing key resolves to a principal (session.Authorize:
// an account's current key, or a live session key whose limits allow the
// message type; keyErr is why it does not), the sequence is next, the
// account exists (or the route lets a new signer register), can sign, and
// can pay.
func (c *Core) authenticate(kv store.Reader, tx *sm.Tx, rt sm.Route, who session.Principal, keyErr error, next uint64, now int64) error {
	if keyErr != nil {
		return keyErr
	}
	if tx.Body.Sequence != next {
		return sm.Wrapf(sm.ErrBadSequence, "got %d, want %d", tx.Body.Sequence, next)
	}
	acct := who.Account
	if acct == nil {
		if !rt.NewSigner {
			return sm.Wrapf(sm.ErrUnknownSigner, "%s", tx.Signer())
		}
		return c.fees.CheckFee(kv, tx, who.Address, nil, now)
	}
	if !accounts.CanSign(kv, acct) {
		return sm.Wrapf(sm.ErrInactive, "%s", acct.Address)
	}
	return c.fees.CheckFee(kv, tx, who.Address, acct, now)
}
