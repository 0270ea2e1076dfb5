package consent

import (
	"slices"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/policy/cond"
)

// Message types.
const (
	TypeGrant           = "consent/grant"
	TypeRevoke          = "consent/revoke"
	TypeOpenEmergency   = "consent/open_emergency"
	TypeReviewEmergency = "consent/review_emergency"
)

// MsgGrant, signed by the patient or a guardian, grants a consent.
type MsgGrant struct {
	Patient crypto.Address
	Grantee Party
	Actions uint8
	Types   []string
	Records []RecordID
	Purpose string
	Until   int64 // unix seconds; 0 for no end
	// Condition is an optional CEL condition over each access (see
	// Consent.Condition); encoded only when present.
	Condition string
}

func (m *MsgGrant) Type() string { return TypeGrant }
func (m *MsgGrant) Encode(w *codec.Writer) {
	w.Fixed(m.Patient[:])
	m.Grantee.Encode(w)
	w.Uint(uint64(m.Actions))
	w.Strings(m.Types)
	w.Uint(uint64(len(m.Records)))
	for _, r := range m.Records {
		w.Fixed(r[:])
	}
	w.String(m.Purpose)
	w.Int(m.Until)
	if m.Condition != "" {
		w.String(m.Condition)
	}
}

// ValidResourceType checks a FHIR resource type name's shape (an upper-case
// letter, then letters): the chain stores types, never contents.
func ValidResourceType(t string) bool {
	if t == "" || len(t) > MaxTypeLen || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	for _, c := range t {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func (m *MsgGrant) ValidateBasic() error {
	switch m.Grantee.Kind {
	case PartyAccount:
		if m.Grantee.Address == m.Patient {
			return sm.Wrapf(ErrBadGrantee, "a patient already has access to their own records")
		}
	case PartyOrg:
		if err := accounts.ValidateOrgID(m.Grantee.Org); err != nil {
			return sm.Wrapf(ErrBadGrantee, "%v", err)
		}
	default:
		return sm.Wrapf(ErrBadGrantee, "grantee kind %d", m.Grantee.Kind)
	}
	if m.Actions == 0 || m.Actions&^(ActRead|ActWrite) != 0 {
		return ErrBadActions
	}
	if !slices.Contains(Purposes, m.Purpose) {
		return sm.Wrapf(ErrBadPurpose, "%q, want one of %v", m.Purpose, Purposes)
	}
	if m.Purpose == PurposeEmergency && (m.Grantee.Kind != PartyOrg || m.Actions != ActRead) {
		return sm.Wrapf(ErrBadScope, "emergency custody is read access granted to an organization")
	}
	if len(m.Types) > 0 && len(m.Records) > 0 {
		return sm.Wrapf(ErrBadScope, "scope is all records, resource types, or listed records, not several")
	}
	for i, t := range m.Types {
		if !ValidResourceType(t) {
			return sm.Wrapf(ErrBadScope, "resource type %q", t)
		}
		if i > 0 && m.Types[i-1] >= t {
			return sm.Wrapf(ErrBadScope, "resource types must be sorted and distinct")
		}
	}
	for i := 1; i < len(m.Records); i++ {
		if string(m.Records[i-1][:]) >= string(m.Records[i][:]) {
			return sm.Wrapf(ErrBadScope, "record ids must be sorted and distinct")
		}
	}
	if m.Until < 0 {
		return ErrBadPeriod
	}
	if m.Condition != "" {
		// The governance bound is checked against state at execution; here
		// the expression must parse, type-check and fit the hard ceiling.
		if _, err := cond.Compile(cond.KindAccess, m.Condition, cond.MaxRegisteredCost); err != nil {
			return err
		}
	}
	return nil
}

func decodeGrant(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgGrant {
		m := &MsgGrant{Patient: sm.ReadAddress(r, "patient"), Grantee: ReadParty(r, "grantee")}
		m.Actions = readActions(r)
		m.Types = r.Strings("types", MaxScopeTypes, MaxTypeLen)
		m.Records = readRecordIDs(r)
		m.Purpose = r.String("purpose", 32)
		m.Until = r.Int("until")
		m.Condition = readCondition(r)
		return m
	})
}

// MsgRevoke, signed by the patient or a guardian, revokes a consent: every
// later transaction, and every node serving reads once the block is
// committed, sees it revoked.
type MsgRevoke struct{ ID uint64 }

func (m *MsgRevoke) Type() string           { return TypeRevoke }
func (m *MsgRevoke) Encode(w *codec.Writer) { w.Uint(m.ID) }
func (m *MsgRevoke) ValidateBasic() error   { return nil }
func decodeRevoke(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRevoke { return &MsgRevoke{ID: r.Uint("id")} })
}

// validCode accepts only a value of codes: emergency reasons and reviews are
// coded so that no free text (which would be health data) reaches the chain.
// The error does not echo a rejected value, which may be clinical text.
func validCode(s string, codes []string, err *sm.Error) error {
	if !slices.Contains(codes, s) {
		return err
	}
	return nil
}

// MsgOpenEmergency, signed by a practitioner of a custodian organization,
// opens a time-boxed emergency access to a patient's records. Reason is one of
// EmergencyReasons: a code, not free text, because the chain stores no health
// data; the practitioner's free-text justification stays in the
// organization's own systems.
type MsgOpenEmergency struct {
	Patient crypto.Address
	Reason  string
}

func (m *MsgOpenEmergency) Type() string { return TypeOpenEmergency }
func (m *MsgOpenEmergency) Encode(w *codec.Writer) {
	w.Fixed(m.Patient[:])
	w.String(m.Reason)
}
func (m *MsgOpenEmergency) ValidateBasic() error {
	return validCode(m.Reason, EmergencyReasons, ErrBadReasonCode)
}
func decodeOpenEmergency(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgOpenEmergency {
		return &MsgOpenEmergency{Patient: sm.ReadAddress(r, "patient"), Reason: r.String("reason", MaxReasonLen)}
	})
}

// MsgReviewEmergency, signed by an admin of the organization that opened it,
// closes an emergency access with a review. Review is one of ReviewOutcomes:
// a code, not free text, because the chain stores no health data; the review's
// narrative stays in the organization's own systems.
type MsgReviewEmergency struct {
	ID     uint64
	Review string
}

func (m *MsgReviewEmergency) Type() string { return TypeReviewEmergency }
func (m *MsgReviewEmergency) Encode(w *codec.Writer) {
	w.Uint(m.ID)
	w.String(m.Review)
}
func (m *MsgReviewEmergency) ValidateBasic() error {
	return validCode(m.Review, ReviewOutcomes, ErrBadReviewOutcome)
}
func decodeReviewEmergency(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgReviewEmergency {
		return &MsgReviewEmergency{ID: r.Uint("id"), Review: r.String("review", MaxReasonLen)}
	})
}
