package epcis

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medchain/medchain/gs1"
)

// Event types Parse accepts.
const (
	ObjectEvent      = "ObjectEvent"
	AggregationEvent = "AggregationEvent"
	TransactionEvent = "TransactionEvent"
)

// Actions.
const (
	ActionAdd     = "ADD"
	ActionObserve = "OBSERVE"
	ActionDelete  = "DELETE"
)

// Limits on one document.
const (
	MaxEvents      = 10_000 // events in one document
	MaxEPCsInEvent = 10_000 // identifiers in one event's epcList/childEPCs
)

// Parse faults. Every error Parse returns wraps one of them and names the
// event (by index and eventID) and the field.
var (
	ErrDocument             = errors.New("not an EPCIS 2.0 document")
	ErrUnsupportedEventType = errors.New("unsupported event type")
	ErrField                = errors.New("bad field")
	ErrMissingField         = errors.New("missing field")
	ErrIdentifier           = errors.New("bad identifier")
	ErrTooLarge             = errors.New("too large")
)

// Event is one validated EPCIS event, as x/supply turns it into its
// messages. Identifiers are gs1 values (an ID's Key is the canonical,
// prefix-length-free form to index by); CBV values are bare CBV 2.0 names
// ("shipping", "in_transit") or, for private vocabularies, the URI as given.
type Event struct {
	Type        string    // ObjectEvent, AggregationEvent, TransactionEvent
	EventID     string    // as given; may be empty
	EventTime   time.Time // in UTC
	TimeZone    string    // eventTimeZoneOffset, "+01:00"
	Action      string    // ADD, OBSERVE, DELETE
	EPCs        []ID      // epcList (Object, Transaction) or childEPCs (Aggregation)
	ParentID    *ID       // Aggregation, Transaction; nil if absent
	Quantities  []Quantity
	BizStep     string
	Disposition string
	ReadPoint   *gs1.SGLN // nil when the read point is not a GS1 location
	// ReadPointID is the read point as written (any URI: EPCIS allows a
	// geo: or private URI for a read point; a bizLocation must be a GLN).
	ReadPointID     string
	BizLocation     *gs1.SGLN
	BizTransactions []BizTransaction
	Sources         []Party
	Destinations    []Party
	ILMD            *ILMD
	// Sensors is the sensorElementList as received (compact JSON), kept
	// for the hash and for queries; nil if absent.
	Sensors []byte
	// Hash is the CBV 2.0 event hash, ni:///sha-256;…?ver=CBV2.0.
	Hash string
	// JSON is the event as received (compact, member order kept, without
	// recordTime), for storage and for answering queries.
	JSON []byte
}

// ID is an EPC: an SGTIN or SSCC (epcList, childEPCs, parentID) or, in a
// quantity, a class (GTIN with or without lot).
type ID struct {
	URI  string   // as written in the document
	Kind string   // gs1.KindSGTIN, gs1.KindSSCC, gs1.KindLGTIN, or "gtin"
	Data gs1.Data // validated
}

// Key is the canonical form of the identifier: the human-readable element
// string ("(01)00614141123452(21)S1001", "(00)106141412345678908",
// "(01)…(10)lot", "(01)…"). Equal identifiers in EPC URN and Digital Link
// form have equal keys.
func (id ID) Key() string {
	switch id.Kind {
	case gs1.KindSGTIN:
		return "(01)" + string(id.Data.GTIN) + "(21)" + id.Data.Serial
	case gs1.KindSSCC:
		return "(00)" + string(id.Data.SSCC)
	case gs1.KindLGTIN:
		return "(01)" + string(id.Data.GTIN) + "(10)" + id.Data.Lot
	default:
		return "(01)" + string(id.Data.GTIN)
	}
}

// Quantity is one quantityList/childQuantityList entry. Quantity is the
// decimal number as written (no floats); UOM is empty for a count.
type Quantity struct {
	Class    ID
	Quantity string
	UOM      string
}

// BizTransaction is one bizTransactionList entry (Type is a bare CBV name
// such as "po", or a URI; may be empty).
type BizTransaction struct {
	Type string
	ID   string
}

// Party is one sourceList/destinationList entry: Type is owning_party,
// possessing_party or location (or a URI); GLN is the party (AI 417, from
// urn:epc:id:pgln or a /417/ Digital Link) or location (AI 414, from
// urn:epc:id:sgln or /414/) it names.
type Party struct {
	Type string
	URI  string
	GLN  gs1.GLN
	Ext  string // location extension, if any
}

// ILMD is the instance/lot master data of a commissioning event
// (cbvmda:lotNumber, cbvmda:itemExpirationDate).
type ILMD struct {
	Lot    string
	Expiry *gs1.Date
}

// Parse reads an EPCIS 2.0 JSON/JSON-LD capture body — an EPCISDocument, or
// one bare event — and validates every event. It refuses the whole body on
// the first fault (a capture job reports per-event fates for faults found
// later, against state).
func Parse(body []byte) ([]Event, error) {
	root, err := decodeTree(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDocument, err)
	}
	if root.kind != 'o' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrDocument)
	}
	var events []*jv
	switch t := str(root.get("type")); t {
	case "EPCISDocument":
		if sv := str(root.get("schemaVersion")); sv != "" && sv != "2.0" {
			return nil, fmt.Errorf("%w: schemaVersion %q, want 2.0", ErrDocument, sv)
		}
		events, err = documentEvents(root)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDocument, err)
		}
	case ObjectEvent, AggregationEvent, TransactionEvent, "TransformationEvent", "AssociationEvent":
		events = []*jv{root}
	default:
		return nil, fmt.Errorf("%w: type %q, want EPCISDocument or an event", ErrDocument, t)
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: no events", ErrDocument)
	}
	if len(events) > MaxEvents {
		return nil, fmt.Errorf("%w: %d events, at most %d", ErrTooLarge, len(events), MaxEvents)
	}
	h := newHasher(root)
	out := make([]Event, 0, len(events))
	for i, ev := range events {
		e, err := parseEvent(ev)
		if err == nil {
			e.Hash, err = h.hashOf(ev)
		}
		if err != nil {
			id := ""
			if e.EventID != "" {
				id = " (" + e.EventID + ")"
			}
			return nil, fmt.Errorf("event %d%s: %w", i, id, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func (h *hasher) hashOf(ev *jv) (string, error) {
	pre, err := h.prehash(ev)
	if err != nil {
		return "", fmt.Errorf("%w: event hash: %v", ErrField, err)
	}
	return hashID(pre), nil
}

func str(v *jv) string {
	if v == nil || v.kind != 's' {
		return ""
	}
	return v.str
}

// eventFields are the members an event may have besides extensions
// (members whose name has a namespace prefix, "ext:field").
var eventFields = map[string]bool{
	"type": true, "eventID": true, "eventTime": true, "eventTimeZoneOffset": true, "recordTime": true,
	"action": true, "epcList": true, "parentID": true, "childEPCs": true, "quantityList": true,
	"childQuantityList": true, "bizStep": true, "disposition": true, "readPoint": true,
	"bizLocation": true, "bizTransactionList": true, "sourceList": true, "destinationList": true,
	"ilmd": true, "sensorElementList": true, "persistentDisposition": true, "certificationInfo": true,
	"@context": true,
}

func fieldErr(field, format string, a ...any) error {
	return fmt.Errorf("%w %s: %s", ErrField, field, fmt.Sprintf(format, a...))
}

func parseEvent(v *jv) (Event, error) {
	var e Event
	if v.kind != 'o' {
		return e, fmt.Errorf("%w: event is not an object", ErrField)
	}
	e.EventID = str(v.get("eventID"))
	e.Type = str(v.get("type"))
	switch e.Type {
	case ObjectEvent, AggregationEvent, TransactionEvent:
	case "TransformationEvent", "AssociationEvent":
		return e, fmt.Errorf("%w: %s is not accepted (medchain's custody rules define no transformation or association)", ErrUnsupportedEventType, e.Type)
	default:
		return e, fmt.Errorf("%w: %q", ErrUnsupportedEventType, e.Type)
	}
	for _, k := range v.keys {
		if k == "errorDeclaration" {
			return e, fieldErr(k, "error declarations are not accepted")
		}
		if !eventFields[k] && !strings.Contains(k, ":") {
			return e, fieldErr(k, "not an EPCIS 2.0 event field (extensions need a namespace prefix)")
		}
	}
	var err error
	if e.EventTime, err = parseTime("eventTime", v.get("eventTime")); err != nil {
		return e, err
	}
	if v.has("recordTime") {
		if _, err := parseTime("recordTime", v.get("recordTime")); err != nil {
			return e, err
		}
	}
	e.TimeZone = str(v.get("eventTimeZoneOffset"))
	if !tzOffset.MatchString(e.TimeZone) {
		return e, fieldErr("eventTimeZoneOffset", "%q, want ±hh:mm", e.TimeZone)
	}
	e.Action = str(v.get("action"))
	if e.Action != ActionAdd && e.Action != ActionObserve && e.Action != ActionDelete {
		return e, fieldErr("action", "%q, want ADD, OBSERVE or DELETE", e.Action)
	}
	listField := "epcList"
	qtyField := "quantityList"
	if e.Type == AggregationEvent {
		listField, qtyField = "childEPCs", "childQuantityList"
		if v.has("epcList") || v.has("quantityList") {
			return e, fieldErr("epcList", "an AggregationEvent names its children in childEPCs")
		}
	} else if v.has("childEPCs") || v.has("childQuantityList") {
		return e, fieldErr("childEPCs", "only an AggregationEvent has childEPCs")
	}
	if e.EPCs, err = parseEPCs(listField, v.get(listField)); err != nil {
		return e, err
	}
	if e.Quantities, err = parseQuantities(qtyField, v.get(qtyField)); err != nil {
		return e, err
	}
	if p := v.get("parentID"); p != nil {
		if e.Type == ObjectEvent {
			return e, fieldErr("parentID", "an ObjectEvent has no parentID")
		}
		id, err := parseInstance("parentID", p)
		if err != nil {
			return e, err
		}
		e.ParentID = &id
	}
	switch e.Type {
	case ObjectEvent:
		if len(e.EPCs) == 0 && len(e.Quantities) == 0 {
			return e, fmt.Errorf("%w epcList: an ObjectEvent names at least one EPC or quantity", ErrMissingField)
		}
	case AggregationEvent:
		if e.ParentID == nil && e.Action != ActionObserve {
			return e, fmt.Errorf("%w parentID: required for action %s", ErrMissingField, e.Action)
		}
		if e.Action == ActionAdd && len(e.EPCs) == 0 && len(e.Quantities) == 0 {
			return e, fmt.Errorf("%w childEPCs: ADD names at least one child", ErrMissingField)
		}
	case TransactionEvent:
		if !v.has("bizTransactionList") {
			return e, fmt.Errorf("%w bizTransactionList: a TransactionEvent names its business transactions", ErrMissingField)
		}
	}
	if e.BizStep, err = cbvValue("bizStep", str(v.get("bizStep")), v.get("bizStep"), cbvBizSteps, "BizStep-", "urn:epcglobal:cbv:bizstep:"); err != nil {
		return e, err
	}
	if e.Disposition, err = cbvValue("disposition", str(v.get("disposition")), v.get("disposition"), cbvDispositions, "Disp-", "urn:epcglobal:cbv:disp:"); err != nil {
		return e, err
	}
	if rp := v.get("readPoint"); rp != nil {
		id := str(rp.get("id"))
		if rp.kind != 'o' || id == "" {
			return e, fmt.Errorf("%w readPoint.id", ErrMissingField)
		}
		e.ReadPointID = id
		if isGS1Location(id) {
			if e.ReadPoint, err = parseLocation("readPoint", rp); err != nil {
				return e, err
			}
		} else if !absoluteURI.MatchString(id) || len(id) > 512 {
			return e, fieldErr("readPoint.id", "%q is not an absolute URI", id)
		}
	}
	if e.BizLocation, err = parseLocation("bizLocation", v.get("bizLocation")); err != nil {
		return e, err
	}
	if e.BizTransactions, err = parseBizTransactions(v.get("bizTransactionList")); err != nil {
		return e, err
	}
	if e.Type == TransactionEvent && len(e.BizTransactions) == 0 {
		return e, fmt.Errorf("%w bizTransactionList: empty", ErrMissingField)
	}
	if e.Sources, err = parseParties("sourceList", "source", v.get("sourceList")); err != nil {
		return e, err
	}
	if e.Destinations, err = parseParties("destinationList", "destination", v.get("destinationList")); err != nil {
		return e, err
	}
	if il := v.get("ilmd"); il != nil {
		if e.ILMD, err = parseILMD(il); err != nil {
			return e, err
		}
	}
	if s := v.get("sensorElementList"); s != nil {
		if s.kind != 'a' {
			return e, fieldErr("sensorElementList", "not an array")
		}
		var b bytes.Buffer
		s.marshal(&b)
		e.Sensors = b.Bytes()
	}
	e.JSON = compactWithout(v, "recordTime")
	return e, nil
}

var tzOffset = regexp.MustCompile(`^[+-](?:0\d|1[0-4]):[0-5]\d$`)

// parseTime reads an xsd:dateTimeStamp (an offset is required).
func parseTime(field string, v *jv) (time.Time, error) {
	s := str(v)
	if s == "" {
		return time.Time{}, fmt.Errorf("%w %s", ErrMissingField, field)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fieldErr(field, "%q is not a date-time with offset (RFC 3339)", s)
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, fieldErr(field, "%q out of range", s)
	}
	return t.UTC(), nil
}

func parseEPCs(field string, v *jv) ([]ID, error) {
	if v == nil {
		return nil, nil
	}
	if v.kind != 'a' {
		return nil, fieldErr(field, "not an array")
	}
	if len(v.vals) > MaxEPCsInEvent {
		return nil, fmt.Errorf("%w: %s has %d entries, at most %d", ErrTooLarge, field, len(v.vals), MaxEPCsInEvent)
	}
	out := make([]ID, 0, len(v.vals))
	seen := make(map[string]bool, len(v.vals))
	for i, e := range v.vals {
		id, err := parseInstance(field+"["+strconv.Itoa(i)+"]", e)
		if err != nil {
			return nil, err
		}
		if seen[id.Key()] {
			return nil, fieldErr(field, "%s listed twice", id.Key())
		}
		seen[id.Key()] = true
		out = append(out, id)
	}
	return out, nil
}

// parseInstance reads an SGTIN or SSCC, as EPC URN or Digital Link.
func parseInstance(field string, v *jv) (ID, error) {
	s := str(v)
	if s == "" {
		return ID{}, fieldErr(field, "not a string")
	}
	d, err := gs1.Parse(s)
	if err != nil || strings.HasPrefix(s, "(") || (len(s) > 0 && s[0] >= '0' && s[0] <= '9') {
		if err == nil {
			err = errors.New("element strings are not EPCs; use an EPC URN or a Digital Link")
		}
		return ID{}, fmt.Errorf("%w %s: %v", ErrIdentifier, field, err)
	}
	switch {
	case d.SSCC != "":
		return ID{URI: s, Kind: gs1.KindSSCC, Data: gs1.Data{SSCC: d.SSCC}}, nil
	case d.GTIN != "" && d.Serial != "":
		return ID{URI: s, Kind: gs1.KindSGTIN, Data: gs1.Data{GTIN: d.GTIN, Serial: d.Serial}}, nil
	}
	return ID{}, fmt.Errorf("%w %s: %q is not a serialised item (SGTIN) or logistic unit (SSCC)", ErrIdentifier, field, s)
}

var idpatSGTIN = regexp.MustCompile(`^urn:epc:idpat:sgtin:(\d{6,12})\.(\d{1,7})\.\*$`)

// parseClass reads a quantity's epcClass: urn:epc:class:lgtin, urn:epc:idpat:sgtin:…*,
// or a Digital Link with a GTIN and optionally a lot.
func parseClass(field, s string) (ID, error) {
	if m := idpatSGTIN.FindStringSubmatch(s); m != nil {
		cp, ref := m[1], m[2]
		if len(cp)+len(ref) != 13 {
			return ID{}, fmt.Errorf("%w %s: %q: prefix and item reference must have 13 digits", ErrIdentifier, field, s)
		}
		body := ref[:1] + cp + ref[1:]
		g := gs1.GTIN(body + string(gs1.CheckDigit(body)))
		return ID{URI: s, Kind: "gtin", Data: gs1.Data{GTIN: g}}, nil
	}
	d, err := gs1.Parse(s)
	if err != nil || !(strings.HasPrefix(s, "urn:") || strings.HasPrefix(s, "http")) {
		if err == nil {
			err = errors.New("want an EPC class URN or a Digital Link")
		}
		return ID{}, fmt.Errorf("%w %s: %v", ErrIdentifier, field, err)
	}
	if d.GTIN == "" || d.Serial != "" {
		return ID{}, fmt.Errorf("%w %s: %q is not a product class (GTIN, GTIN + lot)", ErrIdentifier, field, s)
	}
	if d.Lot != "" {
		return ID{URI: s, Kind: gs1.KindLGTIN, Data: gs1.Data{GTIN: d.GTIN, Lot: d.Lot}}, nil
	}
	return ID{URI: s, Kind: "gtin", Data: gs1.Data{GTIN: d.GTIN}}, nil
}

var decimal = regexp.MustCompile(`^(?:0|[1-9]\d{0,17})(?:\.\d{1,9})?$`)

func parseQuantities(field string, v *jv) ([]Quantity, error) {
	if v == nil {
		return nil, nil
	}
	if v.kind != 'a' {
		return nil, fieldErr(field, "not an array")
	}
	if len(v.vals) > MaxEPCsInEvent {
		return nil, fmt.Errorf("%w: %s too long", ErrTooLarge, field)
	}
	var out []Quantity
	for i, q := range v.vals {
		f := field + "[" + strconv.Itoa(i) + "]"
		if q.kind != 'o' {
			return nil, fieldErr(f, "not an object")
		}
		for _, k := range q.keys {
			if k != "epcClass" && k != "quantity" && k != "uom" {
				return nil, fieldErr(f+"."+k, "unknown member")
			}
		}
		id, err := parseClass(f+".epcClass", str(q.get("epcClass")))
		if err != nil {
			return nil, err
		}
		qty := ""
		if n := q.get("quantity"); n != nil {
			if n.kind != 'n' || !decimal.MatchString(n.str) {
				return nil, fieldErr(f+".quantity", "want a non-negative decimal number")
			}
			qty = n.str
		}
		uom := ""
		if u := q.get("uom"); u != nil {
			uom = str(u)
			if uom == "" || len(uom) > 3 {
				return nil, fieldErr(f+".uom", "want a UN/CEFACT Rec 20 code")
			}
			if qty == "" {
				return nil, fieldErr(f+".uom", "uom without quantity")
			}
		}
		out = append(out, Quantity{Class: id, Quantity: qty, UOM: uom})
	}
	return out, nil
}

// cbvValue reduces a CBV value to its bare name: "shipping",
// "https://ref.gs1.org/cbv/BizStep-shipping" and
// "urn:epcglobal:cbv:bizstep:shipping" all give "shipping". Other absolute
// URIs (private vocabulary) are kept as given.
func cbvValue(field, s string, v *jv, names []string, webPrefix, urnPrefix string) (string, error) {
	if v == nil {
		return "", nil
	}
	if v.kind != 's' || s == "" {
		return "", fieldErr(field, "not a string")
	}
	var name string
	switch {
	case strings.HasPrefix(s, cbvPrefix+webPrefix):
		name = s[len(cbvPrefix+webPrefix):]
	case strings.HasPrefix(s, urnPrefix):
		name = s[len(urnPrefix):]
	case strings.HasPrefix(s, "cbv:"+webPrefix):
		name = s[len("cbv:"+webPrefix):]
	case strings.Contains(s, ":"):
		if strings.HasPrefix(s, cbvPrefix) || strings.HasPrefix(s, "urn:epcglobal:cbv:") {
			return "", fieldErr(field, "%q is not a CBV 2.0 %s", s, field)
		}
		if len(s) > 256 {
			return "", fieldErr(field, "longer than 256 characters")
		}
		return s, nil
	default:
		name = s
	}
	if !slices.Contains(names, name) {
		return "", fieldErr(field, "%q is not a CBV 2.0 %s", s, field)
	}
	return name, nil
}

var absoluteURI = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$`)

// isGS1Location reports an identifier that should name a GS1 location.
func isGS1Location(s string) bool {
	return strings.HasPrefix(s, "urn:epc:id:sgln:") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func parseLocation(field string, v *jv) (*gs1.SGLN, error) {
	if v == nil {
		return nil, nil
	}
	if v.kind != 'o' {
		return nil, fieldErr(field, "not an object")
	}
	s := str(v.get("id"))
	if s == "" {
		return nil, fmt.Errorf("%w %s.id", ErrMissingField, field)
	}
	if !isGS1Location(s) {
		return nil, fmt.Errorf("%w %s.id: %q is not a location (urn:epc:id:sgln or a /414/ Digital Link)", ErrIdentifier, field, s)
	}
	d, err := gs1.Parse(s)
	if err == nil && d.GLN == "" {
		err = fmt.Errorf("%q is not a location (urn:epc:id:sgln or a /414/ Digital Link)", s)
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s.id: %v", ErrIdentifier, field, err)
	}
	l, _ := d.SGLN()
	return &l, nil
}

func parseBizTransactions(v *jv) ([]BizTransaction, error) {
	if v == nil {
		return nil, nil
	}
	if v.kind != 'a' {
		return nil, fieldErr("bizTransactionList", "not an array")
	}
	var out []BizTransaction
	for i, b := range v.vals {
		f := "bizTransactionList[" + strconv.Itoa(i) + "]"
		if b.kind != 'o' {
			return nil, fieldErr(f, "not an object")
		}
		id := str(b.get("bizTransaction"))
		if id == "" || len(id) > 512 || !strings.Contains(id, ":") {
			return nil, fieldErr(f+".bizTransaction", "want a URI")
		}
		typ := ""
		if t := b.get("type"); t != nil {
			var err error
			if typ, err = cbvValue(f+".type", str(t), t, cbvBTTs, "BTT-", "urn:epcglobal:cbv:btt:"); err != nil {
				return nil, err
			}
		}
		out = append(out, BizTransaction{Type: typ, ID: id})
	}
	return out, nil
}

var pglnURN = regexp.MustCompile(`^urn:epc:id:pgln:(\d{6,12})\.(\d{0,6})$`)

func parseParties(field, member string, v *jv) ([]Party, error) {
	if v == nil {
		return nil, nil
	}
	if v.kind != 'a' {
		return nil, fieldErr(field, "not an array")
	}
	var out []Party
	for i, p := range v.vals {
		f := field + "[" + strconv.Itoa(i) + "]"
		if p.kind != 'o' {
			return nil, fieldErr(f, "not an object")
		}
		t := p.get("type")
		typ, err := cbvValue(f+".type", str(t), t, cbvSDTs, "SDT-", "urn:epcglobal:cbv:sdt:")
		if err != nil {
			return nil, err
		}
		if typ == "" {
			return nil, fmt.Errorf("%w %s.type", ErrMissingField, f)
		}
		uri := str(p.get(member))
		party := Party{Type: typ, URI: uri}
		switch {
		case pglnURN.MatchString(uri):
			m := pglnURN.FindStringSubmatch(uri)
			if len(m[1])+len(m[2]) != 12 {
				return nil, fmt.Errorf("%w %s.%s: %q: prefix and party reference must have 12 digits", ErrIdentifier, f, member, uri)
			}
			party.GLN = gs1.GLN(m[1] + m[2] + string(gs1.CheckDigit(m[1]+m[2])))
		case strings.HasPrefix(uri, "urn:epc:id:sgln:"):
			d, err := gs1.Parse(uri)
			if err != nil {
				return nil, fmt.Errorf("%w %s.%s: %v", ErrIdentifier, f, member, err)
			}
			party.GLN, party.Ext = d.GLN, d.GLNExtension
		case strings.HasPrefix(uri, "http://"), strings.HasPrefix(uri, "https://"):
			g, ext, err := partyFromDL(uri)
			if err != nil {
				return nil, fmt.Errorf("%w %s.%s: %v", ErrIdentifier, f, member, err)
			}
			party.GLN, party.Ext = g, ext
		default:
			return nil, fmt.Errorf("%w %s.%s: %q is not a party or location (urn:epc:id:pgln, urn:epc:id:sgln, or a /417/ or /414/ Digital Link)", ErrIdentifier, f, member, uri)
		}
		out = append(out, party)
	}
	return out, nil
}

// partyFromDL reads a /417/{gln} (party) or /414/{gln}[/254/{ext}] Digital Link.
func partyFromDL(uri string) (gs1.GLN, string, error) {
	if i := strings.LastIndex(uri, "/417/"); i >= 0 {
		rest := uri[i+5:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		g, err := gs1.ParseGLN(rest)
		return g, "", err
	}
	d, err := gs1.ParseDigitalLink(uri)
	if err != nil {
		return "", "", err
	}
	if d.GLN == "" {
		return "", "", fmt.Errorf("%q names no party or location", uri)
	}
	return d.GLN, d.GLNExtension, nil
}

func parseILMD(v *jv) (*ILMD, error) {
	if v.kind != 'o' {
		return nil, fieldErr("ilmd", "not an object")
	}
	out := &ILMD{}
	for i, k := range v.keys {
		name := strings.TrimPrefix(strings.TrimPrefix(k, "cbvmda:"), "urn:epcglobal:cbv:mda:")
		switch name {
		case "lotNumber":
			out.Lot = str(v.vals[i])
			if err := gs1.ValidateLot(out.Lot); err != nil {
				return nil, fmt.Errorf("%w ilmd.%s: %v", ErrIdentifier, k, err)
			}
		case "itemExpirationDate":
			d, err := gs1.ParseISODate(str(v.vals[i]))
			if err != nil {
				return nil, fmt.Errorf("%w ilmd.%s: %v", ErrField, k, err)
			}
			out.Expiry = &d
		}
	}
	return out, nil
}

// compactWithout re-encodes an event without the named top-level member.
func compactWithout(v *jv, drop string) []byte {
	c := &jv{kind: 'o'}
	for i, k := range v.keys {
		if k != drop {
			c.keys = append(c.keys, k)
			c.vals = append(c.vals, v.vals[i])
		}
	}
	var b bytes.Buffer
	c.marshal(&b)
	return b.Bytes()
}
