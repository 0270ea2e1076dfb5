package supply

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// Message types.
const (
	TypeProduct   = "supply/product"
	TypeLocation  = "supply/location"
	TypePartner   = "supply/partner"
	TypeCapture   = "supply/capture"
	TypeRecall    = "supply/recall"
	TypeFlag      = "supply/flag"
	TypeResolve   = "supply/resolve"
	TypeTerminate = "supply/terminate"
)

// Field limits of captured events.
const (
	MaxHashLen  = 128
	MaxVocabLen = 128
)

// Event types and actions as EPCIS names them.
const (
	ObjectEvent      = "ObjectEvent"
	AggregationEvent = "AggregationEvent"
	TransactionEvent = "TransactionEvent"
	ActionAdd        = "ADD"
	ActionObserve    = "OBSERVE"
	ActionDelete     = "DELETE"
)

func bad(format string, a ...any) error { return sm.Wrapf(ErrBadMessage, format, a...) }

// validText: 1..max printable characters (a name), no control characters.
func validText(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// validCode: 1..MaxCodeLen of A-Z a-z 0-9 and - . _ / : % + (a code, never prose).
func validCode(s string) bool {
	if s == "" || len(s) > MaxCodeLen {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._/:%+", c) >= 0) {
			return false
		}
	}
	return true
}

// validVocab: a bare CBV name or a URI of a private vocabulary.
func validVocab(s string) bool {
	if s == "" || len(s) > MaxVocabLen {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ParseUnitKey reads a unit key: the element string of an SGTIN
// "(01)…(21)…" or an SSCC "(00)…", as epcis.ID.Key writes them.
func ParseUnitKey(s string) (gs1.Data, error) {
	if len(s) > MaxKeyLen {
		return gs1.Data{}, bad("unit %q: longer than %d", s, MaxKeyLen)
	}
	if d, ok := fastUnitKey(s); ok {
		return d, nil
	}
	return parseUnitKeySlow(s)
}

// parseUnitKeySlow is ParseUnitKey through the element-string parser.
func parseUnitKeySlow(s string) (gs1.Data, error) {
	if len(s) > MaxKeyLen {
		return gs1.Data{}, bad("unit %q: longer than %d", s, MaxKeyLen)
	}
	d, err := gs1.ParseElementString(s)
	if err != nil {
		return d, bad("unit %q: %v", s, err)
	}
	_, sg := d.SGTIN()
	if !(sg && d.Lot == "" && d.Expiry == "" && d.SSCC == "" || d.SSCC != "" && d.GTIN == "") || d.GLN != "" || len(d.Other) > 0 {
		return d, bad("unit %q: want (01)GTIN(21)serial or (00)SSCC", s)
	}
	if unitKeyOf(d) != s {
		return d, bad("unit %q: not in canonical form %q", s, unitKeyOf(d))
	}
	return d, nil
}

// fastUnitKey reads a unit key in its canonical form without the general
// element-string parser (every event names its units, and each key is read
// at CheckTx and again in the block): "(00)" and 18 digits with their check
// digit, or "(01)", 14 digits with their check digit, "(21)" and a serial
// of 1 to 20 characters of set 82 other than parentheses. Anything else
// (ok false) goes to ParseElementString, which accepts or refuses it.
func fastUnitKey(s string) (gs1.Data, bool) {
	digits := func(v string) bool {
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return false
			}
		}
		return gs1.CheckDigit(v[:len(v)-1]) == v[len(v)-1]
	}
	switch {
	case len(s) == 22 && s[:4] == "(00)" && digits(s[4:]):
		return gs1.Data{SSCC: gs1.SSCC(s[4:])}, true
	case len(s) > 22 && len(s) <= 42 && s[:4] == "(01)" && s[18:22] == "(21)" && digits(s[4:18]):
		serial := s[22:]
		for i := 0; i < len(serial); i++ {
			if c := serial[i]; c == '(' || c == ')' || !gs1.IsCSet82(c) {
				return gs1.Data{}, false
			}
		}
		return gs1.Data{GTIN: gs1.GTIN(s[4:18]), Serial: serial}, true
	}
	return gs1.Data{}, false
}

func unitKeyOf(d gs1.Data) string {
	if d.SSCC != "" {
		return "(00)" + string(d.SSCC)
	}
	return "(01)" + string(d.GTIN) + "(21)" + d.Serial
}

func validGLN(s string) bool { _, err := gs1.ParseGLN(s); return err == nil && len(s) == 13 }

// MsgProduct, signed by an admin of a manufacturer, registers (or updates)
// one of its products.
type MsgProduct struct {
	GTIN     string // 14 digits
	Name     string
	NDC      string
	Strength string
	Form     string
	PackSize uint64
}

func (m *MsgProduct) Type() string { return TypeProduct }
func (m *MsgProduct) Encode(w *codec.Writer) {
	w.String(m.GTIN)
	w.String(m.Name)
	w.String(m.NDC)
	w.String(m.Strength)
	w.String(m.Form)
	w.Uint(m.PackSize)
}
func (m *MsgProduct) ValidateBasic() error {
	if g, err := gs1.ParseGTIN(m.GTIN); err != nil || string(g) != m.GTIN {
		return bad("gtin %q: want a valid GTIN-14", m.GTIN)
	}
	switch {
	case !validText(m.Name, MaxNameLen):
		return bad("name: 1 to %d printable characters", MaxNameLen)
	case !validCode(m.NDC):
		return bad("ndc %q: a national code of letters, digits and - . _ / : %% +", m.NDC)
	case !validCode(m.Strength):
		return bad("strength %q: a code such as 500mg", m.Strength)
	case !validCode(m.Form):
		return bad("form %q: a dosage form code such as tablet", m.Form)
	case m.PackSize == 0 || m.PackSize > 1_000_000:
		return bad("pack size %d: want 1 to 1000000", m.PackSize)
	}
	return nil
}
func decodeProduct(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgProduct {
		m := &MsgProduct{GTIN: r.String("gtin", 14), Name: r.String("name", MaxNameLen)}
		m.NDC = r.String("ndc", MaxCodeLen)
		m.Strength = r.String("strength", MaxCodeLen)
		m.Form = r.String("form", MaxCodeLen)
		m.PackSize = r.Uint("pack_size")
		return m
	})
}

// MsgLocation, signed by an admin, registers a GLN (a site, or the
// organization as a party) of its organization.
type MsgLocation struct {
	GLN  string
	Name string
}

func (m *MsgLocation) Type() string { return TypeLocation }
func (m *MsgLocation) Encode(w *codec.Writer) {
	w.String(m.GLN)
	w.String(m.Name)
}
func (m *MsgLocation) ValidateBasic() error {
	if !validGLN(m.GLN) {
		return bad("gln %q: want 13 digits with a valid check digit", m.GLN)
	}
	if !validText(m.Name, MaxNameLen) {
		return bad("name: 1 to %d printable characters", MaxNameLen)
	}
	return nil
}
func decodeLocation(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgLocation {
		return &MsgLocation{GLN: r.String("gln", 13), Name: r.String("name", MaxNameLen)}
	})
}

// MsgPartner, signed by an admin, declares (or, with Remove, withdraws) an
// organization as its trading partner. Shipping from A to B needs A to
// list B; receiving at B from A needs B to list A.
type MsgPartner struct {
	Partner string
	Remove  bool
}

func (m *MsgPartner) Type() string { return TypePartner }
func (m *MsgPartner) Encode(w *codec.Writer) {
	w.String(m.Partner)
	w.Bool(m.Remove)
}
func (m *MsgPartner) ValidateBasic() error {
	if err := accounts.ValidateOrgID(m.Partner); err != nil {
		return bad("partner: %v", err)
	}
	return nil
}
func decodePartner(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgPartner {
		return &MsgPartner{Partner: r.String("partner", accounts.MaxIDLen), Remove: r.Bool("remove")}
	})
}

// CaptureEvent is one EPCIS event as a transaction carries it: its CBV 2.0
// hash, the fields the custody rules read, and the event document as
// captured (for queries and for anyone to recompute the hash).
type CaptureEvent struct {
	Hash         string // ni:///sha-256;<64 hex>?ver=CBV2.0
	EventID      string
	Type         string // ObjectEvent, AggregationEvent, TransactionEvent
	Action       string // ADD, OBSERVE, DELETE
	BizStep      string // bare CBV name
	Disposition  string
	EventTime    int64    // unix milliseconds
	EPCs         []string // unit keys: epcList, or childEPCs of an aggregation
	Parent       string   // unit key of parentID, or ""
	BizLocation  string   // GLN, or ""
	DestParty    string   // GLN of the destination owning party, or ""
	DestLocation string   // GLN of the destination location, or ""
	Lot          string   // ilmd, commissioning
	Expiry       string   // ilmd, YYMMDD
	JSON         []byte
}

func (e *CaptureEvent) Encode(w *codec.Writer) {
	w.String(e.Hash)
	w.String(e.EventID)
	w.String(e.Type)
	w.String(e.Action)
	w.String(e.BizStep)
	w.String(e.Disposition)
	w.Int(e.EventTime)
	w.Strings(e.EPCs)
	w.String(e.Parent)
	w.String(e.BizLocation)
	w.String(e.DestParty)
	w.String(e.DestLocation)
	w.String(e.Lot)
	w.String(e.Expiry)
	w.Blob(e.JSON)
}

func readCaptureEvent(r *codec.Reader) CaptureEvent {
	e := CaptureEvent{Hash: r.String("hash", MaxHashLen), EventID: r.String("event_id", MaxEventIDLen)}
	e.Type = r.String("type", 32)
	e.Action = r.String("action", 8)
	e.BizStep = r.String("biz_step", MaxVocabLen)
	e.Disposition = r.String("disposition", MaxVocabLen)
	e.EventTime = r.Int("event_time")
	e.EPCs = r.Strings("epcs", MaxEPCsInEvent, MaxKeyLen)
	e.Parent = r.String("parent", MaxKeyLen)
	e.BizLocation = r.String("biz_location", 13)
	e.DestParty = r.String("dest_party", 13)
	e.DestLocation = r.String("dest_location", 13)
	e.Lot = r.String("lot", 20)
	e.Expiry = r.String("expiry", 6)
	e.JSON = r.Blob("json", MaxEventJSON)
	return e
}

// ValidHash reports whether h is a CBV 2.0 event hash.
func ValidHash(h string) bool {
	const pre, post = "ni:///sha-256;", "?ver=CBV2.0"
	if len(h) != len(pre)+64+len(post) || !strings.HasPrefix(h, pre) || !strings.HasSuffix(h, post) {
		return false
	}
	for _, c := range []byte(h[len(pre) : len(pre)+64]) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidateBasic checks one event without state.
func (e *CaptureEvent) ValidateBasic() error {
	if !ValidHash(e.Hash) {
		return bad("hash %q: want ni:///sha-256;<64 lowercase hex>?ver=CBV2.0", e.Hash)
	}
	if len(e.EventID) > MaxEventIDLen || !utf8.ValidString(e.EventID) {
		return bad("eventID: at most %d characters", MaxEventIDLen)
	}
	if !slices.Contains([]string{ObjectEvent, AggregationEvent, TransactionEvent}, e.Type) {
		return bad("type %q: want ObjectEvent, AggregationEvent or TransactionEvent", e.Type)
	}
	if !slices.Contains([]string{ActionAdd, ActionObserve, ActionDelete}, e.Action) {
		return bad("action %q: want ADD, OBSERVE or DELETE", e.Action)
	}
	if !validVocab(e.BizStep) || e.Disposition != "" && !validVocab(e.Disposition) {
		return bad("bizStep %q, disposition %q: CBV names or URIs", e.BizStep, e.Disposition)
	}
	if e.EventTime <= 0 {
		return bad("eventTime: missing")
	}
	if len(e.EPCs) == 0 && !(e.Type == AggregationEvent && e.Action == ActionDelete) {
		return bad("the event names no units")
	}
	seen := map[string]bool{}
	for _, k := range e.EPCs {
		if _, err := ParseUnitKey(k); err != nil {
			return err
		}
		if seen[k] {
			return bad("unit %q named twice", k)
		}
		seen[k] = true
	}
	if e.Parent != "" {
		if _, err := ParseUnitKey(e.Parent); err != nil {
			return err
		}
		if seen[e.Parent] {
			return bad("unit %q is both parent and child", e.Parent)
		}
	}
	if e.Type == AggregationEvent && e.Parent == "" && e.Action != ActionObserve {
		return bad("an aggregation names its parent")
	}
	for _, g := range []string{e.BizLocation, e.DestParty, e.DestLocation} {
		if g != "" && !validGLN(g) {
			return bad("GLN %q: want 13 digits with a valid check digit", g)
		}
	}
	if e.Lot != "" {
		if err := gs1.ValidateLot(e.Lot); err != nil {
			return bad("lot: %v", err)
		}
	}
	if e.Expiry != "" {
		if _, err := gs1.ParseExpiry(e.Expiry); err != nil {
			return bad("expiry: %v", err)
		}
	}
	if len(e.JSON) == 0 || len(e.JSON) > MaxEventJSON {
		return bad("the event document: 1 to %d bytes", MaxEventJSON)
	}
	return nil
}

// MsgCapture, signed by a member, captures EPCIS events for its
// organization. The events are applied in order, all or none.
type MsgCapture struct{ Events []CaptureEvent }

func (m *MsgCapture) Type() string { return TypeCapture }
func (m *MsgCapture) Encode(w *codec.Writer) {
	w.Uint(uint64(len(m.Events)))
	for i := range m.Events {
		m.Events[i].Encode(w)
	}
}
func (m *MsgCapture) ValidateBasic() error {
	if len(m.Events) == 0 || len(m.Events) > MaxEventsInMsg {
		return bad("1 to %d events per message", MaxEventsInMsg)
	}
	seen := map[string]bool{}
	for i := range m.Events {
		if err := m.Events[i].ValidateBasic(); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		if seen[m.Events[i].Hash] {
			return sm.Wrapf(ErrDuplicateEvent, "event %d repeats %s", i, m.Events[i].Hash)
		}
		seen[m.Events[i].Hash] = true
	}
	return nil
}
func decodeCapture(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgCapture {
		n := r.Count("events", MaxEventsInMsg)
		m := &MsgCapture{Events: make([]CaptureEvent, 0, n)}
		for i := 0; i < n && r.Err() == nil; i++ {
			m.Events = append(m.Events, readCaptureEvent(r))
		}
		return m
	})
}

// MsgRecall, signed by a member of the GTIN's manufacturer or of a
// regulator, recalls a lot.
type MsgRecall struct {
	GTIN   string
	Lot    string
	Reason string
}

func (m *MsgRecall) Type() string { return TypeRecall }
func (m *MsgRecall) Encode(w *codec.Writer) {
	w.String(m.GTIN)
	w.String(m.Lot)
	w.String(m.Reason)
}
func (m *MsgRecall) ValidateBasic() error {
	if g, err := gs1.ParseGTIN(m.GTIN); err != nil || string(g) != m.GTIN {
		return bad("gtin %q: want a valid GTIN-14", m.GTIN)
	}
	if err := gs1.ValidateLot(m.Lot); err != nil {
		return bad("lot: %v", err)
	}
	if !slices.Contains(RecallReasons, m.Reason) {
		return bad("reason %q: one of %v", m.Reason, RecallReasons)
	}
	return nil
}
func decodeRecall(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRecall {
		return &MsgRecall{GTIN: r.String("gtin", 14), Lot: r.String("lot", 20), Reason: r.String("reason", MaxCodeLen)}
	})
}

// MsgFlag, signed by any member, flags a unit as suspect: it is
// quarantined until the investigation closes.
type MsgFlag struct {
	Unit   string
	Reason string
}

func (m *MsgFlag) Type() string { return TypeFlag }
func (m *MsgFlag) Encode(w *codec.Writer) {
	w.String(m.Unit)
	w.String(m.Reason)
}
func (m *MsgFlag) ValidateBasic() error {
	if _, err := ParseUnitKey(m.Unit); err != nil {
		return err
	}
	if !slices.Contains(FlagReasons, m.Reason) {
		return bad("reason %q: one of %v", m.Reason, FlagReasons)
	}
	return nil
}
func decodeFlag(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgFlag {
		return &MsgFlag{Unit: r.String("unit", MaxKeyLen), Reason: r.String("reason", MaxCodeLen)}
	})
}

// MsgResolve closes a unit's investigation as cleared (the quarantine
// ends) or illegitimate (it stays, and the regulators and the immediate
// trading partners are notified).
type MsgResolve struct {
	Unit         string
	Illegitimate bool
}

func (m *MsgResolve) Type() string { return TypeResolve }
func (m *MsgResolve) Encode(w *codec.Writer) {
	w.String(m.Unit)
	w.Bool(m.Illegitimate)
}
func (m *MsgResolve) ValidateBasic() error { _, err := ParseUnitKey(m.Unit); return err }
func decodeResolve(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgResolve {
		return &MsgResolve{Unit: r.String("unit", MaxKeyLen), Illegitimate: r.Bool("illegitimate")}
	})
}

// MsgTerminate, signed by a member of a regulator, terminates the
// illegitimate-product notification of a unit.
type MsgTerminate struct{ Unit string }

func (m *MsgTerminate) Type() string           { return TypeTerminate }
func (m *MsgTerminate) Encode(w *codec.Writer) { w.String(m.Unit) }
func (m *MsgTerminate) ValidateBasic() error   { _, err := ParseUnitKey(m.Unit); return err }
func decodeTerminate(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgTerminate { return &MsgTerminate{Unit: r.String("unit", MaxKeyLen)} })
}
