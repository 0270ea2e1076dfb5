package bank_test

import (
	"errors"
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
