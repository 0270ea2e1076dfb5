package app_test

import (
	"testing"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
)

// Rows of the authorization table for x/bank: any account may send its own
// tokens to another account; sending to itself is refused.
func init() {
	authRows[bank.TypeSend] = authRow{
		msg: fixedMsg(&bank.MsgSend{To: k(apptest.Patient2).Address(), Amount: 1234}),
		want: map[string]*sm.Error{
			rolePatient: nil, roleOtherPatient: bank.ErrSelf, roleGuardian: nil, rolePractitioner: nil, roleAdminA: nil, roleAdminB: nil,
			roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
		},
		check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
			if got := h.Account(k(apptest.Patient2)).Balance; got != apptest.Balance+1234 {
				t.Fatalf("recipient balance %d", got)
			}
			if got := h.Account(signer).Balance; got != apptest.Balance-1234 {
				t.Fatalf("sender balance %d", got)
			}
		},
	}
}

// TestBankSendRefusals: a transfer to an address with no account, to a
// deactivated account or beyond the balance fails with its own code and
// moves nothing (the fee and sequence are still taken).
func TestBankSendRefusals(t *testing.T) {
	h := apptest.New(t)
	p1 := k(apptest.Patient1)
	h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), &accounts.MsgDeactivateMember{Address: k(apptest.HospitalNurse).Address()}))
	var stranger crypto.Address
	stranger[0] = 0x42
	for _, c := range []struct {
		name string
		msg  *bank.MsgSend
		want *sm.Error
	}{
		{"unknown recipient", &bank.MsgSend{To: stranger, Amount: 1}, bank.ErrNoAccount},
		{"module pool recipient", &bank.MsgSend{To: bank.ModuleAddress("staking", "rewards"), Amount: 1}, bank.ErrNoAccount},
		{"deactivated recipient", &bank.MsgSend{To: k(apptest.HospitalNurse).Address(), Amount: 1}, bank.ErrInactive},
		{"beyond the balance", &bank.MsgSend{To: k(apptest.Patient2).Address(), Amount: apptest.Balance}, bank.ErrFunds},
		{"zero", &bank.MsgSend{To: k(apptest.Patient2).Address(), Amount: 0}, bank.ErrAmount},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := h.Deliver(t, h.SignFee(p1, 1, c.msg))
			if r := res[0]; r.Code != c.want.Code || r.Codespace != c.want.Codespace {
				t.Fatalf("%s/%d %s, want %s/%d", r.Codespace, r.Code, r.Log, c.want.Codespace, c.want.Code)
			}
		})
	}
	if got := h.Account(p1).Balance; got != apptest.Balance-5 {
		t.Fatalf("balance %d: only the five fees should be gone", got)
	}
}
