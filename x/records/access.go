package records

import (
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/consent"
)

// Target is what a consent check of rec is about: its patient, its id and
// its resource type. Every consent decision on an existing record names it
// this way.
func (rec *Record) Target() consent.Target {
	return consent.Target{Patient: rec.Patient, Record: rec.ID, Type: rec.Type}
}

// MayRead decides who may read a record: no one once it is erased
// (ErrErased), otherwise whom consent allows at block time now
// (consent.MayRead of rec.Target()). Every reader — the API, the blob
// gateway, FHIR — asks here.
func MayRead(kv store.Reader, now int64, reader crypto.Address, rec *Record) consent.Decision {
	if rec.Erased != 0 {
		return consent.Decision{Err: sm.Wrapf(ErrErased, "%x", rec.ID[:])}
	}
	return consent.MayRead(kv, now, reader, rec.Target())
}
