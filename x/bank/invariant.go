package bank

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// Holdings sums every token held: the balances of all accounts, of all
// module pools (stakes, unbonding stake, escrows, research budgets,
// rewards, provisions) and the fee pool. It reads the whole account and
// pool ranges, so it is for genesis and tests, never for a transaction.
func Holdings(kv store.Reader) (uint64, error) {
	var sum, carry uint64
	var err error
	add := func(v uint64) {
		var c uint64
		sum, c = bits.Add64(sum, v, 0)
		carry += c
	}
	kv.Iterate([]byte{sm.PrefixAccount}, []byte{sm.PrefixAccount + 1}, func(k, v []byte) bool {
		a, e := accounts.DecodeAccount(v)
		if e != nil {
			err = fmt.Errorf("account %x: %w", k[1:], e)
			return false
		}
		add(a.Balance)
		return true
	})
	if err != nil {
		return 0, err
	}
	kv.Iterate([]byte{sm.PrefixPool}, []byte{sm.PrefixPool + 1}, func(k, v []byte) bool {
		if len(v) != 8 {
			err = fmt.Errorf("pool %x: value of %d bytes", k[1:], len(v))
			return false
		}
		add(binary.BigEndian.Uint64(v))
		return true
	})
	if err != nil {
		return 0, err
	}
	add(accounts.FeePool(kv))
	if carry != 0 {
		return 0, fmt.Errorf("holdings overflow 64 bits")
	}
	return sum, nil
}

// CheckInvariant checks that the tokens held (Holdings: balances, stakes,
// escrows, module pools and collected fees) are exactly the supply (the
// genesis supply plus what was minted less what was burned). Tests run it
// after every block.
func CheckInvariant(kv store.Reader) error {
	held, err := Holdings(kv)
	if err != nil {
		return err
	}
	if s := Supply(kv); held != s {
		return fmt.Errorf("supply invariant broken: %d held, supply %d (difference %d)", held, s, int64(held-s))
	}
	return nil
}

// TakeFees moves the collected fees (accounts' fee pool) into the pool or
// account to, and returns how much moved. It is a transfer: the supply does
// not change.
func TakeFees(kv store.KV, to crypto.Address) uint64 {
	fees := accounts.TakeFeePool(kv)
	if fees > 0 {
		store.Check(credit(kv, to, fees))
	}
	return fees
}
