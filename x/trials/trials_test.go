package trials_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/trials"
)

const ns = "trials-test"

var blockTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	trialID   = "NCT01234567"
	sponsor   = "sponsorAdmin" // admin of org sponsor (research_sponsor)
	sponsorR  = "sponsorRes"   // researcher of org sponsor
	otherAdm  = "otherAdmin"   // admin of org sponsor2 (research_sponsor)
	hospAdmin = "hospAdmin"    // admin of org hosp (hospital, a site)
	doc       = "doc"          // practitioner of hosp (a site)
	clinDoc   = "clinDoc"      // practitioner of clinic (a site)
	labTech   = "labTech"      // practitioner of lab (not a site)
	regulator = "regAdmin"     // admin of org reg (regulator)
	alice     = "alice"        // patient
	bob       = "bob"          // patient
	carol     = "carol"        // patient
	gina      = "gina"         // alice's guardian (a patient account)
)

type env struct{ *smtest.Env }

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{smtest.NewEnv(t, ns, blockTime, accounts.Module{}, trials.Module{})}
	member := func(name, org, role string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "member", Org: org, Role: role}
	}
	patient := func(name string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "patient"}
	}
	e.Genesis(accounts.Module{}, accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: "sponsor", Name: "Sponsor", Type: "research_sponsor"},
			{ID: "sponsor2", Name: "Sponsor 2", Type: "research_sponsor"},
			{ID: "hosp", Name: "Hospital", Type: "hospital"},
			{ID: "clinic", Name: "Clinic", Type: "clinic"},
			{ID: "lab", Name: "Lab", Type: "lab"},
			{ID: "reg", Name: "Regulator", Type: "regulator"},
		},
		Accounts: []accounts.GenesisAccount{
			member(sponsor, "sponsor", accounts.RoleAdmin), member(sponsorR, "sponsor", accounts.RoleResearcher),
			member(otherAdm, "sponsor2", accounts.RoleAdmin), member(hospAdmin, "hosp", accounts.RoleAdmin),
			member(doc, "hosp", accounts.RolePractitioner), member(clinDoc, "clinic", accounts.RolePractitioner),
			member(labTech, "lab", accounts.RolePractitioner), member(regulator, "reg", accounts.RoleAdmin),
			patient(alice), patient(bob), patient(carol), patient(gina),
		},
	})
	e.OK(alice, &accounts.MsgSetGuardian{Guardian: e.Addr(gina)})
	return e
}

func h(b byte) [32]byte { return [32]byte{b, 1, 2, 3} }

var (
	primary   = trials.Outcome{Type: trials.OutcomePrimary, Measure: "Change in HbA1c", TimeFrame: "Baseline to week 26"}
	secondary = trials.Outcome{Type: trials.OutcomeSecondary, Measure: "Body weight", TimeFrame: "Week 26"}
	hypo      = trials.Outcome{Type: trials.OutcomeSecondary, Measure: "Hypoglycaemia events", TimeFrame: "Weeks 0 to 26"}
)

func register() *trials.MsgRegister {
	return &trials.MsgRegister{ID: trialID, Title: "Once-weekly insulin vs daily basal insulin", Sites: []string{"clinic", "hosp"},
		ProtocolHash: h(1), SAPHash: h(2), Outcomes: []trials.Outcome{primary, secondary, hypo}, Planned: 200, LateAfter: 7 * 86400}
}

func (e *env) registered() {
	e.T.Helper()
	e.OK(sponsor, register())
}

func (e *env) consent(who string, participant string, v uint32) error {
	return e.Run(who, &trials.MsgConsent{ID: trialID, Participant: e.Addr(participant), Version: v})
}

func (e *env) enroll(who, participant string) error {
	return e.Run(who, &trials.MsgEnroll{ID: trialID, Participant: e.Addr(participant)})
}

func (e *env) anchor(who string, from int64, participants ...string) error {
	var ps []crypto.Address
	for _, p := range participants {
		ps = append(ps, e.Addr(p))
	}
	slices.SortFunc(ps, func(a, b crypto.Address) int { return compareAddr(a, b) })
	return e.Run(who, &trials.MsgAnchor{ID: trialID, Root: h(9), Leaves: uint64(2 * len(ps)), Participants: ps,
		CollectedFrom: from, CollectedTo: e.Now.Unix()})
}

func compareAddr(a, b crypto.Address) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

func (e *env) later(d time.Duration) { e.Now = e.Now.Add(d) }

func wantErr(t *testing.T, err error, want *sm.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %s/%d (%s)", err, want.Codespace, want.Code, want.Desc)
	}
}

func TestRegistration(t *testing.T) {
	tests := []struct {
		name   string
		signer string
		edit   func(m *trials.MsgRegister)
		want   *sm.Error
	}{
		{"NCT id without digits", sponsor, func(m *trials.MsgRegister) { m.ID = "NCT0123456X" }, trials.ErrBadTrialID},
		{"NCT id too short", sponsor, func(m *trials.MsgRegister) { m.ID = "NCT0123456" }, trials.ErrBadTrialID},
		{"not NCT", sponsor, func(m *trials.MsgRegister) { m.ID = "ISRCTN12345" }, trials.ErrBadTrialID},
		{"hospital admin is no sponsor", hospAdmin, nil, trials.ErrNotSponsor},
		{"sponsor researcher is no admin", sponsorR, nil, trials.ErrNotSponsor},
		{"unknown site", sponsor, func(m *trials.MsgRegister) { m.Sites = []string{"hosp", "nowhere"} }, trials.ErrSiteInactive},
		{"unsorted sites", sponsor, func(m *trials.MsgRegister) { m.Sites = []string{"hosp", "clinic"} }, trials.ErrBadSites},
		{"no sites", sponsor, func(m *trials.MsgRegister) { m.Sites = nil }, trials.ErrBadSites},
		{"no primary outcome", sponsor, func(m *trials.MsgRegister) { m.Outcomes = []trials.Outcome{secondary} }, trials.ErrBadOutcomes},
		{"duplicate measure", sponsor, func(m *trials.MsgRegister) { m.Outcomes = []trials.Outcome{primary, primary} }, trials.ErrBadOutcomes},
		{"bad outcome type", sponsor, func(m *trials.MsgRegister) {
			m.Outcomes = []trials.Outcome{primary, {Type: 3, Measure: "x", TimeFrame: "y"}}
		}, trials.ErrBadOutcomes},
		{"empty time frame", sponsor, func(m *trials.MsgRegister) { m.Outcomes = []trials.Outcome{{Type: 1, Measure: "x"}} }, trials.ErrBadOutcomes},
		{"zero protocol hash", sponsor, func(m *trials.MsgRegister) { m.ProtocolHash = [32]byte{} }, trials.ErrBadDocHash},
		{"zero SAP hash", sponsor, func(m *trials.MsgRegister) { m.SAPHash = [32]byte{} }, trials.ErrBadDocHash},
		{"no planned enrollment", sponsor, func(m *trials.MsgRegister) { m.Planned = 0 }, trials.ErrBadEnrollment},
		{"no title", sponsor, func(m *trials.MsgRegister) { m.Title = "" }, trials.ErrBadTitle},
		{"late threshold too short", sponsor, func(m *trials.MsgRegister) { m.LateAfter = 60 }, trials.ErrBadLateAfter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			m := register()
			if tc.edit != nil {
				tc.edit(m)
			}
			wantErr(t, e.Run(tc.signer, m), tc.want)
			if trials.GetTrial(e.KV, m.ID) != nil {
				t.Fatal("a refused registration left a trial")
			}
		})
	}
	e := newEnv(t)
	e.registered()
	wantErr(t, e.Run(otherAdm, register()), trials.ErrTrialExists)
	tr := trials.GetTrial(e.KV, trialID)
	if tr.Sponsor != "sponsor" || tr.Version != 1 || tr.Status() != trials.StatusRecruiting || tr.Registered.Time != blockTime.Unix() {
		t.Fatalf("trial %+v", tr)
	}
	if v := trials.GetVersion(e.KV, trialID, 1); v == nil || len(v.Outcomes) != 3 || v.ProtocolHash != h(1) {
		t.Fatalf("version 1: %+v", v)
	}
}

func TestAmendments(t *testing.T) {
	e := newEnv(t)
	e.registered()
	amend := &trials.MsgAmend{ID: trialID, ProtocolHash: h(3), SAPHash: h(2), Outcomes: []trials.Outcome{primary, secondary}, Reason: "hypoglycaemia moved to safety reporting"}
	wantErr(t, e.Run(otherAdm, amend), trials.ErrNotTrialSponsor)
	wantErr(t, e.Run(sponsorR, amend), trials.ErrNotTrialSponsor)
	bad := *amend
	bad.Reason = ""
	wantErr(t, e.Run(sponsor, &bad), trials.ErrBadReason)
	missing := *amend
	missing.ID = "NCT99999999"
	wantErr(t, e.Run(sponsor, &missing), trials.ErrNotFound)
	e.OK(sponsor, amend)
	tr := trials.GetTrial(e.KV, trialID)
	if tr.Version != 2 || tr.Reconsent != 0 {
		t.Fatalf("after amendment: %+v", tr)
	}
	if vs := trials.Versions(e.KV, tr); len(vs) != 2 || len(vs[1].Outcomes) != 2 || vs[1].Reason == "" {
		t.Fatalf("versions: %+v", vs)
	}
}

// TestNoEnrollmentBeforeConsent: a site enrolls only a participant who
// consented to the current protocol version.
func TestNoEnrollmentBeforeConsent(t *testing.T) {
	e := newEnv(t)
	e.registered()
	wantErr(t, e.enroll(doc, alice), trials.ErrNoConsent)
	wantErr(t, e.consent(alice, alice, 2), trials.ErrStaleVersion)
	wantErr(t, e.consent(bob, alice, 1), trials.ErrNotPatientOrGuard)
	wantErr(t, e.consent(doc, doc, 1), trials.ErrNotPatient)
	if err := e.consent(gina, alice, 1); err != nil { // a guardian signs for alice
		t.Fatal(err)
	}
	wantErr(t, e.consent(alice, alice, 1), trials.ErrAlreadyConsented)
	wantErr(t, e.enroll(labTech, alice), trials.ErrNotSiteMember)
	wantErr(t, e.enroll(hospAdmin, alice), trials.ErrNotSiteMember)
	// An amendment after the consent: the consent names an older version,
	// so enrollment waits for a consent to the current one.
	e.OK(sponsor, &trials.MsgAmend{ID: trialID, ProtocolHash: h(3), SAPHash: h(2), Outcomes: []trials.Outcome{primary}, Reason: "r"})
	wantErr(t, e.enroll(doc, alice), trials.ErrNoConsent)
	if err := e.consent(alice, alice, 2); err != nil {
		t.Fatal(err)
	}
	if err := e.enroll(doc, alice); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.enroll(clinDoc, alice), trials.ErrAlreadyEnrolled)
	p := trials.GetParticipation(e.KV, trialID, e.Addr(alice))
	tr := trials.GetTrial(e.KV, trialID)
	if p.Site != "hosp" || p.State(tr) != "enrolled" || len(p.Consents) != 2 || p.Consents[0].By != e.Addr(gina) {
		t.Fatalf("participation %+v", p)
	}
	if tr.Consents != 2 || tr.Enrolled != 1 {
		t.Fatalf("counts %+v", tr)
	}
}

// TestNoCaptureDuringPendingReconsent: after an amendment that requires
// re-consent, an enrolled participant's data cannot be anchored until they
// consent to the new version; others' data can be, and a new enrollee
// consents to the current version anyway.
func TestNoCaptureDuringPendingReconsent(t *testing.T) {
	e := newEnv(t)
	e.registered()
	for _, p := range []string{alice, bob} {
		if err := e.consent(p, p, 1); err != nil {
			t.Fatal(err)
		}
		if err := e.enroll(doc, p); err != nil {
			t.Fatal(err)
		}
	}
	e.later(time.Hour)
	from := e.Now.Add(-30 * time.Minute).Unix()
	if err := e.anchor(doc, from, alice, bob); err != nil {
		t.Fatal(err)
	}
	e.OK(sponsor, &trials.MsgAmend{ID: trialID, ProtocolHash: h(4), SAPHash: h(2), Outcomes: []trials.Outcome{primary, secondary, hypo}, Reconsent: true, Reason: "new safety information"})
	e.OK(sponsor, &trials.MsgAmend{ID: trialID, ProtocolHash: h(5), SAPHash: h(2), Outcomes: []trials.Outcome{primary, secondary, hypo}, Reason: "typo"})
	tr := trials.GetTrial(e.KV, trialID)
	if tr.Version != 3 || tr.Reconsent != 2 {
		t.Fatalf("trial %+v", tr)
	}
	if st := trials.GetParticipation(e.KV, trialID, e.Addr(alice)).State(tr); st != "reconsent_pending" {
		t.Fatalf("state %s", st)
	}
	wantErr(t, e.anchor(doc, from, alice), trials.ErrReconsentPending)
	wantErr(t, e.anchor(doc, from, alice, bob), trials.ErrReconsentPending)
	wantErr(t, e.consent(alice, alice, 2), trials.ErrStaleVersion) // the current version is 3
	if err := e.consent(alice, alice, 3); err != nil {
		t.Fatal(err)
	}
	if err := e.anchor(doc, from, alice); err != nil {
		t.Fatalf("after re-consent: %v", err)
	}
	wantErr(t, e.anchor(doc, from, bob), trials.ErrReconsentPending)
}

// TestNoDataAfterWithdrawalOrLock covers the other ordering rules of
// anchors: enrolled at the anchoring site, not withdrawn, not collected
// before consent or in the future, and nothing but results after the lock.
func TestNoDataAfterWithdrawalOrLock(t *testing.T) {
	e := newEnv(t)
	e.registered()
	for _, p := range []string{alice, bob} {
		if err := e.consent(p, p, 1); err != nil {
			t.Fatal(err)
		}
		if err := e.enroll(doc, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.consent(carol, carol, 1); err != nil {
		t.Fatal(err)
	}
	e.later(time.Hour)
	from := e.Now.Add(-10 * time.Minute).Unix()
	wantErr(t, e.anchor(doc, from, carol), trials.ErrNotEnrolled)       // consented, not enrolled
	wantErr(t, e.anchor(clinDoc, from, alice), trials.ErrOtherSite)     // enrolled at hosp
	wantErr(t, e.anchor(labTech, from, alice), trials.ErrNotSiteMember) // not a site
	wantErr(t, e.anchor(doc, blockTime.Unix()-1, alice), trials.ErrCollectedBeforeCons)
	future := &trials.MsgAnchor{ID: trialID, Root: h(9), Leaves: 1, Participants: []crypto.Address{e.Addr(alice)}, CollectedFrom: from, CollectedTo: e.Now.Unix() + 1}
	wantErr(t, e.Run(doc, future), trials.ErrFutureCollection)

	// Withdrawal: by the participant, no reason; visible as a state.
	wantErr(t, e.Run(doc, &trials.MsgWithdraw{ID: trialID, Participant: e.Addr(bob)}), trials.ErrNotPatientOrGuard)
	wantErr(t, e.Run(gina, &trials.MsgWithdraw{ID: trialID, Participant: e.Addr(gina)}), trials.ErrNotParticipant)
	e.OK(bob, &trials.MsgWithdraw{ID: trialID, Participant: e.Addr(bob)})
	wantErr(t, e.Run(bob, &trials.MsgWithdraw{ID: trialID, Participant: e.Addr(bob)}), trials.ErrWithdrawn)
	wantErr(t, e.anchor(doc, from, bob), trials.ErrWithdrawn)
	wantErr(t, e.anchor(doc, from, alice, bob), trials.ErrWithdrawn)
	wantErr(t, e.consent(bob, bob, 1), trials.ErrWithdrawn)
	tr := trials.GetTrial(e.KV, trialID)
	if st := trials.GetParticipation(e.KV, trialID, e.Addr(bob)).State(tr); st != "withdrawn" || tr.Withdrawn != 1 {
		t.Fatalf("bob %s, trial %+v", st, tr)
	}
	if err := e.anchor(doc, from, alice); err != nil {
		t.Fatal(err)
	}

	// Lock: only the sponsor's admin; then nothing is anchored, enrolled,
	// consented or amended.
	wantErr(t, e.Run(doc, &trials.MsgLock{ID: trialID}), trials.ErrNotTrialSponsor)
	wantErr(t, e.Run(sponsor, &trials.MsgResults{ID: trialID, ReportHash: h(7), Outcomes: []trials.Outcome{primary}}), trials.ErrNotLocked)
	e.OK(sponsor, &trials.MsgLock{ID: trialID})
	wantErr(t, e.Run(sponsor, &trials.MsgLock{ID: trialID}), trials.ErrLocked)
	wantErr(t, e.anchor(doc, from, alice), trials.ErrLocked)
	wantErr(t, e.enroll(doc, carol), trials.ErrLocked)
	wantErr(t, e.consent(carol, carol, 1), trials.ErrLocked)
	wantErr(t, e.Run(sponsor, &trials.MsgAmend{ID: trialID, ProtocolHash: h(3), SAPHash: h(2), Outcomes: []trials.Outcome{primary}, Reason: "r"}), trials.ErrLocked)
	if tr := trials.GetTrial(e.KV, trialID); tr.Status() != trials.StatusLocked || tr.Anchors != 1 {
		t.Fatalf("after lock %+v", tr)
	}
	// Withdrawal still counts after the lock: it stops further use.
	e.OK(alice, &trials.MsgWithdraw{ID: trialID, Participant: e.Addr(alice)})
}

func TestLateAnchor(t *testing.T) {
	e := newEnv(t)
	e.registered()
	if err := e.consent(alice, alice, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.enroll(doc, alice); err != nil {
		t.Fatal(err)
	}
	collected := e.Now.Unix() + 60
	e.later(7*24*time.Hour + 2*time.Minute) // the trial's threshold is 7 days: one minute late
	if err := e.anchor(doc, collected, alice); err != nil {
		t.Fatal(err)
	}
	e.later(time.Minute)
	if err := e.anchor(doc, e.Now.Unix()-3600, alice); err != nil {
		t.Fatal(err)
	}
	tr := trials.GetTrial(e.KV, trialID)
	as := trials.Anchors(e.KV, tr)
	if len(as) != 2 || !as[0].Late || as[1].Late || tr.LateCount != 1 {
		t.Fatalf("anchors %+v %+v, trial %+v", as[0], as[1], tr)
	}
	if as[0].Delay() != 7*24*3600+60 || as[1].Delay() != 3600 {
		t.Fatalf("delays %d %d", as[0].Delay(), as[1].Delay())
	}
}

// TestOutcomeSwitching: a seeded case in which the results drop a
// pre-registered outcome, add one, and change one's time frame; they are
// compared with the outcomes of the version in force (the amendment's).
func TestOutcomeSwitching(t *testing.T) {
	e := newEnv(t)
	e.registered()
	quality := trials.Outcome{Type: trials.OutcomeSecondary, Measure: "Treatment satisfaction (DTSQ)", TimeFrame: "Week 26"}
	e.OK(sponsor, &trials.MsgAmend{ID: trialID, ProtocolHash: h(3), SAPHash: h(4), Outcomes: []trials.Outcome{primary, secondary, hypo, quality}, Reason: "added a patient-reported outcome"})
	e.OK(sponsor, &trials.MsgLock{ID: trialID})
	primary52 := primary
	primary52.TimeFrame = "Baseline to week 52"                                                                       // changed
	fasting := trials.Outcome{Type: trials.OutcomeSecondary, Measure: "Fasting plasma glucose", TimeFrame: "Week 26"} // added
	promoted := secondary
	promoted.Type = trials.OutcomePrimary // changed (type)
	// hypo dropped; quality as registered.
	res := &trials.MsgResults{ID: trialID, ReportHash: h(8), Outcomes: []trials.Outcome{primary52, promoted, fasting, quality}}
	wantErr(t, e.Run(otherAdm, res), trials.ErrNotTrialSponsor)
	zero := *res
	zero.ReportHash = [32]byte{}
	wantErr(t, e.Run(sponsor, &zero), trials.ErrBadResultsHash)
	e.OK(sponsor, res)
	wantErr(t, e.Run(sponsor, res), trials.ErrResultsPublished)
	r := trials.GetResults(e.KV, trialID)
	s := r.Switching
	if r.Against != 2 || len(s.Added) != 1 || s.Added[0] != fasting || len(s.Dropped) != 1 || s.Dropped[0] != hypo || len(s.Changed) != 2 {
		t.Fatalf("switching %+v", s)
	}
	if s.Changed[0].Registered != secondary || s.Changed[0].Reported != promoted || s.Changed[1].Registered != primary || s.Changed[1].Reported != primary52 {
		t.Fatalf("changed %+v", s.Changed)
	}
	if tr := trials.GetTrial(e.KV, trialID); tr.Status() != trials.StatusCompleted {
		t.Fatalf("status %s", tr.Status())
	}
	if !trials.Compare([]trials.Outcome{primary, secondary}, []trials.Outcome{secondary, primary}).None() {
		t.Fatal("order must not matter")
	}
}

func TestOverseer(t *testing.T) {
	e := newEnv(t)
	e.registered()
	tr := trials.GetTrial(e.KV, trialID)
	for _, tc := range []struct {
		who  string
		ok   bool
		site string
	}{{sponsorR, true, ""}, {regulator, true, ""}, {doc, true, "hosp"}, {hospAdmin, true, "hosp"}, {clinDoc, true, "clinic"}, {labTech, false, ""}, {otherAdm, false, ""}, {alice, false, ""}} {
		if ok, site := trials.Overseer(e.KV, tr, e.Addr(tc.who)); ok != tc.ok || site != tc.site {
			t.Errorf("%s: %v %q, want %v %q", tc.who, ok, site, tc.ok, tc.site)
		}
	}
}

// TestEveryRefusalHasItsOwnCode: codes are distinct within the codespace.
func TestEveryRefusalHasItsOwnCode(t *testing.T) {
	seen := map[uint32]string{}
	for _, err := range sm.Registered() {
		if err.Codespace != trials.Codespace {
			continue
		}
		if prev, dup := seen[err.Code]; dup {
			t.Errorf("code %d: %q and %q", err.Code, prev, err.Desc)
		}
		seen[err.Code] = err.Desc
	}
	if len(seen) < 34 {
		t.Fatalf("%d codes", len(seen))
	}
}
