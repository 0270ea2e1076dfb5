package consent

import (
	"encoding/binary"
	"slices"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// More errors of access decisions.
var (
	ErrNoConsent      = sm.Register(Codespace, 17, "no consent covers this access")
	ErrConsentExpired = sm.Register(Codespace, 18, "the consent covering this access has expired")
	ErrConsentRevoked = sm.Register(Codespace, 19, "the consent covering this access was revoked")
)

// GetConsent loads a consent, or nil.
func GetConsent(kv store.Reader, id uint64) *Consent {
	b := kv.Get(consentKey(id))
	if b == nil {
		return nil
	}
	c, err := DecodeConsent(b)
	store.Check(err)
	return c
}

func putConsent(kv store.KV, c *Consent) { kv.Set(consentKey(c.ID), codec.Marshal(c)) }

// GetEmergency loads an emergency access, or nil.
func GetEmergency(kv store.Reader, id uint64) *Emergency {
	b := kv.Get(emergencyKey(id))
	if b == nil {
		return nil
	}
	e, err := DecodeEmergency(b)
	store.Check(err)
	return e
}

func putEmergency(kv store.KV, e *Emergency) { kv.Set(emergencyKey(e.ID), codec.Marshal(e)) }

func nextID(kv store.KV, key []byte) uint64 {
	id := uint64(1)
	if b := kv.Get(key); len(b) == 8 {
		id = binary.BigEndian.Uint64(b)
	}
	kv.Set(key, binary.BigEndian.AppendUint64(nil, id+1))
	return id
}

func idsUnder(kv store.Reader, prefix []byte) []uint64 {
	var out []uint64
	kv.Iterate(prefix, store.PrefixEnd(prefix), func(k, _ []byte) bool {
		out = append(out, binary.BigEndian.Uint64(k[len(k)-8:]))
		return true
	})
	return out
}

// ByPatient lists a patient's consents, grouped by grantee, in id order within each.
func ByPatient(kv store.Reader, patient crypto.Address) []*Consent {
	return load(kv, idsUnder(kv, append([]byte{sm.PrefixConsentByPatient}, patient[:]...)))
}

// ByGrantee lists the consents granted to a party.
func ByGrantee(kv store.Reader, g Party) []*Consent {
	return load(kv, idsUnder(kv, append([]byte{sm.PrefixConsentByGrantee}, g.Key()...)))
}

// Between lists the consents a patient granted to one party.
func Between(kv store.Reader, patient crypto.Address, g Party) []*Consent {
	p := append(append([]byte{sm.PrefixConsentByPatient}, patient[:]...), g.Key()...)
	return load(kv, idsUnder(kv, p))
}

func load(kv store.Reader, ids []uint64) []*Consent {
	out := make([]*Consent, 0, len(ids))
	for _, id := range ids {
		if c := GetConsent(kv, id); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// EmergenciesOf lists a patient's emergency accesses.
func EmergenciesOf(kv store.Reader, patient crypto.Address) []*Emergency {
	var out []*Emergency
	for _, id := range idsUnder(kv, append([]byte{sm.PrefixEmergencyByPat}, patient[:]...)) {
		if e := GetEmergency(kv, id); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// EmergenciesByOrg lists the emergency accesses opened by an organization.
func EmergenciesByOrg(kv store.Reader, org string) []*Emergency {
	var out []*Emergency
	for _, id := range idsUnder(kv, append(append([]byte{sm.PrefixEmergencyByOrg}, org...), 0)) {
		if e := GetEmergency(kv, id); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// Basis says why an access is allowed.
type Basis string

const (
	BasisPatient   Basis = "patient"
	BasisGuardian  Basis = "guardian"
	BasisConsent   Basis = "consent"
	BasisOrg       Basis = "org_consent" // through a consent to the reader's organization
	BasisEmergency Basis = "emergency"
)

// Decision is the answer to "may X access record R now?".
type Decision struct {
	Allowed     bool
	Basis       Basis
	ConsentID   uint64 // BasisConsent, BasisOrg, BasisEmergency (the custody consent)
	EmergencyID uint64 // BasisEmergency
	// Recipient is who holds the wrapped data key for this basis: the reader
	// itself, or its organization (opened by the organization's gateway).
	Recipient Party
	Err       error // why not, when not allowed
}

// Target is what is being accessed.
type Target struct {
	Patient crypto.Address
	Record  RecordID
	Type    string
}

// MayRead decides whether reader may read the target at block time now.
func MayRead(kv store.Reader, now int64, reader crypto.Address, t Target) Decision {
	return decide(kv, now, reader, t, ActRead)
}

// MayWrite decides whether writer may add a record (or a new version of
// t.Record) of t.Type for the patient at block time now.
func MayWrite(kv store.Reader, now int64, writer crypto.Address, t Target) Decision {
	return decide(kv, now, writer, t, ActWrite)
}

func decide(kv store.Reader, now int64, who crypto.Address, t Target, act uint8) Decision {
	acct := accounts.GetAccount(kv, who)
	if acct == nil || !accounts.CanSign(kv, acct) {
		return Decision{Err: sm.Wrapf(ErrNoConsent, "%s is not an active account", who)}
	}
	if who == t.Patient {
		return Decision{Allowed: true, Basis: BasisPatient, Recipient: Account(who)}
	}
	if accounts.CanActFor(kv, who, t.Patient) {
		return Decision{Allowed: true, Basis: BasisGuardian, Recipient: Account(who)}
	}
	refusal := error(sm.Wrapf(ErrNoConsent, "%s for %s", who, t.Patient))
	rank := 0 // 1 revoked, 2 expired: the most telling refusal wins
	try := func(cs []*Consent, basis Basis, recipient Party) (Decision, bool) {
		for _, c := range cs {
			if c.Actions&act == 0 || c.Purpose == PurposeEmergency || !c.Covers(t.Record, t.Type) {
				continue
			}
			if c.ActiveAt(now) {
				return Decision{Allowed: true, Basis: basis, ConsentID: c.ID, Recipient: recipient}, true
			}
			switch {
			case c.Revoked != 0 && rank < 1:
				rank, refusal = 1, sm.Wrapf(ErrConsentRevoked, "consent %d", c.ID)
			case c.Revoked == 0 && c.Until != 0 && now >= c.Until && rank < 2:
				rank, refusal = 2, sm.Wrapf(ErrConsentExpired, "consent %d", c.ID)
			}
		}
		return Decision{}, false
	}
	if d, ok := try(Between(kv, t.Patient, Account(who)), BasisConsent, Account(who)); ok {
		return d
	}
	if acct.Kind == accounts.KindMember {
		if d, ok := try(Between(kv, t.Patient, Org(acct.Org)), BasisOrg, Org(acct.Org)); ok {
			return d
		}
		if act == ActRead {
			for _, e := range EmergenciesOf(kv, t.Patient) {
				if e.Practitioner != who || !e.OpenAt(now) {
					continue
				}
				if c := Custody(kv, now, t.Patient, e.Org); c != nil {
					return Decision{Allowed: true, Basis: BasisEmergency, ConsentID: c.ID, EmergencyID: e.ID, Recipient: Org(e.Org)}
				}
			}
		}
	}
	return Decision{Err: refusal}
}

// Custody returns the active emergency-custody consent of org for patient.
func Custody(kv store.Reader, now int64, patient crypto.Address, org string) *Consent {
	for _, c := range Between(kv, patient, Org(org)) {
		if c.Purpose == PurposeEmergency && c.Actions&ActRead != 0 && c.ActiveAt(now) {
			return c
		}
	}
	return nil
}

// KeyHolders lists the parties that must receive a wrapped data key for a
// new record (or version) of the target: the patient, the patient's
// guardians, every party holding an active read consent covering it, and
// the emergency custodians — those of them that can still read (Reachable).
// Sorted by party key, without duplicates.
func KeyHolders(kv store.Reader, now int64, t Target) []Party {
	seen := map[string]Party{}
	add := func(p Party) {
		if Reachable(kv, p) {
			seen[string(p.Key())] = p
		}
	}
	add(Account(t.Patient))
	for _, g := range accounts.Guardians(kv, t.Patient) {
		add(Account(g))
	}
	for _, c := range ByPatient(kv, t.Patient) {
		if c.Actions&ActRead != 0 && c.ActiveAt(now) && c.Covers(t.Record, t.Type) {
			add(c.Grantee)
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Party, len(keys))
	for i, k := range keys {
		out[i] = seen[k]
	}
	return out
}

// Reachable reports whether a party can still read: an account that may
// sign, or an organization that is a current member. Deactivated accounts and
// departed organizations receive no new keys.
func Reachable(kv store.Reader, p Party) bool {
	switch p.Kind {
	case PartyAccount:
		a := accounts.GetAccount(kv, p.Address)
		return a != nil && accounts.CanSign(kv, a)
	case PartyOrg:
		o := accounts.GetOrg(kv, p.Org)
		return o != nil && o.Active
	}
	return false
}

// EncKeyOf returns the HPKE key of a party: an account's, or an
// organization's gateway key. ok is false when the party has none.
func EncKeyOf(kv store.Reader, p Party) (crypto.EncKey, bool) {
	switch p.Kind {
	case PartyAccount:
		if a := accounts.GetAccount(kv, p.Address); a != nil {
			return a.EncKey, true
		}
	case PartyOrg:
		if o := accounts.GetOrg(kv, p.Org); o != nil && o.EncKey != (crypto.EncKey{}) {
			return o.EncKey, true
		}
	}
	return crypto.EncKey{}, false
}
