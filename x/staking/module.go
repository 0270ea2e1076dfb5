package staking

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/params"
)

// Message types.
const (
	TypeDelegate           = "staking/delegate"
	TypeUndelegate         = "staking/undelegate"
	TypeWithdrawRewards    = "staking/withdraw_rewards"
	TypeWithdrawCommission = "staking/withdraw_commission"
	TypeSetCommission      = "staking/set_commission"
	TypeUnjail             = "staking/unjail"
)

// MsgDelegate bonds Amount of the signer's tokens to Validator.
type MsgDelegate struct {
	Validator crypto.PubKey
	Amount    uint64
}

// MsgUndelegate starts returning Amount of the signer's stake in Validator.
type MsgUndelegate struct {
	Validator crypto.PubKey
	Amount    uint64
}

// MsgWithdrawRewards pays the signer's rewards from Validator, or from all
// its validators when Validator is zero.
type MsgWithdrawRewards struct{ Validator crypto.PubKey }

// MsgWithdrawCommission pays Validator's commission to the signing operator admin.
type MsgWithdrawCommission struct{ Validator crypto.PubKey }

// MsgSetCommission changes Validator's commission rate (basis points).
type MsgSetCommission struct {
	Validator crypto.PubKey
	RateBps   uint64
}

// MsgUnjail returns Validator to the set after its jail period.
type MsgUnjail struct{ Validator crypto.PubKey }

func (m *MsgDelegate) Type() string { return TypeDelegate }
func (m *MsgDelegate) Encode(w *codec.Writer) {
	w.Fixed(m.Validator[:])
	w.Uint(m.Amount)
}
func (m *MsgDelegate) ValidateBasic() error { return checkKeyAmount(m.Validator, m.Amount) }

func (m *MsgUndelegate) Type() string { return TypeUndelegate }
func (m *MsgUndelegate) Encode(w *codec.Writer) {
	w.Fixed(m.Validator[:])
	w.Uint(m.Amount)
}
func (m *MsgUndelegate) ValidateBasic() error { return checkKeyAmount(m.Validator, m.Amount) }

func (m *MsgWithdrawRewards) Type() string           { return TypeWithdrawRewards }
func (m *MsgWithdrawRewards) Encode(w *codec.Writer) { w.Fixed(m.Validator[:]) }
func (m *MsgWithdrawRewards) ValidateBasic() error   { return nil } // zero: every validator

func (m *MsgWithdrawCommission) Type() string           { return TypeWithdrawCommission }
func (m *MsgWithdrawCommission) Encode(w *codec.Writer) { w.Fixed(m.Validator[:]) }
func (m *MsgWithdrawCommission) ValidateBasic() error   { return checkKey(m.Validator) }

func (m *MsgSetCommission) Type() string { return TypeSetCommission }
func (m *MsgSetCommission) Encode(w *codec.Writer) {
	w.Fixed(m.Validator[:])
	w.Uint(m.RateBps)
}
func (m *MsgSetCommission) ValidateBasic() error {
	if m.RateBps > 10_000 {
		return sm.Wrapf(ErrCommissionMax, "%d bps > 10000", m.RateBps)
	}
	return checkKey(m.Validator)
}

func (m *MsgUnjail) Type() string           { return TypeUnjail }
func (m *MsgUnjail) Encode(w *codec.Writer) { w.Fixed(m.Validator[:]) }
func (m *MsgUnjail) ValidateBasic() error   { return checkKey(m.Validator) }

func checkKey(pub crypto.PubKey) error {
	if pub == (crypto.PubKey{}) {
		return ErrValidatorKey
	}
	return nil
}

func checkKeyAmount(pub crypto.PubKey, amount uint64) error {
	if amount == 0 {
		return sm.Wrapf(ErrAmount, "amount must be positive")
	}
	return checkKey(pub)
}

func decodeKeyAmount(b []byte, mk func(crypto.PubKey, uint64) sm.Msg) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) sm.Msg {
		return mk(sm.ReadKey32(r, "validator"), r.Uint("amount"))
	})
}

func decodeKey(b []byte, mk func(crypto.PubKey) sm.Msg) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) sm.Msg { return mk(sm.ReadKey32(r, "validator")) })
}

// Module plugs staking, distribution and slashing into the state machine.
type Module struct{ Keeper }

var (
	_ sm.Module       = Module{}
	_ sm.BeginBlocker = Module{}
	_ sm.EndBlocker   = Module{}
)

// New returns the module over the chain's parameters.
func New(reg *params.Registry) Module { return Module{Keeper{Params: reg}} }

func (Module) Name() string { return "staking" }

func (m Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeDelegate, Decode: func(b []byte) (sm.Msg, error) {
			return decodeKeyAmount(b, func(k crypto.PubKey, a uint64) sm.Msg { return &MsgDelegate{Validator: k, Amount: a} })
		}, Exec: func(ctx sm.Context, msg sm.Msg) error {
			d := msg.(*MsgDelegate)
			return m.Delegate(ctx, d.Validator, d.Amount)
		}},
		{Type: TypeUndelegate, Decode: func(b []byte) (sm.Msg, error) {
			return decodeKeyAmount(b, func(k crypto.PubKey, a uint64) sm.Msg { return &MsgUndelegate{Validator: k, Amount: a} })
		}, Exec: func(ctx sm.Context, msg sm.Msg) error {
			u := msg.(*MsgUndelegate)
			return m.Undelegate(ctx, u.Validator, u.Amount)
		}},
		{Type: TypeWithdrawRewards, Decode: func(b []byte) (sm.Msg, error) {
			return decodeKey(b, func(k crypto.PubKey) sm.Msg { return &MsgWithdrawRewards{Validator: k} })
		}, Exec: func(ctx sm.Context, msg sm.Msg) error {
			return m.WithdrawRewards(ctx, msg.(*MsgWithdrawRewards).Validator)
		}},
		{Type: TypeWithdrawCommission, Decode: func(b []byte) (sm.Msg, error) {
			return decodeKey(b, func(k crypto.PubKey) sm.Msg { return &MsgWithdrawCommission{Validator: k} })
		}, Exec: func(ctx sm.Context, msg sm.Msg) error {
			return m.WithdrawCommission(ctx, msg.(*MsgWithdrawCommission).Validator)
		}},
		{Type: TypeSetCommission, Decode: func(b []byte) (sm.Msg, error) {
			return sm.DecodeMsg(b, func(r *codec.Reader) *MsgSetCommission {
				return &MsgSetCommission{Validator: sm.ReadKey32(r, "validator"), RateBps: r.Uint("rate_bps")}
			})
		}, Exec: func(ctx sm.Context, msg sm.Msg) error {
			c := msg.(*MsgSetCommission)
			return m.SetCommission(ctx, c.Validator, c.RateBps)
		}},
		{Type: TypeUnjail, Decode: func(b []byte) (sm.Msg, error) {
			return decodeKey(b, func(k crypto.PubKey) sm.Msg { return &MsgUnjail{Validator: k} })
		}, Exec: func(ctx sm.Context, msg sm.Msg) error {
			return m.Unjail(ctx, msg.(*MsgUnjail).Validator)
		}},
	}
}

// BeginBlock acts on the last block's evidence and votes and distributes
// the rewards collected since (fees of the last block, this block's
// provision when x/mint ran before, and the carried dust).
func (m Module) BeginBlock(ctx sm.Context, info sm.BlockInfo) {
	m.handleEvidence(ctx, info)
	m.handleDowntime(ctx, info)
	m.distribute(ctx, info)
}

// EndBlock matures unbonding entries and tells CometBFT the powers that
// changed in the block.
func (m Module) EndBlock(ctx sm.Context) {
	matureUnbondings(ctx)
	m.reconcilePowers(ctx)
}
