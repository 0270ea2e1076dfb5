package app_test

import (
	"testing"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/fees"
)

// Rows of the authorization table for x/fees: only an active admin of an
// active organization grants; a revoke needs the signer's own allowance.
func init() {
	grantee := func() crypto.Address { return k(apptest.Patient2).Address() }
	notAdmin := fees.ErrNotGranter
	authRows[fees.TypeGrant] = authRow{
		msg: fixedMsg(&fees.MsgGrant{Grantee: k(apptest.Patient2).Address(), Limit: 100}),
		want: map[string]*sm.Error{
			roleAdminA: nil, roleAdminB: nil, rolePatient: notAdmin, roleOtherPatient: notAdmin, roleGuardian: notAdmin,
			rolePractitioner: notAdmin, roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
		},
		check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
			if a := fees.GetAllowance(h.State(), signer.Address(), grantee()); a == nil || a.Limit != 100 {
				t.Fatalf("allowance %+v", a)
			}
		},
	}
	authRows[fees.TypeRevoke] = authRow{
		setup: func(t *testing.T, h *apptest.Harness) {
			h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), &fees.MsgGrant{Grantee: grantee(), Limit: 100}))
		},
		msg: fixedMsg(&fees.MsgRevoke{Grantee: k(apptest.Patient2).Address()}),
		want: map[string]*sm.Error{
			roleAdminA: nil, roleAdminB: fees.ErrNoAllowance, rolePatient: fees.ErrNoAllowance, roleOtherPatient: fees.ErrNoAllowance,
			roleGuardian: fees.ErrNoAllowance, rolePractitioner: fees.ErrNoAllowance, roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
		},
		check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
			if fees.GetAllowance(h.State(), signer.Address(), grantee()) != nil {
				t.Fatal("still granted")
			}
		},
	}
}
