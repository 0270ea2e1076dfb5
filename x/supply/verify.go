package supply

import (
	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/store"
)

// Verification answers.
const (
	VerifyGenuine     = "genuine"
	VerifyUnknown     = "unknown"
	VerifySuspect     = "suspect"
	VerifyQuarantined = "quarantined"
	VerifyRecalled    = "recalled"
	VerifyDispensed   = "dispensed"
	VerifyDestroyed   = "destroyed"
)

// Counterfeit and status signals of a verification.
const (
	SignalUnknownProduct    = "unknown_product"    // the GTIN is not registered
	SignalNeverCommissioned = "never_commissioned" // a registered GTIN, a serial outside the manufacturer's commissioned set
	SignalLotMismatch       = "lot_mismatch"       // the identifier's lot is not the commissioned one
	SignalExpiryMismatch    = "expiry_mismatch"
	SignalAlreadyDispensed  = "already_dispensed"  // a dispensed unit presented again
	SignalCustodianMismatch = "custodian_mismatch" // presented by an organization that does not hold it
	SignalInTransit         = "in_transit"
	SignalQuarantined       = "quarantined"
	SignalIllegitimate      = "illegitimate"
	SignalRecalled          = "recalled"
	SignalExpired           = "expired"
	SignalPacked            = "packed" // inside a container
)

// Verification is the answer to "is this unit genuine, and where is it?".
type Verification struct {
	Key        string // the unit key asked about
	Status     string
	Signals    []string
	Unit       *Unit
	Product    *Product
	Recall     *Recall
	Case       *Case
	Provenance []*StoredEvent
}

// Verify answers for the unit d names (an SGTIN, with the lot and expiry it
// was presented with, if any; or an SSCC). holder, when not empty, is the
// organization presenting the unit; day is the date to judge expiry by.
func Verify(kv store.Reader, d gs1.Data, holder string, day gs1.Date) Verification {
	key := unitKeyOf(d)
	v := Verification{Key: key}
	sig := func(s string) { v.Signals = append(v.Signals, s) }
	if d.GTIN != "" {
		v.Product = GetProduct(kv, string(d.GTIN))
	}
	u := GetUnit(kv, key)
	if u == nil {
		v.Status = VerifyUnknown
		if d.GTIN != "" && v.Product == nil {
			sig(SignalUnknownProduct)
		} else {
			sig(SignalNeverCommissioned)
		}
		return v
	}
	v.Unit = u
	v.Provenance = Provenance(kv, u)
	if u.Case != 0 {
		v.Case = GetCase(kv, u.Key)
	}
	if u.GTIN != "" {
		v.Recall = GetRecall(kv, u.GTIN, u.Lot)
	}
	suspect := false
	if d.Lot != "" && d.Lot != u.Lot {
		sig(SignalLotMismatch)
		suspect = true
	}
	if d.Expiry != "" && string(d.Expiry) != u.Expiry {
		sig(SignalExpiryMismatch)
		suspect = true
	}
	if holder != "" && !Terminal(u.Status) && holder != u.Owner && !(u.Status == StatusInTransit && holder == u.ShipTo) {
		sig(SignalCustodianMismatch)
		suspect = true
	}
	if u.Status == StatusInTransit {
		sig(SignalInTransit)
	}
	if u.Parent != "" {
		sig(SignalPacked)
	}
	switch u.Case {
	case CaseOpen:
		sig(SignalQuarantined)
	case CaseIllegitimate, CaseTerminated:
		sig(SignalIllegitimate)
		suspect = true
	}
	if v.Recall != nil {
		sig(SignalRecalled)
	}
	if Expired(u.Expiry, day) {
		sig(SignalExpired)
	}
	switch {
	case u.Status == StatusDestroyed || u.Status == StatusDecommissioned:
		v.Status = VerifyDestroyed
	case u.Status == StatusDispensed:
		sig(SignalAlreadyDispensed)
		v.Status = VerifyDispensed
	case u.Case == CaseOpen:
		v.Status = VerifyQuarantined
	case suspect:
		v.Status = VerifySuspect
	case v.Recall != nil:
		v.Status = VerifyRecalled
	default:
		v.Status = VerifyGenuine
	}
	return v
}

// ProofKeys are the proven state keys a verification rests on: the unit
// (or its absence), the product, the recall (or its absence), the case and
// every provenance entry and event.
func (v Verification) ProofKeys() [][]byte {
	keys := [][]byte{UnitKey(v.Key)}
	if v.Product != nil {
		keys = append(keys, ProductKey(v.Product.GTIN))
	}
	if v.Unit == nil {
		return keys
	}
	if v.Unit.GTIN != "" {
		keys = append(keys, RecallKey(v.Unit.GTIN, v.Unit.Lot))
	}
	if v.Case != nil {
		keys = append(keys, CaseKey(v.Key))
	}
	for n := uint64(0); n < v.Unit.Events; n++ {
		keys = append(keys, UnitLogKey(v.Key, n))
	}
	for _, e := range v.Provenance {
		keys = append(keys, EventKey(e.Hash))
	}
	return keys
}
