package bank

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// Errors of transfers; codes are stable.
var (
	ErrSelf     = sm.Register(Codespace, 5, "sender and recipient are the same account")
	ErrInactive = sm.Register(Codespace, 6, "recipient account is deactivated")
)

// Module plugs transfers and the genesis supply into the state machine. It
// must come after every module whose genesis credits balances or pools:
// its InitGenesis records the supply as the sum of what they hold.
type Module struct{}

var (
	_ sm.Module        = Module{}
	_ sm.GenesisLoader = Module{}
)

func (Module) Name() string { return Codespace }

func (Module) Routes() []sm.Route {
	return []sm.Route{{Type: TypeSend, Decode: decodeSend, Exec: execSend}}
}

// execSend moves tokens from the signer's account to another registered,
// active account. A pool address is not an account: no transaction can
// credit a module pool directly (modules move their own tokens).
func execSend(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgSend)
	if m.To == ctx.Signer {
		return sm.Wrapf(ErrSelf, "%s", m.To)
	}
	to := accounts.GetAccount(ctx.Store, m.To)
	if to == nil {
		return sm.Wrapf(ErrNoAccount, "%s", m.To)
	}
	if !to.Active {
		return sm.Wrapf(ErrInactive, "%s", m.To)
	}
	if err := Send(ctx.Store, ctx.Signer, m.To, m.Amount); err != nil {
		return err
	}
	ctx.Events.Emit("transfer",
		sm.Attr{Key: "from", Value: ctx.Signer.String()},
		sm.Attr{Key: "to", Value: m.To.String()},
		sm.Attr{Key: "amount", Value: strconv.FormatUint(m.Amount, 10)})
	return nil
}

// Genesis is the bank part of the genesis app state. Account balances are
// listed with the accounts (accounts.GenesisAccount.Balance); Allocations
// credit further tokens to accounts or module pools (for example a
// staking pool's opening balance), and Supply, when set, must equal the
// total: a check that the document says what its author meant.
type Genesis struct {
	Allocations []Allocation `json:"allocations,omitempty"`
	Supply      uint64       `json:"supply,omitempty"`
}

// Allocation credits Amount to an account's address, or to the module pool
// Module/Sub (bank.ModuleAddress) when Module is set.
type Allocation struct {
	Address crypto.Address `json:"address,omitzero"`
	Module  string         `json:"module,omitempty"`
	Sub     string         `json:"sub,omitempty"`
	Amount  uint64         `json:"amount"`
}

// InitGenesis credits the allocations and records the supply: every token
// held in genesis, in accounts, pools and the fee pool.
func (Module) InitGenesis(ctx sm.Context, raw json.RawMessage) error {
	var g Genesis
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &g); err != nil {
			return fmt.Errorf("bank genesis: %w", err)
		}
	}
	for i, al := range g.Allocations {
		if al.Amount == 0 {
			return fmt.Errorf("bank genesis: allocation %d: amount must be positive", i)
		}
		to := al.Address
		switch {
		case al.Module != "" && to != (crypto.Address{}):
			return fmt.Errorf("bank genesis: allocation %d: give an address or a module pool, not both", i)
		case al.Module != "":
			to = ModuleAddress(al.Module, al.Sub)
		case accounts.GetAccount(ctx.Store, to) == nil:
			return fmt.Errorf("bank genesis: allocation %d: %s is not a genesis account", i, to)
		}
		if err := credit(ctx.Store, to, al.Amount); err != nil {
			return fmt.Errorf("bank genesis: allocation %d: %w", i, err)
		}
	}
	total, err := Holdings(ctx.Store)
	if err != nil {
		return fmt.Errorf("bank genesis: %w", err)
	}
	if g.Supply != 0 && g.Supply != total {
		return fmt.Errorf("bank genesis: supply %d given, genesis holdings sum to %d", g.Supply, total)
	}
	SetSupply(ctx.Store, total)
	return nil
}
