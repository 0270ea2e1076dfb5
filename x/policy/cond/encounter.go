package cond

import (
	"slices"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// Store prefixes of x/policy (sm/prefixes.go; its range is 0x78–0x7E,
// index keys | 0x80), named here for the module and for consent, which
// reads the encounters when it evaluates a condition (consent cannot import
// x/policy, which grants and revokes consents).
const (
	PrefixRule        = sm.PrefixPolicyRule
	PrefixRuleSeq     = sm.PrefixPolicyRuleSeq
	PrefixEncounter   = sm.PrefixPolicyEncounter
	PrefixRuleByOwner = sm.PrefixPolicyRuleByOwner
)

// MaxEncounters bounds the organizations with an encounter in progress for
// one patient.
const MaxEncounters = 32

// Encounter is an encounter in progress (an admission, a consultation) of a
// patient at an organization, recorded on chain by a practitioner or admin
// of that organization (policy/admit) and ended by one (policy/discharge).
// It says only where, never why: no health data.
type Encounter struct {
	Org   string
	Since int64
	By    crypto.Address
}

// EncounterKey is the one key holding a patient's encounters in progress.
// A proven key read by Get: a light client can check a decision that used it.
func EncounterKey(patient crypto.Address) []byte {
	return append([]byte{PrefixEncounter}, patient[:]...)
}

// Encounters returns the patient's encounters in progress, sorted by
// organization.
func Encounters(kv store.Reader, patient crypto.Address) []Encounter {
	b := kv.Get(EncounterKey(patient))
	if b == nil {
		return nil
	}
	es, err := DecodeEncounters(b)
	store.Check(err)
	return es
}

// EncounterOrgs lists the organizations where the patient has an encounter
// in progress, sorted.
func EncounterOrgs(kv store.Reader, patient crypto.Address) []string {
	es := Encounters(kv, patient)
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Org
	}
	return out
}

// EncodeEncounters encodes a sorted list.
func EncodeEncounters(es []Encounter) []byte {
	w := codec.NewWriter(16 + 64*len(es))
	w.Uint(uint64(len(es)))
	for _, e := range es {
		w.String(e.Org)
		w.Int(e.Since)
		w.Fixed(e.By[:])
	}
	return w.Bytes()
}

// DecodeEncounters decodes a list, requiring it sorted and distinct.
func DecodeEncounters(b []byte) ([]Encounter, error) {
	r := codec.NewReader(b)
	n := r.Count("encounters", MaxEncounters)
	out := make([]Encounter, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		e := Encounter{Org: r.String("org", 64), Since: r.Int("since"), By: sm.ReadAddress(r, "by")}
		if len(out) > 0 && out[len(out)-1].Org >= e.Org {
			r.Fixed("encounters (not sorted)", -1)
		}
		out = append(out, e)
	}
	return out, r.Done()
}

// WithEncounter returns es with org's encounter set (replacing one there).
func WithEncounter(es []Encounter, e Encounter) []Encounter {
	out := slices.DeleteFunc(slices.Clone(es), func(x Encounter) bool { return x.Org == e.Org })
	out = append(out, e)
	slices.SortFunc(out, func(a, b Encounter) int {
		switch {
		case a.Org < b.Org:
			return -1
		case a.Org > b.Org:
			return 1
		}
		return 0
	})
	return out
}
