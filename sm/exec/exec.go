package exec

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

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
	router *sm.Router
	minFee func(kv store.Reader) uint64
}

// New builds a core over the router's modules; minFee reads the smallest
// fee a transaction may carry from state.
func New(router *sm.Router, minFee func(kv store.Reader) uint64) *Core {
	return &Core{router: router, minFee: minFee}
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

// Fee is what a transaction costs its signer: the fee it carries, which
// must be at least the minimum fee in state and within the signer's
// balance. A new account (acct nil) has no balance and pays nothing. This
// is the one place the price of a transaction is decided; the charge itself
// is accounts.ChargeFee of the amount returned.
func (c *Core) Fee(kv store.Reader, tx *sm.Tx, acct *accounts.Account) (uint64, error) {
	if acct == nil {
		if tx.Body.Fee != 0 {
			return 0, sm.Wrapf(sm.ErrFunds, "a new account has no balance for a fee")
		}
		return 0, nil
	}
	if min := c.minFee(kv); tx.Body.Fee < min {
		return 0, sm.Wrapf(sm.ErrFeeTooLow, "fee %d, minimum %d", tx.Body.Fee, min)
	}
	if tx.Body.Fee > acct.Balance {
		return 0, sm.Wrapf(sm.ErrFunds, "balance %d, fee %d", acct.Balance, tx.Body.Fee)
	}
	return tx.Body.Fee, nil
}

// authenticate applies the envelope rules shared by CheckTx and
// DeliverBlock: the signing key resolves to a principal (session.Authorize:
// an account's current key, or a live session key whose limits allow the
// message type; keyErr is why it does not), the sequence is next, the
// account exists (or the route lets a new signer register), can sign, and
// can pay.
func (c *Core) authenticate(kv store.Reader, tx *sm.Tx, rt sm.Route, who session.Principal, keyErr error, next uint64) error {
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
		_, err := c.Fee(kv, tx, nil)
		return err
	}
	if !accounts.CanSign(kv, acct) {
		return sm.Wrapf(sm.ErrInactive, "%s", acct.Address)
	}
	_, err := c.Fee(kv, tx, acct)
	return err
}
