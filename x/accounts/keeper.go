package accounts

import (
	"encoding/binary"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

func accountKey(a crypto.Address) []byte { return append([]byte{sm.PrefixAccount}, a[:]...) }
func orgKey(id string) []byte            { return append([]byte{sm.PrefixOrg}, id...) }
func memberKey(org string, a crypto.Address) []byte {
	k := append([]byte{sm.PrefixOrgMember}, org...)
	k = append(k, 0)
	return append(k, a[:]...)
}
func guardianKey(patient, guardian crypto.Address) []byte {
	k := append([]byte{sm.PrefixGuardian}, patient[:]...)
	return append(k, guardian[:]...)
}

var feePoolKey = []byte{sm.PrefixFeePool}

// selfRegsKey holds the height of the last block with a self-registration
// and how many it had: one key, overwritten, so the count costs no state
// growth.
var selfRegsKey = []byte{sm.PrefixSelfRegs}

// AccountKey is the store key of an account (for proofs).
func AccountKey(a crypto.Address) []byte { return accountKey(a) }

// OrgKey is the store key of an organization (for proofs).
func OrgKey(id string) []byte { return orgKey(id) }

// GetAccount loads an account, or nil when absent.
func GetAccount(kv store.Reader, a crypto.Address) *Account {
	b := kv.Get(accountKey(a))
	if b == nil {
		return nil
	}
	acc, err := DecodeAccount(b)
	store.Check(err) // state we wrote ourselves must decode
	return acc
}

// PutAccount stores an account.
func PutAccount(kv store.KV, a *Account) { kv.Set(accountKey(a.Address), codec.Marshal(a)) }

// GetOrg loads an organization, or nil.
func GetOrg(kv store.Reader, id string) *Org {
	b := kv.Get(orgKey(id))
	if b == nil {
		return nil
	}
	o, err := DecodeOrg(b)
	store.Check(err)
	return o
}

// PutOrg stores an organization.
func PutOrg(kv store.KV, o *Org) { kv.Set(orgKey(o.ID), codec.Marshal(o)) }

// Orgs lists all organizations in id order.
func Orgs(kv store.Reader) []*Org {
	var out []*Org
	p := []byte{sm.PrefixOrg}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		o, err := DecodeOrg(v)
		store.Check(err)
		out = append(out, o)
		return true
	})
	return out
}

// ActiveOrgs lists the current consortium members in id order.
func ActiveOrgs(kv store.Reader) []*Org {
	var out []*Org
	for _, o := range Orgs(kv) {
		if o.Active {
			out = append(out, o)
		}
	}
	return out
}

// Members lists the addresses registered under an organization.
func Members(kv store.Reader, org string) []crypto.Address {
	var out []crypto.Address
	p := append(append([]byte{sm.PrefixOrgMember}, org...), 0)
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		var a crypto.Address
		copy(a[:], k[len(p):])
		out = append(out, a)
		return true
	})
	return out
}

// CanSign reports whether the account may sign transactions now: it is
// active and, for members, its organization is an active member.
func CanSign(kv store.Reader, a *Account) bool {
	if !a.Active {
		return false
	}
	if a.Kind == KindMember {
		o := GetOrg(kv, a.Org)
		return o != nil && o.Active
	}
	return true
}

// ActiveMember returns the account when it is an active member of an active
// organization with one of the roles (any role when none given).
func ActiveMember(kv store.Reader, addr crypto.Address, roles ...string) *Account {
	a := GetAccount(kv, addr)
	if a == nil || a.Kind != KindMember || !CanSign(kv, a) {
		return nil
	}
	if len(roles) == 0 {
		return a
	}
	for _, r := range roles {
		if a.Role == r {
			return a
		}
	}
	return nil
}

// AdminOrg returns the organization of which addr is an active admin, or nil.
func AdminOrg(kv store.Reader, addr crypto.Address) *Org {
	a := ActiveMember(kv, addr, RoleAdmin)
	if a == nil {
		return nil
	}
	return GetOrg(kv, a.Org)
}

// IsGuardian reports whether guardian holds a delegation from patient.
func IsGuardian(kv store.Reader, patient, guardian crypto.Address) bool {
	return kv.Get(guardianKey(patient, guardian)) != nil
}

// Guardians lists a patient's guardians.
func Guardians(kv store.Reader, patient crypto.Address) []crypto.Address {
	var out []crypto.Address
	p := append([]byte{sm.PrefixGuardian}, patient[:]...)
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		var a crypto.Address
		copy(a[:], k[len(p):])
		out = append(out, a)
		return true
	})
	return out
}

// CanActFor reports whether actor may act for patient: the patient itself, or
// an active account holding the patient's guardian delegation.
func CanActFor(kv store.Reader, actor, patient crypto.Address) bool {
	p := GetAccount(kv, patient)
	if p == nil || p.Kind != KindPatient {
		return false
	}
	if actor == patient {
		return true
	}
	if !IsGuardian(kv, patient, actor) {
		return false
	}
	g := GetAccount(kv, actor)
	return g != nil && CanSign(kv, g)
}

// FeePool returns the fees collected and not yet distributed.
func FeePool(kv store.Reader) uint64 {
	if b := kv.Get(feePoolKey); len(b) == 8 {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// ChargeFee moves fee from the account's balance to the fee pool.
func ChargeFee(kv store.KV, a *Account, fee uint64) error {
	if fee == 0 {
		return nil
	}
	if a.Balance < fee {
		return sm.Wrapf(sm.ErrFunds, "balance %d, fee %d", a.Balance, fee)
	}
	a.Balance -= fee
	kv.Set(feePoolKey, binary.BigEndian.AppendUint64(nil, FeePool(kv)+fee))
	return nil
}

// TakeFeePool empties the fee pool and returns what it held: the caller
// (distribution) must credit exactly that amount elsewhere in the same
// block, or tokens vanish from the supply invariant.
func TakeFeePool(kv store.KV) uint64 {
	fees := FeePool(kv)
	if fees != 0 {
		kv.Delete(feePoolKey)
	}
	return fees
}
