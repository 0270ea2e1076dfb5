package trials

import (
	"slices"
	"strconv"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// Module plugs trials into the state machine.
type Module struct{}

var _ sm.Module = Module{}

func (Module) Name() string { return "trials" }

func (Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeRegister, Decode: decodeRegister, Exec: execRegister},
		{Type: TypeAmend, Decode: decodeAmend, Exec: execAmend},
		{Type: TypeConsent, Decode: decodeConsent, Exec: execConsent},
		{Type: TypeEnroll, Decode: decodeEnroll, Exec: execEnroll},
		{Type: TypeWithdraw, Decode: decodeWithdraw, Exec: execWithdraw},
		{Type: TypeAnchor, Decode: decodeAnchor, Exec: execAnchor},
		{Type: TypeLock, Decode: decodeLock, Exec: execLock},
		{Type: TypeResults, Decode: decodeResults, Exec: execResults},
	}
}

// SponsorType is the organization type that may register trials.
const SponsorType = "research_sponsor"

// SiteRoles are the member roles that act for a site (enroll, anchor).
var SiteRoles = []string{accounts.RolePractitioner, accounts.RoleResearcher}

func stamp(ctx sm.Context) Stamp { return Stamp{Height: ctx.Height, Time: ctx.Time.Unix()} }

func trialAttr(id string) sm.Attr { return sm.Attr{Key: "trial", Value: id} }

func execRegister(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRegister)
	o := accounts.AdminOrg(ctx.Store, ctx.Signer)
	if o == nil || !o.Active || o.Type != SponsorType {
		return sm.Wrapf(ErrNotSponsor, "%s", ctx.Signer)
	}
	if ctx.Store.Get(trialKey(m.ID)) != nil {
		return sm.Wrapf(ErrTrialExists, "%s", m.ID)
	}
	for _, s := range m.Sites {
		if so := accounts.GetOrg(ctx.Store, s); so == nil || !so.Active {
			return sm.Wrapf(ErrSiteInactive, "%s", s)
		}
	}
	at := stamp(ctx)
	t := &Trial{ID: m.ID, Sponsor: o.ID, Registrar: ctx.Signer, Title: m.Title, Sites: m.Sites, Planned: m.Planned,
		LateAfter: m.LateAfter, Version: 1, Registered: at}
	PutTrial(ctx.Store, t)
	putVersion(ctx.Store, m.ID, &Version{Number: 1, ProtocolHash: m.ProtocolHash, SAPHash: m.SAPHash, Outcomes: m.Outcomes, By: ctx.Signer, At: at})
	ctx.Events.Emit("trial_registered", trialAttr(t.ID), sm.Attr{Key: "sponsor", Value: t.Sponsor})
	return nil
}

// sponsorTrial loads the trial and checks that the signer administers its
// sponsor organization.
func sponsorTrial(ctx sm.Context, id string) (*Trial, error) {
	t := GetTrial(ctx.Store, id)
	if t == nil {
		return nil, sm.Wrapf(ErrNotFound, "%s", id)
	}
	if o := accounts.AdminOrg(ctx.Store, ctx.Signer); o == nil || o.ID != t.Sponsor {
		return nil, sm.Wrapf(ErrNotTrialSponsor, "%s is not an admin of %s", ctx.Signer, t.Sponsor)
	}
	return t, nil
}

func notLocked(t *Trial) error {
	if !t.Locked.IsZero() {
		return sm.Wrapf(ErrLocked, "%s locked at height %d", t.ID, t.Locked.Height)
	}
	return nil
}

func execAmend(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgAmend)
	t, err := sponsorTrial(ctx, m.ID)
	if err != nil {
		return err
	}
	if err := notLocked(t); err != nil {
		return err
	}
	if t.Version >= MaxVersions {
		return ErrTooManyVersions
	}
	t.Version++
	if m.Reconsent {
		t.Reconsent = t.Version
	}
	PutTrial(ctx.Store, t)
	putVersion(ctx.Store, t.ID, &Version{Number: t.Version, ProtocolHash: m.ProtocolHash, SAPHash: m.SAPHash, Outcomes: m.Outcomes,
		Reconsent: m.Reconsent, Reason: m.Reason, By: ctx.Signer, At: stamp(ctx)})
	ctx.Events.Emit("trial_amended", trialAttr(t.ID), sm.Attr{Key: "version", Value: strconv.FormatUint(uint64(t.Version), 10)},
		sm.Attr{Key: "reconsent", Value: strconv.FormatBool(m.Reconsent)})
	return nil
}

// participantOf checks that the signer may act for the participant, a patient.
func actForParticipant(ctx sm.Context, p crypto.Address) error {
	if a := accounts.GetAccount(ctx.Store, p); a == nil || a.Kind != accounts.KindPatient {
		return sm.Wrapf(ErrNotPatient, "%s", p)
	}
	if !accounts.CanActFor(ctx.Store, ctx.Signer, p) {
		return sm.Wrapf(ErrNotPatientOrGuard, "%s for %s", ctx.Signer, p)
	}
	return nil
}

func execConsent(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgConsent)
	t := GetTrial(ctx.Store, m.ID)
	if t == nil {
		return sm.Wrapf(ErrNotFound, "%s", m.ID)
	}
	if err := actForParticipant(ctx, m.Participant); err != nil {
		return err
	}
	if err := notLocked(t); err != nil {
		return err
	}
	if m.Version != t.Version {
		return sm.Wrapf(ErrStaleVersion, "version %d, current %d", m.Version, t.Version)
	}
	p := GetParticipation(ctx.Store, t.ID, m.Participant)
	if p == nil {
		p = &Participation{Trial: t.ID, Participant: m.Participant}
	}
	if !p.Withdrawn.IsZero() {
		return sm.Wrapf(ErrWithdrawn, "at height %d", p.Withdrawn.Height)
	}
	if p.ConsentedVersion() == m.Version {
		return sm.Wrapf(ErrAlreadyConsented, "version %d", m.Version)
	}
	p.Consents = append(p.Consents, ConsentEntry{Version: m.Version, By: ctx.Signer, At: stamp(ctx)})
	putParticipation(ctx.Store, p)
	t.Consents++
	PutTrial(ctx.Store, t)
	// The event names the trial and version, never the participant: events
	// are served with transaction results (docs/security.md).
	ctx.Events.Emit("trial_consent", trialAttr(t.ID), sm.Attr{Key: "version", Value: strconv.FormatUint(uint64(m.Version), 10)})
	return nil
}

// siteOf returns the trial site the signer acts for.
func siteOf(ctx sm.Context, t *Trial) (string, error) {
	a := accounts.ActiveMember(ctx.Store, ctx.Signer, SiteRoles...)
	if a == nil || !slices.Contains(t.Sites, a.Org) {
		return "", sm.Wrapf(ErrNotSiteMember, "%s", ctx.Signer)
	}
	return a.Org, nil
}

func execEnroll(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgEnroll)
	t := GetTrial(ctx.Store, m.ID)
	if t == nil {
		return sm.Wrapf(ErrNotFound, "%s", m.ID)
	}
	site, err := siteOf(ctx, t)
	if err != nil {
		return err
	}
	if err := notLocked(t); err != nil {
		return err
	}
	p := GetParticipation(ctx.Store, t.ID, m.Participant)
	switch {
	case p != nil && !p.Withdrawn.IsZero():
		return sm.Wrapf(ErrWithdrawn, "at height %d", p.Withdrawn.Height)
	case p == nil || p.ConsentedVersion() != t.Version:
		return sm.Wrapf(ErrNoConsent, "current version %d", t.Version)
	case !p.Enrolled.IsZero():
		return sm.Wrapf(ErrAlreadyEnrolled, "at %s, height %d", p.Site, p.Enrolled.Height)
	}
	p.Site, p.EnrolledBy, p.Enrolled = site, ctx.Signer, stamp(ctx)
	putParticipation(ctx.Store, p)
	t.Enrolled++
	PutTrial(ctx.Store, t)
	ctx.Events.Emit("trial_enrolled", trialAttr(t.ID), sm.Attr{Key: "site", Value: site})
	return nil
}

func execWithdraw(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgWithdraw)
	t := GetTrial(ctx.Store, m.ID)
	if t == nil {
		return sm.Wrapf(ErrNotFound, "%s", m.ID)
	}
	if err := actForParticipant(ctx, m.Participant); err != nil {
		return err
	}
	p := GetParticipation(ctx.Store, t.ID, m.Participant)
	if p == nil {
		return ErrNotParticipant
	}
	if !p.Withdrawn.IsZero() {
		return sm.Wrapf(ErrWithdrawn, "at height %d", p.Withdrawn.Height)
	}
	// A withdrawal is accepted after the lock too: it stops further use.
	p.Withdrawn = stamp(ctx)
	putParticipation(ctx.Store, p)
	t.Withdrawn++
	PutTrial(ctx.Store, t)
	ctx.Events.Emit("trial_withdrawal", trialAttr(t.ID))
	return nil
}

func execAnchor(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgAnchor)
	t := GetTrial(ctx.Store, m.ID)
	if t == nil {
		return sm.Wrapf(ErrNotFound, "%s", m.ID)
	}
	site, err := siteOf(ctx, t)
	if err != nil {
		return err
	}
	if err := notLocked(t); err != nil {
		return err
	}
	now := ctx.Time.Unix()
	if m.CollectedTo > now {
		return sm.Wrapf(ErrFutureCollection, "collected_to %d, block time %d", m.CollectedTo, now)
	}
	for _, pa := range m.Participants {
		p := GetParticipation(ctx.Store, t.ID, pa)
		switch {
		case p == nil || p.Enrolled.IsZero():
			return sm.Wrapf(ErrNotEnrolled, "%s", pa)
		case !p.Withdrawn.IsZero():
			return sm.Wrapf(ErrWithdrawn, "%s at height %d", pa, p.Withdrawn.Height)
		case p.Site != site:
			return sm.Wrapf(ErrOtherSite, "%s is enrolled at %s", pa, p.Site)
		case p.ConsentedVersion() < t.Reconsent:
			return sm.Wrapf(ErrReconsentPending, "%s consented to version %d; version %d requires re-consent", pa, p.ConsentedVersion(), t.Reconsent)
		case m.CollectedFrom < p.FirstConsent():
			return sm.Wrapf(ErrCollectedBeforeCons, "%s first consented at %d, collected_from %d", pa, p.FirstConsent(), m.CollectedFrom)
		}
	}
	t.Anchors++
	a := &Anchor{Trial: t.ID, Seq: t.Anchors, Site: site, By: ctx.Signer, Root: m.Root, Leaves: m.Leaves, Participants: m.Participants,
		CollectedFrom: m.CollectedFrom, CollectedTo: m.CollectedTo, At: stamp(ctx)}
	a.Late = a.Delay() > t.LateAfter
	if a.Late {
		t.LateCount++
	}
	putAnchor(ctx.Store, a)
	PutTrial(ctx.Store, t)
	ctx.Events.Emit("trial_anchor", trialAttr(t.ID), sm.Attr{Key: "seq", Value: strconv.FormatUint(a.Seq, 10)},
		sm.Attr{Key: "site", Value: site}, sm.Attr{Key: "late", Value: strconv.FormatBool(a.Late)})
	return nil
}

func execLock(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgLock)
	t, err := sponsorTrial(ctx, m.ID)
	if err != nil {
		return err
	}
	if err := notLocked(t); err != nil {
		return err
	}
	t.Locked = stamp(ctx)
	PutTrial(ctx.Store, t)
	ctx.Events.Emit("trial_locked", trialAttr(t.ID))
	return nil
}

func execResults(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgResults)
	t, err := sponsorTrial(ctx, m.ID)
	if err != nil {
		return err
	}
	if t.Locked.IsZero() {
		return ErrNotLocked
	}
	if t.Results {
		return ErrResultsPublished
	}
	v := GetVersion(ctx.Store, t.ID, t.Version)
	if v == nil {
		return sm.Wrapf(sm.ErrInternal, "trial %s has no version %d", t.ID, t.Version)
	}
	r := &Results{Trial: t.ID, ReportHash: m.ReportHash, Reported: m.Outcomes, Against: t.Version,
		Switching: Compare(v.Outcomes, m.Outcomes), By: ctx.Signer, At: stamp(ctx)}
	putResults(ctx.Store, r)
	t.Results = true
	PutTrial(ctx.Store, t)
	ctx.Events.Emit("trial_results", trialAttr(t.ID),
		sm.Attr{Key: "added", Value: strconv.Itoa(len(r.Switching.Added))},
		sm.Attr{Key: "dropped", Value: strconv.Itoa(len(r.Switching.Dropped))},
		sm.Attr{Key: "changed", Value: strconv.Itoa(len(r.Switching.Changed))})
	return nil
}

// Overseer reports whether addr may see the trial's participant-level data
// (its participants, their consents, enrollments and withdrawals, and the
// anchors naming them), and of which site: an active member of the
// sponsor organization or of an active regulator sees every site (site
// ""); an active member of a site sees its own site's participants only.
func Overseer(kv store.Reader, t *Trial, addr crypto.Address) (ok bool, site string) {
	a := accounts.ActiveMember(kv, addr)
	if a == nil {
		return false, ""
	}
	if a.Org == t.Sponsor {
		return true, ""
	}
	if o := accounts.GetOrg(kv, a.Org); o != nil && o.Active && o.Type == "regulator" {
		return true, ""
	}
	if slices.Contains(t.Sites, a.Org) {
		return true, a.Org
	}
	return false, ""
}
