package staking

import (
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/params"
)

func key(name string) *crypto.PrivKey { return smtest.Key("staking-test", name) }

const (
	orgA, orgB, orgC = "org-a", "org-b", "org-c"
	startBalance     = 1_000_000_000
)

var genesisTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// env is a consortium of three organizations (an admin each), patients
// alice, bob and carol with tokens, and two validators valA (org A) and valB
// (org B) of base power 10. Parameters are small so that tests run few
// blocks: a power unit is 1000 tokens, unbonding takes an hour, the
// downtime window is 10 blocks of which 5 must be signed.
type env struct {
	t      *testing.T
	kv     *store.Memory
	reg    *params.Registry
	mod    Module
	gov    *gov.Module
	routes map[string]sm.Route
	height int64
	now    time.Time
	events *sm.Events
	valset *sm.ValidatorUpdates
}

func newEnv(t *testing.T) *env {
	t.Helper()
	reg := params.NewRegistry(gov.ParamDefs...)
	for _, d := range ParamDefs {
		reg.Declare(d)
	}
	e := &env{t: t, kv: store.NewMemory(), reg: reg, mod: New(reg), height: 1, now: genesisTime,
		events: &sm.Events{}, valset: &sm.ValidatorUpdates{}}
	e.gov = &gov.Module{Params: reg, Active: Active}
	e.routes = map[string]sm.Route{}
	for _, m := range []sm.Module{accounts.Module{Params: reg}, e.gov, e.mod} {
		for _, rt := range m.Routes() {
			e.routes[rt.Type] = rt
		}
	}
	member := func(name, org string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "member", Org: org, Role: accounts.RoleAdmin, Balance: startBalance}
	}
	patient := func(name string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "patient", Balance: startBalance}
	}
	ag, _ := json.Marshal(accounts.Genesis{
		Orgs:     []accounts.GenesisOrg{{ID: orgA, Name: "A", Type: "hospital"}, {ID: orgB, Name: "B", Type: "lab"}, {ID: orgC, Name: "C", Type: "clinic"}},
		Accounts: []accounts.GenesisAccount{member("adminA", orgA), member("adminB", orgB), member("adminC", orgC), patient("alice"), patient("bob"), patient("carol")},
	})
	gg, _ := json.Marshal(gov.Genesis{
		Params: json.RawMessage(`{"gov.voting_period_seconds": 3600, "staking.power_reduction": 1000, "staking.min_delegation": 1000,
			"staking.unbonding_seconds": 3600, "slashing.signed_blocks_window": 10, "slashing.min_signed_bps": 5000,
			"slashing.downtime_jail_seconds": 600, "slashing.double_sign_slash_bps": 500, "slashing.downtime_slash_bps": 100}`),
		Validators: []gov.GenesisValidator{{PubKey: key("valA").PubKey(), Power: 10, Org: orgA}, {PubKey: key("valB").PubKey(), Power: 10, Org: orgB}},
	})
	ctx := e.ctx(nil)
	if err := (accounts.Module{Params: reg}).InitGenesis(ctx, ag); err != nil {
		t.Fatal(err)
	}
	if err := e.gov.InitGenesis(ctx, gg); err != nil {
		t.Fatal(err)
	}
	bank.SetSupply(e.kv, 6*startBalance)
	e.checkInvariants()
	return e
}

func (e *env) ctx(signer *crypto.PrivKey) sm.Context {
	c := sm.Context{ChainID: "test", Height: e.height, Time: e.now, Store: e.kv, Events: e.events, Valset: e.valset}
	if signer != nil {
		c.Signer, c.Key = signer.Address(), signer.PubKey()
	}
	return c
}

func (e *env) run(signer string, msg sm.Msg) error {
	e.t.Helper()
	return smtest.Exec(e.routes[msg.Type()], e.ctx(key(signer)), msg)
}

func (e *env) ok(signer string, msg sm.Msg) {
	e.t.Helper()
	if err := e.run(signer, msg); err != nil {
		e.t.Fatalf("%s by %s: %v", msg.Type(), signer, err)
	}
}

// block runs the hooks of the next block (5 seconds later) with info and
// returns its validator updates, then checks the invariants.
func (e *env) block(info sm.BlockInfo) []sm.ValidatorUpdate {
	e.t.Helper()
	e.height++
	e.now = e.now.Add(5 * time.Second)
	e.events, e.valset = &sm.Events{}, &sm.ValidatorUpdates{}
	ctx := e.ctx(nil)
	e.mod.BeginBlock(ctx, info)
	e.mod.EndBlock(ctx)
	e.checkInvariants()
	return e.valset.List()
}

// signedBy is a last commit in which the named validators signed and the
// others of valA, valB missed, each at its current power.
func (e *env) commit(signers ...string) sm.BlockInfo {
	var info sm.BlockInfo
	in := map[string]bool{}
	for _, s := range signers {
		in[s] = true
	}
	for _, name := range []string{"valA", "valB"} {
		pub := key(name).PubKey()
		v, gv := e.mod.load(e.kv, pub)
		if gv == nil {
			continue
		}
		info.LastCommit = append(info.LastCommit, sm.VoteInfo{Validator: ConsAddress(pub), Power: max(v.Power, 1), Signed: in[name]})
	}
	return info
}

func (e *env) balance(name string) uint64 { return bank.Balance(e.kv, key(name).Address()) }

// fund puts new tokens where the block rewards come from, as x/mint and the
// fee charge do.
func (e *env) fund(provision, fees uint64) {
	e.t.Helper()
	if provision > 0 {
		if err := bank.Mint(e.kv, ProvisionPool, provision); err != nil {
			e.t.Fatal(err)
		}
	}
	if fees > 0 {
		payer := accounts.GetAccount(e.kv, key("carol").Address())
		if err := accounts.ChargeFee(e.kv, payer, fees); err != nil {
			e.t.Fatal(err)
		}
		accounts.PutAccount(e.kv, payer)
	}
}

// checkInvariants checks that no token is created or lost: every account,
// pool and the fee pool add up to the supply; the staking pools hold what
// staking owes (bonded tokens, unbonding entries), and the rewards pool
// holds exactly, in units of 1/Scale, every commission, every validator's
// current-period reward and carry, every delegation's position outside
// the current period, and the dust.
func (e *env) checkInvariants() {
	e.t.Helper()
	var sum uint64
	e.kv.Iterate([]byte{sm.PrefixAccount}, store.PrefixEnd([]byte{sm.PrefixAccount}), func(_, b []byte) bool {
		a, err := accounts.DecodeAccount(b)
		if err != nil {
			e.t.Fatal(err)
		}
		sum += a.Balance
		return true
	})
	e.kv.Iterate([]byte{sm.PrefixPool}, store.PrefixEnd([]byte{sm.PrefixPool}), func(_, b []byte) bool {
		sum += beUint(b)
		return true
	})
	sum += accounts.FeePool(e.kv)
	if sum != bank.Supply(e.kv) {
		e.t.Fatalf("supply invariant: balances %d, supply %d", sum, bank.Supply(e.kv))
	}
	var bonded, unbonding uint64
	owed := new(big.Int).Mul(new(big.Int).SetUint64(Dust(e.kv)), Scale)
	for _, v := range Validators(e.kv) {
		bonded += v.Tokens
		owed.Add(owed, new(big.Int).Mul(new(big.Int).SetUint64(v.CommissionPending+v.PeriodReward), Scale))
		owed.Add(owed, v.RewardCarry)
		var shares uint64
		_, dels := DelegationsTo(e.kv, v.PubKey)
		for _, d := range dels {
			shares += d.Shares
			pos, cur := position(v, d)
			owed.Add(owed, pos.Sub(pos, new(big.Int).Mul(new(big.Int).SetUint64(cur), Scale)))
		}
		if shares != v.Shares {
			e.t.Fatalf("validator %s: shares %d, delegations hold %d", v.PubKey, v.Shares, shares)
		}
	}
	e.kv.Iterate([]byte{prefixUnbonding}, store.PrefixEnd([]byte{prefixUnbonding}), func(_, b []byte) bool {
		u, err := DecodeUnbonding(b)
		if err != nil {
			e.t.Fatal(err)
		}
		unbonding += u.Amount
		return true
	})
	if got := bank.PoolBalance(e.kv, BondedPool); got != bonded {
		e.t.Fatalf("bonded pool %d, validators hold %d", got, bonded)
	}
	if got := bank.PoolBalance(e.kv, UnbondingPool); got != unbonding {
		e.t.Fatalf("unbonding pool %d, entries hold %d", got, unbonding)
	}
	pool := new(big.Int).Mul(new(big.Int).SetUint64(bank.PoolBalance(e.kv, RewardsPool)), Scale)
	if pool.Cmp(owed) != 0 {
		e.t.Fatalf("rewards pool %s/1e18, owed %s/1e18", pool, owed)
	}
}

func wantErr(t *testing.T, got error, want *sm.Error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("unexpected error: %v", got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("error = %v, want %s/%d %q", got, want.Codespace, want.Code, want.Desc)
	}
}

func valKey(name string) crypto.PubKey { return key(name).PubKey() }

// dump renders the whole state, to compare before and after.
func dump(kv *store.Memory) string {
	var b []byte
	kv.Iterate(nil, nil, func(k, v []byte) bool {
		b = append(append(append(b, k...), '='), v...)
		b = append(b, '\n')
		return true
	})
	return string(b)
}
