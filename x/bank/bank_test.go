package bank_test

import (
	"encoding/json"
	"errors"
	"github.com/medchain/medchain/sm"
	"strings"
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
)

func TestSendConservesAndRefuses(t *testing.T) {
	kv := store.NewMemory()
	var a, b crypto.Address
	a[0], b[0] = 1, 2
	accounts.PutAccount(kv, &accounts.Account{Address: a, Kind: accounts.KindPatient, Active: true, Balance: 100})
	accounts.PutAccount(kv, &accounts.Account{Address: b, Kind: accounts.KindPatient, Active: true})
	pool := bank.ModuleAddress("telemed", "escrow/1")
	if pool == bank.ModuleAddress("telemed", "escrow/2") || pool == bank.ModuleAddress("research", "escrow/1") {
		t.Fatal("pool addresses collide")
	}
	if err := bank.Send(kv, a, pool, 60); err != nil {
		t.Fatal(err)
	}
	if err := bank.Send(kv, pool, b, 61); !errors.Is(err, bank.ErrFunds) {
		t.Fatalf("overdraw of a pool: %v", err)
	}
	if err := bank.Send(kv, a, b, 41); !errors.Is(err, bank.ErrFunds) {
		t.Fatalf("overdraw of an account: %v", err)
	}
	if err := bank.Send(kv, a, b, 0); !errors.Is(err, bank.ErrAmount) {
		t.Fatalf("zero amount: %v", err)
	}
	if err := bank.Send(kv, pool, b, 60); err != nil {
		t.Fatal(err)
	}
	if got := [3]uint64{bank.Balance(kv, a), bank.Balance(kv, b), bank.Balance(kv, pool)}; got != [3]uint64{40, 60, 0} {
		t.Fatalf("balances %v", got)
	}
	if kv.Get(bank.PoolKey(pool)) != nil {
		t.Fatal("an emptied pool keeps its key")
	}
}

func TestMintAndBurnMoveTheSupply(t *testing.T) {
	kv := store.NewMemory()
	var a crypto.Address
	a[0] = 1
	accounts.PutAccount(kv, &accounts.Account{Address: a, Kind: accounts.KindPatient, Active: true, Balance: 10})
	bank.SetSupply(kv, 10)
	pool := bank.ModuleAddress("mint", "provision")
	if err := bank.Mint(kv, pool, 5); err != nil {
		t.Fatal(err)
	}
	if err := bank.Burn(kv, a, 11); !errors.Is(err, bank.ErrFunds) {
		t.Fatalf("burn beyond balance: %v", err)
	}
	if err := bank.Burn(kv, a, 4); err != nil {
		t.Fatal(err)
	}
	if s := bank.Supply(kv); s != 11 || s != bank.Balance(kv, a)+bank.PoolBalance(kv, pool) {
		t.Fatalf("supply %d, balances %d + %d", s, bank.Balance(kv, a), bank.PoolBalance(kv, pool))
	}
}

func TestGenesisSupplyAndInvariant(t *testing.T) {
	kv := store.NewMemory()
	var a crypto.Address
	a[0] = 1
	accounts.PutAccount(kv, &accounts.Account{Address: a, Kind: accounts.KindPatient, Active: true, Balance: 100})
	ctx := sm.Context{Store: kv, Events: &sm.Events{}}
	var stranger crypto.Address
	stranger[0] = 9
	for _, c := range []struct {
		name, raw, wantErr string
	}{
		{"allocation to a non-account", `{"allocations":[{"address":"` + stranger.String() + `","amount":5}]}`, "not a genesis account"},
		{"zero allocation", `{"allocations":[{"module":"mint","sub":"provision","amount":0}]}`, "positive"},
		{"wrong supply", `{"supply":99}`, "sum to 100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := bank.Module{}.InitGenesis(ctx.WithStore(store.NewCache(kv)), json.RawMessage(c.raw))
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err %v, want %q", err, c.wantErr)
			}
		})
	}
	raw := `{"allocations":[{"address":"` + a.String() + `","amount":5},{"module":"mint","sub":"provision","amount":7}],"supply":112}`
	if err := (bank.Module{}).InitGenesis(ctx, json.RawMessage(raw)); err != nil {
		t.Fatal(err)
	}
	if bank.Supply(kv) != 112 || bank.Balance(kv, a) != 105 || bank.PoolBalance(kv, bank.ModuleAddress("mint", "provision")) != 7 {
		t.Fatalf("supply %d", bank.Supply(kv))
	}
	if err := bank.CheckInvariant(kv); err != nil {
		t.Fatal(err)
	}
	// A fee charged stays in the invariant; a credit from nowhere breaks it.
	acct := accounts.GetAccount(kv, a)
	if err := accounts.ChargeFee(kv, acct, 3); err != nil {
		t.Fatal(err)
	}
	accounts.PutAccount(kv, acct)
	if err := bank.CheckInvariant(kv); err != nil {
		t.Fatal(err)
	}
	if got := bank.TakeFees(kv, bank.ModuleAddress("staking", "rewards")); got != 3 || accounts.FeePool(kv) != 0 {
		t.Fatalf("took %d", got)
	}
	if err := bank.CheckInvariant(kv); err != nil {
		t.Fatal(err)
	}
	acct.Balance++
	accounts.PutAccount(kv, acct)
	if err := bank.CheckInvariant(kv); err == nil || !strings.Contains(err.Error(), "113 held, supply 112") {
		t.Fatalf("a minted-from-nowhere token: %v", err)
	}
}
