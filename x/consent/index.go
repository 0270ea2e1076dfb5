package consent

import (
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// IndexEntries derives every index entry of the consent module (consents by
// patient and by grantee, emergencies by patient and by organization) from
// its proven keys, the consents and emergencies, and hands each to emit in no
// particular order. On a sound state the result is exactly the stored index;
// `medchain state check` compares the two.
func IndexEntries(kv store.Reader, emit func(key, value []byte)) {
	p := []byte{sm.PrefixConsent}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		c, err := DecodeConsent(v)
		store.Check(err)
		emit(c.byPatientKey(), []byte{1})
		emit(c.byGranteeKey(), []byte{1})
		return true
	})
	p = []byte{sm.PrefixEmergency}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		e, err := DecodeEmergency(v)
		store.Check(err)
		emit(e.byPatientKey(), []byte{1})
		emit(e.byOrgKey(), []byte{1})
		return true
	})
}
