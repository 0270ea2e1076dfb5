package app_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/staking"
	"github.com/medchain/medchain/x/telemed"
)

// tokenModel is the reference the property test holds the chain to: what
// each account holds outside the chain's pools, what it staked and what it
// has in escrow, by the simplest rules (a fee is taken when it is within
// the balance; an operation moves tokens when they are there).
type tokenModel struct {
	balance map[crypto.Address]uint64
	staked  uint64
	escrow  map[uint64]crypto.Address // live booking → patient
}

// TestTokenPropertyAgainstModel runs thousands of random operations
// (transfers, fees, escrow bookings and cancellations, delegations,
// reward withdrawals, transfers that must fail) through the application,
// one transaction per account per block, and after every block compares
// every balance, the bonded stake and the escrow with a reference model.
// apptest checks the supply invariant after every block.
func TestTokenPropertyAgainstModel(t *testing.T) {
	const price = 900
	var extra []apptest.Member
	for i := range 8 {
		extra = append(extra, apptest.Member{Name: fmt.Sprintf("staff%d", i), Org: apptest.OrgLab, Role: accounts.RoleStaff})
	}
	h := apptest.NewWithConfig(t, apptest.Config{Members: extra})
	doctor := k(apptest.HospitalDoctor)
	h.DeliverOK(t, h.Sign(doctor, &telemed.MsgOffer{Service: "general-consultation", Price: price, Duration: 60, Arbiter: apptest.OrgLab}))

	names := []string{apptest.Patient1, apptest.Patient2, apptest.Patient3, apptest.HospitalNurse, apptest.LabAdmin, apptest.PharmacyAdmin}
	for _, m := range extra {
		names = append(names, m.Name)
	}
	var keys []*crypto.PrivKey
	m := tokenModel{balance: map[crypto.Address]uint64{}, escrow: map[uint64]crypto.Address{}}
	for _, n := range names {
		keys = append(keys, k(n))
		m.balance[k(n).Address()] = h.Account(k(n)).Balance
	}
	supply := bank.Supply(h.State())
	val := k(apptest.Validator).PubKey()
	minDelegation := h.App.Params().Get(h.State(), staking.ParamMinDelegation)
	rng := rand.New(rand.NewPCG(13, 2026))
	nextBooking := uint64(1)
	slot := h.NextTime().Add(24 * time.Hour).Unix()
	ops := map[string]int{}
	const blocks = 300
	for range blocks {
		type pending struct {
			signer crypto.Address
			fee    uint64
			apply  func(res *abci.ExecTxResult) bool // the model's move; reports whether the message should succeed
			op     string
		}
		var txs [][]byte
		var want []pending
		for i, key := range keys {
			a := key.Address()
			bal := m.balance[a]
			fee := uint64(rng.IntN(30))
			if rng.IntN(50) == 0 {
				fee = bal + 1 + uint64(rng.IntN(10)) // more than it has: refused before execution
			}
			amount := func() uint64 { return 1 + uint64(rng.Int64N(int64(bal/3+2))) }
			var msg sm.Msg
			var p pending
			switch r := rng.IntN(100); {
			case r < 45:
				to := keys[rng.IntN(len(keys))].Address()
				if to == a {
					to = keys[(i+1)%len(keys)].Address()
				}
				amt := amount()
				if rng.IntN(10) == 0 {
					amt = bal + uint64(rng.IntN(100)) // may exceed what is left after the fee
				}
				msg = &bank.MsgSend{To: to, Amount: amt}
				p = pending{op: "send", apply: func(*abci.ExecTxResult) bool {
					if m.balance[a] < amt {
						return false
					}
					m.balance[a] -= amt
					m.balance[to] += amt
					return true
				}}
			case r < 50:
				var stranger crypto.Address
				stranger[0], stranger[19] = 0xEE, byte(i)
				msg = &bank.MsgSend{To: stranger, Amount: 1}
				p = pending{op: "send-unknown", apply: func(*abci.ExecTxResult) bool { return false }}
			case r < 65:
				amt := amount()
				msg = &staking.MsgDelegate{Validator: val, Amount: amt}
				p = pending{op: "delegate", apply: func(res *abci.ExecTxResult) bool {
					if m.balance[a] < amt || amt < minDelegation {
						return false
					}
					m.balance[a] -= amt
					m.staked += amt
					m.balance[a] += rewardsPaid(res, a)
					return true
				}}
			case r < 72:
				msg = &staking.MsgWithdrawRewards{Validator: val}
				p = pending{op: "withdraw", apply: func(res *abci.ExecTxResult) bool {
					m.balance[a] += rewardsPaid(res, a)
					return res.Code == 0 // no rewards yet is a refusal the model does not predict
				}}
			case r < 88 && i < 3: // patients book
				slot += 120
				start := slot
				msg = &telemed.MsgBook{Offer: 1, Start: start}
				p = pending{op: "book", apply: func(*abci.ExecTxResult) bool {
					if m.balance[a] < price {
						return false
					}
					m.balance[a] -= price
					m.escrow[nextBooking] = a
					nextBooking++
					return true
				}}
			case i < 3: // patients cancel one of their live bookings, or one that is not theirs
				var id uint64
				for b, owner := range m.escrow {
					if owner == a && (id == 0 || b < id) {
						id = b
					}
				}
				if id == 0 {
					id = nextBooking + 1000 // unknown: refused
				}
				msg = telemed.Cancel(id)
				p = pending{op: "cancel", apply: func(*abci.ExecTxResult) bool {
					if owner, ok := m.escrow[id]; !ok || owner != a {
						return false
					}
					delete(m.escrow, id)
					m.balance[a] += price
					return true
				}}
			default:
				to := keys[0].Address()
				amt := amount()
				msg = &bank.MsgSend{To: to, Amount: amt}
				p = pending{op: "send", apply: func(*abci.ExecTxResult) bool {
					if m.balance[a] < amt {
						return false
					}
					m.balance[a] -= amt
					m.balance[to] += amt
					return true
				}}
			}
			p.signer, p.fee = a, fee
			txs = append(txs, h.SignFee(key, fee, msg))
			want = append(want, p)
		}
		res := h.Deliver(t, txs...)
		h.ResyncAll()
		for i, p := range want {
			r := res[i]
			if p.fee > m.balance[p.signer] {
				if r.Code != sm.ErrFunds.Code || r.Codespace != sm.Codespace {
					t.Fatalf("block %d tx %d (%s, fee %d over balance %d): %s/%d %s", h.Height, i, p.op, p.fee, m.balance[p.signer], r.Codespace, r.Code, r.Log)
				}
				ops["refused-fee"]++
				continue
			}
			m.balance[p.signer] -= p.fee
			ok := p.apply(r)
			if ok != (r.Code == 0) {
				t.Fatalf("block %d tx %d (%s): model says ok=%v, chain %s/%d %s", h.Height, i, p.op, ok, r.Codespace, r.Code, r.Log)
			}
			ops[p.op+"-"+strconv.FormatBool(ok)]++
		}
		st := h.State()
		for _, key := range keys {
			if got, want := h.Account(key).Balance, m.balance[key.Address()]; got != want {
				t.Fatalf("block %d: %s balance %d, model %d", h.Height, key.Address(), got, want)
			}
		}
		if got := bank.PoolBalance(st, staking.BondedPool); got != m.staked {
			t.Fatalf("block %d: bonded %d, model %d", h.Height, got, m.staked)
		}
		var held uint64
		for id := range m.escrow {
			held += bank.PoolBalance(st, telemed.Escrow(id))
		}
		if held != uint64(len(m.escrow))*price {
			t.Fatalf("block %d: escrow %d, model %d", h.Height, held, len(m.escrow)*price)
		}
		if s := bank.Supply(st); s != supply {
			t.Fatalf("block %d: supply %d, was %d (nothing mints or burns here)", h.Height, s, supply)
		}
	}
	total := 0
	for _, n := range ops {
		total += n
	}
	if total < 4000 || ops["send-true"] < 1000 || ops["send-false"] == 0 || ops["delegate-true"] == 0 || ops["book-true"] == 0 || ops["cancel-true"] == 0 || ops["refused-fee"] == 0 {
		t.Fatalf("the random mix missed cases: %v", ops)
	}
	t.Logf("%d operations: %v", total, ops)
}

// rewardsPaid is what staking paid a to settle its rewards in the
// transaction (settled on delegation and withdrawal).
func rewardsPaid(res *abci.ExecTxResult, a crypto.Address) uint64 {
	var sum uint64
	for _, e := range res.Events {
		if e.Type != "rewards_withdrawn" {
			continue
		}
		var to string
		var amt uint64
		for _, at := range e.Attributes {
			switch at.Key {
			case "delegator":
				to = at.Value
			case "amount":
				amt, _ = strconv.ParseUint(at.Value, 10, 64)
			}
		}
		if to == a.String() {
			sum += amt
		}
	}
	return sum
}
