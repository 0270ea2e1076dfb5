package app_test

import (
	"bytes"
	"testing"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// Rows of the authorization table for consent, records and audit.
//
// The table's roles hold no gateway and no practitioner of another
// organization, which these messages need: TestAuthorizationDomainRoles runs
// the same rows for those two roles on a network that has them
// (apptest.DomainMembers).

// Extra roles of the domain rows.
const (
	roleGatewayA      = "gateway of org A"
	rolePractitionerB = "practitioner of org B"
)

var domainRoleKeys = map[string]string{
	roleGatewayA:      apptest.HospitalGateway,
	rolePractitionerB: apptest.LabTech,
}

// expect is a row's expectations: every role is refused with refused except
// the allowed ones; the deactivated member and the key without an account
// fail in the envelope, before the message's rules.
func expect(refused *sm.Error, allowed map[string]*sm.Error) map[string]*sm.Error {
	m := map[string]*sm.Error{}
	for _, r := range append(roles, roleGatewayA, rolePractitionerB) {
		m[r] = refused
	}
	m[roleDeactivated], m[roleNewcomer] = sm.ErrInactive, sm.ErrUnknownSigner
	for r, e := range allowed {
		m[r] = e
	}
	return m
}

// authRecord is the record of the records rows: patient 1's Observation.
func authRecord(t testing.TB) *sealed {
	return seal(t, "auth", k(apptest.Patient1).Address(), "Observation", observation("5.1"))
}

// authHolders are patient 1's key holders after authSetup: the patient and
// the guardian.
var authHolders = []consent.Party{acctOf(apptest.Patient1), acctOf(apptest.Patient3)}

// withCustody: the hospital sets its key and patient 1 names it custodian
// (consent 1).
func withCustody(t *testing.T, h *apptest.Harness) {
	h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), &accounts.MsgSetOrgKey{EncKey: apptest.OrgKey(apptest.OrgHospital).EncKey()}))
	h.DeliverOK(t, h.Sign(k(apptest.Patient1), custodyMsg(apptest.Patient1, apptest.OrgHospital)))
}

var emergencyReason = "life_threatening"

func init() {
	p1 := func() crypto.Address { return k(apptest.Patient1).Address() }
	doctor := func() crypto.Address { return k(apptest.HospitalDoctor).Address() }
	rows := map[string]authRow{
		consent.TypeGrant: {
			msg: fixedMsg(grantMsg(apptest.Patient1, acctOf(apptest.HospitalDoctor), consent.ActRead, "Observation")),
			// The patient and the guardian; not the grantee, nor anyone else.
			want: expect(consent.ErrNotPatientOrGuardian, map[string]*sm.Error{rolePatient: nil, roleGuardian: nil}),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				c := consent.GetConsent(h.State(), 1)
				if c == nil || c.Patient != p1() || c.Grantor != signer.Address() || c.Start != h.Time.Unix() {
					t.Fatalf("consent 1 = %+v", c)
				}
				if d := consent.MayRead(h.State(), h.Time.Unix(), doctor(), obsTarget(apptest.Patient1, recordID("x"))); !d.Allowed || d.ConsentID != 1 {
					t.Fatalf("grantee may not read: %+v", d)
				}
			},
		},
		consent.TypeRevoke: {
			setup: func(t *testing.T, h *apptest.Harness) {
				h.DeliverOK(t, h.Sign(k(apptest.Patient1), grantMsg(apptest.Patient1, acctOf(apptest.HospitalDoctor), consent.ActRead)))
			},
			msg: fixedMsg(&consent.MsgRevoke{ID: 1}),
			// The patient and the guardian; the grantee cannot revoke.
			want: expect(consent.ErrNotPatientOrGuardian, map[string]*sm.Error{rolePatient: nil, roleGuardian: nil}),
			check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
				if c := consent.GetConsent(h.State(), 1); c.Revoked != h.Time.Unix() {
					t.Fatalf("consent 1 = %+v", c)
				}
				d := consent.MayRead(h.State(), h.Time.Unix(), doctor(), obsTarget(apptest.Patient1, recordID("x")))
				if d.Allowed || !errorIs(d.Err, consent.ErrConsentRevoked) {
					t.Fatalf("after revocation: %+v", d)
				}
			},
		},
		consent.TypeOpenEmergency: {
			setup: withCustody,
			msg:   fixedMsg(&consent.MsgOpenEmergency{Patient: k(apptest.Patient1).Address(), Reason: emergencyReason}),
			// A practitioner of the custodian organization; a practitioner
			// of another organization is told its organization is no
			// custodian.
			want: expect(consent.ErrNotPractitioner, map[string]*sm.Error{rolePractitioner: nil, rolePractitionerB: consent.ErrNoCustodian}),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				em := consent.GetEmergency(h.State(), 1)
				secs := int64(h.App.Params().Get(h.State(), consent.ParamEmergencySeconds))
				if em == nil || em.Practitioner != signer.Address() || em.Org != apptest.OrgHospital || em.Expires != h.Time.Unix()+secs {
					t.Fatalf("emergency 1 = %+v", em)
				}
				if d := consent.MayRead(h.State(), h.Time.Unix(), signer.Address(), obsTarget(apptest.Patient1, recordID("x"))); d.Basis != consent.BasisEmergency {
					t.Fatalf("during the emergency: %+v", d)
				}
			},
		},
		consent.TypeReviewEmergency: {
			setup: func(t *testing.T, h *apptest.Harness) {
				withCustody(t, h)
				h.DeliverOK(t, h.Sign(k(apptest.HospitalDoctor), &consent.MsgOpenEmergency{Patient: k(apptest.Patient1).Address(), Reason: emergencyReason}))
			},
			msg: fixedMsg(&consent.MsgReviewEmergency{ID: 1, Review: "justified"}),
			// An admin of the organization that opened it.
			want: expect(consent.ErrNotReviewer, map[string]*sm.Error{roleAdminA: nil}),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if em := consent.GetEmergency(h.State(), 1); em.Reviewed != h.Time.Unix() || em.Reviewer != signer.Address() || em.Review != "justified" {
					t.Fatalf("emergency 1 = %+v", em)
				}
			},
		},
		records.TypeAdd: {
			setup: func(t *testing.T, h *apptest.Harness) {
				h.DeliverOK(t, h.Sign(k(apptest.Patient1), grantMsg(apptest.Patient1, acctOf(apptest.HospitalDoctor), consent.ActWrite, "Observation")))
			},
			msg: func(h *apptest.Harness) sm.Msg { return authRecord(nil).add(nil, h.State(), 1, authHolders...) },
			// The patient, the guardian, and the holder of a write consent.
			want: expect(records.ErrNoWriteConsent, map[string]*sm.Error{rolePatient: nil, roleGuardian: nil, rolePractitioner: nil}),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				rec := authRecord(t)
				if v := records.GetVersion(h.State(), rec.id, 1); v == nil || v.Author != signer.Address() || v.ContentHash != rec.hash() {
					t.Fatalf("version 1 = %+v", v)
				}
				if got := rec.open(t, h.State(), 1, acctOf(apptest.Patient3), k(apptest.Patient3).ECDH()); !bytes.Equal(got, rec.plain) {
					t.Fatalf("guardian read %q", got)
				}
			},
		},
		records.TypeShare: {
			setup: func(t *testing.T, h *apptest.Harness) {
				rec := authRecord(t)
				h.DeliverOK(t, h.Sign(k(apptest.Patient1), rec.add(t, h.State(), 1, authHolders...)),
					h.Sign(k(apptest.Patient1), grantMsg(apptest.Patient1, acctOf(apptest.HospitalDoctor), consent.ActRead, "Observation")))
			},
			msg: func(h *apptest.Harness) sm.Msg {
				rec := authRecord(nil)
				return &records.MsgShare{ID: rec.id, Version: 1, Keys: rec.wrap(nil, h.State(), 1, acctOf(apptest.HospitalDoctor))}
			},
			// The patient and the guardian; not the reader itself.
			want: expect(records.ErrNotOwner, map[string]*sm.Error{rolePatient: nil, roleGuardian: nil}),
			check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
				rec := authRecord(t)
				if got := rec.open(t, h.State(), 1, acctOf(apptest.HospitalDoctor), k(apptest.HospitalDoctor).ECDH()); !bytes.Equal(got, rec.plain) {
					t.Fatalf("doctor read %q", got)
				}
			},
		},
		records.TypeErase: {
			setup: func(t *testing.T, h *apptest.Harness) {
				h.DeliverOK(t, h.Sign(k(apptest.Patient1), authRecord(t).add(t, h.State(), 1, authHolders...)))
			},
			msg:  func(*apptest.Harness) sm.Msg { return &records.MsgErase{ID: authRecord(nil).id} },
			want: expect(records.ErrNotOwner, map[string]*sm.Error{rolePatient: nil, roleGuardian: nil}),
			check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
				id := authRecord(t).id
				if rec := records.GetRecord(h.State(), id); rec.Erased != h.Time.Unix() || len(records.Keys(h.State(), id, 1)) != 0 {
					t.Fatalf("record %+v, keys %v", rec, records.Keys(h.State(), id, 1))
				}
			},
		},
		audit.TypeLog: {
			setup: func(t *testing.T, h *apptest.Harness) {
				h.DeliverOK(t, h.Sign(k(apptest.Patient1), authRecord(t).add(t, h.State(), 1, authHolders...)))
			},
			msg: func(h *apptest.Harness) sm.Msg {
				return &audit.MsgLog{Events: []audit.Event{attributed(apptest.HospitalDoctor, audit.Event{
					Patient: k(apptest.Patient1).Address(), Accessor: k(apptest.HospitalDoctor).Address(), Record: recordID("auth"), Version: 1,
					Time: h.NextTime().Unix() - 10, Reason: "consent/17: no consent covers this access",
				})}}
			},
			// An active gateway only (no role of the main table is one).
			want: expect(audit.ErrNotGateway, map[string]*sm.Error{roleGatewayA: nil}),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				tr := audit.Trail(h.State(), k(apptest.Patient1).Address(), audit.Filter{})
				if len(tr) != 1 || tr[0].Seq != 1 || tr[0].Node != h.Account(signer).Org || tr[0].Served {
					t.Fatalf("trail %+v", tr)
				}
			},
		},
	}
	for typ, r := range rows {
		authRows[typ] = r
	}
}

func errorIs(err error, target *sm.Error) bool {
	code, space, _ := sm.ABCIInfo(err)
	return code == target.Code && space == target.Codespace
}

// TestAuthorizationDomainRoles runs the consent, records and audit rows
// for the roles the main table lacks, on a network that has them, as
// TestAuthorization runs the others.
func TestAuthorizationDomainRoles(t *testing.T) {
	types := []string{
		consent.TypeGrant, consent.TypeRevoke, consent.TypeOpenEmergency, consent.TypeReviewEmergency,
		records.TypeAdd, records.TypeShare, records.TypeErase, audit.TypeLog,
	}
	for _, typ := range types {
		r := authRows[typ]
		for _, role := range []string{roleGatewayA, rolePractitionerB} {
			want, ok := r.want[role]
			if !ok {
				t.Errorf("%s: no expectation for role %q", typ, role)
				continue
			}
			t.Run(typ+"/"+role, func(t *testing.T) {
				h := apptest.NewWithConfig(t, apptest.Config{Members: apptest.DomainMembers})
				authSetup(t, h)
				if r.setup != nil {
					r.setup(t, h)
				}
				signer := k(domainRoleKeys[role])
				tx := h.Sign(signer, r.msg(h))
				wantCode(t, "CheckTx", h.Check(t, tx), nil)
				wantCode(t, "FinalizeBlock", h.Deliver(t, tx)[0], want)
				if want == nil && r.check != nil {
					r.check(t, h, signer)
				}
			})
		}
	}
}
