package app_test

import (
	"testing"
	"time"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/links"
)

// Rows of the authorization table for patient links: org A (the hospital)
// links an identifier of patient 1, who approved it.

var authLinkMAC = links.ComputeMAC(links.Key{7}, apptest.OrgHospital, "urn:oid:2.16.840.1.113883.19.5", "MRN-1")

func authLinkMsg(h *apptest.Harness) sm.Msg {
	a := links.Approve(k(apptest.Patient1), apptest.ChainID, apptest.OrgHospital, authLinkMAC, k(apptest.Patient1).Address(), h.NextTime().Add(time.Hour).Unix())
	return &links.MsgLink{Org: apptest.OrgHospital, MAC: authLinkMAC, Patient: k(apptest.Patient1).Address(), Approval: &a}
}

func init() {
	authRows[links.TypeLink] = authRow{
		msg:  authLinkMsg,
		want: only(links.ErrNotLinker, roleAdminA),
		check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
			if l := links.Get(h.State(), apptest.OrgHospital, authLinkMAC); l == nil || l.Patient != k(apptest.Patient1).Address() || l.Linker != signer.Address() {
				t.Fatalf("link %+v", l)
			}
		},
	}
	authRows[links.TypeUnlink] = authRow{
		setup: func(t *testing.T, h *apptest.Harness) {
			h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), authLinkMsg(h)))
		},
		msg:  fixedMsg(&links.MsgUnlink{Org: apptest.OrgHospital, MAC: authLinkMAC}),
		want: only(links.ErrNotAllowed, rolePatient, roleGuardian, roleAdminA),
		check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
			if l := links.Get(h.State(), apptest.OrgHospital, authLinkMAC); l != nil {
				t.Fatalf("still linked: %+v", l)
			}
		},
	}
}
