package app_test

import (
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/fees"
	"github.com/medchain/medchain/x/staking"
)

func wantFeeCode(t *testing.T, what string, r *abci.ExecTxResult, want *sm.Error) {
	t.Helper()
	if want == nil {
		if r.Code != 0 {
			t.Fatalf("%s: %s/%d %s", what, r.Codespace, r.Code, r.Log)
		}
		return
	}
	if r.Code != want.Code || r.Codespace != want.Codespace {
		t.Fatalf("%s: %s/%d %s, want %s/%d", what, r.Codespace, r.Code, r.Log, want.Codespace, want.Code)
	}
}

// TestMinFeePerType: fees.min.<type> is a floor for that type only; a fee
// goes to the validators (the rewards pool) at the next block, and the
// supply does not move.
func TestMinFeePerType(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Config{Params: map[string]uint64{fees.ParamMinPrefix + bank.TypeSend: 50}})
	p1, p2 := k(apptest.Patient1), k(apptest.Patient2)
	send := &bank.MsgSend{To: p2.Address(), Amount: 10}
	if r := h.Check(t, h.SignFee(p1, 49, send)); r.Code != sm.ErrFeeTooLow.Code {
		t.Fatalf("CheckTx of a fee below the type's minimum: %d %s", r.Code, r.Log)
	}
	h.Resync(p1)
	supply := bank.Supply(h.State())
	h.DeliverOK(t, h.SignFee(p1, 50, send), h.SignFee(p2, 0, &staking.MsgDelegate{Validator: k(apptest.Validator).PubKey(), Amount: 5000}))
	h.Finalize(t) // the next block's BeginBlock takes the fees
	if got := h.Account(p1).Balance; got != apptest.Balance-60 {
		t.Fatalf("sender %d", got)
	}
	if accounts.FeePool(h.State()) != 0 || bank.Supply(h.State()) != supply {
		t.Fatalf("fee pool %d, supply %d (was %d)", accounts.FeePool(h.State()), bank.Supply(h.State()), supply)
	}
}

// TestFeeMarket: with the market on, blocks fuller than the target raise
// the base fee block after block, a fee under it is refused, and empty
// blocks bring it back down to the minimum.
func TestFeeMarket(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Config{Params: map[string]uint64{
		fees.ParamMarketEnabled: 1, fees.ParamMarketTarget: 2, fees.ParamMarketMinBase: 100, fees.ParamMarketDenominator: 8,
	}})
	keeper := fees.Keeper{Params: h.App.Params()}
	if b := keeper.BaseFee(h.State()); b != 100 {
		t.Fatalf("starting base fee %d", b)
	}
	senders := []*crypto.PrivKey{k(apptest.Patient1), k(apptest.Patient2), k(apptest.Patient3), k(apptest.HospitalDoctor), k(apptest.LabAdmin), k(apptest.PharmacyAdmin)}
	to := k(apptest.HospitalAdmin).Address()
	prev := uint64(100)
	for i := range 5 {
		base := keeper.BaseFee(h.State())
		var txs [][]byte
		for _, s := range senders {
			txs = append(txs, h.SignFee(s, base, &bank.MsgSend{To: to, Amount: 1}))
		}
		h.DeliverOK(t, txs...)
		// 6 transactions against a target of 2: +base·4/2/8 = base/4.
		got := keeper.BaseFee(h.State())
		if want := base + base*4/2/8; got != want || got <= prev && i > 0 {
			t.Fatalf("block %d: base fee %d, want %d", i, got, want)
		}
		prev = got
	}
	base := keeper.BaseFee(h.State())
	wantFeeCode(t, "fee below the base fee", h.Deliver(t, h.SignFee(k(apptest.Patient1), base-1, &bank.MsgSend{To: to, Amount: 1}))[0], sm.ErrFeeTooLow)
	h.Resync(k(apptest.Patient1))
	for range 40 {
		h.Finalize(t)
	}
	if b := keeper.BaseFee(h.State()); b != 100 {
		t.Fatalf("after empty blocks the base fee is %d, want the minimum 100", b)
	}
	if got := fees.NextBaseFee(100, 0, 2, 8, 100, 1000); got != 100 {
		t.Fatalf("floor %d", got)
	}
	if got := fees.NextBaseFee(990, 100, 2, 8, 100, 1000); got != 1000 {
		t.Fatalf("ceiling %d", got)
	}
	if got := fees.NextBaseFee(1, 3, 2, 8, 0, 1000); got != 2 {
		t.Fatalf("a full block raises even a tiny base fee: %d", got)
	}
}

// TestSponsorship: a hospital admin grants a newcomer an allowance; the
// newcomer registers with no tokens (the registration fee, fees.min of the
// type, paid by the admin), then transacts within the allowance's types,
// per-period limit, total limit and expiry, each refusal with its code.
func TestSponsorship(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Config{Params: map[string]uint64{fees.ParamMinPrefix + accounts.TypeRegisterPatient: 10}})
	admin, newcomer, lab := k(apptest.HospitalAdmin), k("sponsored-patient"), k(apptest.LabAdmin)
	reg := &accounts.MsgRegisterPatient{EncKey: newcomer.EncKey()}
	paid := func(key *crypto.PrivKey, fee uint64, payer crypto.Address, msg sm.Msg) []byte {
		seq := h.Seq(key)
		return sm.SignTxPaidBy(key, apptest.ChainID, seq, fee, payer, msg)
	}
	// Unsponsored, a registration that must pay a fee is refused.
	wantFeeCode(t, "unsponsored registration", h.Deliver(t, h.SignFee(newcomer, 0, reg))[0], sm.ErrFeeTooLow)
	h.Resync(newcomer)
	wantFeeCode(t, "sponsor without an allowance", h.Deliver(t, paid(newcomer, 10, admin.Address(), reg))[0], fees.ErrNoAllowance)
	expiry := h.NextTime().Add(time.Hour).Unix()
	grant := &fees.MsgGrant{Grantee: newcomer.Address(), Limit: 35, Period: 600, PeriodLimit: 25, Expiry: expiry,
		Types: []string{accounts.TypeRegisterPatient, bank.TypeSend}}
	wantFeeCode(t, "a patient cannot grant", h.Deliver(t, h.Sign(k(apptest.Patient1), grant))[0], fees.ErrNotGranter)
	h.DeliverOK(t, h.Sign(admin, grant))
	before := h.Account(admin).Balance
	h.DeliverOK(t, paid(newcomer, 10, admin.Address(), reg))
	if a := h.Account(newcomer); a == nil || a.Balance != 0 || a.Sequence != 1 {
		t.Fatalf("newcomer %+v", a)
	}
	if got := h.Account(admin).Balance; got != before-10 {
		t.Fatalf("admin paid %d", before-got)
	}
	h.DeliverOK(t, h.Sign(k(apptest.Patient1), &bank.MsgSend{To: newcomer.Address(), Amount: 100}))
	send := &bank.MsgSend{To: k(apptest.Patient1).Address(), Amount: 1}
	h.ResyncAll()
	wantFeeCode(t, "type outside the allowance", h.Deliver(t, paid(newcomer, 1, admin.Address(), &staking.MsgDelegate{Validator: k(apptest.Validator).PubKey(), Amount: 1000}))[0], fees.ErrTypeNotAllowed)
	wantFeeCode(t, "someone else's sponsor", h.Deliver(t, paid(newcomer, 1, lab.Address(), send))[0], fees.ErrNoAllowance)
	h.DeliverOK(t, paid(newcomer, 15, admin.Address(), send)) // period: 25 of 25
	h.ResyncAll()
	wantFeeCode(t, "over the period's limit", h.Deliver(t, paid(newcomer, 1, admin.Address(), send))[0], fees.ErrPeriodLimit)
	h.Advance(10 * time.Minute)                               // a new period
	h.DeliverOK(t, paid(newcomer, 10, admin.Address(), send)) // total: 35 of 35
	h.ResyncAll()
	wantFeeCode(t, "over the total limit", h.Deliver(t, paid(newcomer, 1, admin.Address(), send))[0], fees.ErrLimit)
	if got := h.Account(newcomer).Balance; got != 98 {
		t.Fatalf("the sponsored patient paid fees itself: balance %d", got)
	}
	a := fees.GetAllowance(h.State(), admin.Address(), newcomer.Address())
	if a.Spent != 35 {
		t.Fatalf("allowance %+v", a)
	}
	// A fresh allowance that expires: refused after its expiry; revoked: gone.
	h.DeliverOK(t, h.Sign(admin, &fees.MsgGrant{Grantee: newcomer.Address(), Limit: 100, Expiry: h.NextTime().Add(time.Minute).Unix()}))
	h.Advance(2 * time.Minute)
	h.ResyncAll()
	wantFeeCode(t, "expired", h.Deliver(t, paid(newcomer, 1, admin.Address(), send))[0], fees.ErrExpired)
	h.ResyncAll()
	h.DeliverOK(t, h.Sign(admin, &fees.MsgRevoke{Grantee: newcomer.Address()}))
	wantFeeCode(t, "revoke twice", h.Deliver(t, h.Sign(admin, &fees.MsgRevoke{Grantee: newcomer.Address()}))[0], fees.ErrNoAllowance)
	if fees.GetAllowance(h.State(), admin.Address(), newcomer.Address()) != nil {
		t.Fatal("revoked allowance still there")
	}
}
