package policy

import (
	"bytes"
	"encoding/binary"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/policy/cond"
)

// Parameters.
const (
	ParamMaxRuleCost     = "policy.max_rule_cost"
	ParamBlockCostBudget = "policy.block_cost_budget"
	// ParamFeePerFiring is charged to a rule's owner each time the rule
	// fires (its condition held and its action runs), into the fee pool
	// like a transaction fee. 0 (the default): firings are free.
	ParamFeePerFiring = "policy.fee_per_firing"
)

// ParamDefs are the parameters policy declares.
var ParamDefs = []params.Def{
	{Name: ParamMaxRuleCost, Default: 5000, Min: 10, Max: cond.MaxRegisteredCost,
		Doc: "the highest estimated cost (CEL cost units) of an automation's condition accepted at its registration"},
	{Name: ParamBlockCostBudget, Default: 1_000_000, Min: 1000, Max: 100_000_000,
		Doc: "the CEL cost units (and firings at 100 units each) that automations may spend in one block; firings beyond it are skipped and reported"},
	{Name: ParamFeePerFiring, Default: 0, Min: 0, Max: 1 << 40,
		Doc: "tokens charged to an automation's owner for each firing (into the fee pool); a rule whose owner cannot pay is paused (reason fee_unpaid)"},
}

// Module plugs policy into the state machine. Route finds the message
// routes its actions run through (the router's Route); set it once the
// router exists.
type Module struct {
	Params *params.Registry
	Route  func(typ string) (sm.Route, bool)
}

var (
	_ sm.Module          = (*Module)(nil)
	_ sm.EventEndBlocker = (*Module)(nil)
)

func (*Module) Name() string { return "policy" }

func (m *Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeAddRule, Decode: decodeAddRule, Exec: m.execAddRule},
		{Type: TypePauseRule, Decode: decodeRuleAction(TypePauseRule), Exec: execRuleAction},
		{Type: TypeResumeRule, Decode: decodeRuleAction(TypeResumeRule), Exec: execRuleAction},
		{Type: TypeDeleteRule, Decode: decodeRuleAction(TypeDeleteRule), Exec: execRuleAction},
		{Type: TypeAdmit, Decode: decodeEncounter(TypeAdmit), Exec: execEncounter},
		{Type: TypeDischarge, Decode: decodeEncounter(TypeDischarge), Exec: execEncounter},
	}
}

// GetRule loads a rule, or nil.
func GetRule(kv store.Reader, id uint64) *Rule {
	b := kv.Get(ruleKey(id))
	if b == nil {
		return nil
	}
	r, err := DecodeRule(b)
	store.Check(err)
	return r
}

func putRule(kv store.KV, r *Rule) { kv.Set(ruleKey(r.ID), codec.Marshal(r)) }

// ByOwner lists the rules an account owns (registered), in id order. An
// index entry counts only when the rule it names derives exactly it.
func ByOwner(kv store.Reader, owner crypto.Address) []*Rule {
	p := append([]byte{cond.PrefixRuleByOwner}, owner[:]...)
	var out []*Rule
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		if len(k) != len(p)+8 {
			return true
		}
		if r := GetRule(kv, binary.BigEndian.Uint64(k[len(p):])); r != nil && bytes.Equal(byOwnerKey(r.Owner, r.ID), k) {
			out = append(out, r)
		}
		return true
	})
	return out
}

// All lists every rule in id order.
func All(kv store.Reader) []*Rule {
	var out []*Rule
	p := []byte{cond.PrefixRule}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		r, err := DecodeRule(v)
		store.Check(err)
		out = append(out, r)
		return true
	})
	return out
}

// IndexEntries derives the module's index entries (rules by owner) from its
// proven keys.
func IndexEntries(kv store.Reader, emit func(key, value []byte)) {
	for _, r := range All(kv) {
		emit(byOwnerKey(r.Owner, r.ID), []byte{1})
	}
}

func idAttr(k string, id uint64) sm.Attr { return sm.Attr{Key: k, Value: strconv.FormatUint(id, 10)} }

func (mod *Module) execAddRule(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgAddRule)
	acct := accounts.GetAccount(ctx.Store, ctx.Signer)
	if m.Org != "" {
		if o := accounts.AdminOrg(ctx.Store, ctx.Signer); o == nil || o.ID != m.Org {
			return sm.Wrapf(ErrNotOrgAdmin, "%s of %s", ctx.Signer, m.Org)
		}
	} else if acct == nil || acct.Kind != accounts.KindPatient {
		return sm.Wrapf(ErrNotPatientOwner, "%s", ctx.Signer)
	}
	if m.Condition != "" {
		if _, err := cond.Compile(cond.KindEvent, m.Condition, mod.Params.Get(ctx.Store, ParamMaxRuleCost)); err != nil {
			return err
		}
	}
	if n := len(ByOwner(ctx.Store, ctx.Signer)); n >= MaxRulesPerOwner {
		return sm.Wrapf(ErrTooManyRules, "%d rules", n)
	}
	r := &Rule{ID: nextID(ctx.Store), Owner: ctx.Signer, Org: m.Org, Event: m.Event, Condition: m.Condition,
		Action: m.Action, Created: ctx.Time.Unix()}
	putRule(ctx.Store, r)
	ctx.Store.Set(byOwnerKey(r.Owner, r.ID), []byte{1})
	attrs := []sm.Attr{idAttr("rule", r.ID), {Key: "owner", Value: r.OwnerName()}, {Key: "event", Value: r.Event}, {Key: "action", Value: r.Action.Kind}}
	if r.Condition != "" {
		attrs = append(attrs, sm.Attr{Key: "condition", Value: cond.Hash(r.Condition)})
	}
	ctx.Events.Emit("policy_rule_added", attrs...)
	return nil
}

func nextID(kv store.KV) uint64 {
	key := []byte{cond.PrefixRuleSeq}
	id := uint64(1)
	if b := kv.Get(key); len(b) == 8 {
		id = binary.BigEndian.Uint64(b)
	}
	kv.Set(key, binary.BigEndian.AppendUint64(nil, id+1))
	return id
}

func execRuleAction(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRuleAction)
	r := GetRule(ctx.Store, m.ID)
	if r == nil {
		return sm.Wrapf(ErrRuleNotFound, "%d", m.ID)
	}
	if r.Owner != ctx.Signer {
		// An organization's rule may be managed by any of its active admins.
		if o := accounts.AdminOrg(ctx.Store, ctx.Signer); r.Org == "" || o == nil || o.ID != r.Org {
			return sm.Wrapf(ErrNotOwner, "rule %d", r.ID)
		}
	}
	switch m.Action {
	case TypeDeleteRule:
		ctx.Store.Delete(ruleKey(r.ID))
		ctx.Store.Delete(byOwnerKey(r.Owner, r.ID))
		ctx.Events.Emit("policy_rule_deleted", idAttr("rule", r.ID))
		return nil
	case TypePauseRule, TypeResumeRule:
		paused := m.Action == TypePauseRule
		if r.Paused == paused {
			return sm.Wrapf(ErrRuleState, "rule %d paused=%v", r.ID, paused)
		}
		r.Paused = paused
		r.PauseReason = ""
		putRule(ctx.Store, r)
		ev := "policy_rule_resumed"
		if paused {
			ev = "policy_rule_paused"
		}
		ctx.Events.Emit(ev, idAttr("rule", r.ID))
		return nil
	}
	return sm.Wrapf(ErrBadAction, "%s", m.Action)
}

func execEncounter(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgEncounter)
	a := accounts.ActiveMember(ctx.Store, ctx.Signer, accounts.RolePractitioner, accounts.RoleAdmin)
	if a == nil {
		return ErrNotCareProvider
	}
	if p := accounts.GetAccount(ctx.Store, m.Patient); p == nil || p.Kind != accounts.KindPatient {
		return sm.Wrapf(ErrNotPatient, "%s", m.Patient)
	}
	es := cond.Encounters(ctx.Store, m.Patient)
	at := -1
	for i, e := range es {
		if e.Org == a.Org {
			at = i
		}
	}
	key := cond.EncounterKey(m.Patient)
	switch m.Action {
	case TypeAdmit:
		if at < 0 && len(es) >= cond.MaxEncounters {
			return sm.Wrapf(ErrTooManyEnc, "%d", len(es))
		}
		es = cond.WithEncounter(es, cond.Encounter{Org: a.Org, Since: ctx.Time.Unix(), By: ctx.Signer})
		ctx.Store.Set(key, cond.EncodeEncounters(es))
		ctx.Events.Emit("policy_encounter_started", sm.Attr{Key: "patient", Value: m.Patient.String()}, sm.Attr{Key: "org", Value: a.Org})
	case TypeDischarge:
		if at < 0 {
			return sm.Wrapf(ErrNoEncounter, "%s at %s", m.Patient, a.Org)
		}
		es = append(es[:at], es[at+1:]...)
		if len(es) == 0 {
			ctx.Store.Delete(key)
		} else {
			ctx.Store.Set(key, cond.EncodeEncounters(es))
		}
		ctx.Events.Emit("policy_encounter_ended", sm.Attr{Key: "patient", Value: m.Patient.String()}, sm.Attr{Key: "org", Value: a.Org})
	}
	return nil
}
