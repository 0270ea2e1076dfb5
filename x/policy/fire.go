package policy

import (
	"errors"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy/cond"
	"github.com/medchain/medchain/x/supply"
	"github.com/medchain/medchain/x/telemed"
)

// Outcomes of a firing (attribute "outcome" of policy_fired), besides "ok"
// and an error's "codespace/code".
const (
	OutcomeOK            = "ok"
	OutcomeOwnerInactive = "owner_inactive" // the owner's account (or admin role) is no longer active
)

// EndBlockEvents fires the automations matched by the block's events:
// each event in block order, each active rule in id order, at most once per
// (event, rule). A rule whose condition holds runs its action with its
// owner's authority — the action is a message executed as if the owner had
// signed it, with that message's own checks — isolated, so that a failed
// action leaves nothing behind. Every firing is a policy_fired block event
// naming its rule and cause; a condition that fails to evaluate is a
// policy_condition_failed event. The events the actions emit are not fed
// back: an action cannot re-trigger a rule, in this block or a later one.
// Condition costs and firings are charged to the block budget
// (policy.block_cost_budget); once it is spent, the remaining matches are
// reported as one policy_budget_exhausted event and skipped.
func (mod *Module) EndBlockEvents(ctx sm.Context, events []sm.Event) {
	var causes []int
	for i, ev := range events {
		if _, ok := Triggers[ev.Type]; ok {
			causes = append(causes, i)
		}
	}
	if len(causes) == 0 {
		return
	}
	rules := All(ctx.Store)
	if len(rules) == 0 {
		return
	}
	budget := mod.Params.Get(ctx.Store, ParamBlockCostBudget)
	now := ctx.Time.Unix()
	skipped := 0
	for _, i := range causes {
		ev := events[i]
		trigger := Triggers[ev.Type]
		attrs := eventAttrs(ctx, ev)
		for _, r := range rules {
			if r.Paused || r.Event != trigger || !visible(ctx, r, attrs) {
				continue
			}
			if budget < FiringCost {
				skipped++
				continue
			}
			budget -= FiringCost
			if r.Condition != "" {
				p, err := cond.Compile(cond.KindEvent, r.Condition, cond.MaxRegisteredCost)
				var o cond.Outcome
				if err != nil {
					o.Err = err
				} else {
					o = p.EvalEvent(&cond.Event{Name: trigger, Attrs: attrs, Owner: r.OwnerName(), BlockTime: now})
				}
				budget -= min(budget, o.Cost)
				if !o.Allowed {
					if !errors.Is(o.Err, cond.ErrFalse) {
						code, space, _ := sm.ABCIInfo(o.Err)
						ctx.Events.Emit("policy_condition_failed", idAttr("rule", r.ID), sm.Attr{Key: "cause", Value: ev.Type},
							sm.Attr{Key: "cause_index", Value: strconv.Itoa(i)}, sm.Attr{Key: "error", Value: space + "/" + strconv.FormatUint(uint64(code), 10)})
					}
					continue
				}
			}
			fee := mod.Params.Get(ctx.Store, ParamFeePerFiring)
			if fee > 0 {
				if err := chargeFiring(ctx.Store, r.Owner, fee); err != nil {
					// The owner cannot pay: the rule is paused, with the
					// reason, until the owner resumes it.
					r.Paused, r.PauseReason = true, PauseFeeUnpaid
					putRule(ctx.Store, r)
					ctx.Events.Emit("policy_rule_paused", idAttr("rule", r.ID), sm.Attr{Key: "reason", Value: PauseFeeUnpaid},
						sm.Attr{Key: "fee", Value: strconv.FormatUint(fee, 10)}, sm.Attr{Key: "cause", Value: ev.Type},
						sm.Attr{Key: "cause_index", Value: strconv.Itoa(i)}, sm.Attr{Key: "error", Value: outcomeOf(err)})
					continue
				}
			}
			outcome := mod.fire(ctx, r, attrs)
			r.Fired++
			r.LastFired = now
			putRule(ctx.Store, r)
			fired := []sm.Attr{idAttr("rule", r.ID), {Key: "owner", Value: r.OwnerName()}, {Key: "event", Value: trigger},
				{Key: "cause", Value: ev.Type}, {Key: "cause_index", Value: strconv.Itoa(i)}, {Key: "action", Value: r.Action.Kind},
				{Key: "outcome", Value: outcome}}
			if r.Condition != "" {
				fired = append(fired, sm.Attr{Key: "condition", Value: cond.Hash(r.Condition)})
			}
			if fee > 0 {
				fired = append(fired, sm.Attr{Key: "fee", Value: strconv.FormatUint(fee, 10)})
			}
			ctx.Events.Emit("policy_fired", fired...)
		}
	}
	if skipped > 0 {
		ctx.Events.Emit("policy_budget_exhausted", sm.Attr{Key: "skipped", Value: strconv.Itoa(skipped)})
	}
}

// chargeFiring takes fee from owner's balance into the fee pool, as a
// transaction fee is taken: the supply is unchanged (bank.CheckInvariant).
func chargeFiring(kv store.KV, owner crypto.Address, fee uint64) error {
	acct := accounts.GetAccount(kv, owner)
	if acct == nil {
		return sm.Wrapf(sm.ErrFunds, "no account %s", owner)
	}
	if err := accounts.ChargeFee(kv, acct, fee); err != nil {
		return err
	}
	accounts.PutAccount(kv, acct)
	return nil
}

// eventAttrs are the attributes a condition sees (attrs): the chain event's,
// and for a consultation its booking's patient and provider.
func eventAttrs(ctx sm.Context, ev sm.Event) map[string]string {
	attrs := make(map[string]string, len(ev.Attrs)+2)
	for _, a := range ev.Attrs {
		attrs[a.Key] = a.Value
	}
	if ev.Type == "telemed_done" {
		if id, err := strconv.ParseUint(attrs["booking"], 10, 64); err == nil {
			if b := telemed.GetBooking(ctx.Store, id); b != nil {
				attrs["patient"], attrs["provider"] = b.Patient.String(), b.Provider.String()
			}
		}
	}
	return attrs
}

// visible reports whether a rule sees an event: a personal rule sees the
// events about its owner or the owner's wards (or about no patient); an
// organization's rule sees every event (its actions are still bounded by
// its admin's authority).
func visible(ctx sm.Context, r *Rule, attrs map[string]string) bool {
	if r.Org != "" {
		return true
	}
	p, ok := attrs["patient"]
	if !ok {
		return true
	}
	addr, err := crypto.ParseAddress(p)
	return err == nil && accounts.CanActFor(ctx.Store, r.Owner, addr)
}

// fire runs r's action as its owner and returns the outcome.
func (mod *Module) fire(ctx sm.Context, r *Rule, attrs map[string]string) string {
	owner := accounts.GetAccount(ctx.Store, r.Owner)
	if owner == nil || !accounts.CanSign(ctx.Store, owner) {
		return OutcomeOwnerInactive
	}
	if r.Org != "" {
		if o := accounts.AdminOrg(ctx.Store, r.Owner); o == nil || o.ID != r.Org {
			return OutcomeOwnerInactive
		}
	}
	a := r.Action
	var msg sm.Msg
	switch a.Kind {
	case ActionGrantConsent:
		patient := r.Owner
		if p, err := crypto.ParseAddress(attrs["patient"]); err == nil {
			patient = p
		}
		msg = &consent.MsgGrant{Patient: patient, Grantee: a.Grantee, Actions: a.Actions, Types: a.Types,
			Purpose: a.Purpose, Until: ctx.Time.Unix() + a.Seconds}
	case ActionRevokeConsent:
		msg = &consent.MsgRevoke{ID: a.ConsentID}
	case ActionReleaseEscrow:
		id, err := strconv.ParseUint(attrs["booking"], 10, 64)
		if err != nil {
			return outcomeOf(sm.Wrapf(ErrBadAction, "the event names no booking"))
		}
		msg = &telemed.MsgBookingAction{Action: telemed.TypeConfirm, Booking: id}
	case ActionOpenQuarantine:
		// supply/flag as the owner: refused unless the owner could flag the
		// unit itself (an active member of an active organization).
		unit, ok := attrs["unit"]
		if !ok {
			return outcomeOf(sm.Wrapf(ErrBadAction, "the event names no unit"))
		}
		msg = &supply.MsgFlag{Unit: unit, Reason: a.Reason}
	case ActionNotify:
		ctx.Events.Emit("policy_notification", idAttr("rule", r.ID), sm.Attr{Key: "to", Value: a.To.String()},
			sm.Attr{Key: "from", Value: r.OwnerName()}, sm.Attr{Key: "topic", Value: a.Topic})
		return OutcomeOK
	default:
		return outcomeOf(sm.Wrapf(ErrActionLater, "%s", a.Kind))
	}
	return outcomeOf(mod.runAs(ctx, r.Owner, msg))
}

// runAs executes msg as if owner had signed it: decoded from its canonical
// bytes, validated, and executed by its route under sm.Isolate. The route's
// own authorization applies, so an automation can never do what its owner
// could not.
func (mod *Module) runAs(ctx sm.Context, owner crypto.Address, msg sm.Msg) error {
	if mod.Route == nil {
		return sm.Wrapf(sm.ErrInternal, "policy: no router")
	}
	rt, ok := mod.Route(msg.Type())
	if !ok {
		return sm.Wrapf(sm.ErrUnknownType, "%s", msg.Type())
	}
	decoded, err := rt.Decode(codec.Marshal(msg))
	if err != nil {
		return err
	}
	if err := decoded.ValidateBasic(); err != nil {
		return err
	}
	ctx.Signer, ctx.Key = owner, crypto.PubKey{}
	if acct := accounts.GetAccount(ctx.Store, owner); acct != nil {
		ctx.Key = acct.PubKey
	}
	return sm.Isolate(ctx, func(ctx sm.Context) error { return rt.Exec(ctx, decoded) })
}

func outcomeOf(err error) string {
	if err == nil {
		return OutcomeOK
	}
	code, space, _ := sm.ABCIInfo(err)
	return space + "/" + strconv.FormatUint(uint64(code), 10)
}
