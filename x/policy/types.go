package policy

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy/cond"
	"github.com/medchain/medchain/x/supply"
)

// Codespace of the policy module (shared with package cond, which numbers
// its errors 1 to 9).
const Codespace = cond.Codespace

// Errors; codes are stable.
var (
	ErrBadEvent        = sm.Register(Codespace, 10, "unknown automation event: want one of record_added, emergency_opened, consultation_completed, trial_amended, unit_received")
	ErrBadAction       = sm.Register(Codespace, 11, "invalid automation action")
	ErrActionLater     = sm.Register(Codespace, 12, "this automation action is not available yet")
	ErrNotOwner        = sm.Register(Codespace, 13, "signer is not the rule's owner")
	ErrRuleNotFound    = sm.Register(Codespace, 14, "automation rule not found")
	ErrTooManyRules    = sm.Register(Codespace, 15, "the owner has the most automation rules allowed")
	ErrNotOrgAdmin     = sm.Register(Codespace, 16, "signer is not an active admin of the organization named as the rule's owner")
	ErrRuleState       = sm.Register(Codespace, 17, "the rule is already in that state")
	ErrNotCareProvider = sm.Register(Codespace, 18, "signer is not an active practitioner or admin of a member organization")
	ErrNotPatient      = sm.Register(Codespace, 19, "not a registered patient")
	ErrNoEncounter     = sm.Register(Codespace, 20, "the patient has no encounter in progress at your organization")
	ErrTooManyEnc      = sm.Register(Codespace, 21, "the patient has the most encounters in progress allowed")
	ErrNotPatientOwner = sm.Register(Codespace, 22, "a personal rule is registered by a patient account; an organization's by its admin")
	ErrOrgActionOnly   = sm.Register(Codespace, 23, "open_quarantine is an organization's action: only a rule registered for an organization opens quarantines")
)

// Events an automation can wait for, and the chain events they come from.
const (
	EventRecordAdded           = "record_added"           // records: record_added
	EventEmergencyOpened       = "emergency_opened"       // consent: emergency_opened
	EventConsultationCompleted = "consultation_completed" // telemed: telemed_done
	EventTrialAmended          = "trial_amended"          // trials: trial_amended
	EventUnitReceived          = "unit_received"          // supply: supply_unit_received (supply.EventUnitReceived)
)

// SupplyUnitReceived is the chain event x/supply emits for every unit a
// receiving event hands over (supply.EventUnitReceived: attributes unit,
// org, from, gtin, lot, expiry, brand, container, event); automations on
// unit_received fire from it.
const SupplyUnitReceived = supply.EventUnitReceived

// Triggers maps a chain event type to the automation event it is.
var Triggers = map[string]string{
	"record_added":     EventRecordAdded,
	"emergency_opened": EventEmergencyOpened,
	"telemed_done":     EventConsultationCompleted,
	"trial_amended":    EventTrialAmended,
	SupplyUnitReceived: EventUnitReceived,
}

// Events lists the automation events.
var Events = []string{EventRecordAdded, EventEmergencyOpened, EventConsultationCompleted, EventTrialAmended, EventUnitReceived}

// Actions an automation can take.
const (
	ActionGrantConsent   = "grant_consent"   // a scoped, time-limited consent from the event's patient (or the owner)
	ActionRevokeConsent  = "revoke_consent"  // revoke a named consent
	ActionReleaseEscrow  = "release_escrow"  // confirm the event's consultation, releasing its escrow to the provider
	ActionNotify         = "notify"          // an on-chain notification event to a party
	ActionOpenQuarantine = "open_quarantine" // supply: flag the received unit (supply/flag), quarantining it and its contents
)

// ActionKinds lists the action kinds.
var ActionKinds = []string{ActionGrantConsent, ActionRevokeConsent, ActionReleaseEscrow, ActionNotify, ActionOpenQuarantine}

// Limits.
const (
	MaxRulesPerOwner = 32
	MaxTopicLen      = 64
	MaxGrantSeconds  = 366 * 24 * 3600 // an automation's consent ends within a year
	// FiringCost is charged to the block budget for each action run, on top
	// of the condition's runtime cost.
	FiringCost = 100
)

// Action is what a rule does when it fires. Only the fields of its Kind are
// set; the others are zero (ValidateBasic checks).
type Action struct {
	Kind string
	// grant_consent
	Grantee consent.Party
	Actions uint8
	Types   []string
	Purpose string
	Seconds int64 // how long the consent lasts (its Until is the firing's block time plus Seconds)
	// revoke_consent
	ConsentID uint64
	// notify
	To    consent.Party
	Topic string // a code (letters, digits, _ - .), never free text
	// open_quarantine: the flag's reason, one of supply.FlagReasons
	Reason string
}

func (a *Action) Encode(w *codec.Writer) {
	w.String(a.Kind)
	switch a.Kind {
	case ActionGrantConsent:
		a.Grantee.Encode(w)
		w.Uint(uint64(a.Actions))
		w.Strings(a.Types)
		w.String(a.Purpose)
		w.Int(a.Seconds)
	case ActionRevokeConsent:
		w.Uint(a.ConsentID)
	case ActionNotify:
		a.To.Encode(w)
		w.String(a.Topic)
	case ActionOpenQuarantine:
		w.String(a.Reason)
	}
}

func readAction(r *codec.Reader) Action {
	a := Action{Kind: r.String("action.kind", 32)}
	switch a.Kind {
	case ActionGrantConsent:
		a.Grantee = consent.ReadParty(r, "action.grantee")
		if v := r.Uint("action.actions"); v > math.MaxUint8 {
			r.Fixed("action.actions (wider than 8 bits)", -1)
		} else {
			a.Actions = uint8(v)
		}
		a.Types = r.Strings("action.types", consent.MaxScopeTypes, consent.MaxTypeLen)
		a.Purpose = r.String("action.purpose", 32)
		a.Seconds = r.Int("action.seconds")
	case ActionRevokeConsent:
		a.ConsentID = r.Uint("action.consent_id")
	case ActionNotify:
		a.To = consent.ReadParty(r, "action.to")
		a.Topic = r.String("action.topic", MaxTopicLen)
	case ActionOpenQuarantine:
		a.Reason = r.String("action.reason", supply.MaxCodeLen)
	}
	return a
}

func validTopic(s string) bool {
	if s == "" || len(s) > MaxTopicLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func validParty(p consent.Party) error {
	switch p.Kind {
	case consent.PartyAccount:
		return nil
	case consent.PartyOrg:
		return accounts.ValidateOrgID(p.Org)
	}
	return fmt.Errorf("party kind %d", p.Kind)
}

// Validate checks the action without state. The consent an action grants
// is checked again, as a consent/grant message, when it fires.
func (a *Action) Validate() error {
	switch a.Kind {
	case ActionGrantConsent:
		if err := validParty(a.Grantee); err != nil {
			return sm.Wrapf(ErrBadAction, "grantee: %v", err)
		}
		if a.Seconds <= 0 || a.Seconds > MaxGrantSeconds {
			return sm.Wrapf(ErrBadAction, "a granted consent lasts 1 to %d seconds, not %d", MaxGrantSeconds, a.Seconds)
		}
		m := consent.MsgGrant{Grantee: a.Grantee, Actions: a.Actions, Types: a.Types, Purpose: a.Purpose}
		m.Patient[0] = 0xFF // any patient other than the grantee: checked for real when it fires
		if err := m.ValidateBasic(); err != nil {
			return sm.Wrapf(ErrBadAction, "%v", err)
		}
	case ActionRevokeConsent:
		if a.ConsentID == 0 {
			return sm.Wrapf(ErrBadAction, "revoke_consent needs a consent id")
		}
	case ActionReleaseEscrow:
	case ActionNotify:
		if err := validParty(a.To); err != nil {
			return sm.Wrapf(ErrBadAction, "to: %v", err)
		}
		if !validTopic(a.Topic) {
			return sm.Wrapf(ErrBadAction, "topic %q: a code of letters, digits, _ - . (at most %d)", a.Topic, MaxTopicLen)
		}
	case ActionOpenQuarantine:
		if !slices.Contains(supply.FlagReasons, a.Reason) {
			return sm.Wrapf(ErrBadAction, "open_quarantine: reason %q, one of %v", a.Reason, supply.FlagReasons)
		}
	default:
		return sm.Wrapf(ErrBadAction, "kind %q, want one of %v", a.Kind, ActionKinds)
	}
	return nil
}

// Rule is an automation: when Event happens and Condition holds, do Action,
// with the authority of Owner (an account). Org, when set, makes it the
// organization's rule: Owner is the admin who registered it, and it fires
// only while Owner is still an active admin of Org.
type Rule struct {
	ID        uint64
	Owner     crypto.Address
	Org       string
	Event     string
	Condition string // a cond.KindEvent expression; empty: always
	Action    Action
	Paused    bool
	Created   int64
	Fired     uint64 // firings so far
	LastFired int64
	// PauseReason says why the chain paused the rule (PauseFeeUnpaid);
	// empty when it is active or its owner paused it. Encoded only when
	// set, so rules stored before it existed keep their bytes.
	PauseReason string
}

// PauseFeeUnpaid: the rule matched but its owner could not pay
// policy.fee_per_firing; it stays paused until the owner resumes it.
const PauseFeeUnpaid = "fee_unpaid"

func (r *Rule) Encode(w *codec.Writer) {
	w.Uint(r.ID)
	w.Fixed(r.Owner[:])
	w.String(r.Org)
	w.String(r.Event)
	w.String(r.Condition)
	r.Action.Encode(w)
	w.Bool(r.Paused)
	w.Int(r.Created)
	w.Uint(r.Fired)
	w.Int(r.LastFired)
	if r.PauseReason != "" {
		w.String(r.PauseReason)
	}
}

// DecodeRule decodes a stored rule.
func DecodeRule(b []byte) (*Rule, error) {
	r := codec.NewReader(b)
	x := &Rule{ID: r.Uint("id"), Owner: sm.ReadAddress(r, "owner")}
	x.Org = r.String("org", accounts.MaxIDLen)
	x.Event = r.String("event", 32)
	x.Condition = r.String("condition", cond.MaxExprLen)
	x.Action = readAction(r)
	x.Paused = r.Bool("paused")
	x.Created = r.Int("created")
	x.Fired = r.Uint("fired")
	x.LastFired = r.Int("last_fired")
	if r.Remaining() > 0 {
		x.PauseReason = r.String("pause_reason", 32)
		if x.PauseReason == "" && r.Err() == nil {
			return nil, fmt.Errorf("policy: rule %d: an empty pause reason is encoded as absent", x.ID)
		}
	}
	return x, r.Done()
}

// OwnerName is how conditions and events name the owner: the address, or
// "org:ID" for an organization's rule.
func (r *Rule) OwnerName() string {
	if r.Org != "" {
		return "org:" + r.Org
	}
	return r.Owner.String()
}

func u64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func ruleKey(id uint64) []byte { return u64([]byte{cond.PrefixRule}, id) }

// RuleKey is the store key of a rule (for proofs).
func RuleKey(id uint64) []byte { return ruleKey(id) }

func byOwnerKey(owner crypto.Address, id uint64) []byte {
	return u64(append([]byte{cond.PrefixRuleByOwner}, owner[:]...), id)
}

func validEvent(e string) bool { return slices.Contains(Events, e) }
