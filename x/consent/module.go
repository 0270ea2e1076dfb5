package consent

import (
	"strconv"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/policy/cond"
)

// ParamEmergencySeconds bounds an emergency access.
const ParamEmergencySeconds = "consent.emergency_access_seconds"

// ParamMaxConsentSeconds bounds how far after its grant a consent's end
// (MsgGrant.Until) may lie. A consent without an end (Until 0) is the
// patient's explicit choice and is not bounded by it.
const ParamMaxConsentSeconds = "consent.max_consent_seconds"

// ParamMaxConditionCost bounds CEL's estimated cost of a consent's
// condition at its grant (see x/policy/cond).
const ParamMaxConditionCost = "consent.max_condition_cost"

// ParamDefs are the parameters consent declares.
var ParamDefs = []params.Def{
	{Name: ParamEmergencySeconds, Default: 4 * 3600, Min: 10, Max: 72 * 3600, Doc: "how long an emergency (break-glass) access lasts"},
	{Name: ParamMaxConsentSeconds, Default: 10 * 366 * 24 * 3600, Min: 24 * 3600, Max: 100 * 366 * 24 * 3600,
		Doc: "the latest end a consent may be given, in seconds after its grant (a consent with no end is not bounded)"},
	{Name: ParamMaxConditionCost, Default: 5000, Min: 10, Max: cond.MaxRegisteredCost,
		Doc: "the highest estimated cost (CEL cost units) of a consent's condition accepted at its grant"},
}

// Module plugs consent into the state machine.
type Module struct{ Params *params.Registry }

var _ sm.Module = (*Module)(nil)

func (*Module) Name() string { return "consent" }

func (m *Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeGrant, Decode: decodeGrant, Exec: m.execGrant},
		{Type: TypeRevoke, Decode: decodeRevoke, Exec: execRevoke},
		{Type: TypeOpenEmergency, Decode: decodeOpenEmergency, Exec: m.execOpenEmergency},
		{Type: TypeReviewEmergency, Decode: decodeReviewEmergency, Exec: execReviewEmergency},
	}
}

func idAttr(id uint64) sm.Attr { return sm.Attr{Key: "id", Value: strconv.FormatUint(id, 10)} }

func (mod *Module) execGrant(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgGrant)
	if p := accounts.GetAccount(ctx.Store, m.Patient); p == nil || p.Kind != accounts.KindPatient {
		return sm.Wrapf(ErrNotPatient, "%s", m.Patient)
	}
	if !accounts.CanActFor(ctx.Store, ctx.Signer, m.Patient) {
		return sm.Wrapf(ErrNotPatientOrGuardian, "%s for %s", ctx.Signer, m.Patient)
	}
	switch m.Grantee.Kind {
	case PartyAccount:
		g := accounts.GetAccount(ctx.Store, m.Grantee.Address)
		if g == nil || !accounts.CanSign(ctx.Store, g) {
			return sm.Wrapf(ErrBadGrantee, "%s", m.Grantee)
		}
	case PartyOrg:
		o := accounts.GetOrg(ctx.Store, m.Grantee.Org)
		if o == nil || !o.Active {
			return sm.Wrapf(ErrBadGrantee, "%s", m.Grantee)
		}
		if m.Actions&ActRead != 0 && o.EncKey == ([32]byte{}) {
			return sm.Wrapf(ErrBadGrantee, "organization %s has no encryption key yet: it could not open wrapped keys", o.ID)
		}
	}
	now := ctx.Time.Unix()
	if m.Until != 0 && m.Until <= now {
		return sm.Wrapf(ErrBadPeriod, "until %d, block time %d", m.Until, now)
	}
	if max := mod.Params.Get(ctx.Store, ParamMaxConsentSeconds); m.Until != 0 && uint64(m.Until-now) > max {
		return sm.Wrapf(ErrPeriodTooLong, "until %d is %d s after the block time %d; %s allows at most %d s (about %d days)",
			m.Until, m.Until-now, now, ParamMaxConsentSeconds, max, max/86400)
	}
	if m.Condition != "" {
		if _, err := cond.Compile(cond.KindAccess, m.Condition, mod.Params.Get(ctx.Store, ParamMaxConditionCost)); err != nil {
			return err
		}
	}
	c := &Consent{
		ID: nextID(ctx.Store, []byte{sm.PrefixConsentSeq}), Patient: m.Patient, Grantor: ctx.Signer, Grantee: m.Grantee,
		Actions: m.Actions, Types: m.Types, Records: m.Records, Purpose: m.Purpose, Start: now, Until: m.Until,
		Condition: m.Condition,
	}
	putConsent(ctx.Store, c)
	ctx.Store.Set(c.byPatientKey(), []byte{1})
	ctx.Store.Set(c.byGranteeKey(), []byte{1})
	attrs := []sm.Attr{idAttr(c.ID), {Key: "patient", Value: c.Patient.String()},
		{Key: "grantee", Value: c.Grantee.String()}, {Key: "purpose", Value: c.Purpose}}
	if c.Condition != "" {
		attrs = append(attrs, sm.Attr{Key: "condition", Value: cond.Hash(c.Condition)})
	}
	ctx.Events.Emit("consent_granted", attrs...)
	return nil
}

func execRevoke(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRevoke)
	c := GetConsent(ctx.Store, m.ID)
	if c == nil {
		return sm.Wrapf(ErrNotFound, "%d", m.ID)
	}
	if !accounts.CanActFor(ctx.Store, ctx.Signer, c.Patient) {
		return sm.Wrapf(ErrNotPatientOrGuardian, "%s for %s", ctx.Signer, c.Patient)
	}
	if c.Revoked != 0 {
		return sm.Wrapf(ErrRevoked, "%d", c.ID)
	}
	c.Revoked = ctx.Time.Unix()
	putConsent(ctx.Store, c)
	ctx.Events.Emit("consent_revoked", idAttr(c.ID), sm.Attr{Key: "patient", Value: c.Patient.String()}, sm.Attr{Key: "grantee", Value: c.Grantee.String()})
	return nil
}

func (mod *Module) execOpenEmergency(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgOpenEmergency)
	a := accounts.ActiveMember(ctx.Store, ctx.Signer, accounts.RolePractitioner)
	if a == nil {
		return ErrNotPractitioner
	}
	if p := accounts.GetAccount(ctx.Store, m.Patient); p == nil || p.Kind != accounts.KindPatient {
		return sm.Wrapf(ErrNotPatient, "%s", m.Patient)
	}
	now := ctx.Time.Unix()
	if Custody(ctx.Store, now, m.Patient, a.Org) == nil {
		return sm.Wrapf(ErrNoCustodian, "patient %s, organization %s", m.Patient, a.Org)
	}
	for _, e := range EmergenciesOf(ctx.Store, m.Patient) {
		if e.Practitioner == ctx.Signer && e.OpenAt(now) {
			return sm.Wrapf(ErrEmergencyOpen, "emergency access %d", e.ID)
		}
	}
	e := &Emergency{
		ID: nextID(ctx.Store, []byte{sm.PrefixEmergencySeq}), Patient: m.Patient, Practitioner: ctx.Signer, Org: a.Org,
		Reason: m.Reason, Opened: now, Expires: now + int64(mod.Params.Get(ctx.Store, ParamEmergencySeconds)),
	}
	putEmergency(ctx.Store, e)
	ctx.Store.Set(e.byPatientKey(), []byte{1})
	ctx.Store.Set(e.byOrgKey(), []byte{1})
	ctx.Events.Emit("emergency_opened", idAttr(e.ID), sm.Attr{Key: "patient", Value: e.Patient.String()},
		sm.Attr{Key: "practitioner", Value: e.Practitioner.String()}, sm.Attr{Key: "org", Value: e.Org},
		sm.Attr{Key: "expires", Value: strconv.FormatInt(e.Expires, 10)})
	return nil
}

func execReviewEmergency(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgReviewEmergency)
	e := GetEmergency(ctx.Store, m.ID)
	if e == nil {
		return sm.Wrapf(ErrNoEmergency, "%d", m.ID)
	}
	if o := accounts.AdminOrg(ctx.Store, ctx.Signer); o == nil || o.ID != e.Org {
		return sm.Wrapf(ErrNotReviewer, "emergency access %d belongs to %s", e.ID, e.Org)
	}
	if e.Reviewed != 0 {
		return sm.Wrapf(ErrEmergencyReviewed, "%d", e.ID)
	}
	e.Reviewed, e.Reviewer, e.Review = ctx.Time.Unix(), ctx.Signer, m.Review
	putEmergency(ctx.Store, e)
	ctx.Events.Emit("emergency_reviewed", idAttr(e.ID), sm.Attr{Key: "patient", Value: e.Patient.String()}, sm.Attr{Key: "org", Value: e.Org})
	return nil
}
