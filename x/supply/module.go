package supply

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// Organization types with a part in the supply chain's rules.
const (
	OrgManufacturer = "manufacturer"
	OrgRegulator    = "regulator"
)

// EventUnitReceived is the block event emitted for every unit a receiving
// event hands to its addressee (a container's contents included), with
// attributes unit, org (the receiver), from (the shipper), gtin, lot and
// expiry ("" for a logistic unit), brand (who commissioned it), container
// (the unit it is packed in, or "") and event (the capture's event hash).
// Automations on unit_received (x/policy) fire from it.
const EventUnitReceived = "supply_unit_received"

// Module plugs supply-chain traceability into the state machine.
type Module struct{}

var _ sm.Module = Module{}

func (Module) Name() string { return Codespace }

func (Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeProduct, Decode: decodeProduct, Exec: execProduct},
		{Type: TypeLocation, Decode: decodeLocation, Exec: execLocation},
		{Type: TypePartner, Decode: decodePartner, Exec: execPartner},
		{Type: TypeCapture, Decode: decodeCapture, Exec: execCapture},
		{Type: TypeRecall, Decode: decodeRecall, Exec: execRecall},
		{Type: TypeFlag, Decode: decodeFlag, Exec: execFlag},
		{Type: TypeResolve, Decode: decodeResolve, Exec: execResolve},
		{Type: TypeTerminate, Decode: decodeTerminate, Exec: execTerminate},
	}
}

// actor is the organization the signer acts for: any active member of an
// active organization.
func actor(ctx sm.Context) (*accounts.Org, error) {
	a := accounts.ActiveMember(ctx.Store, ctx.Signer)
	if a == nil {
		return nil, sm.Wrapf(ErrNotMember, "%s", ctx.Signer)
	}
	return accounts.GetOrg(ctx.Store, a.Org), nil
}

func adminOrg(ctx sm.Context) (*accounts.Org, error) {
	if _, err := actor(ctx); err != nil {
		return nil, err
	}
	o := accounts.AdminOrg(ctx.Store, ctx.Signer)
	if o == nil {
		return nil, sm.Wrapf(ErrNotAdmin, "%s", ctx.Signer)
	}
	return o, nil
}

func isRegulator(kv store.Reader, org string) bool {
	o := accounts.GetOrg(kv, org)
	return o != nil && o.Active && o.Type == OrgRegulator
}

func attr(k, v string) sm.Attr { return sm.Attr{Key: k, Value: v} }

func execProduct(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgProduct)
	org, err := adminOrg(ctx)
	if err != nil {
		return err
	}
	if org.Type != OrgManufacturer {
		return sm.Wrapf(ErrNotManufacturer, "%q is a %s", org.ID, org.Type)
	}
	reg := ctx.Time.Unix()
	if p := GetProduct(ctx.Store, m.GTIN); p != nil {
		if p.Org != org.ID {
			return sm.Wrapf(ErrProductTaken, "%s by %q", m.GTIN, p.Org)
		}
		reg = p.Registered
	}
	p := &Product{GTIN: m.GTIN, Org: org.ID, Name: m.Name, NDC: m.NDC, Strength: m.Strength, Form: m.Form, PackSize: m.PackSize, Registered: reg}
	ctx.Store.Set(ProductKey(p.GTIN), codec.Marshal(p))
	ctx.Events.Emit("supply_product", attr("gtin", p.GTIN), attr("org", p.Org))
	return nil
}

func execLocation(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgLocation)
	org, err := adminOrg(ctx)
	if err != nil {
		return err
	}
	reg := ctx.Time.Unix()
	if l := GetLocation(ctx.Store, m.GLN); l != nil {
		if l.Org != org.ID {
			return sm.Wrapf(ErrLocationTaken, "%s by %q", m.GLN, l.Org)
		}
		reg = l.Registered
	}
	l := &Location{GLN: m.GLN, Org: org.ID, Name: m.Name, Registered: reg}
	ctx.Store.Set(LocationKey(l.GLN), codec.Marshal(l))
	ctx.Events.Emit("supply_location", attr("gln", l.GLN), attr("org", l.Org))
	return nil
}

func execPartner(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgPartner)
	org, err := adminOrg(ctx)
	if err != nil {
		return err
	}
	if m.Partner == org.ID {
		return sm.Wrapf(ErrSelfPartner, "%q", m.Partner)
	}
	if m.Remove {
		ctx.Store.Delete(PartnerKey(org.ID, m.Partner))
		ctx.Events.Emit("supply_partner_removed", attr("org", org.ID), attr("partner", m.Partner))
		return nil
	}
	if p := accounts.GetOrg(ctx.Store, m.Partner); p == nil || !p.Active {
		return sm.Wrapf(ErrUnknownOrg, "%q", m.Partner)
	}
	ctx.Store.Set(PartnerKey(org.ID, m.Partner), []byte{1})
	ctx.Events.Emit("supply_partner", attr("org", org.ID), attr("partner", m.Partner))
	return nil
}

func execCapture(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgCapture)
	org, err := actor(ctx)
	if err != nil {
		return err
	}
	ms, err := newMsgState(ctx.Store)
	if err != nil {
		return err
	}
	for i := range m.Events {
		if err := capture(ctx, org.ID, &m.Events[i], ms); err != nil {
			return fmt.Errorf("event %d (%s): %w", i, m.Events[i].Hash, err)
		}
	}
	ctx.Store.Set(seqKey, codec.Marshal(uintEnc(ms.seq)))
	return nil
}

// msgState is what the events of one capture share: the next event
// sequence (read and written once per message) and the master data they
// read (locations and products, read once per message).
type msgState struct {
	seq      uint64
	locs     map[string]*Location
	products map[string]*Product
}

func newMsgState(kv store.Reader) (*msgState, error) {
	ms := &msgState{seq: 1, locs: map[string]*Location{}, products: map[string]*Product{}}
	if b := kv.Get(seqKey); b != nil {
		var err error
		if ms.seq, err = readUint(b); err != nil || ms.seq == 0 {
			return nil, sm.Wrapf(sm.ErrInternal, "supply: the event sequence is unreadable: %v", err)
		}
	}
	return ms, nil
}

func (ms *msgState) location(kv store.Reader, gln string) *Location {
	l, ok := ms.locs[gln]
	if !ok {
		l = GetLocation(kv, gln)
		ms.locs[gln] = l
	}
	return l
}

func (ms *msgState) product(kv store.Reader, gtin string) *Product {
	p, ok := ms.products[gtin]
	if !ok {
		p = GetProduct(kv, gtin)
		ms.products[gtin] = p
	}
	return p
}

// eventState is what one event changes: the units it touches, in the
// order touched, each logged once in its provenance.
type eventState struct {
	ctx      sm.Context
	ms       *msgState
	org      string
	units    map[string]*Unit
	order    []string
	logged   map[string]bool
	received []received // receiving: every unit received, containers' contents included
}

// received is a unit that changed hands by a receiving event, and who
// shipped it.
type received struct {
	unit *Unit
	from string
}

func (s *eventState) load(key string) *Unit {
	if u, ok := s.units[key]; ok {
		return u
	}
	u := GetUnit(s.ctx.Store, key)
	if u != nil {
		s.units[key] = u
		s.order = append(s.order, key)
	}
	return u
}

func (s *eventState) put(u *Unit) {
	if _, ok := s.units[u.Key]; !ok {
		s.order = append(s.order, u.Key)
	}
	s.units[u.Key] = u
}

func (s *eventState) log(u *Unit) {
	if !s.logged[u.Key] {
		s.logged[u.Key] = true
		s.put(u)
	}
}

func (s *eventState) need(key string) (*Unit, error) {
	u := s.load(key)
	if u == nil {
		return nil, sm.Wrapf(ErrUnknownUnit, "%s", key)
	}
	return u, nil
}

// custodian checks that the acting organization holds u and that u may act.
func (s *eventState) custodian(u *Unit) error {
	switch {
	case Terminal(u.Status):
		return sm.Wrapf(ErrTerminal, "%s is %s", u.Key, StatusName(u.Status))
	case u.Owner != s.org:
		return sm.Wrapf(ErrNotCustodian, "%s is held by %q", u.Key, u.Owner)
	case u.Status == StatusInTransit:
		return sm.Wrapf(ErrInTransit, "%s to %q", u.Key, u.ShipTo)
	}
	return nil
}

func quarantined(u *Unit) bool {
	return u.Case == CaseOpen || u.Case == CaseIllegitimate || u.Case == CaseTerminated
}

// subtree returns u and every unit packed in it, at any depth.
func (s *eventState) subtree(u *Unit) ([]*Unit, error) {
	out := []*Unit{u}
	level := []*Unit{u}
	for depth := 0; len(level) > 0; depth++ {
		if depth > MaxDepth {
			return nil, sm.Wrapf(ErrTooManyUnits, "%s: packed deeper than %d levels", u.Key, MaxDepth)
		}
		var next []*Unit
		for _, p := range level {
			if p.Children == 0 {
				continue
			}
			for _, k := range Children(s.ctx.Store, p.Key) {
				c, err := s.need(k)
				if err != nil {
					return nil, err
				}
				next = append(next, c)
				if len(out)+len(next) > MaxUnitsPerEvent {
					return nil, sm.Wrapf(ErrTooManyUnits, "more than %d", MaxUnitsPerEvent)
				}
			}
		}
		out = append(out, next...)
		level = next
	}
	return out, nil
}

// movable checks that u (a unit or container the organization holds) and
// everything in it may move.
func (s *eventState) movable(u *Unit) ([]*Unit, error) {
	if err := s.custodian(u); err != nil {
		return nil, err
	}
	if u.Parent != "" {
		return nil, sm.Wrapf(ErrPacked, "%s is in %s", u.Key, u.Parent)
	}
	all, err := s.subtree(u)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if quarantined(c) {
			return nil, sm.Wrapf(ErrQuarantined, "%s", c.Key)
		}
	}
	return all, nil
}

// resolveOrg finds the organization a destination GLN belongs to.
func (s *eventState) resolveOrg(gln string) (string, error) {
	l := s.ms.location(s.ctx.Store, gln)
	if l == nil {
		return "", sm.Wrapf(ErrUnknownLocation, "%s", gln)
	}
	return l.Org, nil
}

func capture(ctx sm.Context, org string, e *CaptureEvent, ms *msgState) error {
	kv := ctx.Store
	if kv.Get(EventKey(e.Hash)) != nil {
		return sm.Wrapf(ErrDuplicateEvent, "%s", e.Hash)
	}
	if e.BizLocation != "" {
		if l := ms.location(kv, e.BizLocation); l == nil || l.Org != org {
			return sm.Wrapf(ErrNotOwnLocation, "%s", e.BizLocation)
		}
	}
	s := &eventState{ctx: ctx, ms: ms, org: org, units: make(map[string]*Unit, len(e.EPCs)+1), logged: make(map[string]bool, len(e.EPCs)+1)}
	wrong := func() error {
		return sm.Wrapf(ErrWrongAction, "%s %s with bizStep %s", e.Type, e.Action, e.BizStep)
	}
	var to string
	switch e.BizStep {
	case "commissioning":
		if e.Type != ObjectEvent || e.Action != ActionAdd {
			return wrong()
		}
		if err := s.commission(e); err != nil {
			return err
		}
	case "packing":
		if e.Type != AggregationEvent || e.Action != ActionAdd {
			return wrong()
		}
		if err := s.pack(e); err != nil {
			return err
		}
	case "unpacking":
		if e.Type != AggregationEvent || e.Action != ActionDelete {
			return wrong()
		}
		if err := s.unpack(e); err != nil {
			return err
		}
	case "shipping":
		switch {
		case e.Type == TransactionEvent:
			if err := s.observe(e, false); err != nil {
				return err
			}
		case e.Type == ObjectEvent && e.Action != ActionDelete:
			var err error
			if to, err = s.ship(e); err != nil {
				return err
			}
		default:
			return wrong()
		}
	case "receiving":
		if e.Type != ObjectEvent || e.Action == ActionDelete {
			return wrong()
		}
		if err := s.receive(e); err != nil {
			return err
		}
	case "dispensing":
		if e.Type != ObjectEvent || e.Action == ActionDelete {
			return wrong()
		}
		if err := s.dispense(e); err != nil {
			return err
		}
	case "decommissioning", "destroying":
		if e.Type != ObjectEvent || e.Action == ActionAdd {
			return wrong()
		}
		if err := s.retire(e); err != nil {
			return err
		}
	case "inspecting":
		if err := s.observe(e, isRegulator(kv, org)); err != nil {
			return err
		}
	default:
		return sm.Wrapf(ErrUnsupportedStep, "%q", e.BizStep)
	}
	return s.record(e, to)
}

func (s *eventState) commission(e *CaptureEvent) error {
	kv, now := s.ctx.Store, s.ctx.Time.Unix()
	for _, k := range e.EPCs {
		d, _ := ParseUnitKey(k)
		u := &Unit{Key: k, Brand: s.org, Owner: s.org, Status: StatusActive, Commissioned: now}
		if d.GTIN != "" {
			p := s.ms.product(kv, string(d.GTIN))
			if p == nil {
				return sm.Wrapf(ErrUnknownProduct, "%s", d.GTIN)
			}
			if p.Org != s.org {
				return sm.Wrapf(ErrNotBrandOwner, "%s belongs to %q", d.GTIN, p.Org)
			}
			if e.Lot == "" || e.Expiry == "" {
				return sm.Wrapf(ErrMissingLot, "%s", k)
			}
			u.GTIN, u.Lot, u.Expiry = string(d.GTIN), e.Lot, e.Expiry
		}
		if s.load(k) != nil {
			return sm.Wrapf(ErrCommissioned, "%s", k)
		}
		s.put(u)
		s.log(u)
		if u.GTIN != "" {
			kv.Set(lotUnitKey(u.GTIN, u.Lot, u.Key), []byte{1})
		}
	}
	return nil
}

func (s *eventState) pack(e *CaptureEvent) error {
	kv, now := s.ctx.Store, s.ctx.Time.Unix()
	parent := s.load(e.Parent)
	if parent == nil {
		if d, _ := ParseUnitKey(e.Parent); d.SSCC == "" {
			return sm.Wrapf(ErrUnknownUnit, "%s", e.Parent)
		}
		// A logistic unit comes into being when something is packed in it.
		parent = &Unit{Key: e.Parent, Brand: s.org, Owner: s.org, Status: StatusActive, Commissioned: now}
		s.put(parent)
	} else {
		if err := s.custodian(parent); err != nil {
			return err
		}
		if quarantined(parent) {
			return sm.Wrapf(ErrQuarantined, "%s", parent.Key)
		}
	}
	// The parent's ancestors: none of them may be a child (no cycles).
	ancestors := map[string]bool{}
	for a, depth := parent, 0; a.Parent != ""; depth++ {
		if depth >= MaxDepth {
			return sm.Wrapf(ErrTooManyUnits, "%s: packed deeper than %d levels", e.Parent, MaxDepth)
		}
		ancestors[a.Parent] = true
		next, err := s.need(a.Parent)
		if err != nil {
			return err
		}
		a = next
	}
	if len(e.EPCs) == 0 {
		return sm.Wrapf(ErrBadMessage, "packing names no children")
	}
	for _, k := range e.EPCs {
		c, err := s.need(k)
		if err != nil {
			return err
		}
		if err := s.custodian(c); err != nil {
			return err
		}
		if c.Parent != "" {
			return sm.Wrapf(ErrAlreadyPacked, "%s is in %s", c.Key, c.Parent)
		}
		if ancestors[c.Key] {
			return sm.Wrapf(ErrBadMessage, "%s contains %s: no cycles", c.Key, e.Parent)
		}
		if quarantined(c) {
			return sm.Wrapf(ErrQuarantined, "%s", c.Key)
		}
		c.Parent = parent.Key
		parent.Children++
		kv.Set(ChildKey(parent.Key, c.Key), []byte{1})
		s.log(c)
	}
	s.log(parent)
	return nil
}

func (s *eventState) unpack(e *CaptureEvent) error {
	kv := s.ctx.Store
	parent, err := s.need(e.Parent)
	if err != nil {
		return err
	}
	if err := s.custodian(parent); err != nil {
		return err
	}
	if quarantined(parent) {
		return sm.Wrapf(ErrQuarantined, "%s", parent.Key)
	}
	children := e.EPCs
	if len(children) == 0 {
		children = Children(kv, parent.Key)
	}
	for _, k := range children {
		c, err := s.need(k)
		if err != nil {
			return err
		}
		if c.Parent != parent.Key {
			return sm.Wrapf(ErrNotInParent, "%s is not in %s", k, parent.Key)
		}
		c.Parent = ""
		parent.Children--
		kv.Delete(ChildKey(parent.Key, c.Key))
		s.log(c)
	}
	s.log(parent)
	return nil
}

func (s *eventState) ship(e *CaptureEvent) (string, error) {
	kv := s.ctx.Store
	var to string
	var err error
	switch {
	case e.DestParty != "":
		to, err = s.resolveOrg(e.DestParty)
	case e.DestLocation != "":
		to, err = s.resolveOrg(e.DestLocation)
	default:
		return "", sm.Wrapf(ErrNoDestination, "%s", e.Hash)
	}
	if err != nil {
		return "", err
	}
	if e.DestParty != "" && e.DestLocation != "" {
		if l, err := s.resolveOrg(e.DestLocation); err != nil || l != to {
			return "", sm.Wrapf(ErrUnknownLocation, "destination location %s is not %q's", e.DestLocation, to)
		}
	}
	if to != s.org && !Partners(kv, s.org, to) {
		return "", sm.Wrapf(ErrNotPartner, "%q does not list %q", s.org, to)
	}
	for _, k := range e.EPCs {
		u, err := s.need(k)
		if err != nil {
			return "", err
		}
		all, err := s.movable(u)
		if err != nil {
			return "", err
		}
		for _, c := range all {
			if to != s.org {
				c.Status, c.ShipFrom, c.ShipTo = StatusInTransit, s.org, to
			}
			s.log(c)
		}
	}
	return to, nil
}

func (s *eventState) receive(e *CaptureEvent) error {
	kv := s.ctx.Store
	for _, k := range e.EPCs {
		u, err := s.need(k)
		if err != nil {
			return err
		}
		switch {
		case Terminal(u.Status):
			return sm.Wrapf(ErrTerminal, "%s is %s", u.Key, StatusName(u.Status))
		case u.Status != StatusInTransit:
			return sm.Wrapf(ErrNotShipped, "%s is held by %q and was not shipped", u.Key, u.Owner)
		case u.ShipTo != s.org:
			return sm.Wrapf(ErrNotAddressee, "%s is shipped to %q", u.Key, u.ShipTo)
		case u.Parent != "":
			return sm.Wrapf(ErrPacked, "%s is in %s", u.Key, u.Parent)
		case !Partners(kv, s.org, u.ShipFrom):
			return sm.Wrapf(ErrNotPartner, "%q does not list %q", s.org, u.ShipFrom)
		}
		all, err := s.subtree(u)
		if err != nil {
			return err
		}
		for _, c := range all {
			if quarantined(c) {
				return sm.Wrapf(ErrQuarantined, "%s", c.Key)
			}
		}
		for _, c := range all {
			s.received = append(s.received, received{unit: c, from: c.ShipFrom})
			c.Owner, c.Status, c.ShipFrom, c.ShipTo = s.org, StatusActive, "", ""
			s.log(c)
		}
	}
	return nil
}

// today is the block's calendar date (UTC).
func today(ctx sm.Context) gs1.Date {
	t := ctx.Time.UTC()
	return gs1.Date{Year: t.Year(), Month: int(t.Month()), Day: t.Day()}
}

// Expired reports whether a unit with expiry YYMMDD is past it on day.
func Expired(expiry string, day gs1.Date) bool {
	if expiry == "" {
		return false
	}
	d, err := gs1.Expiry(expiry).Resolve(day.Year)
	return err == nil && d.Before(day)
}

func (s *eventState) dispense(e *CaptureEvent) error {
	kv := s.ctx.Store
	for _, k := range e.EPCs {
		u, err := s.need(k)
		if err != nil {
			return err
		}
		if u.GTIN == "" {
			return sm.Wrapf(ErrNotDispensable, "%s", k)
		}
		if _, err := s.movable(u); err != nil {
			return err
		}
		if GetRecall(kv, u.GTIN, u.Lot) != nil {
			return sm.Wrapf(ErrRecalled, "%s lot %s", u.GTIN, u.Lot)
		}
		if Expired(u.Expiry, today(s.ctx)) {
			return sm.Wrapf(ErrExpired, "%s expired (%s)", u.Key, u.Expiry)
		}
		u.Status = StatusDispensed
		s.log(u)
	}
	return nil
}

func (s *eventState) retire(e *CaptureEvent) error {
	status := StatusDestroyed
	if e.BizStep == "decommissioning" {
		status = StatusDecommissioned
	}
	for _, k := range e.EPCs {
		u, err := s.need(k)
		if err != nil {
			return err
		}
		if err := s.custodian(u); err != nil {
			return err
		}
		if u.Parent != "" {
			return sm.Wrapf(ErrPacked, "%s is in %s", u.Key, u.Parent)
		}
		if status == StatusDecommissioned && u.Children > 0 {
			return sm.Wrapf(ErrContainerNotEmpty, "%s holds %d units", u.Key, u.Children)
		}
		// Destroying a container destroys what is in it; a quarantined
		// (illegitimate) unit may be destroyed.
		all, err := s.subtree(u)
		if err != nil {
			return err
		}
		for _, c := range all {
			if Terminal(c.Status) {
				continue
			}
			c.Status = status
			s.log(c)
		}
	}
	return nil
}

// observe is an event that moves nothing: the custodian (or, when
// anyone is true, any organization) records it against its units.
func (s *eventState) observe(e *CaptureEvent, anyone bool) error {
	keys := slices.Clone(e.EPCs)
	if e.Parent != "" {
		keys = append(keys, e.Parent)
	}
	for _, k := range keys {
		u, err := s.need(k)
		if err != nil {
			return err
		}
		if !anyone && u.Owner != s.org {
			return sm.Wrapf(ErrNotCustodian, "%s is held by %q", u.Key, u.Owner)
		}
		// An event on a container is in the provenance of its contents.
		all, err := s.subtree(u)
		if err != nil {
			return err
		}
		for _, c := range all {
			s.log(c)
		}
	}
	return nil
}

// record stores the event and every touched unit, and logs the event in
// the provenance of each.
func (s *eventState) record(e *CaptureEvent, to string) error {
	kv := s.ctx.Store
	seq := s.ms.seq
	s.ms.seq++
	ev := &StoredEvent{Hash: e.Hash, Seq: seq, Org: s.org, Signer: s.ctx.Signer, Height: s.ctx.Height, Time: s.ctx.Time.Unix(),
		Type: e.Type, Action: e.Action, BizStep: e.BizStep, Disposition: e.Disposition, EventTime: e.EventTime,
		EPCs: e.EPCs, Parent: e.Parent, To: to, JSON: e.JSON}
	w := codec.NewWriter(len(e.JSON) + 64*len(e.EPCs) + 256) // sized once: the document dominates
	ev.Encode(w)
	kv.Set(EventKey(e.Hash), w.Bytes())
	kv.Set(eventSeqKey(seq), []byte(e.Hash))
	indexEvent(kv, e, seq)
	for _, k := range s.order {
		u := s.units[k]
		if s.logged[k] {
			kv.Set(UnitLogKey(k, u.Events), []byte(e.Hash))
			u.Events++
		}
		kv.Set(UnitKey(k), codec.Marshal(u))
	}
	attrs := []sm.Attr{attr("hash", e.Hash), attr("org", s.org), attr("biz_step", e.BizStep), attr("seq", strconv.FormatUint(seq, 10))}
	if to != "" {
		attrs = append(attrs, attr("to", to))
	}
	s.ctx.Events.Emit("supply_event", attrs...)
	for _, r := range s.received {
		u := r.unit
		s.ctx.Events.Emit(EventUnitReceived, attr("unit", u.Key), attr("org", s.org), attr("from", r.from),
			attr("gtin", u.GTIN), attr("lot", u.Lot), attr("expiry", u.Expiry), attr("brand", u.Brand),
			attr("container", u.Parent), attr("event", e.Hash))
	}
	return nil
}

type uintEnc uint64

func (u uintEnc) Encode(w *codec.Writer) { w.Uint(uint64(u)) }

func readUint(b []byte) (uint64, error) {
	r := codec.NewReader(b)
	v := r.Uint("seq")
	return v, r.Done()
}
