// Package bank moves the native token between accounts and module pools.
//
// Balances of accounts live in the account itself (accounts.Account.Balance);
// a module that holds tokens on behalf of others (an escrow, a research
// budget, the staking pool) holds them in a pool: an address derived from
// the module's name and a sub-account (ModuleAddress), whose balance is
// stored under PrefixPool. No key pair can sign for a pool address, so only
// the module that names it moves its tokens. Every function here conserves
// tokens: what leaves one balance arrives in another, or nothing changes.
package bank

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// Codespace of the bank module.
const Codespace = "bank"

// Errors; codes are stable.
var (
	ErrFunds     = sm.Register(Codespace, 1, "insufficient funds")
	ErrNoAccount = sm.Register(Codespace, 2, "recipient is neither an account nor a module pool")
	ErrAmount    = sm.Register(Codespace, 3, "invalid amount")
	ErrOverflow  = sm.Register(Codespace, 4, "balance would overflow")
)

// ModuleAddress is the pool address of a module's sub-account, for example
// ModuleAddress("telemed", "escrow/42"). It is SHA-256 over a domain
// separator, the module and the sub-account, cut to an address: no public
// key hashes to it in practice, so no transaction can be signed for it.
func ModuleAddress(module, sub string) crypto.Address {
	h := sha256.New()
	h.Write([]byte("medchain/module-pool/v1\x00"))
	h.Write([]byte(module))
	h.Write([]byte{0})
	h.Write([]byte(sub))
	var a crypto.Address
	copy(a[:], h.Sum(nil))
	return a
}

func poolKey(a crypto.Address) []byte { return append([]byte{sm.PrefixPool}, a[:]...) }

// PoolKey is the store key of a module pool's balance (for proofs).
func PoolKey(a crypto.Address) []byte { return poolKey(a) }

// PoolBalance returns the balance of a module pool.
func PoolBalance(kv store.Reader, pool crypto.Address) uint64 {
	if b := kv.Get(poolKey(pool)); len(b) == 8 {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func setPool(kv store.KV, pool crypto.Address, v uint64) {
	if v == 0 {
		kv.Delete(poolKey(pool))
		return
	}
	kv.Set(poolKey(pool), binary.BigEndian.AppendUint64(nil, v))
}

// Balance returns the balance of an account, or of a module pool when no
// account has the address.
func Balance(kv store.Reader, a crypto.Address) uint64 {
	if acct := accounts.GetAccount(kv, a); acct != nil {
		return acct.Balance
	}
	return PoolBalance(kv, a)
}

// Send moves amount from one account or pool to another. The recipient must
// be a registered account or a module pool (a pool is created by its first
// credit: any address that is not an account is treated as a pool, so
// callers pass only addresses from ModuleAddress or accounts they looked
// up). A zero amount is refused; so is sending more than the balance.
func Send(kv store.KV, from, to crypto.Address, amount uint64) error {
	if amount == 0 {
		return sm.Wrapf(ErrAmount, "amount must be positive")
	}
	if from == to {
		if Balance(kv, from) < amount {
			return sm.Wrapf(ErrFunds, "balance %d, amount %d", Balance(kv, from), amount)
		}
		return nil
	}
	if err := debit(kv, from, amount); err != nil {
		return err
	}
	return credit(kv, to, amount)
}

func debit(kv store.KV, a crypto.Address, amount uint64) error {
	if acct := accounts.GetAccount(kv, a); acct != nil {
		if acct.Balance < amount {
			return sm.Wrapf(ErrFunds, "%s has %d, needs %d", a, acct.Balance, amount)
		}
		acct.Balance -= amount
		accounts.PutAccount(kv, acct)
		return nil
	}
	bal := PoolBalance(kv, a)
	if bal < amount {
		return sm.Wrapf(ErrFunds, "pool %s has %d, needs %d", a, bal, amount)
	}
	setPool(kv, a, bal-amount)
	return nil
}

// credit adds amount to an account or pool. Called only after the matching
// debit; an overflow is impossible while the supply fits in a uint64, but
// is checked so that a bug cannot mint.
func credit(kv store.KV, a crypto.Address, amount uint64) error {
	if acct := accounts.GetAccount(kv, a); acct != nil {
		if acct.Balance+amount < acct.Balance {
			return sm.Wrapf(ErrOverflow, "%s", a)
		}
		acct.Balance += amount
		accounts.PutAccount(kv, acct)
		return nil
	}
	bal := PoolBalance(kv, a)
	if bal+amount < bal {
		return sm.Wrapf(ErrOverflow, "pool %s", a)
	}
	setPool(kv, a, bal+amount)
	return nil
}

var supplyKey = []byte{sm.PrefixSupply}

// SupplyKey is the store key of the supply (for proofs).
func SupplyKey() []byte { return []byte{sm.PrefixSupply} }

// Supply returns the tokens in existence: the genesis supply, plus what was
// minted, less what was burned.
func Supply(kv store.Reader) uint64 {
	if b := kv.Get(supplyKey); len(b) == 8 {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// SetSupply records the supply; only genesis calls it, with the sum of the
// genesis balances.
func SetSupply(kv store.KV, total uint64) {
	kv.Set(supplyKey, binary.BigEndian.AppendUint64(nil, total))
}

// Mint creates amount new tokens in an account or pool (block rewards).
func Mint(kv store.KV, to crypto.Address, amount uint64) error {
	if amount == 0 {
		return sm.Wrapf(ErrAmount, "amount must be positive")
	}
	s := Supply(kv)
	if s+amount < s {
		return sm.Wrapf(ErrOverflow, "supply %d + %d", s, amount)
	}
	if err := credit(kv, to, amount); err != nil {
		return err
	}
	SetSupply(kv, s+amount)
	return nil
}

// Burn destroys amount tokens of an account or pool (slashing).
func Burn(kv store.KV, from crypto.Address, amount uint64) error {
	if amount == 0 {
		return sm.Wrapf(ErrAmount, "amount must be positive")
	}
	if err := debit(kv, from, amount); err != nil {
		return err
	}
	SetSupply(kv, Supply(kv)-amount)
	return nil
}
