package staking

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/bank"
)

// TestRewardsEqualTheScheduleOverManyBlocks runs 500 blocks of random
// provisions, fees and signers against a reference model of the schedule
// in exact rationals: every validator's reward and commission equal the
// schedule to the unit; every delegator is paid exactly the floor of its
// exact entitlement; and no unit is created or lost (env.block checks the
// pools at every block).
func TestRewardsEqualTheScheduleOverManyBlocks(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(7, 13))
	valA, valB := valKey("valA"), valKey("valB")
	stakes := []struct {
		who string
		val crypto.PubKey
		amt uint64
	}{{"alice", valA, 30_000}, {"bob", valA, 70_001}, {"adminA", valA, 12_345}, {"bob", valB, 5_003}, {"adminB", valB, 99_999}}
	for _, s := range stakes {
		e.ok(s.who, &MsgDelegate{Validator: s.val, Amount: s.amt})
	}
	e.ok("adminB", &MsgSetCommission{Validator: valB, RateBps: 577})
	e.block(e.commit("valA", "valB")) // powers take the stake into account

	rate := map[crypto.PubKey]uint64{valA: 500, valB: 577}
	shares := map[crypto.PubKey]uint64{}
	for _, s := range stakes {
		shares[s.val] += s.amt
	}
	wantReward := map[crypto.PubKey]uint64{}
	wantCommission := map[crypto.PubKey]uint64{}
	toDelegators := map[crypto.PubKey]*big.Rat{valA: new(big.Rat), valB: new(big.Rat)}
	var dust uint64
	startRevenue := map[string]uint64{}
	for _, org := range []string{orgA, orgB} {
		for _, d := range RevenueByDay(e.kv, org) {
			startRevenue[org] += d.Rewards
		}
	}
	startCommission := map[crypto.PubKey]uint64{valA: GetValidator(e.kv, valA).CommissionPending, valB: GetValidator(e.kv, valB).CommissionPending}

	for range 500 {
		prov, fees := rng.Uint64N(1_000_000), rng.Uint64N(5_000)
		e.fund(prov, fees)
		var signers []string
		for _, name := range []string{"valA", "valB"} {
			if rng.IntN(4) != 0 {
				signers = append(signers, name)
			}
		}
		info := e.commit(signers...)
		// The reference schedule.
		total := prov + fees + dust
		var weight uint64
		for _, v := range info.LastCommit {
			if v.Signed {
				weight += uint64(v.Power)
			}
		}
		if weight == 0 {
			dust = total
		} else {
			dust = total
			for _, v := range info.LastCommit {
				if !v.Signed {
					continue
				}
				pub := map[sm.ConsAddress]crypto.PubKey{ConsAddress(valA): valA, ConsAddress(valB): valB}[v.Validator]
				r := new(big.Int).Div(new(big.Int).Mul(new(big.Int).SetUint64(total), big.NewInt(v.Power)), new(big.Int).SetUint64(weight)).Uint64()
				dust -= r
				c := r * rate[pub] / 10_000
				wantReward[pub] += r
				wantCommission[pub] += c
				toDelegators[pub].Add(toDelegators[pub], new(big.Rat).SetUint64(r-c))
			}
		}
		e.block(info)
	}
	if Dust(e.kv) != dust {
		t.Fatalf("dust %d, schedule %d", Dust(e.kv), dust)
	}
	for pub, org := range map[crypto.PubKey]string{valA: orgA, valB: orgB} {
		v := GetValidator(e.kv, pub)
		if got := v.CommissionPending - startCommission[pub]; got != wantCommission[pub] {
			t.Fatalf("%s commission %d, schedule %d", org, got, wantCommission[pub])
		}
		var rev uint64
		for _, d := range RevenueByDay(e.kv, org) {
			rev += d.Rewards
		}
		if got := rev - startRevenue[org]; got != wantReward[pub] {
			t.Fatalf("%s reward %d, schedule %d", org, got, wantReward[pub])
		}
	}
	for _, s := range stakes {
		before := bank.Balance(e.kv, key(s.who).Address())
		e.ok(s.who, &MsgWithdrawRewards{Validator: s.val})
		paid := bank.Balance(e.kv, key(s.who).Address()) - before
		exact := new(big.Rat).Mul(toDelegators[s.val], big.NewRat(int64(s.amt), int64(shares[s.val])))
		floor := new(big.Int).Quo(exact.Num(), exact.Denom()).Uint64()
		if paid != floor {
			t.Fatalf("%s from %s: paid %d, exact entitlement %s", s.who, s.val, paid, exact.FloatString(6))
		}
	}
	e.checkInvariants()
}

// TestRandomOperationsConserveTokens interleaves delegations,
// undelegations, withdrawals, commission changes, downtime and evidence
// with rewarded blocks; env.block checks after every block that the
// supply and the staking pools add up exactly.
func TestRandomOperationsConserveTokens(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(1, 2))
	people := []string{"alice", "bob", "carol", "adminA", "adminB", "adminC"}
	vals := []string{"valA", "valB"}
	for i := 0; i < 600; i++ {
		who, val := people[rng.IntN(len(people))], valKey(vals[rng.IntN(2)])
		switch rng.IntN(8) {
		case 0, 1:
			_ = e.run(who, &MsgDelegate{Validator: val, Amount: 1000 + rng.Uint64N(50_000)})
		case 2:
			if d := GetDelegation(e.kv, val, key(who).Address()); d != nil && d.Shares > 0 {
				worth := TokensOf(GetValidator(e.kv, val), d)
				amt := worth
				if rng.IntN(2) == 0 {
					amt = 1 + rng.Uint64N(worth)
				}
				_ = e.run(who, &MsgUndelegate{Validator: val, Amount: amt})
			}
		case 3:
			_ = e.run(who, &MsgWithdrawRewards{})
		case 4:
			_ = e.run("adminA", &MsgWithdrawCommission{Validator: valKey("valA")})
			_ = e.run("adminB", &MsgSetCommission{Validator: valKey("valB"), RateBps: 400 + rng.Uint64N(200)})
		case 5:
			_ = e.run("adminA", &MsgUnjail{Validator: valKey("valA")})
			_ = e.run("adminB", &MsgUnjail{Validator: valKey("valB")})
		}
		e.fund(rng.Uint64N(100_000), rng.Uint64N(1000))
		var signers []string
		for _, name := range vals {
			if rng.IntN(3) != 0 {
				signers = append(signers, name)
			}
		}
		info := e.commit(signers...)
		if rng.IntN(400) == 0 {
			info.Misbehavior = []sm.Misbehavior{{Kind: sm.MisbehaviorDuplicateVote, Validator: ConsAddress(valKey(vals[rng.IntN(2)])), Height: e.height - rng.Int64N(5)}}
		}
		if rng.IntN(50) == 0 {
			e.now = e.now.Add(3600e9)
		}
		e.block(info)
	}
}
