package fees

import (
	"strconv"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// Module plugs fee allowances and the fee market into the state machine.
type Module struct{ Keeper }

var (
	_ sm.Module        = Module{}
	_ sm.UsageObserver = Module{}
)

func (Module) Name() string { return Codespace }

func (m Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeGrant, Decode: decodeGrant, Exec: execGrant},
		{Type: TypeRevoke, Decode: decodeRevoke, Exec: execRevoke},
	}
}

func execGrant(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgGrant)
	org := accounts.AdminOrg(ctx.Store, ctx.Signer)
	if org == nil || !org.Active {
		return ErrNotGranter
	}
	if m.Grantee == ctx.Signer {
		return sm.Wrapf(ErrSelfGrant, "%s", m.Grantee)
	}
	now := ctx.Time.Unix()
	if m.Expiry != 0 && m.Expiry <= now {
		return sm.Wrapf(ErrExpired, "expiry %d is not after the block time %d", m.Expiry, now)
	}
	a := &Allowance{Granter: ctx.Signer, Grantee: m.Grantee, Org: org.ID, Limit: m.Limit, Period: m.Period, PeriodLimit: m.PeriodLimit,
		Expiry: m.Expiry, Types: m.Types, Created: now}
	if a.Period != 0 {
		a.PeriodStart = now
	}
	putAllowance(ctx.Store, a)
	ctx.Events.Emit("fee_allowance_granted", sm.Attr{Key: "granter", Value: ctx.Signer.String()}, sm.Attr{Key: "grantee", Value: m.Grantee.String()},
		sm.Attr{Key: "org", Value: org.ID}, sm.Attr{Key: "limit", Value: strconv.FormatUint(m.Limit, 10)},
		sm.Attr{Key: "period_limit", Value: strconv.FormatUint(m.PeriodLimit, 10)})
	return nil
}

func execRevoke(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRevoke)
	if GetAllowance(ctx.Store, ctx.Signer, m.Grantee) == nil {
		return sm.Wrapf(ErrNoAllowance, "from %s to %s", ctx.Signer, m.Grantee)
	}
	deleteAllowance(ctx.Store, ctx.Signer, m.Grantee)
	ctx.Events.Emit("fee_allowance_revoked", sm.Attr{Key: "granter", Value: ctx.Signer.String()}, sm.Attr{Key: "grantee", Value: m.Grantee.String()})
	return nil
}
