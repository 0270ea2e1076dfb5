package app_test

import (
	"testing"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/staking"
)

// Rows of the authorization table for x/staking. The genesis validator is
// operated by org A (the hospital).
func init() {
	val := func() crypto.PubKey { return k(apptest.Validator).PubKey() }
	envelope := map[string]*sm.Error{roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner}
	with := func(m map[string]*sm.Error) map[string]*sm.Error {
		for r, e := range envelope {
			m[r] = e
		}
		return m
	}
	operatorOnly := func(adminA *sm.Error) map[string]*sm.Error {
		return with(map[string]*sm.Error{
			roleAdminA: adminA, roleAdminB: staking.ErrNotOperator, rolePatient: staking.ErrNotOperator, roleOtherPatient: staking.ErrNotOperator,
			roleGuardian: staking.ErrNotOperator, rolePractitioner: staking.ErrNotOperator,
		})
	}
	patientDelegates := func(t *testing.T, h *apptest.Harness) {
		h.DeliverOK(t, h.Sign(k(apptest.Patient1), &staking.MsgDelegate{Validator: val(), Amount: apptest.Balance}))
	}
	for typ, r := range map[string]authRow{
		staking.TypeDelegate: {
			// Any account may delegate to an approved validator.
			msg: func(*apptest.Harness) sm.Msg { return &staking.MsgDelegate{Validator: val(), Amount: apptest.Balance} },
			want: with(map[string]*sm.Error{
				rolePatient: nil, roleOtherPatient: nil, roleGuardian: nil, rolePractitioner: nil, roleAdminA: nil, roleAdminB: nil,
			}),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if d := staking.GetDelegation(h.State(), val(), signer.Address()); d == nil || d.Shares != apptest.Balance {
					t.Fatalf("delegation %+v", d)
				}
			},
		},
		staking.TypeUndelegate: {
			setup: patientDelegates,
			msg: func(*apptest.Harness) sm.Msg {
				return &staking.MsgUndelegate{Validator: val(), Amount: apptest.Balance}
			},
			want: with(map[string]*sm.Error{
				rolePatient: nil, roleOtherPatient: staking.ErrNoDelegation, roleGuardian: staking.ErrNoDelegation,
				rolePractitioner: staking.ErrNoDelegation, roleAdminA: staking.ErrNoDelegation, roleAdminB: staking.ErrNoDelegation,
			}),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if n := len(staking.UnbondingsOf(h.State(), signer.Address())); n != 1 {
					t.Fatalf("%d unbonding entries", n)
				}
			},
		},
		staking.TypeWithdrawRewards: {
			setup: patientDelegates,
			msg:   func(*apptest.Harness) sm.Msg { return &staking.MsgWithdrawRewards{Validator: val()} },
			want: with(map[string]*sm.Error{
				rolePatient: staking.ErrNoRewards, roleOtherPatient: staking.ErrNoDelegation, roleGuardian: staking.ErrNoDelegation,
				rolePractitioner: staking.ErrNoDelegation, roleAdminA: staking.ErrNoDelegation, roleAdminB: staking.ErrNoDelegation,
			}),
		},
		staking.TypeSetCommission: {
			msg:  func(*apptest.Harness) sm.Msg { return &staking.MsgSetCommission{Validator: val(), RateBps: 600} },
			want: operatorOnly(nil),
			check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
				if v := staking.GetValidator(h.State(), val()); v == nil || v.Commission != 600 {
					t.Fatalf("validator %+v", v)
				}
			},
		},
		staking.TypeWithdrawCommission: {
			msg:  func(*apptest.Harness) sm.Msg { return &staking.MsgWithdrawCommission{Validator: val()} },
			want: operatorOnly(staking.ErrNoRewards),
		},
		staking.TypeUnjail: {
			msg:  func(*apptest.Harness) sm.Msg { return &staking.MsgUnjail{Validator: val()} },
			want: operatorOnly(staking.ErrNotJailed),
		},
	} {
		authRows[typ] = r
	}
}
