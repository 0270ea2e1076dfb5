package supply

import (
	"slices"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

func execRecall(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRecall)
	org, err := actor(ctx)
	if err != nil {
		return err
	}
	p := GetProduct(ctx.Store, m.GTIN)
	if p == nil {
		return sm.Wrapf(ErrUnknownProduct, "%s", m.GTIN)
	}
	if p.Org != org.ID && org.Type != OrgRegulator {
		return sm.Wrapf(ErrNotRecaller, "%q for %s of %q", org.ID, m.GTIN, p.Org)
	}
	if GetRecall(ctx.Store, m.GTIN, m.Lot) != nil {
		return sm.Wrapf(ErrAlreadyRecalled, "%s lot %s", m.GTIN, m.Lot)
	}
	r := &Recall{GTIN: m.GTIN, Lot: m.Lot, Org: org.ID, Reason: m.Reason, Time: ctx.Time.Unix(), Height: ctx.Height}
	ctx.Store.Set(RecallKey(m.GTIN, m.Lot), codec.Marshal(r))
	ctx.Events.Emit("supply_recall", attr("gtin", m.GTIN), attr("lot", m.Lot), attr("org", org.ID), attr("reason", m.Reason))
	return nil
}

func execFlag(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgFlag)
	org, err := actor(ctx)
	if err != nil {
		return err
	}
	u := GetUnit(ctx.Store, m.Unit)
	if u == nil {
		return sm.Wrapf(ErrUnknownUnit, "%s", m.Unit)
	}
	if quarantined(u) {
		return sm.Wrapf(ErrCaseOpen, "%s is %s", u.Key, CaseName(u.Case))
	}
	c := &Case{Unit: u.Key, FlaggedBy: org.ID, Reason: m.Reason, Opened: ctx.Time.Unix(), State: CaseOpen}
	u.Case = CaseOpen
	ctx.Store.Set(CaseKey(u.Key), codec.Marshal(c))
	ctx.Store.Set(UnitKey(u.Key), codec.Marshal(u))
	ctx.Events.Emit("supply_flagged", attr("unit", u.Key), attr("org", org.ID), attr("reason", m.Reason), attr("custodian", u.Owner))
	return nil
}

func execResolve(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgResolve)
	org, err := actor(ctx)
	if err != nil {
		return err
	}
	kv := ctx.Store
	u := GetUnit(kv, m.Unit)
	if u == nil {
		return sm.Wrapf(ErrUnknownUnit, "%s", m.Unit)
	}
	c := GetCase(kv, u.Key)
	if c == nil || c.State != CaseOpen {
		return sm.Wrapf(ErrNoCase, "%s", u.Key)
	}
	if org.ID != u.Brand && org.ID != u.Owner && org.Type != OrgRegulator {
		return sm.Wrapf(ErrNotInvestigator, "%q", org.ID)
	}
	c.ClosedBy, c.Closed = org.ID, ctx.Time.Unix()
	if !m.Illegitimate {
		c.State, u.Case = CaseCleared, CaseCleared
		kv.Set(CaseKey(u.Key), codec.Marshal(c))
		kv.Set(UnitKey(u.Key), codec.Marshal(u))
		ctx.Events.Emit("supply_cleared", attr("unit", u.Key), attr("org", org.ID))
		return nil
	}
	c.State, u.Case = CaseIllegitimate, CaseIllegitimate
	c.Notified = notifyList(ctx, u)
	for _, o := range c.Notified {
		kv.Set(NoticeKey(o, u.Key), []byte{1})
		ctx.Events.Emit("supply_notification", attr("unit", u.Key), attr("org", o), attr("by", org.ID))
	}
	kv.Set(CaseKey(u.Key), codec.Marshal(c))
	kv.Set(UnitKey(u.Key), codec.Marshal(u))
	ctx.Events.Emit("supply_illegitimate", attr("unit", u.Key), attr("org", org.ID))
	return nil
}

// notifyList is who learns of an illegitimate product: every active
// regulator and the unit's immediate trading partners — its custodian,
// the organization it came from (or is shipped to) and its manufacturer.
func notifyList(ctx sm.Context, u *Unit) []string {
	set := map[string]bool{u.Owner: true, u.Brand: true}
	if u.ShipFrom != "" {
		set[u.ShipFrom] = true
	}
	if u.ShipTo != "" {
		set[u.ShipTo] = true
	}
	// The last shipper to the custodian.
	for _, e := range Provenance(ctx.Store, u) {
		if e.BizStep == "shipping" && e.To == u.Owner && e.Org != u.Owner {
			set[e.Org] = true
		}
	}
	for _, o := range accounts.ActiveOrgs(ctx.Store) {
		if o.Type == OrgRegulator {
			set[o.ID] = true
		}
	}
	delete(set, "")
	out := make([]string, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

func execTerminate(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgTerminate)
	org, err := actor(ctx)
	if err != nil {
		return err
	}
	if org.Type != OrgRegulator {
		return sm.Wrapf(ErrNotRegulator, "%q is a %s", org.ID, org.Type)
	}
	kv := ctx.Store
	u := GetUnit(kv, m.Unit)
	if u == nil {
		return sm.Wrapf(ErrUnknownUnit, "%s", m.Unit)
	}
	c := GetCase(kv, u.Key)
	if c == nil || c.State != CaseIllegitimate {
		return sm.Wrapf(ErrNotIllegitimate, "%s", u.Key)
	}
	c.State, u.Case, c.Terminated = CaseTerminated, CaseTerminated, ctx.Time.Unix()
	for _, o := range c.Notified {
		kv.Delete(NoticeKey(o, u.Key))
	}
	kv.Set(CaseKey(u.Key), codec.Marshal(c))
	kv.Set(UnitKey(u.Key), codec.Marshal(u))
	ctx.Events.Emit("supply_terminated", attr("unit", u.Key), attr("org", org.ID))
	return nil
}
