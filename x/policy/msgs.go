package policy

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/policy/cond"
)

// Message types.
const (
	TypeAddRule    = "policy/add_rule"
	TypePauseRule  = "policy/pause_rule"
	TypeResumeRule = "policy/resume_rule"
	TypeDeleteRule = "policy/delete_rule"
	TypeAdmit      = "policy/admit"
	TypeDischarge  = "policy/discharge"
)

// MsgAddRule registers an automation owned by the signer (a patient or
// guardian), or, with Org set, by the organization whose admin signs.
type MsgAddRule struct {
	Org       string
	Event     string
	Condition string
	Action    Action
}

func (m *MsgAddRule) Type() string { return TypeAddRule }
func (m *MsgAddRule) Encode(w *codec.Writer) {
	w.String(m.Org)
	w.String(m.Event)
	w.String(m.Condition)
	m.Action.Encode(w)
}

func (m *MsgAddRule) ValidateBasic() error {
	if m.Org != "" {
		if err := accounts.ValidateOrgID(m.Org); err != nil {
			return sm.Wrapf(ErrNotOrgAdmin, "%v", err)
		}
	}
	if !validEvent(m.Event) {
		return sm.Wrapf(ErrBadEvent, "%q", m.Event)
	}
	if m.Condition != "" {
		if _, err := cond.Compile(cond.KindEvent, m.Condition, cond.MaxRegisteredCost); err != nil {
			return err
		}
	}
	if err := m.Action.Validate(); err != nil {
		return err
	}
	if m.Action.Kind == ActionOpenQuarantine {
		// The action quarantines the unit the event names, with the
		// authority of an organization (supply/flag is a member's).
		if m.Event != EventUnitReceived {
			return sm.Wrapf(ErrBadAction, "open_quarantine acts on the received unit: event %s, not %s", EventUnitReceived, m.Event)
		}
		if m.Org == "" {
			return ErrOrgActionOnly
		}
	}
	return nil
}

func decodeAddRule(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgAddRule {
		return &MsgAddRule{Org: r.String("org", accounts.MaxIDLen), Event: r.String("event", 32),
			Condition: r.String("condition", cond.MaxExprLen), Action: readAction(r)}
	})
}

// MsgRuleAction pauses, resumes or deletes a rule (by its owner).
type MsgRuleAction struct {
	Action string // TypePauseRule, TypeResumeRule or TypeDeleteRule
	ID     uint64
}

func (m *MsgRuleAction) Type() string           { return m.Action }
func (m *MsgRuleAction) Encode(w *codec.Writer) { w.Uint(m.ID) }
func (m *MsgRuleAction) ValidateBasic() error   { return nil }

func decodeRuleAction(typ string) func([]byte) (sm.Msg, error) {
	return func(b []byte) (sm.Msg, error) {
		return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRuleAction { return &MsgRuleAction{Action: typ, ID: r.Uint("id")} })
	}
}

// MsgEncounter, signed by a practitioner or admin of a member organization,
// records that the patient's encounter (an admission, a visit) at the
// signer's organization began (policy/admit) or ended (policy/discharge):
// the encounter_orgs of consent conditions. It names where, never why.
type MsgEncounter struct {
	Action  string // TypeAdmit or TypeDischarge
	Patient crypto.Address
}

func (m *MsgEncounter) Type() string           { return m.Action }
func (m *MsgEncounter) Encode(w *codec.Writer) { w.Fixed(m.Patient[:]) }
func (m *MsgEncounter) ValidateBasic() error   { return nil }

func decodeEncounter(typ string) func([]byte) (sm.Msg, error) {
	return func(b []byte) (sm.Msg, error) {
		return sm.DecodeMsg(b, func(r *codec.Reader) *MsgEncounter {
			return &MsgEncounter{Action: typ, Patient: sm.ReadAddress(r, "patient")}
		})
	}
}
