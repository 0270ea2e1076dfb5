package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/staking"
)

var k = apptest.Key

// rawMsg is a message with arbitrary type and bytes, to build transactions
// the modules would never produce.
type rawMsg struct {
	typ string
	b   []byte
}

func (m rawMsg) Type() string           { return m.typ }
func (m rawMsg) Encode(w *codec.Writer) { w.Fixed(m.b) }
func (m rawMsg) ValidateBasic() error   { return nil }

type result interface {
	GetCode() uint32
	GetCodespace() string
	GetLog() string
}

// wantCode fails unless r carries err's code and codespace (nil: success).
func wantCode(t *testing.T, what string, r result, err *sm.Error) {
	t.Helper()
	if err == nil {
		if r.GetCode() != abci.CodeTypeOK {
			t.Fatalf("%s: code %s/%d (%s), want success", what, r.GetCodespace(), r.GetCode(), r.GetLog())
		}
		return
	}
	if r.GetCode() != err.Code || r.GetCodespace() != err.Codespace {
		t.Fatalf("%s: code %s/%d (%s), want %s/%d %q", what, r.GetCodespace(), r.GetCode(), r.GetLog(), err.Codespace, err.Code, err.Desc)
	}
}

func guardianMsg(name string) *accounts.MsgSetGuardian {
	return &accounts.MsgSetGuardian{Guardian: k(name).Address()}
}

// flip returns a copy of tx with bit 0 of one body byte changed: off counts
// from the start of the body, or from its end when negative.
func flip(t *testing.T, tx []byte, off int) []byte {
	t.Helper()
	if tx[1] >= 0x80 {
		t.Fatal("flip wants a body shorter than 128 bytes (a one-byte length)")
	}
	body := tx[2 : 2+int(tx[1])]
	if off < 0 {
		off += len(body)
	}
	out := bytes.Clone(tx)
	out[2+off] ^= 0x01
	return out
}

func TestRejections(t *testing.T) {
	// Offsets into the body of a set_guardian tx with sequence 0 and fee 0:
	// chain id length, chain id, signer (32), sequence, fee, type length,
	// type, msg length, msg (a 20-byte address, so the last 5 bytes are in it).
	n := len(apptest.ChainID)
	var (
		offChainIDLen = 0
		offChainID    = 1
		offSigner     = 1 + n + 5
		offSequence   = 1 + n + 32
		offType       = offSequence + 3 + 3 // past sequence, fee, type length: inside "accounts"
		offMsg        = -5
	)
	tests := []struct {
		name string
		cfg  apptest.Config
		// build returns the bad tx, after any setup blocks it needs.
		build     func(t *testing.T, h *apptest.Harness) []byte
		wantCheck *sm.Error
		wantBlock *sm.Error
	}{
		{
			name: "tampered msg",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return flip(t, h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2)), offMsg)
			},
			wantCheck: sm.ErrBadSignature, wantBlock: sm.ErrBadSignature,
		},
		{
			name: "tampered signer",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return flip(t, h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2)), offSigner)
			},
			wantCheck: sm.ErrBadSignature, wantBlock: sm.ErrBadSignature,
		},
		{
			name: "tampered sequence",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return flip(t, h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2)), offSequence)
			},
			wantCheck: sm.ErrBadSignature, wantBlock: sm.ErrBadSignature,
		},
		{
			name: "tampered length prefix",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return flip(t, h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2)), offChainIDLen)
			},
			wantCheck: sm.ErrTxDecode, wantBlock: sm.ErrTxDecode,
		},
		{
			// CheckTx checks the chain id before the (costlier) signature;
			// FinalizeBlock batch-verifies signatures first. Both reject.
			name: "tampered chain id",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return flip(t, h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2)), offChainID)
			},
			wantCheck: sm.ErrWrongChainID, wantBlock: sm.ErrBadSignature,
		},
		{
			name: "tampered type",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return flip(t, h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2)), offType)
			},
			wantCheck: sm.ErrUnknownType, wantBlock: sm.ErrBadSignature,
		},
		{
			name: "tampered signature",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				tx := h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2))
				tx[len(tx)-1] ^= 0x80
				return tx
			},
			wantCheck: sm.ErrBadSignature, wantBlock: sm.ErrBadSignature,
		},
		{
			name: "wrong chain id",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return sm.SignTx(k(apptest.Patient1), "other-chain", 0, 0, guardianMsg(apptest.Patient2))
			},
			wantCheck: sm.ErrWrongChainID, wantBlock: sm.ErrWrongChainID,
		},
		{
			name: "replayed tx",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				tx := h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2))
				h.DeliverOK(t, tx)
				return tx
			},
			wantCheck: sm.ErrBadSequence, wantBlock: sm.ErrBadSequence,
		},
		{
			name: "sequence ahead",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return sm.SignTx(k(apptest.Patient1), apptest.ChainID, h.Seq(k(apptest.Patient1))+1, 0, guardianMsg(apptest.Patient2))
			},
			wantCheck: sm.ErrBadSequence, wantBlock: sm.ErrBadSequence,
		},
		{
			name: "signed by another key",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				body := codec.Marshal(sm.Body{ChainID: apptest.ChainID, Signer: k(apptest.Patient1).PubKey(), Type: accounts.TypeSetGuardian, Msg: codec.Marshal(guardianMsg(apptest.Patient2))})
				return sm.EncodeTx(body, k(apptest.Patient2).Sign(sm.SignBytes(body)))
			},
			wantCheck: sm.ErrBadSignature, wantBlock: sm.ErrBadSignature,
		},
		{
			name: "oversize",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				tx := h.Sign(k(apptest.Patient1), rawMsg{accounts.TypeSetGuardian, make([]byte, sm.MaxTxBytes)})
				if len(tx) <= sm.MaxTxBytes {
					t.Fatal("tx not oversize")
				}
				return tx
			},
			wantCheck: sm.ErrTxTooLarge, wantBlock: sm.ErrTxTooLarge,
		},
		{
			name: "unknown message type",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return h.Sign(k(apptest.Patient1), rawMsg{"records/nope", nil})
			},
			wantCheck: sm.ErrUnknownType, wantBlock: sm.ErrUnknownType,
		},
		{
			name: "signer without account",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return h.Sign(k("stranger"), guardianMsg(apptest.Patient2))
			},
			wantCheck: sm.ErrUnknownSigner, wantBlock: sm.ErrUnknownSigner,
		},
		{
			name: "new key registering with a fee",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return sm.SignTx(k("stranger"), apptest.ChainID, 0, 1, &accounts.MsgRegisterPatient{EncKey: k("stranger").EncKey()})
			},
			wantCheck: sm.ErrFunds, wantBlock: sm.ErrFunds,
		},
		{
			name: "deactivated signer",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), &accounts.MsgDeactivateMember{Address: k(apptest.HospitalDoctor).Address()}))
				return h.Sign(k(apptest.HospitalDoctor), &accounts.MsgRegisterMember{PubKey: k("x").PubKey(), EncKey: k("x").EncKey(), Role: accounts.RoleStaff})
			},
			wantCheck: sm.ErrInactive, wantBlock: sm.ErrInactive,
		},
		{
			name: "fee below minimum",
			cfg:  apptest.Config{Params: map[string]uint64{app.ParamMinFee: 5}},
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return sm.SignTx(k(apptest.Patient1), apptest.ChainID, 0, 4, guardianMsg(apptest.Patient2))
			},
			wantCheck: sm.ErrFeeTooLow, wantBlock: sm.ErrFeeTooLow,
		},
		{
			name: "fee above balance",
			build: func(t *testing.T, h *apptest.Harness) []byte {
				return sm.SignTx(k(apptest.Patient1), apptest.ChainID, 0, apptest.Balance+1, guardianMsg(apptest.Patient2))
			},
			wantCheck: sm.ErrFunds, wantBlock: sm.ErrFunds,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := apptest.NewWithConfig(t, tt.cfg)
			h.DeliverOK(t) // an empty first block: CheckTx then reads committed state
			tx := tt.build(t, h)
			before := h.AppHash()
			seq := h.Account(k(apptest.Patient1)).Sequence

			wantCode(t, "CheckTx", h.Check(t, tx), tt.wantCheck)
			res := h.Deliver(t, tx)
			wantCode(t, "FinalizeBlock", res[0], tt.wantBlock)
			if len(res[0].Events) != 0 {
				t.Errorf("a rejected tx emitted events: %v", res[0].Events)
			}
			// Rejected by the envelope: nothing changed, not even the
			// sequence (which only advances for authenticated txs).
			if !bytes.Equal(h.Last.AppHash, before) {
				t.Fatalf("app hash changed: %X -> %X", before, h.Last.AppHash)
			}
			if got := h.Account(k(apptest.Patient1)).Sequence; got != seq {
				t.Fatalf("sequence moved %d -> %d", seq, got)
			}
		})
	}
}

// TestNoSingleByteChangeIsAccepted flips each bit-0 of every byte of a signed
// transaction: none may pass CheckTx or FinalizeBlock, and a block of all of
// them changes nothing.
func TestNoSingleByteChangeIsAccepted(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t)
	tx := h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2))
	var bad [][]byte
	for i := range tx {
		mod := bytes.Clone(tx)
		mod[i] ^= 0x01
		bad = append(bad, mod)
		if r := h.Check(t, mod); r.Code == abci.CodeTypeOK {
			t.Fatalf("CheckTx accepted the tx with byte %d changed", i)
		}
	}
	before := h.AppHash()
	for i, r := range h.Deliver(t, bad...) {
		if r.Code == abci.CodeTypeOK {
			t.Fatalf("FinalizeBlock accepted the tx with byte %d changed", i)
		}
	}
	if !bytes.Equal(h.Last.AppHash, before) {
		t.Fatal("a block of tampered txs changed the state")
	}
	// The original is still valid.
	h.DeliverOK(t, tx)
}

// TestFailedMessageAdvancesOnlySequence: a transaction that passes the
// envelope but whose message fails still uses its sequence (so it can never
// be replayed) and pays its fee; nothing else changes.
func TestFailedMessageAdvancesOnlySequence(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t)
	admin := k(apptest.HospitalAdmin)
	before := dump(h.State())
	tests := []struct {
		name string
		msg  sm.Msg
		want *sm.Error
	}{
		{"validate basic fails", &accounts.MsgRegisterMember{PubKey: k("x").PubKey(), EncKey: k("x").EncKey(), Role: "wizard"}, accounts.ErrBadRole},
		{"message decode fails", rawMsg{accounts.TypeRegisterMember, []byte{1, 2, 3}}, sm.ErrTxDecode},
		{"execution fails", &accounts.MsgDeactivateMember{Address: admin.Address()}, accounts.ErrSelf},
	}
	seq := h.Account(admin).Sequence
	for _, tt := range tests {
		tx := h.Sign(admin, tt.msg)
		res := h.Deliver(t, tx)
		wantCode(t, tt.name, res[0], tt.want)
		seq++
		if got := h.Account(admin).Sequence; got != seq {
			t.Fatalf("%s: sequence %d, want %d", tt.name, got, seq)
		}
		// The same bytes again are a replay.
		wantCode(t, tt.name+" replayed", h.Deliver(t, tx)[0], sm.ErrBadSequence)
	}
	after := dump(h.State())
	accountKey := string(accounts.AccountKey(admin.Address()))
	for key, v := range before {
		if key != accountKey && after[key] != v {
			t.Errorf("key %x changed", key)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d keys before, %d after", len(before), len(after))
	}
}

func dump(r store.Reader) map[string]string {
	out := map[string]string{}
	r.Iterate(nil, nil, func(k, v []byte) bool {
		out[string(k)] = string(v)
		return true
	})
	return out
}

func TestFeesMoveToThePool(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Config{Params: map[string]uint64{app.ParamMinFee: 5}})
	p1 := k(apptest.Patient1)
	tx := sm.SignTx(p1, apptest.ChainID, 0, 7, guardianMsg(apptest.Patient2))
	h.DeliverOK(t, tx)
	if a := h.Account(p1); a.Balance != apptest.Balance-7 || a.Sequence != 1 {
		t.Fatalf("patient1 = %+v", a)
	}
	// A failing message still pays.
	tx = sm.SignTx(p1, apptest.ChainID, 1, 5, guardianMsg(apptest.Patient2)) // already set
	wantCode(t, "duplicate guardian", h.Deliver(t, tx)[0], accounts.ErrDelegationSet)
	if a := h.Account(p1); a.Balance != apptest.Balance-12 {
		t.Fatalf("balance %d", a.Balance)
	}
	// Each block's BeginBlock moves the fees collected before it to the
	// validators' rewards (x/staking): the 7 of the first block left the
	// fee pool, the 5 of the second are still in it.
	if pool, rewards := accounts.FeePool(h.State()), bank.PoolBalance(h.State(), staking.RewardsPool); pool != 5 || rewards != 7 {
		t.Fatalf("fee pool %d, rewards pool %d, want 5 and 7", pool, rewards)
	}
}

func TestCheckTxTracksMempoolSequences(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t)
	p1 := k(apptest.Patient1)
	tx0 := h.Sign(p1, guardianMsg(apptest.Patient2))
	tx1 := h.Sign(p1, guardianMsg(apptest.Patient3))
	wantCode(t, "seq 1 before seq 0", h.Check(t, tx1), sm.ErrBadSequence)
	wantCode(t, "seq 0", h.Check(t, tx0), nil)
	wantCode(t, "seq 1 after seq 0", h.Check(t, tx1), nil)
	wantCode(t, "seq 0 again", h.Check(t, tx0), sm.ErrBadSequence)
	h.DeliverOK(t, tx0, tx1)
	// After the commit, the included txs are stale.
	resp, err := h.App.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx1, Type: abci.CheckTxType_Recheck})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "recheck of an included tx", resp, sm.ErrBadSequence)
	wantCode(t, "seq 2", h.Check(t, h.Sign(p1, &accounts.MsgRevokeGuardian{Guardian: k(apptest.Patient2).Address()})), nil)
}

func TestSameTxTwiceInOneBlock(t *testing.T) {
	h := apptest.New(t)
	tx := h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2))
	res := h.Deliver(t, tx, tx)
	wantCode(t, "first", res[0], nil)
	wantCode(t, "second", res[1], sm.ErrBadSequence)
}

func TestOutOfOrderInOneBlock(t *testing.T) {
	p1 := k(apptest.Patient1)
	a, b := apptest.New(t), apptest.New(t)
	tx0 := a.Sign(p1, guardianMsg(apptest.Patient2))
	tx1 := a.Sign(p1, guardianMsg(apptest.Patient3))
	res := a.Deliver(t, tx1, tx0)
	wantCode(t, "seq 1 first", res[0], sm.ErrBadSequence)
	wantCode(t, "seq 0 second", res[1], nil)
	// The rejected tx left no trace: same state as delivering tx0 alone.
	b.DeliverOK(t, tx0)
	if !bytes.Equal(a.Last.AppHash, b.Last.AppHash) {
		t.Fatal("the out-of-order tx changed state")
	}
}

// Roles of the authorization table.
const (
	rolePatient      = "patient"
	roleOtherPatient = "other patient"
	roleGuardian     = "guardian of the patient"
	rolePractitioner = "practitioner of org A"
	roleAdminA       = "admin of org A"
	roleAdminB       = "admin of org B"
	roleDeactivated  = "deactivated member"
	roleNewcomer     = "key without account"
)

var roles = []string{rolePatient, roleOtherPatient, roleGuardian, rolePractitioner, roleAdminA, roleAdminB, roleDeactivated, roleNewcomer}

// roleKeys: org A is the hospital, org B the lab. The guardian is a patient
// account to whom patient1 delegated; the deactivated member was the
// hospital's staff.
var roleKeys = map[string]string{
	rolePatient:      apptest.Patient1,
	roleOtherPatient: apptest.Patient2,
	roleGuardian:     apptest.Patient3,
	rolePractitioner: apptest.HospitalDoctor,
	roleAdminA:       apptest.HospitalAdmin,
	roleAdminB:       apptest.LabAdmin,
	roleDeactivated:  apptest.HospitalNurse,
	roleNewcomer:     "newcomer",
}

// authSetup: patient1 names patient3 guardian; the hospital deactivates its
// nurse; the pharmacy proposes a parameter change (proposal 1).
func authSetup(t *testing.T, h *apptest.Harness) {
	h.DeliverOK(t,
		h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient3)),
		h.Sign(k(apptest.HospitalAdmin), &accounts.MsgDeactivateMember{Address: k(apptest.HospitalNurse).Address()}),
		h.Sign(k(apptest.PharmacyAdmin), &gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: app.ParamMinFee, Value: 0}}),
	)
}

// authRow is one message type's row of the authorization table.
type authRow struct {
	// setup adds state the message needs, after authSetup (optional).
	setup func(t *testing.T, h *apptest.Harness)
	// msg builds the message every role signs.
	msg func(h *apptest.Harness) sm.Msg
	// want is the expected result for every role; nil means allowed.
	want map[string]*sm.Error
	// check verifies the effect of an allowed tx (optional).
	check func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey)
}

// authRows is the authorization table: every registered message type must
// have a row. A module's rows may live in its own _test.go file in this
// package, added with func init() { authRows[mymod.TypeX] = authRow{...} }.
var authRows = map[string]authRow{}

func fixedMsg(m sm.Msg) func(*apptest.Harness) sm.Msg {
	return func(*apptest.Harness) sm.Msg { return m }
}

func init() {
	recruit := k("recruit")
	for typ, r := range map[string]authRow{
		accounts.TypeRegisterPatient: {
			msg: fixedMsg(&accounts.MsgRegisterPatient{EncKey: k("newcomer").EncKey()}),
			want: map[string]*sm.Error{
				roleNewcomer: nil, rolePatient: accounts.ErrExists, roleOtherPatient: accounts.ErrExists, roleGuardian: accounts.ErrExists,
				rolePractitioner: accounts.ErrExists, roleAdminA: accounts.ErrExists, roleAdminB: accounts.ErrExists, roleDeactivated: sm.ErrInactive,
			},
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if a := h.Account(signer); a == nil || a.Kind != accounts.KindPatient || a.Sequence != 1 {
					t.Fatalf("registered account = %+v", a)
				}
			},
		},
		accounts.TypeRegisterMember: {
			msg: fixedMsg(&accounts.MsgRegisterMember{PubKey: recruit.PubKey(), EncKey: recruit.EncKey(), Role: accounts.RolePractitioner}),
			want: map[string]*sm.Error{
				// Any active admin registers into their own organization.
				roleAdminA: nil, roleAdminB: nil,
				rolePatient: accounts.ErrNotAdmin, roleOtherPatient: accounts.ErrNotAdmin, roleGuardian: accounts.ErrNotAdmin,
				rolePractitioner: accounts.ErrNotAdmin, roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
			},
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				a := h.Account(recruit)
				if a == nil || a.Org != h.Account(signer).Org || a.Role != accounts.RolePractitioner {
					t.Fatalf("recruit = %+v", a)
				}
			},
		},
		accounts.TypeDeactivateMember: {
			msg: fixedMsg(&accounts.MsgDeactivateMember{Address: k(apptest.HospitalDoctor).Address()}),
			want: map[string]*sm.Error{
				roleAdminA:  nil,
				roleAdminB:  accounts.ErrWrongOrg,
				rolePatient: accounts.ErrNotAdmin, roleOtherPatient: accounts.ErrNotAdmin, roleGuardian: accounts.ErrNotAdmin,
				rolePractitioner: accounts.ErrNotAdmin, roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
			},
			check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
				if h.Account(k(apptest.HospitalDoctor)).Active {
					t.Fatal("doctor still active")
				}
			},
		},
		accounts.TypeSetGuardian: {
			// The message names no patient: the signer is the patient, so
			// every patient may name a guardian for themselves.
			msg: fixedMsg(&accounts.MsgSetGuardian{Guardian: k(apptest.HospitalDoctor).Address()}),
			want: map[string]*sm.Error{
				rolePatient: nil, roleOtherPatient: nil, roleGuardian: nil,
				rolePractitioner: accounts.ErrNotPatient, roleAdminA: accounts.ErrNotPatient, roleAdminB: accounts.ErrNotPatient,
				roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
			},
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if !accounts.CanActFor(h.State(), k(apptest.HospitalDoctor).Address(), signer.Address()) {
					t.Fatal("guardian cannot act for the patient")
				}
			},
		},
		accounts.TypeRevokeGuardian: {
			msg: fixedMsg(&accounts.MsgRevokeGuardian{Guardian: k(apptest.Patient3).Address()}),
			want: map[string]*sm.Error{
				rolePatient: nil,
				// Only the patient who delegated can revoke; the guardian
				// holds no delegation from itself.
				roleOtherPatient: accounts.ErrNoDelegation, roleGuardian: accounts.ErrNoDelegation,
				rolePractitioner: accounts.ErrNotPatient, roleAdminA: accounts.ErrNotPatient, roleAdminB: accounts.ErrNotPatient,
				roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
			},
			check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
				if accounts.IsGuardian(h.State(), k(apptest.Patient1).Address(), k(apptest.Patient3).Address()) {
					t.Fatal("delegation not revoked")
				}
			},
		},
		accounts.TypeSetOrgKey: {
			msg: fixedMsg(&accounts.MsgSetOrgKey{EncKey: k("org-gateway").EncKey()}),
			want: map[string]*sm.Error{
				// Each admin sets the key of their own organization.
				roleAdminA: nil, roleAdminB: nil,
				rolePatient: accounts.ErrNotAdmin, roleOtherPatient: accounts.ErrNotAdmin, roleGuardian: accounts.ErrNotAdmin,
				rolePractitioner: accounts.ErrNotAdmin, roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
			},
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				org := h.Account(signer).Org
				if o := accounts.GetOrg(h.State(), org); o.EncKey != k("org-gateway").EncKey() {
					t.Fatalf("org %s key not set", org)
				}
				for _, o := range accounts.Orgs(h.State()) {
					if o.ID != org && o.EncKey != (crypto.EncKey{}) {
						t.Fatalf("org %s key changed too", o.ID)
					}
				}
			},
		},
		gov.TypePropose: {
			msg: fixedMsg(&gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: gov.ParamVotingPeriod, Value: 3600}}),
			want: map[string]*sm.Error{
				roleAdminA: nil, roleAdminB: nil,
				rolePatient: gov.ErrNotMember, roleOtherPatient: gov.ErrNotMember, roleGuardian: gov.ErrNotMember,
				rolePractitioner: gov.ErrNotMember, roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
			},
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if p := gov.GetProposal(h.State(), 2); p == nil || p.Proposer != signer.Address() {
					t.Fatalf("proposal 2 = %+v", p)
				}
			},
		},
		gov.TypeVote: {
			msg: fixedMsg(&gov.MsgVote{ProposalID: 1, Approve: false}),
			want: map[string]*sm.Error{
				roleAdminA: nil, roleAdminB: nil,
				rolePatient: gov.ErrNotMember, roleOtherPatient: gov.ErrNotMember, roleGuardian: gov.ErrNotMember,
				rolePractitioner: gov.ErrNotMember, roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
			},
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				p := gov.GetProposal(h.State(), 1)
				org := h.Account(signer).Org
				if !slices.Contains(p.Votes, gov.Vote{Org: org, Approve: false}) {
					t.Fatalf("vote of %s not recorded: %+v", org, p.Votes)
				}
			},
		},
	} {
		authRows[typ] = r
	}
}

// TestAuthorization runs every registered message type as every role, each
// on a fresh chain, and checks the exact result code (CheckTx too for
// envelope errors). A type without a row fails the test.
func TestAuthorization(t *testing.T) {
	types := apptest.New(t).App.Router().Types()
	for _, typ := range types {
		r, ok := authRows[typ]
		if !ok {
			t.Errorf("message type %s has no row in the authorization table", typ)
			continue
		}
		for _, role := range roles {
			want, ok := r.want[role]
			if !ok {
				t.Errorf("%s: no expectation for role %q", typ, role)
				continue
			}
			t.Run(typ+"/"+role, func(t *testing.T) {
				h := apptest.New(t)
				authSetup(t, h)
				if r.setup != nil {
					r.setup(t, h)
				}
				msg := r.msg(h)
				if msg.Type() != typ {
					t.Fatalf("row %s builds a %s", typ, msg.Type())
				}
				signer := k(roleKeys[role])
				tx := h.Sign(signer, msg)
				before := h.AppHash()
				check := h.Check(t, tx)
				res := h.Deliver(t, tx)[0]
				wantCode(t, "FinalizeBlock", res, want)
				// The envelope (codespace tx) is checked in CheckTx; the
				// message's own rules need state and run in FinalizeBlock.
				if want != nil && want.Codespace == sm.Codespace {
					wantCode(t, "CheckTx", check, want)
					if !bytes.Equal(h.Last.AppHash, before) {
						t.Fatal("rejected envelope changed state")
					}
				} else {
					wantCode(t, "CheckTx", check, nil)
				}
				if want == nil && r.check != nil {
					r.check(t, h, signer)
				}
			})
		}
	}
	for typ := range authRows {
		if !slices.Contains(types, typ) {
			t.Errorf("table row %s is not a registered type", typ)
		}
	}
}

// TestGovernanceValidators: with three member orgs, a proposal passes on the
// second yes and its validator change reaches CometBFT in that block.
func TestGovernanceValidators(t *testing.T) {
	h := apptest.New(t)
	hosp, lab, pharm := k(apptest.HospitalAdmin), k(apptest.LabAdmin), k(apptest.PharmacyAdmin)
	v2 := k("validator2").PubKey()
	genesisVal := k(apptest.Validator).PubKey()

	resp := h.Finalize(t, h.Sign(hosp, &gov.MsgPropose{Action: gov.Action{Kind: gov.KindAddValidator, Validator: v2, Power: 7, OrgID: apptest.OrgLab}}))
	wantCode(t, "propose", resp.TxResults[0], nil)
	if p := gov.GetProposal(h.State(), 1); p.Status != gov.StatusOpen || len(p.Votes) != 1 || p.Votes[0] != (gov.Vote{Org: apptest.OrgHospital, Approve: true}) {
		t.Fatalf("after proposing: %+v", p)
	}
	if len(resp.ValidatorUpdates) != 0 {
		t.Fatalf("updates before passing: %v", resp.ValidatorUpdates)
	}

	resp = h.Finalize(t, h.Sign(lab, &gov.MsgVote{ProposalID: 1, Approve: true}))
	wantCode(t, "second yes", resp.TxResults[0], nil)
	if p := gov.GetProposal(h.State(), 1); p.Status != gov.StatusPassed {
		t.Fatalf("status %s %q", p.Status, p.Result)
	}
	wantUpdates(t, resp, abci.Ed25519ValidatorUpdate(v2[:], 7))
	if !hasEvent(resp.TxResults[0], "validator_added") || !hasEvent(resp.TxResults[0], "proposal_closed") {
		t.Fatalf("events: %v", resp.TxResults[0].Events)
	}
	wantCode(t, "vote on a passed proposal", h.Deliver(t, h.Sign(pharm, &gov.MsgVote{ProposalID: 1, Approve: true}))[0], gov.ErrClosed)

	// Remove it again: power 0.
	h.DeliverOK(t, h.Sign(pharm, &gov.MsgPropose{Action: gov.Action{Kind: gov.KindRemoveValidator, Validator: v2}}))
	resp = h.Finalize(t, h.Sign(hosp, &gov.MsgVote{ProposalID: 2, Approve: true}))
	wantCode(t, "remove validator", resp.TxResults[0], nil)
	wantUpdates(t, resp, abci.Ed25519ValidatorUpdate(v2[:], 0))

	// The last validator stays: the proposal passes the vote but fails.
	h.DeliverOK(t, h.Sign(lab, &gov.MsgPropose{Action: gov.Action{Kind: gov.KindRemoveValidator, Validator: genesisVal}}))
	resp = h.Finalize(t, h.Sign(pharm, &gov.MsgVote{ProposalID: 3, Approve: true}))
	wantCode(t, "vote to remove the last validator", resp.TxResults[0], nil)
	p := gov.GetProposal(h.State(), 3)
	if p.Status != gov.StatusFailed || !strings.Contains(p.Result, gov.ErrLastValidator.Desc) {
		t.Fatalf("status %s %q", p.Status, p.Result)
	}
	wantUpdates(t, resp)
	if gov.GetValidator(h.State(), genesisVal) == nil {
		t.Fatal("last validator removed")
	}
}

func wantUpdates(t *testing.T, resp *abci.ResponseFinalizeBlock, want ...abci.ValidatorUpdate) {
	t.Helper()
	if len(resp.ValidatorUpdates) != len(want) {
		t.Fatalf("validator updates %v, want %v", resp.ValidatorUpdates, want)
	}
	for i := range want {
		got := resp.ValidatorUpdates[i]
		if got.Power != want[i].Power || !bytes.Equal(got.PubKey.GetEd25519(), want[i].PubKey.GetEd25519()) {
			t.Fatalf("validator update %d = %v, want %v", i, resp.ValidatorUpdates[i], want[i])
		}
	}
}

func hasEvent(r *abci.ExecTxResult, typ string) bool {
	for _, e := range r.Events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

func TestGovernanceExpiry(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Config{Params: map[string]uint64{gov.ParamVotingPeriod: 60}})
	h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), &gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: app.ParamMinFee, Value: 3}}))
	p := gov.GetProposal(h.State(), 1)
	if p.Expires != h.Time.Unix()+60 {
		t.Fatalf("expires %d, want block time + 60", p.Expires)
	}
	h.Advance(60*time.Second - apptest.BlockInterval) // next block's time is exactly the expiry
	res := h.Deliver(t, h.Sign(k(apptest.LabAdmin), &gov.MsgVote{ProposalID: 1, Approve: true}))
	if h.Time.Unix() != p.Expires {
		t.Fatalf("block time %d, expiry %d", h.Time.Unix(), p.Expires)
	}
	wantCode(t, "vote at expiry", res[0], gov.ErrExpired)
	if got := h.App.Params().Get(h.State(), app.ParamMinFee); got != 0 {
		t.Fatalf("expired proposal executed: min fee %d", got)
	}
}

func TestGovernanceDoubleVote(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), &gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: app.ParamMinFee, Value: 3}}))
	h.DeliverOK(t, h.Sign(k(apptest.LabAdmin), &gov.MsgVote{ProposalID: 1, Approve: false}))
	res := h.Deliver(t,
		h.Sign(k(apptest.LabAdmin), &gov.MsgVote{ProposalID: 1, Approve: true}),
		h.Sign(k(apptest.HospitalAdmin), &gov.MsgVote{ProposalID: 1, Approve: true}),
	)
	wantCode(t, "second vote of the lab", res[0], gov.ErrAlreadyVoted)
	wantCode(t, "vote of the proposing org", res[1], gov.ErrAlreadyVoted)
	if p := gov.GetProposal(h.State(), 1); p.Status != gov.StatusOpen || len(p.Votes) != 2 {
		t.Fatalf("proposal %+v", p)
	}
	wantCode(t, "no such proposal", h.Deliver(t, h.Sign(k(apptest.LabAdmin), &gov.MsgVote{ProposalID: 9, Approve: true}))[0], gov.ErrNoProposal)
}

func TestGovernanceSetParam(t *testing.T) {
	h := apptest.New(t)
	hosp := k(apptest.HospitalAdmin)
	// Out of range: CheckTx cannot know the registry's bounds, FinalizeBlock rejects.
	bad := h.Sign(hosp, &gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: gov.ParamVotingPeriod, Value: 59}})
	wantCode(t, "CheckTx", h.Check(t, bad), nil)
	wantCode(t, "out of range", h.Deliver(t, bad)[0], params.ErrOutOfRange)
	wantCode(t, "unknown param", h.Deliver(t, h.Sign(hosp, &gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: "no.such", Value: 1}}))[0], params.ErrUnknown)
	if gov.GetProposal(h.State(), 1) != nil {
		t.Fatal("a rejected proposal was stored")
	}

	h.DeliverOK(t, h.Sign(hosp, &gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: app.ParamMinFee, Value: 2}}))
	h.DeliverOK(t, h.Sign(k(apptest.PharmacyAdmin), &gov.MsgVote{ProposalID: 1, Approve: true}))
	if got := h.App.Params().Get(h.State(), app.ParamMinFee); got != 2 {
		t.Fatalf("min fee %d, want 2", got)
	}
	// The new minimum applies from the next transaction on.
	wantCode(t, "fee 0 after the change", h.Check(t, h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2))), sm.ErrFeeTooLow)
}

func TestGovernanceAddMember(t *testing.T) {
	h := apptest.New(t)
	newAdmin, nurse := k("clinic-admin"), k("clinic-nurse")
	action := gov.Action{Kind: gov.KindAddMember, Org: accounts.GenesisOrg{ID: "new-clinic", Name: "New Clinic", Type: "clinic"}, AdminPubKey: newAdmin.PubKey(), AdminEncKey: newAdmin.EncKey()}
	// Before it exists, the new admin cannot sign.
	wantCode(t, "before", h.Check(t, h.Sign(newAdmin, &accounts.MsgRegisterMember{PubKey: nurse.PubKey(), EncKey: nurse.EncKey(), Role: accounts.RoleStaff})), sm.ErrUnknownSigner)
	h.Resync(newAdmin)

	h.DeliverOK(t, h.Sign(k(apptest.LabAdmin), &gov.MsgPropose{Action: action}))
	res := h.DeliverOK(t, h.Sign(k(apptest.PharmacyAdmin), &gov.MsgVote{ProposalID: 1, Approve: true}))
	if !hasEvent(res[0], "member_added") {
		t.Fatalf("events %v", res[0].Events)
	}
	o := accounts.GetOrg(h.State(), "new-clinic")
	if o == nil || !o.Active {
		t.Fatalf("org = %+v", o)
	}
	h.DeliverOK(t, h.Sign(newAdmin, &accounts.MsgRegisterMember{PubKey: nurse.PubKey(), EncKey: nurse.EncKey(), Role: accounts.RoleStaff}))
	if a := h.Account(nurse); a == nil || a.Org != "new-clinic" {
		t.Fatalf("nurse = %+v", a)
	}
	// Four members now: the new org votes, and two yes are not enough.
	h.DeliverOK(t, h.Sign(newAdmin, &gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: app.ParamMinFee, Value: 1}}))
	h.DeliverOK(t, h.Sign(k(apptest.LabAdmin), &gov.MsgVote{ProposalID: 2, Approve: true}))
	if s := gov.GetProposal(h.State(), 2).Status; s != gov.StatusOpen {
		t.Fatalf("2 of 4: %s", s)
	}
	h.DeliverOK(t, h.Sign(k(apptest.HospitalAdmin), &gov.MsgVote{ProposalID: 2, Approve: true}))
	if s := gov.GetProposal(h.State(), 2).Status; s != gov.StatusPassed {
		t.Fatalf("3 of 4: %s", s)
	}
}

// gen produces a seeded, reproducible mix of transactions, valid and not.
type gen struct {
	rng      *randSource
	ref      *apptest.Harness // whose committed state the signer sequences come from
	patients []string
	members  []string // member keys, by name
	admins   []string
	all      []string
	fresh    int
	props    uint64
}

func newGen(seed uint64, ref *apptest.Harness) *gen {
	return &gen{
		rng:      newRand(seed),
		ref:      ref,
		patients: []string{apptest.Patient1, apptest.Patient2, apptest.Patient3},
		members:  []string{apptest.HospitalDoctor, apptest.HospitalNurse},
		admins:   []string{apptest.HospitalAdmin, apptest.LabAdmin, apptest.PharmacyAdmin},
	}
}

func (g *gen) pick(names []string) string { return names[g.rng.intn(len(names))] }

// mostlyAdmin is an admin three times in four, else anyone.
func (g *gen) mostlyAdmin() string {
	if g.rng.intn(4) > 0 {
		return g.pick(g.admins)
	}
	return g.anyone()
}

func (g *gen) anyone() string {
	all := append(append(append([]string{}, g.patients...), g.members...), g.admins...)
	return g.pick(all)
}

func (g *gen) block() [][]byte {
	h := g.ref
	h.ResyncAll()
	n := g.rng.intn(7)
	txs := make([][]byte, 0, n)
	for range n {
		var tx []byte
		switch g.rng.intn(12) {
		case 0:
			g.fresh++
			name := fmt.Sprintf("gen-patient-%d", g.fresh)
			g.patients = append(g.patients, name)
			tx = h.Sign(k(name), &accounts.MsgRegisterPatient{EncKey: k(name).EncKey()})
		case 1:
			tx = h.Sign(k(g.pick(g.patients)), guardianMsg(g.anyone()))
		case 2:
			tx = h.Sign(k(g.pick(g.patients)), &accounts.MsgRevokeGuardian{Guardian: k(g.anyone()).Address()})
		case 3:
			g.fresh++
			name := fmt.Sprintf("gen-member-%d", g.fresh)
			g.members = append(g.members, name)
			tx = h.Sign(k(g.mostlyAdmin()), &accounts.MsgRegisterMember{PubKey: k(name).PubKey(), EncKey: k(name).EncKey(), Role: g.pick(accounts.Roles)})
		case 4:
			tx = h.Sign(k(g.pick(g.admins)), &accounts.MsgDeactivateMember{Address: k(g.pick(g.members)).Address()})
		case 5:
			g.props++
			a := gov.Action{Kind: gov.KindSetParam, Param: gov.ParamVotingPeriod, Value: uint64(30 + g.rng.intn(100))} // sometimes out of range
			if g.rng.intn(2) == 0 {
				a = gov.Action{Kind: gov.KindAddValidator, Validator: k(fmt.Sprintf("gen-val-%d", g.rng.intn(4))).PubKey(), Power: int64(1 + g.rng.intn(20)), OrgID: g.pick([]string{apptest.OrgHospital, apptest.OrgLab, "nope"})}
			}
			tx = h.Sign(k(g.mostlyAdmin()), &gov.MsgPropose{Action: a})
		case 6, 7:
			tx = h.Sign(k(g.pick(g.admins)), &gov.MsgVote{ProposalID: uint64(1 + g.rng.intn(int(g.props)+1)/2 + int(g.props)/2), Approve: g.rng.intn(3) > 0})
		case 8:
			s := k(g.anyone())
			tx = sm.SignTx(s, apptest.ChainID, h.Seq(s)+uint64(1+g.rng.intn(3)), 0, guardianMsg(g.anyone())) // ahead
		case 9:
			tx = sm.SignTx(k(g.anyone()), "other-chain", 0, 0, guardianMsg(g.anyone()))
		case 10:
			tx = h.Sign(k(g.anyone()), guardianMsg(g.anyone()))
			tx[g.rng.intn(len(tx))] ^= byte(1 + g.rng.intn(255))
		case 11:
			tx = make([]byte, g.rng.intn(200))
			for i := range tx {
				tx[i] = byte(g.rng.intn(256))
			}
		}
		txs = append(txs, tx)
	}
	return txs
}

// randSource is a tiny deterministic generator (SplitMix64), so the test
// does not depend on math/rand's stream staying the same across releases.
type randSource struct{ s uint64 }

func newRand(seed uint64) *randSource { return &randSource{s: seed} }

func (r *randSource) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *randSource) intn(n int) int { return int(r.next() % uint64(n)) }

func mustMarshal(t *testing.T, resp *abci.ResponseFinalizeBlock) []byte {
	t.Helper()
	b, err := resp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeterminism: two independent instances fed the same blocks return the
// same FinalizeBlock response at every height: app hash, every tx's code,
// log and events, and validator updates. Instance a also sees every tx in
// CheckTx first (so it takes the verified-signature cache path); b does not.
func TestDeterminism(t *testing.T) {
	a, b := apptest.New(t), apptest.New(t)
	if !bytes.Equal(a.InitAppHash, b.InitAppHash) {
		t.Fatal("InitChain app hashes differ")
	}
	g := newGen(42, a)
	codes := map[string]int{}
	for height := 1; height <= 30; height++ {
		txs := g.block()
		for _, tx := range txs {
			a.Check(t, tx)
		}
		ra, rb := a.Finalize(t, txs...), b.Finalize(t, txs...)
		if !bytes.Equal(ra.AppHash, rb.AppHash) {
			t.Fatalf("height %d: app hash %X vs %X", height, ra.AppHash, rb.AppHash)
		}
		for i := range ra.TxResults {
			x, y := ra.TxResults[i], rb.TxResults[i]
			if x.Code != y.Code || x.Codespace != y.Codespace || x.Log != y.Log {
				t.Fatalf("height %d tx %d: %s/%d %q vs %s/%d %q", height, i, x.Codespace, x.Code, x.Log, y.Codespace, y.Code, y.Log)
			}
			codes[fmt.Sprintf("%s/%d", x.Codespace, x.Code)]++
		}
		if !bytes.Equal(mustMarshal(t, ra), mustMarshal(t, rb)) {
			t.Fatalf("height %d: FinalizeBlock responses differ", height)
		}
	}
	// The mix must have exercised both paths.
	if codes["/0"] < 20 || len(codes) < 5 {
		t.Fatalf("weak mix: codes %v", codes)
	}
	t.Logf("result codes over 30 blocks: %v", codes)
}

// TestRestart: a node that stops after N blocks and reopens its state from
// disk reports the same height and app hash in Info and then continues
// exactly as a node that never stopped.
func TestRestart(t *testing.T) {
	const before, after = 12, 12
	dir := t.TempDir()
	tree, err := merkle.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	disk := apptest.NewWithConfig(t, apptest.Config{Tree: tree})
	mem := apptest.New(t)
	g := newGen(7, mem)
	step := func(d *apptest.Harness) {
		txs := g.block()
		rm, rd := mem.Finalize(t, txs...), d.Finalize(t, txs...)
		if !bytes.Equal(mustMarshal(t, rm), mustMarshal(t, rd)) {
			t.Fatalf("height %d: responses differ (app hash %X vs %X)", mem.Height, rm.AppHash, rd.AppHash)
		}
	}
	for range before {
		step(disk)
	}
	wantHash, lastTime := disk.AppHash(), disk.Time
	if err := tree.Close(); err != nil {
		t.Fatal(err)
	}

	tree, err = merkle.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tree.Close() })
	resumed := apptest.Resume(t, tree, lastTime, app.Options{})
	info, err := resumed.App.Info(context.Background(), &abci.RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if info.LastBlockHeight != before || !bytes.Equal(info.LastBlockAppHash, wantHash) {
		t.Fatalf("Info after restart: height %d hash %X, want %d %X", info.LastBlockHeight, info.LastBlockAppHash, before, wantHash)
	}
	if info.AppVersion != app.AppVersion {
		t.Fatalf("app version %d", info.AppVersion)
	}
	if s := resumed.App.Committed(); s == nil || s.Version() != before {
		t.Fatal("restarted app has no committed snapshot")
	}
	for range after {
		step(resumed)
	}
	if resumed.Height != before+after {
		t.Fatalf("height %d", resumed.Height)
	}
}

func TestQueryProofs(t *testing.T) {
	h := apptest.New(t)
	p1 := k(apptest.Patient1)
	h.DeliverOK(t, h.Sign(p1, guardianMsg(apptest.Patient2)))
	hash1 := h.AppHash()
	h.DeliverOK(t, h.Sign(p1, guardianMsg(apptest.Patient3)))
	root := h.Tree.Hash()

	query := func(key []byte, height int64) *abci.ResponseQuery {
		t.Helper()
		resp, err := h.App.Query(context.Background(), &abci.RequestQuery{Path: app.QueryStore, Data: key, Height: height, Prove: true})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Code != 0 {
			t.Fatalf("query: %d %s", resp.Code, resp.Log)
		}
		return resp
	}

	// Present.
	key := accounts.AccountKey(p1.Address())
	resp := query(key, 0)
	if resp.Height != 2 || !bytes.Equal(resp.Key, key) {
		t.Fatalf("height %d key %x", resp.Height, resp.Key)
	}
	acct, err := accounts.DecodeAccount(resp.Value)
	if err != nil || acct.Sequence != 2 || acct.Address != p1.Address() {
		t.Fatalf("queried account %+v %v", acct, err)
	}
	if err := app.VerifyProofOps(root, resp.ProofOps, key, resp.Value); err != nil {
		t.Fatalf("membership proof: %v", err)
	}
	forged := bytes.Clone(resp.Value)
	forged[len(forged)-1] ^= 1
	if app.VerifyProofOps(root, resp.ProofOps, key, forged) == nil {
		t.Fatal("proof verified a modified value")
	}
	if app.VerifyProofOps(root, resp.ProofOps, key, nil) == nil {
		t.Fatal("membership proof verified as absence")
	}
	if app.VerifyProofOps(hash1, resp.ProofOps, key, resp.Value) == nil {
		t.Fatal("proof verified against another height's app hash")
	}

	// Absent.
	missing := accounts.AccountKey(k("nobody").Address())
	resp = query(missing, 0)
	if resp.Value != nil {
		t.Fatalf("absent key has value %x", resp.Value)
	}
	if err := app.VerifyProofOps(root, resp.ProofOps, missing, nil); err != nil {
		t.Fatalf("non-membership proof: %v", err)
	}
	if app.VerifyProofOps(root, resp.ProofOps, missing, []byte("x")) == nil {
		t.Fatal("absence proof verified a value")
	}
	if app.VerifyProofOps(root, resp.ProofOps, key, nil) == nil {
		t.Fatal("absence proof of one key verified absence of a present key")
	}

	// An older height, against its own hash.
	resp = query(key, 1)
	old, _ := accounts.DecodeAccount(resp.Value)
	if resp.Height != 1 || old.Sequence != 1 {
		t.Fatalf("height-1 query: height %d seq %d", resp.Height, old.Sequence)
	}
	if err := app.VerifyProofOps(hash1, resp.ProofOps, key, resp.Value); err != nil {
		t.Fatalf("height-1 proof: %v", err)
	}

	// Malformed proof ops are refused.
	for name, ops := range map[string]func() *abci.ResponseQuery{
		"nil ops": func() *abci.ResponseQuery { r := query(key, 0); r.ProofOps = nil; return r },
		"wrong type": func() *abci.ResponseQuery {
			r := query(key, 0)
			r.ProofOps.Ops[0].Type = "simple:v"
			return r
		},
		"garbage": func() *abci.ResponseQuery {
			r := query(key, 0)
			r.ProofOps.Ops[0].Data = []byte{0xff, 0xff}
			return r
		},
	} {
		r := ops()
		if app.VerifyProofOps(root, r.ProofOps, key, r.Value) == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestQueryErrors(t *testing.T) {
	h := apptest.New(t)
	ctx := context.Background()
	// Before the first commit there is no state to query.
	resp, err := h.App.Query(ctx, &abci.RequestQuery{Path: app.QueryStore, Data: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "before commit", resp, app.ErrQueryHeight)
	h.DeliverOK(t)
	for _, tc := range []struct {
		name string
		req  abci.RequestQuery
		want *sm.Error
	}{
		{"unknown path", abci.RequestQuery{Path: "/nope", Data: []byte{1}}, app.ErrQueryPath},
		{"future height", abci.RequestQuery{Path: app.QueryStore, Data: []byte{1}, Height: 5}, app.ErrQueryHeight},
		{"no proof", abci.RequestQuery{Path: app.QueryStore, Data: accounts.AccountKey(k(apptest.Patient1).Address())}, nil},
	} {
		resp, err := h.App.Query(ctx, &tc.req)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, tc.name, resp, tc.want)
		if tc.want == nil && (resp.Value == nil || resp.ProofOps != nil) {
			t.Fatalf("%s: value %x proof %v", tc.name, resp.Value, resp.ProofOps)
		}
	}
}

func TestInitChainChecksValidators(t *testing.T) {
	state, vals, err := apptest.Genesis(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(state)
	other := k("other").PubKey()
	withUnknown, _ := json.Marshal(app.GenesisState{"accounts": state["accounts"], "gov": state["gov"], "nope": json.RawMessage(`{}`)})
	tests := []struct {
		name  string
		vals  []abci.ValidatorUpdate
		state []byte
		want  error
	}{
		{"no consensus validators", nil, raw, gov.ErrGenesisValidator},
		{"other key", []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(other[:], apptest.ValidatorPower)}, raw, gov.ErrGenesisValidator},
		{"other power", []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(vals[0].PubKey.GetEd25519(), apptest.ValidatorPower+1)}, raw, gov.ErrGenesisValidator},
		{"extra validator", append(slices.Clone(vals), abci.Ed25519ValidatorUpdate(other[:], 1)), raw, gov.ErrGenesisValidator},
		{"unknown module", vals, withUnknown, nil},
		{"bad json", vals, []byte(`{`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := app.New(merkle.NewMemTree(), app.Options{})
			_, err := a.InitChain(context.Background(), &abci.RequestInitChain{ChainId: apptest.ChainID, Time: apptest.GenesisTime, InitialHeight: 1, Validators: tt.vals, AppStateBytes: tt.state})
			if err == nil {
				t.Fatal("InitChain accepted")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("InitChain = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOnCommitReportsResults(t *testing.T) {
	var got []app.TxResult
	var gotHeight int64
	h := apptest.NewWithConfig(t, apptest.Config{Options: app.Options{OnCommit: func(height int64, rs []app.TxResult) {
		gotHeight, got = height, rs
	}}})
	ok := h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2))
	bad := h.Sign(k("stranger"), guardianMsg(apptest.Patient2))
	h.Deliver(t, ok, bad)
	if gotHeight != 1 || len(got) != 2 {
		t.Fatalf("OnCommit(%d, %d results)", gotHeight, len(got))
	}
	if got[0].Hash != sm.TxHash(ok) || got[0].Code != 0 || got[0].Index != 0 || got[0].Height != 1 || len(got[0].Events) == 0 {
		t.Fatalf("result 0 = %+v", got[0])
	}
	if got[1].Code != sm.ErrUnknownSigner.Code || got[1].Codespace != sm.Codespace || got[1].Index != 1 || len(got[1].Events) != 0 {
		t.Fatalf("result 1 = %+v", got[1])
	}
}

func TestFinalizeBlockBeforeInitChain(t *testing.T) {
	a := app.New(merkle.NewMemTree(), app.Options{})
	if _, err := a.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: 1, Time: time.Unix(0, 0)}); err == nil {
		t.Fatal("FinalizeBlock without a chain id did not fail")
	}
}

func TestPrepareProposalRespectsMaxBytes(t *testing.T) {
	a := app.New(merkle.NewMemTree(), app.Options{})
	txs := [][]byte{make([]byte, 10), make([]byte, 10), make([]byte, 10)}
	resp, err := a.PrepareProposal(context.Background(), &abci.RequestPrepareProposal{Txs: txs, MaxTxBytes: 25})
	if err != nil || len(resp.Txs) != 2 {
		t.Fatalf("PrepareProposal kept %d txs, %v", len(resp.Txs), err)
	}
}

// TestCheckTxBesideFinalizeBlock: the node calls CheckTx from the mempool's
// connection while FinalizeBlock and Commit run on the consensus connection.
// CheckTx must keep answering from the committed state (run with -race to
// check the locking), and every transaction it accepted must commit.
func TestCheckTxBesideFinalizeBlock(t *testing.T) {
	h := apptest.New(t)
	newBlock := func(n, round int) [][]byte {
		var txs [][]byte
		for i := range n {
			k := apptest.Key(fmt.Sprintf("beside-%d-%d", round, i))
			txs = append(txs, sm.SignTx(k, apptest.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: k.EncKey()}))
		}
		return txs
	}
	pending := newBlock(200, 0)
	for _, tx := range pending {
		if r := h.Check(t, tx); r.Code != 0 {
			t.Fatalf("CheckTx: %s", r.Log)
		}
	}
	for round := 1; round <= 5; round++ {
		next := newBlock(200, round)
		done := make(chan error, 1)
		go func() {
			for _, tx := range next {
				r, err := h.App.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
				if err != nil || r.Code != 0 {
					done <- fmt.Errorf("CheckTx beside FinalizeBlock: %v %v", err, r)
					return
				}
			}
			done <- nil
		}()
		for _, r := range h.Finalize(t, pending...).TxResults {
			if r.Code != 0 {
				t.Fatalf("round %d: accepted transaction failed: %s", round, r.Log)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		pending = next
	}
}

// TestPreVerify: signatures checked ahead by PreVerify are not checked again,
// and a transaction with a bad signature in the same batch is still refused.
func TestPreVerify(t *testing.T) {
	h := apptest.New(t)
	var txs [][]byte
	for i := range 130 {
		k := apptest.Key(fmt.Sprintf("pre-%d", i))
		txs = append(txs, sm.SignTx(k, apptest.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: k.EncKey()}))
	}
	bad := bytes.Clone(txs[77])
	bad[len(bad)-1] ^= 1 // the last byte belongs to the signature
	txs[77] = bad
	h.App.PreVerify(txs)
	for i, tx := range txs {
		r := h.Check(t, tx)
		if i == 77 {
			if r.Code != sm.ErrBadSignature.Code || r.Codespace != sm.ErrBadSignature.Codespace {
				t.Fatalf("tampered signature accepted after PreVerify: %+v", r)
			}
			continue
		}
		if r.Code != 0 {
			t.Fatalf("tx %d: %s", i, r.Log)
		}
	}
}
