package consent

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/policy/cond"
	"github.com/medchain/medchain/x/records/recordid"
)

// Codespace of the consent module.
const Codespace = "consent"

// Errors; codes are stable.
var (
	ErrNotPatientOrGuardian = sm.Register(Codespace, 1, "signer is neither the patient nor their guardian")
	ErrBadGrantee           = sm.Register(Codespace, 2, "grantee is not an active account or member organization")
	ErrBadScope             = sm.Register(Codespace, 3, "invalid consent scope")
	ErrBadPurpose           = sm.Register(Codespace, 4, "unknown purpose")
	ErrBadActions           = sm.Register(Codespace, 5, "actions must be read, write or both")
	ErrBadPeriod            = sm.Register(Codespace, 6, "consent end time is not after the block time")
	ErrNotFound             = sm.Register(Codespace, 7, "consent not found")
	ErrRevoked              = sm.Register(Codespace, 8, "consent already revoked")
	ErrNoCustodian          = sm.Register(Codespace, 9, "the patient has named no emergency custodian in your organization: emergency access cannot decrypt")
	ErrNotPractitioner      = sm.Register(Codespace, 10, "signer is not an active practitioner of a member organization")
	ErrNoEmergency          = sm.Register(Codespace, 11, "emergency access not found")
	ErrEmergencyReviewed    = sm.Register(Codespace, 12, "emergency access already reviewed")
	ErrNotReviewer          = sm.Register(Codespace, 13, "signer is not an admin of the organization that opened the emergency access")
	ErrBadReason            = sm.Register(Codespace, 14, "retired: emergency reasons and reviews are now codes (see consent/20 and consent/21)") // Deprecated: no longer returned (ErrBadReasonCode, ErrBadReviewOutcome); kept so that code 14 is never reused.
	ErrNotPatient           = sm.Register(Codespace, 15, "not a registered patient")
	ErrEmergencyOpen        = sm.Register(Codespace, 16, "an emergency access for this patient is already open")
)

// Errors appended after the consent errors of keeper.go (codes 17 to 19).
var (
	ErrBadReasonCode    = sm.Register(Codespace, 20, "unknown emergency reason code: want one of "+strings.Join(EmergencyReasons, ", ")+" (free text is not accepted: the chain stores no health data)")
	ErrBadReviewOutcome = sm.Register(Codespace, 21, "unknown emergency review outcome: want one of "+strings.Join(ReviewOutcomes, ", ")+" (free text is not accepted: the chain stores no health data)")
)

// EmergencyReasons are the codes a practitioner may give for opening an
// emergency access (MsgOpenEmergency.Reason). The chain takes a code, never
// free text: a clinical justification is health data, and no health data goes
// on chain, encrypted or not. The free-text justification stays in the
// organization's own systems (its clinical record and incident process).
var EmergencyReasons = []string{
	"unable_to_consent", // the patient cannot give consent (unconscious, incapacitated)
	"life_threatening",  // delay would endanger the patient's life
	"imminent_harm",     // delay would cause serious harm to the patient or others
	"legal_requirement", // the law requires the access
	"other",             // none of the above; justified in the organization's own records
}

// ReviewOutcomes are the outcomes an organization's admin may record when
// reviewing an emergency access (MsgReviewEmergency.Review). As for reasons,
// the chain takes a code only; the review's narrative stays in the
// organization's own systems.
var ReviewOutcomes = []string{
	"justified",    // the access was warranted
	"unjustified",  // the access was not warranted
	"inconclusive", // the review could not decide
}

// Actions a consent allows (a bit set).
const (
	ActRead  uint8 = 1
	ActWrite uint8 = 2
)

// Purposes of use (HL7 v3 PurposeOfUse, simplified).
const (
	PurposeTreatment    = "treatment"
	PurposeResearch     = "research"
	PurposePayment      = "payment"
	PurposeOperations   = "operations"
	PurposePublicHealth = "public_health"
	PurposeCare         = "care_coordination"
	PurposeEmergency    = "emergency" // custody: readable only during an open emergency access
)

// Purposes lists the valid purposes.
var Purposes = []string{PurposeTreatment, PurposeResearch, PurposePayment, PurposeOperations, PurposePublicHealth, PurposeCare, PurposeEmergency}

// Limits.
const (
	MaxScopeTypes   = 64
	MaxScopeRecords = 256
	MaxTypeLen      = 64
	MaxReasonLen    = 512 // decoding limit of an emergency reason or review (valid ones are codes, far shorter)
	RecordIDSize    = recordid.Size
)

// RecordID is the records domain's record identity (recordid.ID), named
// here because a consent may be scoped to listed records.
type RecordID = recordid.ID

// PartyKind tells an account from an organization.
type PartyKind uint8

const (
	PartyAccount PartyKind = 1
	PartyOrg     PartyKind = 2
)

// Party is a consent grantee or key recipient: an account or an organization.
type Party struct {
	Kind    PartyKind
	Address crypto.Address // PartyAccount
	Org     string         // PartyOrg
}

// Account returns the party of an account address.
func Account(a crypto.Address) Party { return Party{Kind: PartyAccount, Address: a} }

// Org returns the party of an organization.
func Org(id string) Party { return Party{Kind: PartyOrg, Org: id} }

func (p Party) String() string {
	if p.Kind == PartyOrg {
		return "org:" + p.Org
	}
	return p.Address.String()
}

// Encode writes kind, then a 20-byte address or an org id string.
func (p Party) Encode(w *codec.Writer) {
	w.Uint(uint64(p.Kind))
	if p.Kind == PartyOrg {
		w.String(p.Org)
	} else {
		w.Fixed(p.Address[:])
	}
}

// ReadParty reads a party.
func ReadParty(r *codec.Reader, field string) Party {
	var p Party
	// Switch on the varint itself: converted to a PartyKind first, 257 would
	// read as an account and re-encode as 1.
	switch kind := r.Uint(field + ".kind"); kind {
	case uint64(PartyOrg):
		p.Kind, p.Org = PartyOrg, r.String(field+".org", accounts.MaxIDLen)
	case uint64(PartyAccount):
		p.Kind, p.Address = PartyAccount, sm.ReadAddress(r, field+".address")
	default:
		r.Fixed(fmt.Sprintf("%s.kind %d", field, kind), -1) // forces an error
	}
	return p
}

// readActions reads an action set. A varint wider than 8 bits fails the
// reader: narrowed to a uint8 it would re-encode to other bytes, giving one
// message two encodings.
func readActions(r *codec.Reader) uint8 {
	v := r.Uint("actions")
	if v > math.MaxUint8 {
		r.Fixed(fmt.Sprintf("actions %d (wider than 8 bits)", v), -1) // forces an error
		return 0
	}
	return uint8(v)
}

// Key is the party's fixed-order index key: kind ‖ address, or kind ‖ org ‖ 0x00.
func (p Party) Key() []byte {
	if p.Kind == PartyOrg {
		return append(append([]byte{byte(PartyOrg)}, p.Org...), 0)
	}
	return append([]byte{byte(PartyAccount)}, p.Address[:]...)
}

// Consent is a patient's grant.
type Consent struct {
	ID      uint64
	Patient crypto.Address
	Grantor crypto.Address // the patient or a guardian
	Grantee Party
	Actions uint8
	Types   []string   // resource types; with Records empty and Types empty the scope is all records
	Records []RecordID // listed records
	Purpose string
	Start   int64 // block time of the grant
	Until   int64 // 0: no end
	Revoked int64 // block time of revocation; 0: not revoked
	// Condition is an optional CEL expression (package x/policy/cond, kind
	// KindAccess) that must hold for an access under this consent. Empty:
	// none. It is encoded only when present, so a consent without one keeps
	// the bytes (and hashes) it had before conditions existed.
	Condition string
}

func (c *Consent) Encode(w *codec.Writer) {
	w.Uint(c.ID)
	w.Fixed(c.Patient[:])
	w.Fixed(c.Grantor[:])
	c.Grantee.Encode(w)
	w.Uint(uint64(c.Actions))
	w.Strings(c.Types)
	w.Uint(uint64(len(c.Records)))
	for _, r := range c.Records {
		w.Fixed(r[:])
	}
	w.String(c.Purpose)
	w.Int(c.Start)
	w.Int(c.Until)
	w.Int(c.Revoked)
	if c.Condition != "" {
		w.String(c.Condition)
	}
}

// readCondition reads the optional trailing condition. Present, it must be
// non-empty: an empty one would re-encode as absent, giving one value two
// encodings.
func readCondition(r *codec.Reader) string {
	if r.Err() != nil || r.Remaining() == 0 {
		return ""
	}
	s := r.String("condition", cond.MaxExprLen)
	if s == "" && r.Err() == nil {
		r.Fixed("condition (present but empty)", -1) // forces an error
	}
	return s
}

// DecodeConsent decodes a stored consent.
func DecodeConsent(b []byte) (*Consent, error) {
	r := codec.NewReader(b)
	c := &Consent{ID: r.Uint("id"), Patient: sm.ReadAddress(r, "patient"), Grantor: sm.ReadAddress(r, "grantor")}
	c.Grantee = ReadParty(r, "grantee")
	c.Actions = readActions(r)
	c.Types = r.Strings("types", MaxScopeTypes, MaxTypeLen)
	c.Records = readRecordIDs(r)
	c.Purpose = r.String("purpose", 32)
	c.Start = r.Int("start")
	c.Until = r.Int("until")
	c.Revoked = r.Int("revoked")
	c.Condition = readCondition(r)
	return c, r.Done()
}

func readRecordIDs(r *codec.Reader) []RecordID {
	n := r.Count("records", MaxScopeRecords)
	if n == 0 {
		return nil
	}
	out := make([]RecordID, n)
	for i := range out {
		copy(out[i][:], r.Fixed("record", RecordIDSize))
	}
	return out
}

// ActiveAt reports whether the consent is in force at block time now.
func (c *Consent) ActiveAt(now int64) bool {
	return c.Revoked == 0 && now >= c.Start && (c.Until == 0 || now < c.Until)
}

// Status describes the consent at block time now.
func (c *Consent) Status(now int64) string {
	switch {
	case c.Revoked != 0:
		return "revoked"
	case c.Until != 0 && now >= c.Until:
		return "expired"
	case now < c.Start:
		return "pending"
	}
	return "active"
}

// Covers reports whether the consent's scope includes a record of the type.
func (c *Consent) Covers(id RecordID, resourceType string) bool {
	if len(c.Types) == 0 && len(c.Records) == 0 {
		return true
	}
	return slices.Contains(c.Types, resourceType) || slices.Contains(c.Records, id)
}

// Emergency is a break-glass access session. Reason is one of
// EmergencyReasons and Review one of ReviewOutcomes (or empty while not
// reviewed): codes, never free text, since the chain holds no health data.
type Emergency struct {
	ID           uint64
	Patient      crypto.Address
	Practitioner crypto.Address
	Org          string
	Reason       string
	Opened       int64
	Expires      int64
	Reviewed     int64 // 0: not yet
	Reviewer     crypto.Address
	Review       string
}

func (e *Emergency) Encode(w *codec.Writer) {
	w.Uint(e.ID)
	w.Fixed(e.Patient[:])
	w.Fixed(e.Practitioner[:])
	w.String(e.Org)
	w.String(e.Reason)
	w.Int(e.Opened)
	w.Int(e.Expires)
	w.Int(e.Reviewed)
	w.Fixed(e.Reviewer[:])
	w.String(e.Review)
}

// DecodeEmergency decodes a stored emergency access.
func DecodeEmergency(b []byte) (*Emergency, error) {
	r := codec.NewReader(b)
	e := &Emergency{ID: r.Uint("id"), Patient: sm.ReadAddress(r, "patient"), Practitioner: sm.ReadAddress(r, "practitioner")}
	e.Org = r.String("org", accounts.MaxIDLen)
	e.Reason = r.String("reason", MaxReasonLen)
	e.Opened = r.Int("opened")
	e.Expires = r.Int("expires")
	e.Reviewed = r.Int("reviewed")
	e.Reviewer = sm.ReadAddress(r, "reviewer")
	e.Review = r.String("review", MaxReasonLen)
	return e, r.Done()
}

// OpenAt reports whether the session grants access at block time now.
func (e *Emergency) OpenAt(now int64) bool {
	return now >= e.Opened && now < e.Expires && e.Reviewed == 0
}

// Keys.
func u64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func consentKey(id uint64) []byte { return u64([]byte{sm.PrefixConsent}, id) }

// ConsentKey is the store key of a consent (for proofs).
func ConsentKey(id uint64) []byte { return consentKey(id) }

func byPatientKey(patient crypto.Address, g Party, id uint64) []byte {
	k := append([]byte{sm.PrefixConsentByPatient}, patient[:]...)
	return u64(append(k, g.Key()...), id)
}

func byGranteeKey(g Party, patient crypto.Address, id uint64) []byte {
	k := append([]byte{sm.PrefixConsentByGrantee}, g.Key()...)
	return u64(append(k, patient[:]...), id)
}

func emergencyKey(id uint64) []byte { return u64([]byte{sm.PrefixEmergency}, id) }

func emergencyByPatientKey(p crypto.Address, id uint64) []byte {
	return u64(append([]byte{sm.PrefixEmergencyByPat}, p[:]...), id)
}

func emergencyByOrgKey(org string, id uint64) []byte {
	return u64(append(append([]byte{sm.PrefixEmergencyByOrg}, org...), 0), id)
}
