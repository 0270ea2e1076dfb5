package app_test

import (
	"slices"
	"testing"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/policy/cond"
)

// Rows of the authorization table for x/policy: patient 1 owns rule 1 (a
// notification on its records); the hospital's doctor admits patient 1.

func authRule(t *testing.T, h *apptest.Harness) {
	h.DeliverOK(t, h.Sign(k(apptest.Patient1), authRuleMsg()))
}

func authRuleMsg() *policy.MsgAddRule {
	return &policy.MsgAddRule{Event: policy.EventRecordAdded,
		Action: policy.Action{Kind: policy.ActionNotify, To: consent.Org(apptest.OrgHospital), Topic: "new_record"}}
}

func init() {
	rows := map[string]authRow{
		policy.TypeAddRule: {
			msg:  fixedMsg(authRuleMsg()),
			want: only(policy.ErrNotPatientOwner, rolePatient, roleOtherPatient, roleGuardian),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if rs := policy.ByOwner(h.State(), signer.Address()); len(rs) != 1 || rs[0].Owner != signer.Address() {
					t.Fatalf("rules %+v", rs)
				}
			},
		},
		policy.TypePauseRule: {
			setup: authRule, msg: fixedMsg(&policy.MsgRuleAction{Action: policy.TypePauseRule, ID: 1}),
			want: only(policy.ErrNotOwner, rolePatient),
			check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
				if r := policy.GetRule(h.State(), 1); !r.Paused {
					t.Fatal("not paused")
				}
			},
		},
		policy.TypeResumeRule: {
			setup: func(t *testing.T, h *apptest.Harness) {
				authRule(t, h)
				h.DeliverOK(t, h.Sign(k(apptest.Patient1), &policy.MsgRuleAction{Action: policy.TypePauseRule, ID: 1}))
			},
			msg: fixedMsg(&policy.MsgRuleAction{Action: policy.TypeResumeRule, ID: 1}), want: only(policy.ErrNotOwner, rolePatient),
		},
		policy.TypeDeleteRule: {
			setup: authRule, msg: fixedMsg(&policy.MsgRuleAction{Action: policy.TypeDeleteRule, ID: 1}),
			want: only(policy.ErrNotOwner, rolePatient),
			check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
				if policy.GetRule(h.State(), 1) != nil {
					t.Fatal("not deleted")
				}
			},
		},
		policy.TypeAdmit: {
			msg: func(*apptest.Harness) sm.Msg {
				return &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: k(apptest.Patient1).Address()}
			},
			want: only(policy.ErrNotCareProvider, rolePractitioner, roleAdminA, roleAdminB),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if !slices.Contains(cond.EncounterOrgs(h.State(), k(apptest.Patient1).Address()), h.Account(signer).Org) {
					t.Fatal("no encounter at the signer's organization")
				}
			},
		},
		policy.TypeDischarge: {
			setup: func(t *testing.T, h *apptest.Harness) {
				h.DeliverOK(t, h.Sign(k(apptest.HospitalDoctor), &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: k(apptest.Patient1).Address()}))
			},
			msg: func(*apptest.Harness) sm.Msg {
				return &policy.MsgEncounter{Action: policy.TypeDischarge, Patient: k(apptest.Patient1).Address()}
			},
			want: func() map[string]*sm.Error {
				m := only(policy.ErrNotCareProvider, rolePractitioner, roleAdminA)
				m[roleAdminB] = policy.ErrNoEncounter // the lab has no encounter with the patient
				return m
			}(),
		},
	}
	for typ, r := range rows {
		authRows[typ] = r
	}
}
