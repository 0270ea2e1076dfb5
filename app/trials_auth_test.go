package app_test

import (
	"testing"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/trials"
)

// The trials rows of the authorization table. The test genesis has no
// research sponsor: trialSetup adds one by a governance vote, registers a
// trial with the hospital as its site, and has patient1 consent.
const trialID = "NCT00000001"

var trialOutcomes = []trials.Outcome{{Type: trials.OutcomePrimary, Measure: "HbA1c change", TimeFrame: "26 weeks"}}

func addSponsor(t *testing.T, h *apptest.Harness) {
	sp := k("trial-sponsor")
	h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), &gov.MsgPropose{Action: gov.Action{Kind: gov.KindAddMember,
		Org: accounts.GenesisOrg{ID: "trial-sponsor", Name: "Trial Sponsor", Type: trials.SponsorType}, AdminPubKey: sp.PubKey(), AdminEncKey: sp.EncKey()}}))
	h.DeliverOK(t, h.Sign(k(apptest.LabAdmin), &gov.MsgVote{ProposalID: 2, Approve: true}))
	if o := accounts.GetOrg(h.State(), "trial-sponsor"); o == nil || !o.Active {
		t.Fatal("sponsor not admitted")
	}
}

func trialRegistered(t *testing.T, h *apptest.Harness) {
	addSponsor(t, h)
	h.DeliverOK(t, h.Sign(k("trial-sponsor"), &trials.MsgRegister{ID: trialID, Title: "t", Sites: []string{apptest.OrgHospital},
		ProtocolHash: [32]byte{1}, SAPHash: [32]byte{2}, Outcomes: trialOutcomes, Planned: 10, LateAfter: 86400}))
}

func trialConsented(t *testing.T, h *apptest.Harness) {
	trialRegistered(t, h)
	h.DeliverOK(t, h.Sign(k(apptest.Patient1), &trials.MsgConsent{ID: trialID, Participant: k(apptest.Patient1).Address(), Version: 1}))
}

func trialEnrolled(t *testing.T, h *apptest.Harness) {
	trialConsented(t, h)
	h.DeliverOK(t, h.Sign(k(apptest.HospitalDoctor), &trials.MsgEnroll{ID: trialID, Participant: k(apptest.Patient1).Address()}))
}

// every gives want for every member and patient role, with the envelope's
// refusals of the deactivated member and the newcomer.
func every(want *sm.Error, except map[string]*sm.Error) map[string]*sm.Error {
	m := map[string]*sm.Error{roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner}
	for _, r := range []string{rolePatient, roleOtherPatient, roleGuardian, rolePractitioner, roleAdminA, roleAdminB} {
		m[r] = want
	}
	for r, e := range except {
		m[r] = e
	}
	return m
}

func init() {
	p1 := func(*apptest.Harness) crypto.Address { return k(apptest.Patient1).Address() }
	participantState := func(want string) func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
		return func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
			tr := trials.GetTrial(h.State(), trialID)
			if p := trials.GetParticipation(h.State(), trialID, p1(h)); p == nil || p.State(tr) != want {
				t.Fatalf("participation %+v, want %s", p, want)
			}
		}
	}
	for typ, r := range map[string]authRow{
		// Only an admin of a research sponsor registers (x/trials tests
		// cover the allowed case; no role here is one).
		trials.TypeRegister: {
			msg: fixedMsg(&trials.MsgRegister{ID: trialID, Title: "t", Sites: []string{apptest.OrgHospital},
				ProtocolHash: [32]byte{1}, SAPHash: [32]byte{2}, Outcomes: trialOutcomes, Planned: 10, LateAfter: 86400}),
			want: every(trials.ErrNotSponsor, nil),
		},
		trials.TypeAmend: {
			setup: trialRegistered,
			msg:   fixedMsg(&trials.MsgAmend{ID: trialID, ProtocolHash: [32]byte{3}, SAPHash: [32]byte{2}, Outcomes: trialOutcomes, Reason: "r"}),
			want:  every(trials.ErrNotTrialSponsor, nil),
		},
		trials.TypeLock: {
			setup: trialRegistered,
			msg:   fixedMsg(&trials.MsgLock{ID: trialID}),
			want:  every(trials.ErrNotTrialSponsor, nil),
		},
		trials.TypeResults: {
			setup: trialRegistered,
			msg:   fixedMsg(&trials.MsgResults{ID: trialID, ReportHash: [32]byte{4}, Outcomes: trialOutcomes}),
			want:  every(trials.ErrNotTrialSponsor, nil),
		},
		// The participant or a guardian consents and withdraws.
		trials.TypeConsent: {
			setup: trialRegistered,
			msg: func(h *apptest.Harness) sm.Msg {
				return &trials.MsgConsent{ID: trialID, Participant: p1(h), Version: 1}
			},
			want:  every(trials.ErrNotPatientOrGuard, map[string]*sm.Error{rolePatient: nil, roleGuardian: nil}),
			check: participantState("consented"),
		},
		trials.TypeWithdraw: {
			setup: trialEnrolled,
			msg:   func(h *apptest.Harness) sm.Msg { return &trials.MsgWithdraw{ID: trialID, Participant: p1(h)} },
			want:  every(trials.ErrNotPatientOrGuard, map[string]*sm.Error{rolePatient: nil, roleGuardian: nil}),
			check: participantState("withdrawn"),
		},
		// A practitioner or researcher of a site enrolls and anchors; an
		// admin of the site does not.
		trials.TypeEnroll: {
			setup: trialConsented,
			msg:   func(h *apptest.Harness) sm.Msg { return &trials.MsgEnroll{ID: trialID, Participant: p1(h)} },
			want:  every(trials.ErrNotSiteMember, map[string]*sm.Error{rolePractitioner: nil}),
			check: participantState("enrolled"),
		},
		trials.TypeAnchor: {
			setup: trialEnrolled,
			msg: func(h *apptest.Harness) sm.Msg {
				return &trials.MsgAnchor{ID: trialID, Root: [32]byte{5}, Leaves: 1, Participants: []crypto.Address{p1(h)},
					CollectedFrom: h.Time.Unix(), CollectedTo: h.Time.Unix()}
			},
			want: every(trials.ErrNotSiteMember, map[string]*sm.Error{rolePractitioner: nil}),
			check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
				if a := trials.GetAnchor(h.State(), trialID, 1); a == nil || a.Site != apptest.OrgHospital || a.Late {
					t.Fatalf("anchor %+v", a)
				}
			},
		},
	} {
		authRows[typ] = r
	}
}
