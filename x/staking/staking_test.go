package staking

import (
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/gov"
)

func TestDelegateUndelegateAndMature(t *testing.T) {
	e := newEnv(t)
	valA := valKey("valA")
	e.ok("alice", &MsgDelegate{Validator: valA, Amount: 5000})
	if got := e.balance("alice"); got != startBalance-5000 {
		t.Fatalf("alice balance %d", got)
	}
	ups := e.block(sm.BlockInfo{})
	if len(ups) != 1 || ups[0].PubKey != valA || ups[0].Power != 15 {
		t.Fatalf("updates %+v, want valA at 10+5000/1000", ups)
	}
	if ups := e.block(sm.BlockInfo{}); len(ups) != 0 {
		t.Fatalf("unchanged powers sent again: %+v", ups)
	}
	e.ok("alice", &MsgUndelegate{Validator: valA, Amount: 2000})
	if got := bank.PoolBalance(e.kv, UnbondingPool); got != 2000 {
		t.Fatalf("unbonding pool %d", got)
	}
	ups = e.block(sm.BlockInfo{})
	if len(ups) != 1 || ups[0].Power != 13 {
		t.Fatalf("updates %+v, want valA at 13", ups)
	}
	if n := len(UnbondingsOf(e.kv, key("alice").Address())); n != 1 {
		t.Fatalf("%d unbonding entries", n)
	}
	e.now = e.now.Add(3600*time.Second - 15*time.Second)
	e.block(sm.BlockInfo{})
	if got := e.balance("alice"); got != startBalance-5000 {
		t.Fatalf("paid before the unbonding period ended: %d", got)
	}
	e.block(sm.BlockInfo{})
	e.block(sm.BlockInfo{})
	if got := e.balance("alice"); got != startBalance-3000 {
		t.Fatalf("after maturity alice has %d", got)
	}
	if n := len(UnbondingsOf(e.kv, key("alice").Address())); n != 0 {
		t.Fatalf("%d unbonding entries left", n)
	}
	d := GetDelegation(e.kv, valA, key("alice").Address())
	if d == nil || d.Unbondings != 0 || TokensOf(GetValidator(e.kv, valA), d) != 3000 {
		t.Fatalf("delegation after maturity %+v", d)
	}
	// Undelegating everything removes the delegation once matured.
	e.ok("alice", &MsgUndelegate{Validator: valA, Amount: 3000})
	e.now = e.now.Add(time.Hour)
	e.block(sm.BlockInfo{})
	if GetDelegation(e.kv, valA, key("alice").Address()) != nil || len(DelegationsOf(e.kv, key("alice").Address())) != 0 {
		t.Fatal("empty delegation kept")
	}
	if got := e.balance("alice"); got != startBalance {
		t.Fatalf("alice ends with %d", got)
	}
}

func TestRefusals(t *testing.T) {
	valA, valB := valKey("valA"), valKey("valB")
	tests := []struct {
		name   string
		setup  func(e *env)
		signer string
		msg    sm.Msg
		want   *sm.Error
	}{
		{"delegate to an unapproved key", nil, "alice", &MsgDelegate{Validator: valKey("nobody"), Amount: 5000}, ErrNotApproved},
		{"delegate zero", nil, "alice", &MsgDelegate{Validator: valA, Amount: 0}, ErrAmount},
		{"delegate to zero key", nil, "alice", &MsgDelegate{Amount: 5000}, ErrValidatorKey},
		{"delegate below minimum", nil, "alice", &MsgDelegate{Validator: valA, Amount: 999}, ErrMinDelegation},
		{"delegate more than the balance", nil, "alice", &MsgDelegate{Validator: valA, Amount: startBalance + 1}, bank.ErrFunds},
		{"delegate to a tombstoned validator", func(e *env) { e.doubleSign("valA", e.height) }, "alice", &MsgDelegate{Validator: valA, Amount: 5000}, ErrTombstoned},
		{"delegate to a validator slashed to zero", func(e *env) {
			e.ok("bob", &MsgDelegate{Validator: valA, Amount: 5000})
			v := GetValidator(e.kv, valA)
			bank.Burn(e.kv, BondedPool, v.Tokens)
			v.Tokens = 0
			putValidator(e.kv, v)
		}, "alice", &MsgDelegate{Validator: valA, Amount: 5000}, ErrNoTokens},
		{"delegate too little to buy a share", func(e *env) {
			e.ok("bob", &MsgDelegate{Validator: valA, Amount: 5000})
			v := GetValidator(e.kv, valA)
			d := GetDelegation(e.kv, valA, key("bob").Address())
			v.Shares, d.Shares = 1, 1
			putValidator(e.kv, v)
			putDelegation(e.kv, valA, key("bob").Address(), d)
		}, "alice", &MsgDelegate{Validator: valA, Amount: 4999}, ErrTooSmall},
		{"delegate overflowing the shares", func(e *env) {
			e.ok("bob", &MsgDelegate{Validator: valA, Amount: 5000})
			v := GetValidator(e.kv, valA)
			d := GetDelegation(e.kv, valA, key("bob").Address())
			v.Shares, d.Shares = 1<<63, 1<<63
			putValidator(e.kv, v)
			putDelegation(e.kv, valA, key("bob").Address(), d)
		}, "alice", &MsgDelegate{Validator: valA, Amount: 5000}, ErrOverflow},
		{"undelegate without delegation", nil, "alice", &MsgUndelegate{Validator: valA, Amount: 1000}, ErrNoDelegation},
		{"undelegate more than delegated", func(e *env) { e.ok("alice", &MsgDelegate{Validator: valA, Amount: 5000}) }, "alice", &MsgUndelegate{Validator: valA, Amount: 5001}, ErrExceedsStake},
		{"undelegate beyond the entry limit", func(e *env) {
			e.ok("alice", &MsgDelegate{Validator: valA, Amount: 50_000})
			for range MaxUnbondingEntries {
				e.ok("alice", &MsgUndelegate{Validator: valA, Amount: 1})
			}
		}, "alice", &MsgUndelegate{Validator: valA, Amount: 1}, ErrUnbondingFull},
		{"withdraw rewards without delegation", nil, "alice", &MsgWithdrawRewards{Validator: valA}, ErrNoDelegation},
		{"withdraw rewards when none accrued", func(e *env) { e.ok("alice", &MsgDelegate{Validator: valA, Amount: 5000}) }, "alice", &MsgWithdrawRewards{}, ErrNoRewards},
		{"commission by another org's admin", nil, "adminB", &MsgSetCommission{Validator: valA, RateBps: 600}, ErrNotOperator},
		{"commission by a patient", nil, "alice", &MsgSetCommission{Validator: valA, RateBps: 600}, ErrNotOperator},
		{"commission for an unapproved key", nil, "adminA", &MsgSetCommission{Validator: valKey("nobody"), RateBps: 600}, ErrNotApproved},
		{"commission above 100%", nil, "adminA", &MsgSetCommission{Validator: valA, RateBps: 10_001}, ErrCommissionMax},
		{"commission above the maximum", nil, "adminA", &MsgSetCommission{Validator: valA, RateBps: 5001}, ErrCommissionMax},
		{"commission unchanged", nil, "adminA", &MsgSetCommission{Validator: valA, RateBps: 500}, ErrCommissionSame},
		{"commission step too large", nil, "adminA", &MsgSetCommission{Validator: valA, RateBps: 601}, ErrCommissionStep},
		{"commission changed twice in a day", func(e *env) { e.ok("adminA", &MsgSetCommission{Validator: valA, RateBps: 600}) }, "adminA", &MsgSetCommission{Validator: valA, RateBps: 650}, ErrCommissionSoon},
		{"withdraw commission of an unknown key", nil, "adminA", &MsgWithdrawCommission{Validator: valKey("nobody")}, ErrNoValidator},
		{"withdraw commission by another org", nil, "adminB", &MsgWithdrawCommission{Validator: valA}, ErrNotOperator},
		{"withdraw commission when none", nil, "adminA", &MsgWithdrawCommission{Validator: valA}, ErrNoRewards},
		{"unjail an unknown key", nil, "adminA", &MsgUnjail{Validator: valKey("nobody")}, ErrNoValidator},
		{"unjail by another org", func(e *env) { e.jailForDowntime("valA") }, "adminB", &MsgUnjail{Validator: valA}, ErrNotOperator},
		{"unjail a validator not jailed", nil, "adminB", &MsgUnjail{Validator: valB}, ErrNotJailed},
		{"unjail before the jail period ends", func(e *env) { e.jailForDowntime("valA") }, "adminA", &MsgUnjail{Validator: valA}, ErrStillJailed},
		{"unjail a tombstoned validator", func(e *env) { e.doubleSign("valA", e.height); e.now = e.now.Add(365 * 24 * time.Hour) }, "adminA", &MsgUnjail{Validator: valA}, ErrTombstoned},
		{"unjail a validator governance removed", func(e *env) {
			e.jailForDowntime("valA")
			e.now = e.now.Add(time.Hour)
			e.govRemove("valA")
		}, "adminA", &MsgUnjail{Validator: valA}, ErrNotApproved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			before := dump(e.kv)
			err := e.run(tt.signer, tt.msg)
			wantErr(t, err, tt.want)
			if dump(e.kv) != before {
				t.Fatal("a refused message changed state")
			}
		})
	}
}

// doubleSign hands BeginBlock CometBFT's evidence of a duplicate vote by
// the named validator at height h.
func (e *env) doubleSign(name string, h int64) {
	e.t.Helper()
	info := e.commit("valA", "valB")
	info.Misbehavior = []sm.Misbehavior{{Kind: sm.MisbehaviorDuplicateVote, Validator: ConsAddress(valKey(name)), Height: h, Power: 10, TotalPower: 20}}
	e.block(info)
}

// jailForDowntime lets the named validator miss blocks until it is jailed.
func (e *env) jailForDowntime(name string) {
	e.t.Helper()
	other := map[string]string{"valA": "valB", "valB": "valA"}[name]
	for i := 0; i < 6; i++ {
		e.block(e.commit(other))
	}
	if v := GetValidator(e.kv, valKey(name)); v == nil || !v.Jailed {
		e.t.Fatalf("%s not jailed after 6 missed blocks of 10", name)
	}
}

// govRemove removes a validator by a governance proposal all three orgs pass.
func (e *env) govRemove(name string) {
	e.t.Helper()
	e.ok("adminA", &gov.MsgPropose{Action: gov.Action{Kind: gov.KindRemoveValidator, Validator: valKey(name)}, Reason: "test"})
	id := uint64(len(gov.Proposals(e.kv)))
	e.ok("adminB", &gov.MsgVote{ProposalID: id, Approve: true})
	if p := gov.GetProposal(e.kv, id); p.Status != gov.StatusPassed {
		e.t.Fatalf("removal: %s %s", p.Status, p.Result)
	}
}

func TestCommissionChangeAndWithdraw(t *testing.T) {
	e := newEnv(t)
	valA := valKey("valA")
	e.ok("adminA", &MsgSetCommission{Validator: valA, RateBps: 600})
	e.now = e.now.Add(24 * time.Hour)
	e.ok("adminA", &MsgSetCommission{Validator: valA, RateBps: 500})
	if v := GetValidator(e.kv, valA); v.Commission != 500 {
		t.Fatalf("commission %d", v.Commission)
	}
	// With no delegators the operator earns the whole share.
	e.fund(1000, 0)
	e.block(e.commit("valA", "valB"))
	if v := GetValidator(e.kv, valA); v.CommissionPending != 500 {
		t.Fatalf("pending commission %d, want half of 1000", v.CommissionPending)
	}
	before := e.balance("adminA")
	e.ok("adminA", &MsgWithdrawCommission{Validator: valA})
	if got := e.balance("adminA") - before; got != 500 {
		t.Fatalf("withdrew %d", got)
	}
	e.checkInvariants()
}

func TestDoubleSignSlashesStakeBondedAtTheInfraction(t *testing.T) {
	e := newEnv(t)
	valA := valKey("valA")
	e.ok("alice", &MsgDelegate{Validator: valA, Amount: 100_000})
	e.ok("bob", &MsgDelegate{Validator: valA, Amount: 100_000})
	e.block(e.commit("valA", "valB"))
	e.ok("alice", &MsgUndelegate{Validator: valA, Amount: 40_000}) // before the fault: not liable
	e.block(e.commit("valA", "valB"))
	fault := e.height
	e.block(e.commit("valA", "valB"))
	e.ok("bob", &MsgUndelegate{Validator: valA, Amount: 20_000}) // after the fault: liable
	supply := bank.Supply(e.kv)
	e.doubleSign("valA", fault)
	ups := e.valset.List()
	if len(ups) != 1 || ups[0].PubKey != valA || ups[0].Power != 0 {
		t.Fatalf("updates %+v, want valA removed", ups)
	}
	v := GetValidator(e.kv, valA)
	if !v.Jailed || !v.Tombstoned {
		t.Fatalf("validator %+v", v)
	}
	// 5% of the 140000 bonded and of bob's 20000 unbonding; alice's 40000 untouched.
	if v.Tokens != 133_000 {
		t.Fatalf("bonded %d, want 133000", v.Tokens)
	}
	for _, u := range UnbondingsFrom(e.kv, valA) {
		want := map[crypto.Address]uint64{key("alice").Address(): 40_000, key("bob").Address(): 19_000}[u.Delegator]
		if u.Amount != want {
			t.Fatalf("unbonding of %s: %d, want %d", u.Delegator, u.Amount, want)
		}
	}
	if burned := supply - bank.Supply(e.kv); burned != 7000+1000 {
		t.Fatalf("burned %d", burned)
	}
	// Evidence of the same validator again does not punish twice.
	e.doubleSign("valA", fault)
	if GetValidator(e.kv, valA).Tokens != 133_000 {
		t.Fatal("slashed twice")
	}
	// Bob's remaining stake is worth 5% less.
	d := GetDelegation(e.kv, valA, key("bob").Address())
	if got := TokensOf(GetValidator(e.kv, valA), d); got != 76_000 {
		t.Fatalf("bob's stake %d, want 76000", got)
	}
}

func TestDowntimeJailsSlashesAndUnjail(t *testing.T) {
	e := newEnv(t)
	valB := valKey("valB")
	e.ok("bob", &MsgDelegate{Validator: valB, Amount: 100_000})
	e.block(e.commit("valA", "valB"))
	// 5 misses of a 10-block window are allowed.
	for i := 0; i < 5; i++ {
		e.block(e.commit("valA"))
	}
	if GetValidator(e.kv, valB).Jailed {
		t.Fatal("jailed within the allowance")
	}
	e.block(e.commit("valA"))
	v := GetValidator(e.kv, valB)
	if !v.Jailed || v.Tombstoned || v.Tokens != 99_000 {
		t.Fatalf("after the 6th miss: %+v", v)
	}
	if ups := e.valset.List(); len(ups) != 1 || ups[0].Power != 0 {
		t.Fatalf("updates %+v", ups)
	}
	// A new window: misses counted afresh after unjailing.
	wantErr(t, e.run("adminB", &MsgUnjail{Validator: valB}), ErrStillJailed)
	e.now = e.now.Add(600 * time.Second)
	e.ok("adminB", &MsgUnjail{Validator: valB})
	e.block(e.commit("valA"))
	if ups := e.valset.List(); len(ups) != 1 || ups[0].Power != 10+99 {
		t.Fatalf("updates after unjail %+v", ups)
	}
	// A window that has passed forgets its misses.
	for i := 0; i < 4; i++ {
		e.block(e.commit("valA"))
	}
	for i := 0; i < 10; i++ {
		e.block(e.commit("valA", "valB"))
	}
	for i := 0; i < 4; i++ {
		e.block(e.commit("valA"))
	}
	if GetValidator(e.kv, valB).Jailed {
		t.Fatal("misses of an old window counted")
	}
}

func TestLastActiveValidatorIsNeverJailed(t *testing.T) {
	e := newEnv(t)
	e.jailForDowntime("valB")
	for i := 0; i < 12; i++ {
		e.block(e.commit())
	}
	if GetValidator(e.kv, valKey("valA")) != nil && GetValidator(e.kv, valKey("valA")).Jailed {
		t.Fatal("the last active validator was jailed")
	}
	e.doubleSign("valA", e.height)
	if v := GetValidator(e.kv, valKey("valA")); v.Jailed || v.Tombstoned {
		t.Fatal("the last active validator was tombstoned")
	}
	// Governance cannot remove it either: the jailed one does not count.
	e.ok("adminA", &gov.MsgPropose{Action: gov.Action{Kind: gov.KindRemoveValidator, Validator: valKey("valA")}, Reason: "test"})
	e.ok("adminB", &gov.MsgVote{ProposalID: 1, Approve: true})
	if p := gov.GetProposal(e.kv, 1); p.Status != gov.StatusFailed {
		t.Fatalf("removal of the last active validator: %s", p.Status)
	}
	e.ok("adminA", &gov.MsgPropose{Action: gov.Action{Kind: gov.KindRemoveMember, OrgID: orgA}, Reason: "test"})
	e.ok("adminB", &gov.MsgVote{ProposalID: 2, Approve: true})
	if p := gov.GetProposal(e.kv, 2); p.Status != gov.StatusFailed {
		t.Fatalf("removal of the last active validator's org: %s", p.Status)
	}
}

func TestGovernanceRemovalKeepsStakeWithdrawable(t *testing.T) {
	e := newEnv(t)
	valA := valKey("valA")
	e.ok("alice", &MsgDelegate{Validator: valA, Amount: 10_000})
	e.fund(1000, 0)
	e.block(e.commit("valA", "valB"))
	e.govRemove("valA")
	e.block(e.commit("valB"))
	if v := GetValidator(e.kv, valA); v.Power != 0 {
		t.Fatalf("removed validator's power %d", v.Power)
	}
	wantErr(t, e.run("bob", &MsgDelegate{Validator: valA, Amount: 5000}), ErrNotApproved)
	e.ok("alice", &MsgWithdrawRewards{Validator: valA})
	e.ok("alice", &MsgUndelegate{Validator: valA, Amount: 10_000})
	e.ok("adminA", &MsgWithdrawCommission{Validator: valA})
	e.now = e.now.Add(time.Hour)
	e.block(e.commit("valB"))
	// 500 to valA: 25 commission (5%), 475 to alice.
	if got := e.balance("alice"); got != startBalance+475 {
		t.Fatalf("alice has %d", got)
	}
	// Re-approval restores its power with the stake still bonded (none now).
	e.ok("adminA", &gov.MsgPropose{Action: gov.Action{Kind: gov.KindAddValidator, Validator: valA, Power: 3, OrgID: orgA}, Reason: "test"})
	e.ok("adminB", &gov.MsgVote{ProposalID: 2, Approve: true})
	ups := e.block(e.commit("valB"))
	if len(ups) != 1 || ups[0].Power != 3 {
		t.Fatalf("after re-approval %+v", ups)
	}
}

func TestPowerBounds(t *testing.T) {
	e := newEnv(t)
	gv := gov.GetValidator(e.kv, valKey("valA"))
	v, _ := e.mod.load(e.kv, gv.PubKey)
	v.Tokens = 1 << 62
	if p := e.mod.ConsensusPower(e.kv, v, gv); p != MaxPower {
		t.Fatalf("power %d, want the cap %d", p, MaxPower)
	}
	v.Tokens = 2500
	if p := e.mod.ConsensusPower(e.kv, v, gv); p != 12 {
		t.Fatalf("power %d, want 10 + 2500/1000", p)
	}
	if p := e.mod.ConsensusPower(e.kv, v, nil); p != 0 {
		t.Fatalf("unapproved power %d", p)
	}
	v.Jailed = true
	if p := e.mod.ConsensusPower(e.kv, v, gv); p != 0 {
		t.Fatalf("jailed power %d", p)
	}
}

// TestValsetNeverEmptied: were every validator jailed (state that the
// rules never produce), the power changes are held back rather than sent,
// since CometBFT halts on an empty set.
func TestValsetNeverEmptied(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"valA", "valB"} {
		v, _ := e.mod.load(e.kv, valKey(name))
		v.Jailed = true
		putValidator(e.kv, v)
	}
	if ups := e.block(sm.BlockInfo{}); len(ups) != 0 {
		t.Fatalf("updates %+v emptied the set", ups)
	}
	held := false
	for _, ev := range e.events.List() {
		held = held || ev.Type == "valset_change_held"
	}
	if !held {
		t.Fatal("no valset_change_held event")
	}
}
