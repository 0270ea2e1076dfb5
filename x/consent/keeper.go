package consent

import (
	"bytes"
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

// Errors appended after those of types.go (codes 20 and 21).
var (
	ErrOutsideCustody = sm.Register(Codespace, 22, "an emergency access reads only what the organization's emergency custody consent covers (its resource types or listed records)")
	ErrPeriodTooLong  = sm.Register(Codespace, 23, "consent end time is further away than the governance parameter consent.max_consent_seconds allows")
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

// indexed walks the index entries under prefix and loads the object each one
// names by the id in its last 8 bytes. An object is kept only when the index
// key that pointed at it is exactly the one the object itself derives
// (keyOf): index keys sit outside the Merkle tree, so a damaged or stray entry
// can make a listing shorter, never make it name another patient's or
// party's consent or emergency.
func indexed[T any](kv store.Reader, prefix []byte, get func(store.Reader, uint64) *T, keyOf func(*T) []byte) []*T {
	var out []*T
	kv.Iterate(prefix, store.PrefixEnd(prefix), func(k, _ []byte) bool {
		if len(k) < len(prefix)+8 {
			return true
		}
		if x := get(kv, binary.BigEndian.Uint64(k[len(k)-8:])); x != nil && bytes.Equal(keyOf(x), k) {
			out = append(out, x)
		}
		return true
	})
	return out
}

func (c *Consent) byPatientKey() []byte { return byPatientKey(c.Patient, c.Grantee, c.ID) }
func (c *Consent) byGranteeKey() []byte { return byGranteeKey(c.Grantee, c.Patient, c.ID) }
func (e *Emergency) byPatientKey() []byte {
	return emergencyByPatientKey(e.Patient, e.ID)
}
func (e *Emergency) byOrgKey() []byte { return emergencyByOrgKey(e.Org, e.ID) }

// ByPatient lists a patient's consents, grouped by grantee, in id order within each.
func ByPatient(kv store.Reader, patient crypto.Address) []*Consent {
	return indexed(kv, append([]byte{sm.PrefixConsentByPatient}, patient[:]...), GetConsent, (*Consent).byPatientKey)
}

// ByGrantee lists the consents granted to a party.
func ByGrantee(kv store.Reader, g Party) []*Consent {
	return indexed(kv, append([]byte{sm.PrefixConsentByGrantee}, g.Key()...), GetConsent, (*Consent).byGranteeKey)
}

// Between lists the consents a patient granted to one party.
func Between(kv store.Reader, patient crypto.Address, g Party) []*Consent {
	p := append(append([]byte{sm.PrefixConsentByPatient}, patient[:]...), g.Key()...)
	return indexed(kv, p, GetConsent, (*Consent).byPatientKey)
}

// EmergenciesOf lists a patient's emergency accesses.
func EmergenciesOf(kv store.Reader, patient crypto.Address) []*Emergency {
	return indexed(kv, append([]byte{sm.PrefixEmergencyByPat}, patient[:]...), GetEmergency, (*Emergency).byPatientKey)
}

// EmergenciesByOrg lists the emergency accesses opened by an organization.
func EmergenciesByOrg(kv store.Reader, org string) []*Emergency {
	return indexed(kv, append(append([]byte{sm.PrefixEmergencyByOrg}, org...), 0), GetEmergency, (*Emergency).byOrgKey)
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
	// Condition names (cond.Hash) the condition of the consent that allowed
	// the access, when it has one.
	Condition string
	Err       error // why not, when not allowed (a *ConditionError when a condition refused)
}

// Target is what is being accessed.
type Target struct {
	Patient crypto.Address
	Record  RecordID
	Type    string
	// Codes are the coded concepts of the access ("system|code"), when the
	// caller knows them (KnownCodes): a FHIR write knows the resource it
	// writes, a FHIR read knows it once decrypted; the chain itself stores
	// no codes (no health data). Conditions read them as codes, and
	// codes_known. The zero value: unknown.
	Codes CodeSet
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
	// Every candidate found below, through an index or not, is allowed only
	// once Grounds confirms it from proven keys alone.
	var refusal error // the plain refusal is formatted only when it is the answer
	rank := 0         // 1 revoked, 2 expired, 3 outside the custody scope, 4 refused by a condition: the most telling refusal wins
	grounded := func(d Decision) (Decision, bool) {
		d.Allowed = true
		err := Grounds(kv, now, who, t, act, d)
		if ce := AsConditionError(err); ce != nil && rank < 4 {
			rank, refusal = 4, err
		}
		return d, err == nil
	}
	if who == t.Patient {
		if d, ok := grounded(Decision{Basis: BasisPatient, Recipient: Account(who)}); ok {
			return d
		}
	}
	if accounts.CanActFor(kv, who, t.Patient) {
		if d, ok := grounded(Decision{Basis: BasisGuardian, Recipient: Account(who)}); ok {
			return d
		}
	}
	try := func(cs []*Consent, basis Basis, recipient Party) (Decision, bool) {
		for _, c := range cs {
			if c.Actions&act == 0 || c.Purpose == PurposeEmergency || !c.Covers(t.Record, t.Type) {
				continue
			}
			if c.ActiveAt(now) {
				if d, ok := grounded(Decision{Basis: basis, ConsentID: c.ID, Recipient: recipient, Condition: conditionName(c)}); ok {
					return d, true
				}
				continue
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
				if e.Practitioner != who || e.Org != acct.Org || !e.OpenAt(now) {
					continue
				}
				c := CustodyFor(kv, now, e.Org, t)
				if c == nil {
					if Custody(kv, now, t.Patient, e.Org) != nil && rank < 3 {
						rank, refusal = 3, sm.Wrapf(ErrOutsideCustody, "emergency access %d: %s record %x", e.ID, t.Type, t.Record)
					}
					continue
				}
				if d, ok := grounded(Decision{Basis: BasisEmergency, ConsentID: c.ID, EmergencyID: e.ID, Recipient: Org(e.Org), Condition: conditionName(c)}); ok {
					return d
				}
			}
		}
	}
	if refusal == nil {
		refusal = sm.Wrapf(ErrNoConsent, "%s for %s", who, t.Patient)
	}
	return Decision{Err: refusal}
}

// Custody returns an active emergency-custody consent of org for patient at
// block time now, whatever its scope: what opening an emergency needs.
func Custody(kv store.Reader, now int64, patient crypto.Address, org string) *Consent {
	return custody(kv, now, patient, org, nil)
}

// CustodyFor returns an active emergency-custody consent of org whose scope
// covers the target's record (its types or listed records): what reading
// under an emergency needs.
func CustodyFor(kv store.Reader, now int64, org string, t Target) *Consent {
	return custody(kv, now, t.Patient, org, &t)
}

func custody(kv store.Reader, now int64, patient crypto.Address, org string, t *Target) *Consent {
	for _, c := range Between(kv, patient, Org(org)) {
		if isCustody(c, now) && (t == nil || c.Covers(t.Record, t.Type)) {
			return c
		}
	}
	return nil
}

func isCustody(c *Consent, now int64) bool {
	return c.Purpose == PurposeEmergency && c.Actions&ActRead != 0 && c.ActiveAt(now)
}

// Grounds checks an allowed decision of MayRead (act ActRead) or MayWrite
// (ActWrite) for who on target t at block time now from proven keys alone:
// the reader's account and organization, the patient's account and guardian
// delegation, and the consent, emergency and custody consent the decision
// names, each loaded by its own key and checked against the target, never
// found through an index. MayRead and MayWrite allow only what Grounds
// accepts, so a damaged index can refuse but never allow; and a light client
// holding the proven values of these keys (GroundKeys) reaches the same
// verdict without trusting the node that answered.
func Grounds(kv store.Reader, now int64, who crypto.Address, t Target, act uint8, d Decision) error {
	bad := func(format string, args ...any) error {
		return sm.Wrapf(ErrNoConsent, "grounds of a %s decision: "+format, append([]any{d.Basis}, args...)...)
	}
	acct := accounts.GetAccount(kv, who)
	if acct == nil || !accounts.CanSign(kv, acct) {
		return bad("%s is not an active account", who)
	}
	if !d.Allowed {
		return bad("not an allowed decision")
	}
	if act != ActRead && act != ActWrite {
		return bad("action %d", act)
	}
	var recipient Party
	switch d.Basis {
	case BasisPatient:
		if who != t.Patient {
			return bad("%s is not the patient", who)
		}
		recipient = Account(who)
	case BasisGuardian:
		if !accounts.CanActFor(kv, who, t.Patient) {
			return bad("%s is not a guardian of %s", who, t.Patient)
		}
		recipient = Account(who)
	case BasisConsent, BasisOrg:
		recipient = Account(who)
		if d.Basis == BasisOrg {
			if acct.Kind != accounts.KindMember {
				return bad("%s is not an organization member", who)
			}
			recipient = Org(acct.Org)
		}
		c := GetConsent(kv, d.ConsentID)
		if c == nil || c.ID != d.ConsentID || c.Patient != t.Patient || c.Grantee != recipient {
			return bad("consent %d is not one of %s to %s", d.ConsentID, t.Patient, recipient)
		}
		if c.Actions&act == 0 || c.Purpose == PurposeEmergency || !c.Covers(t.Record, t.Type) || !c.ActiveAt(now) {
			return bad("consent %d does not cover this access now", c.ID)
		}
		if err := conditionHolds(kv, now, who, acct, c, t, act); err != nil {
			return err
		}
	case BasisEmergency:
		if act != ActRead || acct.Kind != accounts.KindMember {
			return bad("emergency access is reading by an organization member")
		}
		e := GetEmergency(kv, d.EmergencyID)
		if e == nil || e.ID != d.EmergencyID || e.Patient != t.Patient || e.Practitioner != who || e.Org != acct.Org || !e.OpenAt(now) {
			return bad("emergency access %d is not open for %s on %s", d.EmergencyID, who, t.Patient)
		}
		recipient = Org(e.Org)
		c := GetConsent(kv, d.ConsentID)
		if c == nil || c.ID != d.ConsentID || c.Patient != t.Patient || c.Grantee != recipient || !isCustody(c, now) {
			return bad("consent %d is not an active custody of %s for %s", d.ConsentID, recipient, t.Patient)
		}
		if !c.Covers(t.Record, t.Type) {
			return sm.Wrapf(ErrOutsideCustody, "custody consent %d: %s record %x", c.ID, t.Type, t.Record)
		}
		if err := conditionHolds(kv, now, who, acct, c, t, act); err != nil {
			return err
		}
	default:
		return bad("unknown basis")
	}
	if d.Recipient != recipient {
		return bad("key recipient %s, want %s", d.Recipient, recipient)
	}
	return nil
}

// GroundKeys lists the keys Grounds reads for decision d, in the order it
// first reads them: what an access answer proves (absent ones proven absent).
// They are all proven keys: Grounds reads no index and iterates nothing. For
// a refusal they are the reader's account and organization, which prove a
// refusal of an unknown or inactive reader.
func GroundKeys(kv store.Reader, now int64, who crypto.Address, t Target, act uint8, d Decision) [][]byte {
	r := &recorder{Reader: kv, seen: map[string]bool{}}
	_ = Grounds(r, now, who, t, act, d)
	return r.keys
}

// recorder notes the keys read through it.
type recorder struct {
	store.Reader
	seen map[string]bool
	keys [][]byte
}

func (r *recorder) Get(key []byte) []byte {
	if !r.seen[string(key)] {
		r.seen[string(key)] = true
		r.keys = append(r.keys, bytes.Clone(key))
	}
	return r.Reader.Get(key)
}

// Iterate passes through unrecorded: Grounds does not iterate, and should it
// ever, a verifier holding only the recorded keys fails the check rather
// than the node failing the request.
func (r *recorder) Iterate(start, end []byte, fn func(k, v []byte) bool) {
	r.Reader.Iterate(start, end, fn)
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
