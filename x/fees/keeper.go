package fees

import (
	"encoding/binary"
	"math/big"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/exec"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/params"
)

// Store keys (sm/prefixes.go, the token range).
var baseFeeKey = []byte{sm.PrefixFeesBaseFee}

func allowanceKey(granter, grantee crypto.Address) []byte {
	k := make([]byte, 0, 41)
	k = append(k, sm.PrefixFeesAllowance)
	k = append(k, granter[:]...)
	return append(k, grantee[:]...)
}

func byGranteeKey(grantee, granter crypto.Address) []byte {
	k := make([]byte, 0, 41)
	k = append(k, sm.PrefixFeesByGrantee)
	k = append(k, grantee[:]...)
	return append(k, granter[:]...)
}

// AllowanceKey is the store key of an allowance (for proofs).
func AllowanceKey(granter, grantee crypto.Address) []byte { return allowanceKey(granter, grantee) }

// GetAllowance returns granter's allowance to grantee, or nil.
func GetAllowance(kv store.Reader, granter, grantee crypto.Address) *Allowance {
	b := kv.Get(allowanceKey(granter, grantee))
	if b == nil {
		return nil
	}
	a, err := decodeAllowance(b)
	store.Check(err)
	return a
}

func putAllowance(kv store.KV, a *Allowance) {
	kv.Set(allowanceKey(a.Granter, a.Grantee), codec.Marshal(a))
	kv.Set(byGranteeKey(a.Grantee, a.Granter), []byte{1})
}

func deleteAllowance(kv store.KV, granter, grantee crypto.Address) {
	kv.Delete(allowanceKey(granter, grantee))
	kv.Delete(byGranteeKey(grantee, granter))
}

// AllowancesBy lists the allowances granter gave, by grantee.
func AllowancesBy(kv store.Reader, granter crypto.Address) []*Allowance {
	var out []*Allowance
	p := append([]byte{sm.PrefixFeesAllowance}, granter[:]...)
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		a, err := decodeAllowance(v)
		store.Check(err)
		out = append(out, a)
		return true
	})
	return out
}

// AllowancesTo lists the allowances grantee holds, by granter.
func AllowancesTo(kv store.Reader, grantee crypto.Address) []*Allowance {
	var out []*Allowance
	p := append([]byte{sm.PrefixFeesByGrantee}, grantee[:]...)
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		var granter crypto.Address
		copy(granter[:], k[len(p):])
		if a := GetAllowance(kv, granter, grantee); a != nil {
			out = append(out, a)
		}
		return true
	})
	return out
}

// Keeper prices transactions and charges their fees; it implements
// exec.FeeRules.
type Keeper struct{ Params *params.Registry }

var _ exec.FeeRules = Keeper{}

// BaseFee is the fee market's base fee for the next block, or 0 when the
// market is off.
func (k Keeper) BaseFee(kv store.Reader) uint64 {
	if k.Params.Get(kv, ParamMarketEnabled) == 0 {
		return 0
	}
	if b := kv.Get(baseFeeKey); len(b) == 8 {
		return binary.BigEndian.Uint64(b)
	}
	return k.Params.Get(kv, ParamMarketMinBase)
}

// MinFee is the smallest fee a transaction of type typ may carry now: the
// highest of tx.min_fee, fees.min.<typ> and the base fee.
func (k Keeper) MinFee(kv store.Reader, typ string) uint64 {
	m := max(k.Params.Get(kv, ParamMinFee), k.BaseFee(kv))
	if k.Params.Has(ParamMinPrefix + typ) {
		m = max(m, k.Params.Get(kv, ParamMinPrefix+typ))
	}
	return m
}

// MaxMinFee is the highest MinFee of any declared type: a fee that is
// enough for any transaction now (for clients that sign many types).
func (k Keeper) MaxMinFee(kv store.Reader) uint64 {
	m := max(k.Params.Get(kv, ParamMinFee), k.BaseFee(kv))
	for _, d := range k.Params.Defs() {
		if len(d.Name) > len(ParamMinPrefix) && d.Name[:len(ParamMinPrefix)] == ParamMinPrefix {
			m = max(m, k.Params.Get(kv, d.Name))
		}
	}
	return m
}

// CheckFee implements exec.FeeRules.
func (k Keeper) CheckFee(kv store.Reader, tx *sm.Tx, principal crypto.Address, acct *accounts.Account, now int64) error {
	min := k.MinFee(kv, tx.Body.Type)
	payer := tx.Body.FeePayer
	if payer == (crypto.Address{}) {
		return exec.CheckSignerFee(tx.Body.Fee, min, acct)
	}
	if tx.Body.Fee < min {
		return sm.Wrapf(sm.ErrFeeTooLow, "fee %d, minimum %d", tx.Body.Fee, min)
	}
	_, _, err := k.sponsored(kv, tx, principal, now)
	return err
}

// sponsored checks the fee payer's allowance for tx and returns the
// payer's account and the allowance as they are after the charge.
func (k Keeper) sponsored(kv store.Reader, tx *sm.Tx, principal crypto.Address, now int64) (*accounts.Account, *Allowance, error) {
	payer, fee := tx.Body.FeePayer, tx.Body.Fee
	if payer == principal {
		return nil, nil, sm.Wrapf(ErrSelfGrant, "the signer names itself as fee payer")
	}
	a := GetAllowance(kv, payer, principal)
	if a == nil {
		return nil, nil, sm.Wrapf(ErrNoAllowance, "from %s to %s", payer, principal)
	}
	if a.Expiry != 0 && now >= a.Expiry {
		return nil, nil, sm.Wrapf(ErrExpired, "at %d", a.Expiry)
	}
	if !a.Covers(tx.Body.Type) {
		return nil, nil, sm.Wrapf(ErrTypeNotAllowed, "%s", tx.Body.Type)
	}
	p := accounts.GetAccount(kv, payer)
	if p == nil || !accounts.CanSign(kv, p) || accounts.AdminOrg(kv, payer) == nil {
		return nil, nil, sm.Wrapf(ErrPayer, "%s is no longer an active admin of an active organization", payer)
	}
	if a.Limit != 0 && (a.Spent+fee < a.Spent || a.Spent+fee > a.Limit) {
		return nil, nil, sm.Wrapf(ErrLimit, "spent %d of %d, fee %d", a.Spent, a.Limit, fee)
	}
	a.rollPeriod(now)
	if a.Period != 0 && (a.PeriodSpent+fee < a.PeriodSpent || a.PeriodSpent+fee > a.PeriodLimit) {
		return nil, nil, sm.Wrapf(ErrPeriodLimit, "spent %d of %d this period (until %d), fee %d", a.PeriodSpent, a.PeriodLimit, a.PeriodStart+a.Period, fee)
	}
	if p.Balance < fee {
		return nil, nil, sm.Wrapf(sm.ErrFunds, "fee payer balance %d, fee %d", p.Balance, fee)
	}
	a.Spent += fee
	a.PeriodSpent += fee
	return p, a, nil
}

// ChargeFee implements exec.FeeRules.
func (k Keeper) ChargeFee(kv store.KV, tx *sm.Tx, principal crypto.Address, acct *accounts.Account, now int64) error {
	if tx.Body.FeePayer == (crypto.Address{}) {
		if acct == nil {
			return nil
		}
		return accounts.ChargeFee(kv, acct, tx.Body.Fee)
	}
	p, a, err := k.sponsored(kv, tx, principal, now)
	if err != nil {
		return err
	}
	if err := accounts.ChargeFee(kv, p, tx.Body.Fee); err != nil {
		return err
	}
	accounts.PutAccount(kv, p)
	putAllowance(kv, a)
	return nil
}

// ObserveUsage moves the base fee toward the load: txs above the target
// raise it by base·(txs−target)/target/denominator (at least 1), below it
// lower it likewise, within the minimum and maximum. With the market off
// the base fee is forgotten, so that switching it on starts at the minimum.
func (k Keeper) ObserveUsage(ctx sm.Context, txs int) {
	kv := ctx.Store
	if k.Params.Get(kv, ParamMarketEnabled) == 0 {
		if kv.Get(baseFeeKey) != nil {
			kv.Delete(baseFeeKey)
		}
		return
	}
	base := k.BaseFee(kv)
	next := NextBaseFee(base, uint64(txs), k.Params.Get(kv, ParamMarketTarget), k.Params.Get(kv, ParamMarketDenominator),
		k.Params.Get(kv, ParamMarketMinBase), k.Params.Get(kv, ParamMarketMaxBase))
	if next != base || kv.Get(baseFeeKey) == nil {
		kv.Set(baseFeeKey, binary.BigEndian.AppendUint64(nil, next))
		ctx.Events.Emit("base_fee", sm.Attr{Key: "base_fee", Value: strconv.FormatUint(next, 10)}, sm.Attr{Key: "txs", Value: strconv.Itoa(txs)})
	}
}

// NextBaseFee is the EIP-1559 update in integers (see ObserveUsage).
func NextBaseFee(base, used, target, denom, minBase, maxBase uint64) uint64 {
	if target == 0 || denom == 0 {
		return base
	}
	var diff uint64
	up := used > target
	if up {
		diff = used - target
	} else {
		diff = target - used
	}
	d := new(big.Int).SetUint64(base)
	d.Mul(d, new(big.Int).SetUint64(diff))
	d.Quo(d, new(big.Int).SetUint64(target))
	d.Quo(d, new(big.Int).SetUint64(denom))
	delta := d.Uint64()
	if !d.IsUint64() {
		delta = ^uint64(0)
	}
	next := base
	if up {
		delta = max(delta, 1)
		if base+delta < base || base+delta > maxBase {
			next = maxBase
		} else {
			next = base + delta
		}
	} else if delta >= base-minBase || base < minBase {
		next = minBase
	} else {
		next = base - delta
	}
	return min(max(next, minBase), maxBase)
}
