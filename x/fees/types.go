package fees

import (
	"slices"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/params"
)

// Codespace of the fees module.
const Codespace = "fees"

// Errors; codes are stable.
var (
	ErrBadAllowance   = sm.Register(Codespace, 1, "invalid fee allowance")
	ErrNotGranter     = sm.Register(Codespace, 2, "signer is not an active admin of an active organization")
	ErrNoAllowance    = sm.Register(Codespace, 3, "no fee allowance from the fee payer to the signer")
	ErrExpired        = sm.Register(Codespace, 4, "fee allowance expired")
	ErrTypeNotAllowed = sm.Register(Codespace, 5, "fee allowance does not cover this message type")
	ErrLimit          = sm.Register(Codespace, 6, "fee allowance total limit reached")
	ErrPeriodLimit    = sm.Register(Codespace, 7, "fee allowance limit for this period reached")
	ErrPayer          = sm.Register(Codespace, 8, "fee payer cannot pay")
	ErrSelfGrant      = sm.Register(Codespace, 9, "a fee allowance to oneself")
)

// Parameters.
const (
	// ParamMinFee is the chain-wide floor of every transaction's fee.
	ParamMinFee = "tx.min_fee"
	// ParamMinPrefix + a message type is that type's minimum fee.
	ParamMinPrefix                = "fees.min."
	ParamMarketEnabled            = "fees.market.enabled"
	ParamMarketTarget             = "fees.market.target_txs"
	ParamMarketMinBase            = "fees.market.min_base_fee"
	ParamMarketMaxBase            = "fees.market.max_base_fee"
	ParamMarketDenominator        = "fees.market.change_denominator"
	maxFeeParam            uint64 = 1 << 40
)

// ParamDefs are the parameters fees declares besides the per-type minimums
// (TypeParamDefs).
var ParamDefs = []params.Def{
	{Name: ParamMinFee, Default: 0, Min: 0, Max: maxFeeParam, Doc: "smallest fee any transaction may carry"},
	{Name: ParamMarketEnabled, Default: 0, Min: 0, Max: 1, Doc: "1: a base fee that follows load is a floor of every fee (EIP-1559 style)"},
	{Name: ParamMarketTarget, Default: 2000, Min: 1, Max: 1 << 20, Doc: "transactions per block the fee market aims at: fuller blocks raise the base fee, emptier ones lower it"},
	{Name: ParamMarketMinBase, Default: 1, Min: 0, Max: maxFeeParam, Doc: "lowest base fee (and where it starts when the market is switched on)"},
	{Name: ParamMarketMaxBase, Default: 1 << 30, Min: 1, Max: maxFeeParam, Doc: "highest base fee"},
	{Name: ParamMarketDenominator, Default: 8, Min: 1, Max: 1000, Doc: "the base fee changes by at most 1/this of itself per block"},
}

// TypeParamDefs declares fees.min.<type> for each message type.
func TypeParamDefs(types []string) []params.Def {
	out := make([]params.Def, 0, len(types))
	for _, t := range types {
		out = append(out, params.Def{Name: ParamMinPrefix + t, Default: 0, Min: 0, Max: maxFeeParam, Doc: "smallest fee of a " + t + " transaction"})
	}
	return out
}

// Limits of an allowance.
const (
	MaxTypes  = 32
	MaxPeriod = 366 * 24 * 3600
)

// Allowance is what Granter pays for Grantee's transactions.
type Allowance struct {
	Granter, Grantee crypto.Address
	Org              string // the granter's organization when granted
	Limit            uint64 // total over the allowance's life; 0: no total limit
	Spent            uint64
	Period           int64  // seconds; 0: no per-period limit
	PeriodLimit      uint64 // per period
	PeriodStart      int64  // unix seconds of the current period's start
	PeriodSpent      uint64
	Expiry           int64    // unix seconds; 0: never
	Types            []string // message types covered; empty: all
	Created          int64
}

func (a *Allowance) Encode(w *codec.Writer) {
	w.Fixed(a.Granter[:])
	w.Fixed(a.Grantee[:])
	w.String(a.Org)
	w.Uint(a.Limit)
	w.Uint(a.Spent)
	w.Int(a.Period)
	w.Uint(a.PeriodLimit)
	w.Int(a.PeriodStart)
	w.Uint(a.PeriodSpent)
	w.Int(a.Expiry)
	w.Strings(a.Types)
	w.Int(a.Created)
}

func decodeAllowance(b []byte) (*Allowance, error) {
	r := codec.NewReader(b)
	a := &Allowance{Granter: sm.ReadAddress(r, "granter"), Grantee: sm.ReadAddress(r, "grantee")}
	a.Org = r.String("org", 64)
	a.Limit = r.Uint("limit")
	a.Spent = r.Uint("spent")
	a.Period = r.Int("period")
	a.PeriodLimit = r.Uint("period_limit")
	a.PeriodStart = r.Int("period_start")
	a.PeriodSpent = r.Uint("period_spent")
	a.Expiry = r.Int("expiry")
	a.Types = r.Strings("types", MaxTypes, sm.MaxTypeLen)
	a.Created = r.Int("created")
	return a, r.Done()
}

// Covers reports whether the allowance covers a message type.
func (a *Allowance) Covers(typ string) bool {
	return len(a.Types) == 0 || slices.Contains(a.Types, typ)
}

// rollPeriod starts the period that contains now, if the current one ended.
func (a *Allowance) rollPeriod(now int64) {
	if a.Period > 0 && now >= a.PeriodStart+a.Period {
		a.PeriodStart += (now - a.PeriodStart) / a.Period * a.Period
		a.PeriodSpent = 0
	}
}

// Message types.
const (
	TypeGrant  = "fees/grant"
	TypeRevoke = "fees/revoke"
)

// MsgGrant, signed by an organization's admin, sets (or replaces) the
// signer's fee allowance to Grantee.
type MsgGrant struct {
	Grantee     crypto.Address
	Limit       uint64
	Period      int64
	PeriodLimit uint64
	Expiry      int64
	Types       []string
}

func (m *MsgGrant) Type() string { return TypeGrant }
func (m *MsgGrant) Encode(w *codec.Writer) {
	w.Fixed(m.Grantee[:])
	w.Uint(m.Limit)
	w.Int(m.Period)
	w.Uint(m.PeriodLimit)
	w.Int(m.Expiry)
	w.Strings(m.Types)
}

func (m *MsgGrant) ValidateBasic() error {
	switch {
	case m.Grantee == (crypto.Address{}):
		return sm.Wrapf(ErrBadAllowance, "grantee missing")
	case m.Limit == 0 && m.PeriodLimit == 0:
		return sm.Wrapf(ErrBadAllowance, "a total limit or a per-period limit is required")
	case (m.Period == 0) != (m.PeriodLimit == 0):
		return sm.Wrapf(ErrBadAllowance, "a period and its limit go together")
	case m.Period < 0 || m.Period > MaxPeriod:
		return sm.Wrapf(ErrBadAllowance, "period %d s: want 1 to %d", m.Period, MaxPeriod)
	case m.Expiry < 0:
		return sm.Wrapf(ErrBadAllowance, "expiry %d", m.Expiry)
	case len(m.Types) > MaxTypes:
		return sm.Wrapf(ErrBadAllowance, "%d types, at most %d", len(m.Types), MaxTypes)
	}
	for i, t := range m.Types {
		if t == "" || len(t) > sm.MaxTypeLen {
			return sm.Wrapf(ErrBadAllowance, "type %q", t)
		}
		if i > 0 && m.Types[i-1] >= t {
			return sm.Wrapf(ErrBadAllowance, "types must be sorted and distinct")
		}
	}
	return nil
}

func decodeGrant(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgGrant {
		m := &MsgGrant{Grantee: sm.ReadAddress(r, "grantee"), Limit: r.Uint("limit"), Period: r.Int("period")}
		m.PeriodLimit = r.Uint("period_limit")
		m.Expiry = r.Int("expiry")
		m.Types = r.Strings("types", MaxTypes, sm.MaxTypeLen)
		return m
	})
}

// MsgRevoke ends the signer's fee allowance to Grantee.
type MsgRevoke struct{ Grantee crypto.Address }

func (m *MsgRevoke) Type() string           { return TypeRevoke }
func (m *MsgRevoke) Encode(w *codec.Writer) { w.Fixed(m.Grantee[:]) }
func (m *MsgRevoke) ValidateBasic() error {
	if m.Grantee == (crypto.Address{}) {
		return sm.Wrapf(ErrBadAllowance, "grantee missing")
	}
	return nil
}

func decodeRevoke(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRevoke { return &MsgRevoke{Grantee: sm.ReadAddress(r, "grantee")} })
}
