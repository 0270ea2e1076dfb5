package supply

import (
	"encoding/binary"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// Codespace of the supply module.
const Codespace = "supply"

// Errors; codes are stable, one per refusal reason.
var (
	ErrBadMessage        = sm.Register(Codespace, 1, "invalid message")
	ErrNotMember         = sm.Register(Codespace, 2, "signer is not an active member of an active organization")
	ErrNotManufacturer   = sm.Register(Codespace, 3, "only a manufacturer organization registers products")
	ErrProductTaken      = sm.Register(Codespace, 4, "the GTIN is registered by another organization")
	ErrLocationTaken     = sm.Register(Codespace, 5, "the GLN is registered by another organization")
	ErrUnknownOrg        = sm.Register(Codespace, 6, "no such active organization")
	ErrUnknownProduct    = sm.Register(Codespace, 7, "the GTIN is not a registered product")
	ErrNotBrandOwner     = sm.Register(Codespace, 8, "only the GTIN's manufacturer commissions its units")
	ErrCommissioned      = sm.Register(Codespace, 9, "the serial is already commissioned")
	ErrMissingLot        = sm.Register(Codespace, 10, "commissioning needs the lot and expiry (ilmd)")
	ErrUnknownUnit       = sm.Register(Codespace, 11, "the unit was never commissioned")
	ErrNotCustodian      = sm.Register(Codespace, 12, "the signer's organization is not the unit's current custodian")
	ErrInTransit         = sm.Register(Codespace, 13, "the unit is in transit")
	ErrTerminal          = sm.Register(Codespace, 14, "the unit was dispensed, decommissioned or destroyed: nothing moves after that")
	ErrQuarantined       = sm.Register(Codespace, 15, "the unit (or a unit packed in it) is quarantined")
	ErrPacked            = sm.Register(Codespace, 16, "the unit is packed in a container: act on the container, or unpack it first")
	ErrNotInParent       = sm.Register(Codespace, 17, "the unit is not packed in this parent")
	ErrNoDestination     = sm.Register(Codespace, 18, "a shipping event names no destination (owning party or location)")
	ErrUnknownLocation   = sm.Register(Codespace, 19, "the GLN is not a registered location")
	ErrNotPartner        = sm.Register(Codespace, 20, "the organizations are not registered trading partners")
	ErrNotShipped        = sm.Register(Codespace, 21, "the unit was not shipped: received without a shipment")
	ErrNotAddressee      = sm.Register(Codespace, 22, "the shipment is addressed to another organization")
	ErrRecalled          = sm.Register(Codespace, 23, "the unit's lot is recalled: it is not dispensed")
	ErrExpired           = sm.Register(Codespace, 24, "the unit is past its expiry date: it is not dispensed")
	ErrNotDispensable    = sm.Register(Codespace, 25, "only a serialised unit (SGTIN) is dispensed")
	ErrUnsupportedStep   = sm.Register(Codespace, 26, "the bizStep has no custody rule here")
	ErrDuplicateEvent    = sm.Register(Codespace, 27, "an event with this hash is already captured")
	ErrNotOwnLocation    = sm.Register(Codespace, 28, "the bizLocation is not a registered location of the signer's organization")
	ErrTooManyUnits      = sm.Register(Codespace, 29, "the event affects more units than one event may")
	ErrNotRecaller       = sm.Register(Codespace, 30, "only the GTIN's manufacturer or a regulator recalls a lot")
	ErrAlreadyRecalled   = sm.Register(Codespace, 31, "the lot is already recalled")
	ErrCaseOpen          = sm.Register(Codespace, 32, "the unit is already under investigation")
	ErrNoCase            = sm.Register(Codespace, 33, "the unit has no open investigation")
	ErrNotInvestigator   = sm.Register(Codespace, 34, "only the GTIN's manufacturer, the unit's custodian or a regulator closes an investigation")
	ErrNotRegulator      = sm.Register(Codespace, 35, "only a regulator organization may do this")
	ErrNotIllegitimate   = sm.Register(Codespace, 36, "the unit has no open illegitimate-product notification")
	ErrWrongAction       = sm.Register(Codespace, 37, "the event's type and action do not fit its bizStep")
	ErrNotAdmin          = sm.Register(Codespace, 38, "only an admin of the organization registers master data")
	ErrSelfPartner       = sm.Register(Codespace, 39, "an organization is not its own trading partner")
	ErrAlreadyPacked     = sm.Register(Codespace, 40, "the unit is already packed in a container")
	ErrContainerNotEmpty = sm.Register(Codespace, 41, "a unit cannot be packed into itself or its own contents")
)

// Limits.
const (
	MaxNameLen     = 128
	MaxCodeLen     = 64 // NDC, strength, dosage form, reason codes
	MaxKeyLen      = 64 // a unit key: "(01)" + 14 + "(21)" + 20 characters, or "(00)" + 18
	MaxEventIDLen  = 256
	MaxEventJSON   = 32 << 10
	MaxEventsInMsg = 100
	MaxEPCsInEvent = 1000
	// MaxUnitsPerEvent bounds the units one event touches, containers'
	// contents included.
	MaxUnitsPerEvent = 20_000
	// MaxDepth bounds aggregation nesting (unit in case in pallet in …).
	MaxDepth = 4
)

// Unit statuses.
const (
	StatusActive         uint8 = 1
	StatusInTransit      uint8 = 2
	StatusDispensed      uint8 = 3
	StatusDecommissioned uint8 = 4
	StatusDestroyed      uint8 = 5
)

// StatusName names a unit status.
func StatusName(s uint8) string {
	switch s {
	case StatusActive:
		return "active"
	case StatusInTransit:
		return "in_transit"
	case StatusDispensed:
		return "dispensed"
	case StatusDecommissioned:
		return "decommissioned"
	case StatusDestroyed:
		return "destroyed"
	}
	return "unknown"
}

// Terminal reports whether nothing may happen to a unit in status s.
func Terminal(s uint8) bool {
	return s == StatusDispensed || s == StatusDecommissioned || s == StatusDestroyed
}

// Investigation states of a Case.
const (
	CaseOpen         uint8 = 1 // quarantined
	CaseCleared      uint8 = 2
	CaseIllegitimate uint8 = 3 // notification open; still quarantined
	CaseTerminated   uint8 = 4 // the regulator terminated the notification; still quarantined
)

// CaseName names an investigation state.
func CaseName(s uint8) string {
	switch s {
	case CaseOpen:
		return "open"
	case CaseCleared:
		return "cleared"
	case CaseIllegitimate:
		return "illegitimate"
	case CaseTerminated:
		return "terminated"
	}
	return "none"
}

// Reasons a unit is flagged (codes, never free text).
var FlagReasons = []string{"counterfeit", "diverted", "stolen", "tampered", "unfit", "fraudulent_transaction", "other"}

// RecallReasons are the reason codes of a recall.
var RecallReasons = []string{"quality", "contamination", "labeling", "potency", "packaging", "regulatory", "other"}

// Product is a registered GTIN.
type Product struct {
	GTIN       string // 14 digits
	Org        string // the manufacturer (brand owner)
	Name       string
	NDC        string // NDC or other national code
	Strength   string
	Form       string // dosage form
	PackSize   uint64
	Registered int64
}

func (p *Product) Encode(w *codec.Writer) {
	w.String(p.GTIN)
	w.String(p.Org)
	w.String(p.Name)
	w.String(p.NDC)
	w.String(p.Strength)
	w.String(p.Form)
	w.Uint(p.PackSize)
	w.Int(p.Registered)
}

// DecodeProduct decodes a stored product.
func DecodeProduct(b []byte) (*Product, error) {
	r := codec.NewReader(b)
	p := &Product{GTIN: r.String("gtin", 14), Org: r.String("org", accounts.MaxIDLen), Name: r.String("name", MaxNameLen)}
	p.NDC = r.String("ndc", MaxCodeLen)
	p.Strength = r.String("strength", MaxCodeLen)
	p.Form = r.String("form", MaxCodeLen)
	p.PackSize = r.Uint("pack_size")
	p.Registered = r.Int("registered")
	return p, r.Done()
}

// Location is a registered GLN: a site, or the organization as a party.
type Location struct {
	GLN        string // 13 digits
	Org        string
	Name       string
	Registered int64
}

func (l *Location) Encode(w *codec.Writer) {
	w.String(l.GLN)
	w.String(l.Org)
	w.String(l.Name)
	w.Int(l.Registered)
}

// DecodeLocation decodes a stored location.
func DecodeLocation(b []byte) (*Location, error) {
	r := codec.NewReader(b)
	l := &Location{GLN: r.String("gln", 13), Org: r.String("org", accounts.MaxIDLen), Name: r.String("name", MaxNameLen), Registered: r.Int("registered")}
	return l, r.Done()
}

// Unit is one serialised unit (SGTIN) or logistic unit (SSCC).
type Unit struct {
	Key          string // element string: (01)…(21)… or (00)…
	GTIN         string // SGTIN only
	Lot          string
	Expiry       string // YYMMDD
	Brand        string // the manufacturer that commissioned it (SGTIN) or the packer (SSCC)
	Owner        string // the current custodian
	Status       uint8
	Parent       string // the container it is packed in, or ""
	Children     uint64 // units packed in it
	ShipFrom     string // in transit: the shipper
	ShipTo       string // in transit: the addressee
	Commissioned int64
	Events       uint64 // provenance entries (keys UnitLogKey(Key, 0 … Events-1))
	Case         uint8  // investigation state, 0 when never flagged
}

func (u *Unit) Encode(w *codec.Writer) {
	w.String(u.Key)
	w.String(u.GTIN)
	w.String(u.Lot)
	w.String(u.Expiry)
	w.String(u.Brand)
	w.String(u.Owner)
	w.Uint(uint64(u.Status))
	w.String(u.Parent)
	w.Uint(u.Children)
	w.String(u.ShipFrom)
	w.String(u.ShipTo)
	w.Int(u.Commissioned)
	w.Uint(u.Events)
	w.Uint(uint64(u.Case))
}

// DecodeUnit decodes a stored unit.
func DecodeUnit(b []byte) (*Unit, error) {
	r := codec.NewReader(b)
	u := &Unit{Key: r.String("key", MaxKeyLen), GTIN: r.String("gtin", 14), Lot: r.String("lot", 20), Expiry: r.String("expiry", 6)}
	u.Brand = r.String("brand", accounts.MaxIDLen)
	u.Owner = r.String("owner", accounts.MaxIDLen)
	u.Status = readSmall(r, "status", StatusDestroyed)
	u.Parent = r.String("parent", MaxKeyLen)
	u.Children = r.Uint("children")
	u.ShipFrom = r.String("ship_from", accounts.MaxIDLen)
	u.ShipTo = r.String("ship_to", accounts.MaxIDLen)
	u.Commissioned = r.Int("commissioned")
	u.Events = r.Uint("events")
	u.Case = readSmall(r, "case", CaseTerminated)
	return u, r.Done()
}

// StoredEvent is a captured EPCIS event.
type StoredEvent struct {
	Hash        string
	Seq         uint64
	Org         string // the capturing organization
	Signer      crypto.Address
	Height      int64
	Time        int64 // block time (unix seconds): the record time
	Type        string
	Action      string
	BizStep     string
	Disposition string
	EventTime   int64 // unix milliseconds
	EPCs        []string
	Parent      string
	To          string // shipping: the addressee organization
	JSON        []byte // the event as captured
}

func (e *StoredEvent) Encode(w *codec.Writer) {
	w.String(e.Hash)
	w.Uint(e.Seq)
	w.String(e.Org)
	w.Fixed(e.Signer[:])
	w.Int(e.Height)
	w.Int(e.Time)
	w.String(e.Type)
	w.String(e.Action)
	w.String(e.BizStep)
	w.String(e.Disposition)
	w.Int(e.EventTime)
	w.Strings(e.EPCs)
	w.String(e.Parent)
	w.String(e.To)
	w.Blob(e.JSON)
}

// DecodeEvent decodes a stored event.
func DecodeEvent(b []byte) (*StoredEvent, error) {
	r := codec.NewReader(b)
	e := &StoredEvent{Hash: r.String("hash", MaxHashLen), Seq: r.Uint("seq"), Org: r.String("org", accounts.MaxIDLen), Signer: sm.ReadAddress(r, "signer")}
	e.Height = r.Int("height")
	e.Time = r.Int("time")
	e.Type = r.String("type", 32)
	e.Action = r.String("action", 8)
	e.BizStep = r.String("biz_step", MaxVocabLen)
	e.Disposition = r.String("disposition", MaxVocabLen)
	e.EventTime = r.Int("event_time")
	e.EPCs = r.Strings("epcs", MaxEPCsInEvent, MaxKeyLen)
	e.Parent = r.String("parent", MaxKeyLen)
	e.To = r.String("to", accounts.MaxIDLen)
	e.JSON = r.Blob("json", MaxEventJSON)
	return e, r.Done()
}

// Recall is a recalled lot.
type Recall struct {
	GTIN   string
	Lot    string
	Org    string // the manufacturer or regulator that recalled it
	Reason string
	Time   int64
	Height int64
}

func (c *Recall) Encode(w *codec.Writer) {
	w.String(c.GTIN)
	w.String(c.Lot)
	w.String(c.Org)
	w.String(c.Reason)
	w.Int(c.Time)
	w.Int(c.Height)
}

// DecodeRecall decodes a stored recall.
func DecodeRecall(b []byte) (*Recall, error) {
	r := codec.NewReader(b)
	c := &Recall{GTIN: r.String("gtin", 14), Lot: r.String("lot", 20), Org: r.String("org", accounts.MaxIDLen), Reason: r.String("reason", MaxCodeLen)}
	c.Time = r.Int("time")
	c.Height = r.Int("height")
	return c, r.Done()
}

// Case is the suspect-product investigation of one unit.
type Case struct {
	Unit       string
	FlaggedBy  string // organization
	Reason     string
	Opened     int64
	State      uint8
	ClosedBy   string
	Closed     int64
	Notified   []string // illegitimate: the organizations notified, sorted
	Terminated int64
}

func (c *Case) Encode(w *codec.Writer) {
	w.String(c.Unit)
	w.String(c.FlaggedBy)
	w.String(c.Reason)
	w.Int(c.Opened)
	w.Uint(uint64(c.State))
	w.String(c.ClosedBy)
	w.Int(c.Closed)
	w.Strings(c.Notified)
	w.Int(c.Terminated)
}

// DecodeCase decodes a stored case.
func DecodeCase(b []byte) (*Case, error) {
	r := codec.NewReader(b)
	c := &Case{Unit: r.String("unit", MaxKeyLen), FlaggedBy: r.String("flagged_by", accounts.MaxIDLen), Reason: r.String("reason", MaxCodeLen)}
	c.Opened = r.Int("opened")
	c.State = readSmall(r, "state", CaseTerminated)
	c.ClosedBy = r.String("closed_by", accounts.MaxIDLen)
	c.Closed = r.Int("closed")
	c.Notified = r.Strings("notified", 1024, accounts.MaxIDLen)
	c.Terminated = r.Int("terminated")
	return c, r.Done()
}

// readSmall reads an enumeration value, at most max; a larger one fails
// the reader (so that decoding stays canonical).
func readSmall(r *codec.Reader, field string, max uint8) uint8 {
	v := r.Uint(field)
	if v > uint64(max) {
		r.Fixed(field+" out of range", -1) // forces an error
		return 0
	}
	return uint8(v)
}

// Store keys.

func ProductKey(gtin string) []byte { return append([]byte{sm.PrefixSupplyProduct}, gtin...) }
func LocationKey(gln string) []byte { return append([]byte{sm.PrefixSupplyLocation}, gln...) }
func UnitKey(key string) []byte     { return append([]byte{sm.PrefixSupplyUnit}, key...) }
func EventKey(hash string) []byte   { return append([]byte{sm.PrefixSupplyEvent}, hash...) }
func CaseKey(unit string) []byte    { return append([]byte{sm.PrefixSupplyCase}, unit...) }

func pair(prefix byte, a, b string) []byte {
	k := append([]byte{prefix}, a...)
	k = append(k, 0)
	return append(k, b...)
}

func PartnerKey(org, partner string) []byte { return pair(sm.PrefixSupplyPartner, org, partner) }
func ChildKey(parent, child string) []byte  { return pair(sm.PrefixSupplyChild, parent, child) }
func NoticeKey(org, unit string) []byte     { return pair(sm.PrefixSupplyNotice, org, unit) }

// RecallKey is GTIN (14 digits) ‖ lot.
func RecallKey(gtin, lot string) []byte {
	return append(append([]byte{sm.PrefixSupplyRecall}, gtin...), lot...)
}

// UnitLogKey is the n-th provenance entry of a unit.
func UnitLogKey(unit string, n uint64) []byte {
	return binary.BigEndian.AppendUint64(pair(sm.PrefixSupplyUnitLog, unit, ""), n)
}

func eventSeqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{sm.PrefixSupplyEventSeq}, seq)
}

func lotUnitKey(gtin, lot, unit string) []byte {
	return pair(sm.PrefixSupplyLotUnits, gtin+lot, unit)
}

var seqKey = []byte{sm.PrefixSupplySeq}

// Getters (nil when absent or unreadable).

func get[T any](kv store.Reader, key []byte, dec func([]byte) (*T, error)) *T {
	b := kv.Get(key)
	if b == nil {
		return nil
	}
	v, err := dec(b)
	if err != nil {
		return nil
	}
	return v
}

func GetProduct(kv store.Reader, gtin string) *Product {
	return get(kv, ProductKey(gtin), DecodeProduct)
}
func GetLocation(kv store.Reader, gln string) *Location {
	return get(kv, LocationKey(gln), DecodeLocation)
}
func GetUnit(kv store.Reader, key string) *Unit { return get(kv, UnitKey(key), DecodeUnit) }
func GetEvent(kv store.Reader, hash string) *StoredEvent {
	return get(kv, EventKey(hash), DecodeEvent)
}
func GetCase(kv store.Reader, unit string) *Case { return get(kv, CaseKey(unit), DecodeCase) }
func GetRecall(kv store.Reader, gtin, lot string) *Recall {
	return get(kv, RecallKey(gtin, lot), DecodeRecall)
}

// Partners reports whether org lists partner as a trading partner.
func Partners(kv store.Reader, org, partner string) bool {
	return kv.Get(PartnerKey(org, partner)) != nil
}

// PartnersOf lists org's trading partners, sorted.
func PartnersOf(kv store.Reader, org string) []string {
	p := pair(sm.PrefixSupplyPartner, org, "")
	var out []string
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		out = append(out, string(k[len(p):]))
		return true
	})
	return out
}

// Children lists the units packed directly in parent, sorted by key.
func Children(kv store.Reader, parent string) []string {
	p := pair(sm.PrefixSupplyChild, parent, "")
	var out []string
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		out = append(out, string(k[len(p):]))
		return true
	})
	return out
}

// Provenance returns a unit's events, oldest first.
func Provenance(kv store.Reader, u *Unit) []*StoredEvent {
	var out []*StoredEvent
	for n := uint64(0); n < u.Events; n++ {
		if h := kv.Get(UnitLogKey(u.Key, n)); h != nil {
			if e := GetEvent(kv, string(h)); e != nil {
				out = append(out, e)
			}
		}
	}
	return out
}

// LotUnits lists the units of a lot (an index), sorted by key.
func LotUnits(kv store.Reader, gtin, lot string) []string {
	p := lotUnitKey(gtin, lot, "")
	var out []string
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		out = append(out, string(k[len(p):]))
		return true
	})
	return out
}

// Notices lists the units an organization was notified of as illegitimate.
func Notices(kv store.Reader, org string) []string {
	p := pair(sm.PrefixSupplyNotice, org, "")
	var out []string
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		out = append(out, string(k[len(p):]))
		return true
	})
	return out
}

// Events calls fn with every captured event in capture order from seq
// after (exclusive; 0 for the first) until fn returns false.
func Events(kv store.Reader, after uint64, fn func(e *StoredEvent) bool) {
	start := eventSeqKey(after + 1)
	kv.Iterate(start, store.PrefixEnd([]byte{sm.PrefixSupplyEventSeq}), func(_, v []byte) bool {
		e := GetEvent(kv, string(v))
		if e == nil {
			return true
		}
		return fn(e)
	})
}
