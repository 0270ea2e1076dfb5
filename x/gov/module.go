package gov

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/params"
)

// Message types.
const (
	TypePropose = "gov/propose"
	TypeVote    = "gov/vote"
)

// ParamVotingPeriod is the name of the voting period parameter (seconds).
const ParamVotingPeriod = "gov.voting_period_seconds"

// ParamDefs are the parameters gov declares.
var ParamDefs = []params.Def{
	{Name: ParamVotingPeriod, Default: 7 * 24 * 3600, Min: 60, Max: 90 * 24 * 3600, Doc: "how long a proposal stays open"},
}

// MsgPropose opens a proposal; the proposer's organization votes yes.
type MsgPropose struct {
	Action Action
	Reason string
}

func (m *MsgPropose) Type() string { return TypePropose }
func (m *MsgPropose) Encode(w *codec.Writer) {
	m.Action.Encode(w)
	w.String(m.Reason)
}
func (m *MsgPropose) ValidateBasic() error {
	if len(m.Reason) > MaxReasonLen {
		return sm.Wrapf(ErrBadProposal, "reason longer than %d bytes", MaxReasonLen)
	}
	return m.Action.ValidateBasic()
}
func decodePropose(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgPropose {
		return &MsgPropose{Action: readAction(r), Reason: r.String("reason", MaxReasonLen)}
	})
}

// MsgVote is an organization's vote, cast by one of its admins.
type MsgVote struct {
	ProposalID uint64
	Approve    bool
}

func (m *MsgVote) Type() string { return TypeVote }
func (m *MsgVote) Encode(w *codec.Writer) {
	w.Uint(m.ProposalID)
	w.Bool(m.Approve)
}
func (m *MsgVote) ValidateBasic() error { return nil }
func decodeVote(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgVote {
		return &MsgVote{ProposalID: r.Uint("proposal_id"), Approve: r.Bool("approve")}
	})
}

// Module plugs governance into the state machine.
type Module struct {
	Params *params.Registry
	// Active, when set, reports whether an approved validator may hold
	// power now (x/staking: it is not jailed). Removals that would leave no
	// active validator are refused, so that CometBFT's set never empties.
	Active func(kv store.Reader, pub crypto.PubKey) bool
}

func (m *Module) active(kv store.Reader, v *Validator) bool {
	return m.Active == nil || m.Active(kv, v.PubKey)
}

var _ sm.Module = (*Module)(nil)

func (*Module) Name() string { return "gov" }

func (m *Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypePropose, Decode: decodePropose, Exec: m.execPropose},
		{Type: TypeVote, Decode: decodeVote, Exec: m.execVote},
	}
}

// GetProposal loads a proposal, or nil.
func GetProposal(kv store.Reader, id uint64) *Proposal {
	b := kv.Get(proposalKey(id))
	if b == nil {
		return nil
	}
	p, err := DecodeProposal(b)
	store.Check(err)
	return p
}

func putProposal(kv store.KV, p *Proposal) { kv.Set(proposalKey(p.ID), codec.Marshal(p)) }

// Proposals lists proposals in id order.
func Proposals(kv store.Reader) []*Proposal {
	var out []*Proposal
	p := []byte{sm.PrefixProposal}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		pr, err := DecodeProposal(v)
		store.Check(err)
		out = append(out, pr)
		return true
	})
	return out
}

// Validators lists the validator set in key order.
func Validators(kv store.Reader) []*Validator {
	var out []*Validator
	p := []byte{sm.PrefixValidator}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		val, err := DecodeValidator(v)
		store.Check(err)
		out = append(out, val)
		return true
	})
	return out
}

// GetValidator loads a validator, or nil.
func GetValidator(kv store.Reader, pub crypto.PubKey) *Validator {
	b := kv.Get(validatorKey(pub))
	if b == nil {
		return nil
	}
	v, err := DecodeValidator(b)
	store.Check(err)
	return v
}

func (m *Module) execPropose(ctx sm.Context, msg sm.Msg) error {
	pm := msg.(*MsgPropose)
	org := accounts.AdminOrg(ctx.Store, ctx.Signer)
	if org == nil || !org.Active {
		return ErrNotMember
	}
	if pm.Action.Kind == KindSetParam {
		if err := m.Params.Validate(pm.Action.Param, pm.Action.Value); err != nil {
			return err
		}
	}
	id := uint64(1)
	if b := ctx.Store.Get(proposalSeqKey); len(b) == 8 {
		id = binary.BigEndian.Uint64(b)
	}
	ctx.Store.Set(proposalSeqKey, binary.BigEndian.AppendUint64(nil, id+1))
	now := ctx.Time.Unix()
	p := &Proposal{
		ID: id, Proposer: ctx.Signer, Org: org.ID, Action: pm.Action, Reason: pm.Reason,
		Created: now, Expires: now + int64(m.Params.Get(ctx.Store, ParamVotingPeriod)),
		Status: StatusOpen,
	}
	ctx.Events.Emit("proposal_created", sm.Attr{Key: "id", Value: strconv.FormatUint(id, 10)}, sm.Attr{Key: "kind", Value: pm.Action.Kind}, sm.Attr{Key: "org", Value: org.ID})
	return m.castVote(ctx, p, org.ID, true)
}

func (m *Module) execVote(ctx sm.Context, msg sm.Msg) error {
	vm := msg.(*MsgVote)
	org := accounts.AdminOrg(ctx.Store, ctx.Signer)
	if org == nil || !org.Active {
		return ErrNotMember
	}
	p := GetProposal(ctx.Store, vm.ProposalID)
	if p == nil {
		return sm.Wrapf(ErrNoProposal, "%d", vm.ProposalID)
	}
	switch p.StatusAt(ctx.Time.Unix()) {
	case StatusOpen:
	case StatusExpired:
		return sm.Wrapf(ErrExpired, "proposal %d expired", p.ID)
	default:
		return sm.Wrapf(ErrClosed, "proposal %d is %s", p.ID, p.Status)
	}
	for _, v := range p.Votes {
		if v.Org == org.ID {
			return sm.Wrapf(ErrAlreadyVoted, "%s on proposal %d", org.ID, p.ID)
		}
	}
	return m.castVote(ctx, p, org.ID, vm.Approve)
}

// castVote records a vote, tallies against the current members and, when the
// proposal passes, executes it in the same transaction.
func (m *Module) castVote(ctx sm.Context, p *Proposal, org string, approve bool) error {
	i := 0
	for i < len(p.Votes) && p.Votes[i].Org < org {
		i++
	}
	p.Votes = append(p.Votes[:i], append([]Vote{{Org: org, Approve: approve}}, p.Votes[i:]...)...)
	ctx.Events.Emit("proposal_vote", sm.Attr{Key: "id", Value: strconv.FormatUint(p.ID, 10)}, sm.Attr{Key: "org", Value: org}, sm.Attr{Key: "approve", Value: strconv.FormatBool(approve)})

	members := map[string]bool{}
	for _, o := range accounts.ActiveOrgs(ctx.Store) {
		members[o.ID] = true
	}
	yes, no := 0, 0
	for _, v := range p.Votes {
		if !members[v.Org] {
			continue // votes of organizations that left no longer count
		}
		if v.Approve {
			yes++
		} else {
			no++
		}
	}
	n := len(members)
	switch {
	case 3*yes >= 2*n:
		// A failed action leaves only the proposal's status behind.
		exec := func(ctx sm.Context) error { return m.execute(ctx, p.Action) }
		if err := sm.Isolate(ctx, exec); err != nil {
			p.Status, p.Result = StatusFailed, err.Error()
		} else {
			p.Status, p.Result = StatusPassed, ""
		}
	case 3*no > n:
		p.Status = StatusRejected
	}
	putProposal(ctx.Store, p)
	if p.Status != StatusOpen {
		ctx.Events.Emit("proposal_closed", sm.Attr{Key: "id", Value: strconv.FormatUint(p.ID, 10)}, sm.Attr{Key: "status", Value: p.Status}, sm.Attr{Key: "result", Value: p.Result})
	}
	return nil
}

func (m *Module) execute(ctx sm.Context, a Action) error {
	switch a.Kind {
	case KindAddMember:
		if o := accounts.GetOrg(ctx.Store, a.Org.ID); o != nil {
			if o.Active {
				return sm.Wrapf(accounts.ErrOrgExists, "%s", o.ID)
			}
			o.Active = true // a former member rejoins with its accounts
			accounts.PutOrg(ctx.Store, o)
			if accounts.GetAccount(ctx.Store, a.AdminPubKey.Address()) == nil {
				return accounts.CreateMember(ctx, o.ID, a.AdminPubKey, a.AdminEncKey, accounts.RoleAdmin)
			}
			return nil
		}
		accounts.PutOrg(ctx.Store, &accounts.Org{ID: a.Org.ID, Name: a.Org.Name, Type: a.Org.Type, Active: true, Joined: ctx.Time.Unix()})
		ctx.Events.Emit("member_added", sm.Attr{Key: "org", Value: a.Org.ID})
		return accounts.CreateMember(ctx, a.Org.ID, a.AdminPubKey, a.AdminEncKey, accounts.RoleAdmin)
	case KindRemoveMember:
		o := accounts.GetOrg(ctx.Store, a.OrgID)
		if o == nil || !o.Active {
			return sm.Wrapf(accounts.ErrOrgNotFound, "%s", a.OrgID)
		}
		if len(accounts.ActiveOrgs(ctx.Store)) <= 1 {
			return ErrLastMember
		}
		var removed []*Validator
		remaining := 0
		for _, v := range Validators(ctx.Store) {
			if v.Org == o.ID {
				removed = append(removed, v)
			} else if m.active(ctx.Store, v) {
				remaining++
			}
		}
		if remaining == 0 {
			return sm.Wrapf(ErrLastValidator, "removing %s would leave no validator", o.ID)
		}
		for _, v := range removed {
			ctx.Store.Delete(validatorKey(v.PubKey))
			ctx.Valset.Set(v.PubKey, 0)
		}
		o.Active = false
		accounts.PutOrg(ctx.Store, o)
		ctx.Events.Emit("member_removed", sm.Attr{Key: "org", Value: o.ID})
		return nil
	case KindAddValidator:
		o := accounts.GetOrg(ctx.Store, a.OrgID)
		if o == nil || !o.Active {
			return sm.Wrapf(ErrValidatorOrg, "%s", a.OrgID)
		}
		if GetValidator(ctx.Store, a.Validator) != nil {
			return sm.Wrapf(ErrValidatorExists, "%s", a.Validator)
		}
		v := &Validator{PubKey: a.Validator, Power: a.Power, Org: a.OrgID}
		ctx.Store.Set(validatorKey(v.PubKey), codec.Marshal(v))
		ctx.Valset.Set(v.PubKey, v.Power)
		ctx.Events.Emit("validator_added", sm.Attr{Key: "pub_key", Value: v.PubKey.String()}, sm.Attr{Key: "org", Value: v.Org}, sm.Attr{Key: "power", Value: strconv.FormatInt(v.Power, 10)})
		return nil
	case KindRemoveValidator:
		if GetValidator(ctx.Store, a.Validator) == nil {
			return sm.Wrapf(ErrNoValidator, "%s", a.Validator)
		}
		remaining := 0
		for _, v := range Validators(ctx.Store) {
			if v.PubKey != a.Validator && m.active(ctx.Store, v) {
				remaining++
			}
		}
		if remaining == 0 {
			return ErrLastValidator
		}
		ctx.Store.Delete(validatorKey(a.Validator))
		ctx.Valset.Set(a.Validator, 0)
		ctx.Events.Emit("validator_removed", sm.Attr{Key: "pub_key", Value: a.Validator.String()})
		return nil
	case KindSetParam:
		if err := m.Params.Set(ctx.Store, a.Param, a.Value); err != nil {
			return err
		}
		ctx.Events.Emit("param_changed", sm.Attr{Key: "name", Value: a.Param}, sm.Attr{Key: "value", Value: strconv.FormatUint(a.Value, 10)})
		return nil
	case KindUpgrade:
		return scheduleUpgrade(ctx, a.Upgrade)
	case KindCancelUpgrade:
		return cancelUpgrade(ctx, a.Upgrade.Name)
	}
	return sm.Wrapf(ErrBadProposal, "kind %q", a.Kind)
}

// Genesis is the gov part of the genesis app state.
type Genesis struct {
	Params     json.RawMessage    `json:"params,omitempty"`
	Validators []GenesisValidator `json:"validators"`
}

// GenesisValidator is a founding validator and the organization operating it.
type GenesisValidator struct {
	PubKey crypto.PubKey `json:"pub_key"`
	Power  int64         `json:"power"`
	Org    string        `json:"org"`
}

func (m *Module) InitGenesis(ctx sm.Context, raw json.RawMessage) error {
	var g Genesis
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &g); err != nil {
			return fmt.Errorf("gov genesis: %w", err)
		}
	}
	if err := m.Params.InitGenesis(ctx.Store, g.Params); err != nil {
		return err
	}
	for _, gv := range g.Validators {
		if o := accounts.GetOrg(ctx.Store, gv.Org); o == nil {
			return fmt.Errorf("gov genesis: validator %s: unknown org %q", gv.PubKey, gv.Org)
		}
		if gv.Power < 1 || gv.Power > MaxPower {
			return fmt.Errorf("gov genesis: validator %s: power %d out of range", gv.PubKey, gv.Power)
		}
		if GetValidator(ctx.Store, gv.PubKey) != nil {
			return fmt.Errorf("gov genesis: duplicate validator %s", gv.PubKey)
		}
		v := &Validator{PubKey: gv.PubKey, Power: gv.Power, Org: gv.Org}
		ctx.Store.Set(validatorKey(v.PubKey), codec.Marshal(v))
	}
	return nil
}
