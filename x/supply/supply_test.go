package supply_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/supply"
)

const (
	mfr, mfr2, dist, pharm, reg, rogue = "mfr", "mfr2", "dist", "pharm", "reg", "rogue"
	mA, m2A, dA, pA, rA, xA            = "mA", "m2A", "dA", "pA", "rA", "xA"
	mS, pS                             = "mS", "pS" // staff of the manufacturer, pharmacist
	patient                            = "patient"
	gtin                               = "00614141123452"
	gtin2                              = "00614141999996"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func withCheck(s string) string { return s + string(gs1.CheckDigit(s)) }

var (
	glnM  = withCheck("061414100001")
	glnM2 = withCheck("061414100002")
	glnD  = withCheck("001234500010")
	glnP  = withCheck("009876500020")
	glnX  = withCheck("000111100001")
	case1 = "(00)" + withCheck("00614141000000001")
	case2 = "(00)" + withCheck("00614141000000002")
)

func unit(serial string) string { return "(01)" + gtin + "(21)" + serial }

type env struct {
	*smtest.Env
	n int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{Env: smtest.NewEnv(t, "supply-test", t0, accounts.Module{}, supply.Module{})}
	member := func(name, org, role string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "member", Org: org, Role: role, Balance: 1000}
	}
	k := e.Key(patient)
	e.Genesis(accounts.Module{}, accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: mfr, Name: "Maker", Type: "manufacturer"}, {ID: mfr2, Name: "Other Maker", Type: "manufacturer"},
			{ID: dist, Name: "Wholesale", Type: "distributor"}, {ID: pharm, Name: "Pharmacy", Type: "pharmacy"},
			{ID: reg, Name: "Regulator", Type: "regulator"}, {ID: rogue, Name: "Rogue", Type: "distributor"},
		},
		Accounts: []accounts.GenesisAccount{
			member(mA, mfr, accounts.RoleAdmin), member(m2A, mfr2, accounts.RoleAdmin), member(dA, dist, accounts.RoleAdmin),
			member(pA, pharm, accounts.RoleAdmin), member(rA, reg, accounts.RoleAdmin), member(xA, rogue, accounts.RoleAdmin),
			member(mS, mfr, accounts.RoleStaff), member(pS, pharm, accounts.RolePractitioner),
			{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "patient", Balance: 1000},
		},
	})
	e.OK(mA, product(gtin))
	e.OK(m2A, product(gtin2))
	for _, l := range []struct{ who, gln string }{{mA, glnM}, {m2A, glnM2}, {dA, glnD}, {pA, glnP}, {xA, glnX}} {
		e.OK(l.who, &supply.MsgLocation{GLN: l.gln, Name: "Site " + l.gln})
	}
	for _, p := range []struct{ who, partner string }{{mA, dist}, {dA, mfr}, {dA, pharm}, {pA, dist}} {
		e.OK(p.who, &supply.MsgPartner{Partner: p.partner})
	}
	return e
}

func product(g string) *supply.MsgProduct {
	return &supply.MsgProduct{GTIN: g, Name: "Amoxicillin 500 mg capsules", NDC: "0614-1123-45", Strength: "500mg", Form: "capsule", PackSize: 30}
}

// ev builds an event with a fresh hash.
func (e *env) ev(step, typ, action string, epcs ...string) supply.CaptureEvent {
	e.n++
	return supply.CaptureEvent{Hash: fmt.Sprintf("ni:///sha-256;%064x?ver=CBV2.0", e.n), Type: typ, Action: action, BizStep: step,
		EventTime: t0.UnixMilli() + int64(e.n), EPCs: epcs, JSON: []byte(fmt.Sprintf(`{"n":%d}`, e.n))}
}

func (e *env) commission(lot, expiry string, serials ...string) supply.CaptureEvent {
	var keys []string
	for _, s := range serials {
		keys = append(keys, unit(s))
	}
	c := e.ev("commissioning", supply.ObjectEvent, supply.ActionAdd, keys...)
	c.Lot, c.Expiry, c.BizLocation = lot, expiry, glnM
	return c
}

func (e *env) pack(parent string, children ...string) supply.CaptureEvent {
	c := e.ev("packing", supply.AggregationEvent, supply.ActionAdd, children...)
	c.Parent = parent
	return c
}

func (e *env) unpack(parent string, children ...string) supply.CaptureEvent {
	c := e.ev("unpacking", supply.AggregationEvent, supply.ActionDelete, children...)
	c.Parent = parent
	return c
}

func (e *env) ship(party string, epcs ...string) supply.CaptureEvent {
	c := e.ev("shipping", supply.ObjectEvent, supply.ActionObserve, epcs...)
	c.DestParty = party
	return c
}

func (e *env) step(step string, epcs ...string) supply.CaptureEvent {
	return e.ev(step, supply.ObjectEvent, supply.ActionObserve, epcs...)
}

func capture(evs ...supply.CaptureEvent) *supply.MsgCapture { return &supply.MsgCapture{Events: evs} }

func (e *env) unit(key string) *supply.Unit {
	e.T.Helper()
	u := supply.GetUnit(e.KV, key)
	if u == nil {
		e.T.Fatalf("no unit %s", key)
	}
	return u
}

// digest hashes the whole state: a refused message must leave it alone.
func (e *env) digest() [32]byte {
	h := sha256.New()
	e.KV.Iterate(nil, nil, func(k, v []byte) bool {
		fmt.Fprintf(h, "%x=%x;", k, v)
		return true
	})
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// toDistributor commissions S1–S3, packs them into case1 and ships the
// case to the distributor.
func (e *env) toDistributor() {
	e.OK(mS, capture(e.commission("L1", "271231", "S1", "S2", "S3"), e.pack(case1, unit("S1"), unit("S2"), unit("S3")), e.ship(glnD, case1)))
}

func verify(e *env, key, holder string) supply.Verification {
	d, err := gs1.Parse(key)
	if err != nil {
		e.T.Fatalf("%v", err)
	}
	return supply.Verify(e.KV, d, holder, gs1.Date{Year: 2026, Month: 3, Day: 5})
}

func TestCustodyChain(t *testing.T) {
	e := newEnv(t)
	e.toDistributor()
	for _, k := range []string{case1, unit("S1"), unit("S3")} {
		u := e.unit(k)
		if u.Status != supply.StatusInTransit || u.Owner != mfr || u.ShipTo != dist {
			t.Fatalf("%s after shipping: %+v", k, u)
		}
	}
	e.OK(dA, capture(e.step("receiving", case1)))
	if u := e.unit(unit("S2")); u.Owner != dist || u.Status != supply.StatusActive || u.Parent != case1 {
		t.Fatalf("S2 after receiving the case: %+v", u)
	}
	e.OK(dA, capture(e.ship(glnP, case1)))
	e.OK(pA, capture(e.step("receiving", case1)))
	e.OK(pS, capture(e.unpack(case1, unit("S1"), unit("S2"), unit("S3"))))
	if u := e.unit(case1); u.Children != 0 || len(supply.Children(e.KV, case1)) != 0 {
		t.Fatalf("case after unpacking: %+v", u)
	}
	e.OK(pS, capture(e.step("dispensing", unit("S1"))))

	v := verify(e, unit("S1"), "")
	if v.Status != supply.VerifyDispensed || v.Unit.Owner != pharm {
		t.Fatalf("S1: %s %+v", v.Status, v.Unit)
	}
	var steps []string
	for _, ev := range v.Provenance {
		steps = append(steps, ev.Org+":"+ev.BizStep)
	}
	want := []string{"mfr:commissioning", "mfr:packing", "mfr:shipping", "dist:receiving", "dist:shipping", "pharm:receiving", "pharm:unpacking", "pharm:dispensing"}
	if !slices.Equal(steps, want) {
		t.Fatalf("S1 provenance %v, want %v", steps, want)
	}
	if v := verify(e, "https://id.example/01/"+gtin+"/10/L1/21/S2?17=271231", pharm); v.Status != supply.VerifyGenuine || len(v.Provenance) != 7 {
		t.Fatalf("S2: %s %v, %d events", v.Status, v.Signals, len(v.Provenance))
	}
	if len(v.ProofKeys()) != 2+1+2*8 {
		t.Fatalf("proof keys: %d", len(v.ProofKeys()))
	}
}

func TestRefusals(t *testing.T) {
	type setup func(e *env)
	shipped := func(e *env) { e.toDistributor() }
	received := func(e *env) { e.toDistributor(); e.OK(dA, capture(e.step("receiving", case1))) }
	atPharmacy := func(e *env) {
		received(e)
		e.OK(dA, capture(e.ship(glnP, case1)))
		e.OK(pA, capture(e.step("receiving", case1)))
		e.OK(pA, capture(e.unpack(case1)))
	}
	commissioned := func(e *env) { e.OK(mS, capture(e.commission("L1", "271231", "S1", "S2"))) }
	cases := []struct {
		name   string
		setup  setup
		signer string
		msg    func(e *env) sm.Msg
		want   error
	}{
		{"bad gtin", nil, mA, func(e *env) sm.Msg { return product("00614141123453") }, supply.ErrBadMessage},
		{"product by a distributor", nil, dA, func(e *env) sm.Msg { return product("00012345000058") }, supply.ErrNotManufacturer},
		{"product by staff", nil, mS, func(e *env) sm.Msg { return product("00614141000012") }, supply.ErrNotAdmin},
		{"product of another manufacturer", nil, m2A, func(e *env) sm.Msg { return product(gtin) }, supply.ErrProductTaken},
		{"location of another organization", nil, dA, func(e *env) sm.Msg { return &supply.MsgLocation{GLN: glnM, Name: "Mine"} }, supply.ErrLocationTaken},
		{"partner unknown", nil, dA, func(e *env) sm.Msg { return &supply.MsgPartner{Partner: "nobody"} }, supply.ErrUnknownOrg},
		{"partner self", nil, dA, func(e *env) sm.Msg { return &supply.MsgPartner{Partner: dist} }, supply.ErrSelfPartner},
		{"capture by a patient", nil, patient, func(e *env) sm.Msg { return capture(e.commission("L1", "271231", "S9")) }, supply.ErrNotMember},
		{"commission unregistered GTIN", nil, mS, func(e *env) sm.Msg {
			c := e.commission("L1", "271231")
			c.EPCs = []string{"(01)00614141000012(21)X"}
			return capture(c)
		}, supply.ErrUnknownProduct},
		{"commission another's GTIN", nil, m2A, func(e *env) sm.Msg {
			c := e.commission("L1", "271231", "S9")
			c.BizLocation = glnM2
			return capture(c)
		}, supply.ErrNotBrandOwner},
		{"commission twice", commissioned, mS, func(e *env) sm.Msg { return capture(e.commission("L1", "271231", "S2")) }, supply.ErrCommissioned},
		{"commission without lot", nil, mS, func(e *env) sm.Msg { return capture(e.commission("", "", "S9")) }, supply.ErrMissingLot},
		{"bizLocation of another organization", nil, mS, func(e *env) sm.Msg {
			c := e.commission("L1", "271231", "S9")
			c.BizLocation = glnD
			return capture(c)
		}, supply.ErrNotOwnLocation},
		{"duplicate event", commissioned, mS, func(e *env) sm.Msg {
			c := e.commission("L1", "271231", "S9")
			c.Hash = fmt.Sprintf("ni:///sha-256;%064x?ver=CBV2.0", 1)
			return capture(c)
		}, supply.ErrDuplicateEvent},
		{"unsupported bizStep", commissioned, mS, func(e *env) sm.Msg { return capture(e.step("transforming", unit("S1"))) }, supply.ErrUnsupportedStep},
		{"wrong action", commissioned, mS, func(e *env) sm.Msg {
			return capture(e.ev("commissioning", supply.ObjectEvent, supply.ActionObserve, unit("S1")))
		}, supply.ErrWrongAction},
		{"ship by non-custodian", commissioned, dA, func(e *env) sm.Msg { return capture(e.ship(glnP, unit("S1"))) }, supply.ErrNotCustodian},
		{"ship to a non-partner", commissioned, mS, func(e *env) sm.Msg { return capture(e.ship(glnX, unit("S1"))) }, supply.ErrNotPartner},
		{"ship without destination", commissioned, mS, func(e *env) sm.Msg { return capture(e.ship("", unit("S1"))) }, supply.ErrNoDestination},
		{"ship to an unknown GLN", commissioned, mS, func(e *env) sm.Msg { return capture(e.ship(withCheck("999999900001"), unit("S1"))) }, supply.ErrUnknownLocation},
		{"ship before receiving", shipped, dA, func(e *env) sm.Msg { return capture(e.ship(glnP, case1)) }, supply.ErrNotCustodian},
		{"ship a unit inside a case", received, dA, func(e *env) sm.Msg { return capture(e.ship(glnP, unit("S1"))) }, supply.ErrPacked},
		{"ship while in transit", shipped, mS, func(e *env) sm.Msg { return capture(e.ship(glnD, case1)) }, supply.ErrInTransit},
		{"receive by another than the addressee", shipped, pA, func(e *env) sm.Msg { return capture(e.step("receiving", case1)) }, supply.ErrNotAddressee},
		{"receive without a shipment", commissioned, dA, func(e *env) sm.Msg { return capture(e.step("receiving", unit("S1"))) }, supply.ErrNotShipped},
		{"receive from a non-partner", func(e *env) {
			e.OK(dA, &supply.MsgPartner{Partner: mfr, Remove: true})
			e.toDistributor()
		}, dA, func(e *env) sm.Msg { return capture(e.step("receiving", case1)) }, supply.ErrNotPartner},
		{"receive an unknown unit", nil, dA, func(e *env) sm.Msg { return capture(e.step("receiving", unit("S404"))) }, supply.ErrUnknownUnit},
		{"dispense a recalled lot", func(e *env) {
			atPharmacy(e)
			e.OK(rA, &supply.MsgRecall{GTIN: gtin, Lot: "L1", Reason: "contamination"})
		},
			pS, func(e *env) sm.Msg { return capture(e.step("dispensing", unit("S1"))) }, supply.ErrRecalled},
		{"dispense an expired unit", func(e *env) {
			e.OK(mS, capture(e.commission("L0", "260131", "E1")))
			e.OK(mS, capture(e.ship(glnD, unit("E1"))))
			e.OK(dA, capture(e.step("receiving", unit("E1"))))
		}, dA, func(e *env) sm.Msg { return capture(e.step("dispensing", unit("E1"))) }, supply.ErrExpired},
		{"dispense a case", received, dA, func(e *env) sm.Msg { return capture(e.step("dispensing", case1)) }, supply.ErrNotDispensable},
		{"dispense twice", func(e *env) { atPharmacy(e); e.OK(pS, capture(e.step("dispensing", unit("S1")))) },
			pS, func(e *env) sm.Msg { return capture(e.step("dispensing", unit("S1"))) }, supply.ErrTerminal},
		{"ship after dispensing", func(e *env) { atPharmacy(e); e.OK(pS, capture(e.step("dispensing", unit("S1")))) },
			pA, func(e *env) sm.Msg { return capture(e.ship(glnD, unit("S1"))) }, supply.ErrTerminal},
		{"receive after destruction", func(e *env) { commissioned(e); e.OK(mS, capture(e.step("destroying", unit("S1")))) },
			dA, func(e *env) sm.Msg { return capture(e.step("receiving", unit("S1"))) }, supply.ErrTerminal},
		{"ship a case holding a quarantined unit", func(e *env) { received(e); e.OK(pA, &supply.MsgFlag{Unit: unit("S2"), Reason: "tampered"}) },
			dA, func(e *env) sm.Msg { return capture(e.ship(glnP, case1)) }, supply.ErrQuarantined},
		{"pack an already packed unit", received, dA, func(e *env) sm.Msg { return capture(e.pack(case2, unit("S1"))) }, supply.ErrAlreadyPacked},
		{"pack another's unit", commissioned, dA, func(e *env) sm.Msg { return capture(e.pack(case2, unit("S1"))) }, supply.ErrNotCustodian},
		{"unpack a unit not in the case", func(e *env) { received(e); e.OK(mS, capture(e.commission("L1", "271231", "S7"))) },
			dA, func(e *env) sm.Msg { return capture(e.unpack(case1, unit("S7"))) }, supply.ErrNotInParent},
		{"decommission a full case", received, dA, func(e *env) sm.Msg {
			return capture(e.ev("decommissioning", supply.ObjectEvent, supply.ActionObserve, case1))
		}, supply.ErrContainerNotEmpty},
		{"all or nothing", nil, mS, func(e *env) sm.Msg {
			return capture(e.commission("L1", "271231", "S8"), e.ship(glnX, unit("S8")))
		}, supply.ErrNotPartner},
		{"recall by a pharmacy", nil, pA, func(e *env) sm.Msg { return &supply.MsgRecall{GTIN: gtin, Lot: "L1", Reason: "quality"} }, supply.ErrNotRecaller},
		{"recall twice", func(e *env) { e.OK(mS, &supply.MsgRecall{GTIN: gtin, Lot: "L1", Reason: "quality"}) },
			rA, func(e *env) sm.Msg { return &supply.MsgRecall{GTIN: gtin, Lot: "L1", Reason: "potency"} }, supply.ErrAlreadyRecalled},
		{"recall an unknown product", nil, rA, func(e *env) sm.Msg { return &supply.MsgRecall{GTIN: "00614141000012", Lot: "L1", Reason: "quality"} }, supply.ErrUnknownProduct},
		{"flag an unknown unit", nil, pA, func(e *env) sm.Msg { return &supply.MsgFlag{Unit: unit("S404"), Reason: "counterfeit"} }, supply.ErrUnknownUnit},
		{"flag twice", func(e *env) { commissioned(e); e.OK(pA, &supply.MsgFlag{Unit: unit("S1"), Reason: "counterfeit"}) },
			dA, func(e *env) sm.Msg { return &supply.MsgFlag{Unit: unit("S1"), Reason: "stolen"} }, supply.ErrCaseOpen},
		{"flag with free text", commissioned, pA, func(e *env) sm.Msg { return &supply.MsgFlag{Unit: unit("S1"), Reason: "Mr Smith said so"} }, supply.ErrBadMessage},
		{"resolve without a case", commissioned, mA, func(e *env) sm.Msg { return &supply.MsgResolve{Unit: unit("S1")} }, supply.ErrNoCase},
		{"resolve by an outsider", func(e *env) { commissioned(e); e.OK(pA, &supply.MsgFlag{Unit: unit("S1"), Reason: "counterfeit"}) },
			pA, func(e *env) sm.Msg { return &supply.MsgResolve{Unit: unit("S1")} }, supply.ErrNotInvestigator},
		{"terminate by a manufacturer", func(e *env) {
			commissioned(e)
			e.OK(pA, &supply.MsgFlag{Unit: unit("S1"), Reason: "counterfeit"})
			e.OK(mA, &supply.MsgResolve{Unit: unit("S1"), Illegitimate: true})
		}, mA, func(e *env) sm.Msg { return &supply.MsgTerminate{Unit: unit("S1")} }, supply.ErrNotRegulator},
		{"terminate without notification", func(e *env) { commissioned(e); e.OK(pA, &supply.MsgFlag{Unit: unit("S1"), Reason: "counterfeit"}) },
			rA, func(e *env) sm.Msg { return &supply.MsgTerminate{Unit: unit("S1")} }, supply.ErrNotIllegitimate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			if c.setup != nil {
				c.setup(e)
			}
			msg := c.msg(e)
			before := e.digest()
			err := e.Run(c.signer, msg)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if e.digest() != before {
				t.Fatalf("a refused %s changed state", msg.Type())
			}
		})
	}
}

func TestRefusalCodesDistinct(t *testing.T) {
	seen := map[uint32]string{}
	for _, e := range sm.Registered() {
		if e.Codespace != supply.Codespace {
			continue
		}
		if prev, dup := seen[e.Code]; dup {
			t.Fatalf("code %d: %q and %q", e.Code, prev, e.Desc)
		}
		seen[e.Code] = e.Desc
	}
	if len(seen) < 40 {
		t.Fatalf("%d codes", len(seen))
	}
}

func TestSuspectProduct(t *testing.T) {
	e := newEnv(t)
	e.toDistributor()
	e.OK(dA, capture(e.step("receiving", case1)))
	e.OK(pA, &supply.MsgFlag{Unit: unit("S2"), Reason: "counterfeit"})
	if v := verify(e, unit("S2"), dist); v.Status != supply.VerifyQuarantined || v.Case == nil || v.Case.FlaggedBy != pharm {
		t.Fatalf("flagged: %s %+v", v.Status, v.Case)
	}
	if err := e.Run(dA, capture(e.ship(glnP, case1))); !errors.Is(err, supply.ErrQuarantined) {
		t.Fatalf("shipping the case of a quarantined unit: %v", err)
	}
	// Cleared: the case moves again.
	e.OK(mA, &supply.MsgResolve{Unit: unit("S2")})
	if v := verify(e, unit("S2"), dist); v.Status != supply.VerifyGenuine {
		t.Fatalf("cleared: %s %v", v.Status, v.Signals)
	}
	e.OK(dA, capture(e.ship(glnP, case1)))
	e.OK(pA, capture(e.step("receiving", case1)))
	e.OK(pA, capture(e.unpack(case1)))

	// Illegitimate: notified, still quarantined; the regulator terminates.
	e.OK(pA, &supply.MsgFlag{Unit: unit("S3"), Reason: "counterfeit"})
	e.Events = &sm.Events{}
	e.OK(rA, &supply.MsgResolve{Unit: unit("S3"), Illegitimate: true})
	var notified []string
	for _, ev := range e.Events.List() {
		if ev.Type == "supply_notification" {
			for _, a := range ev.Attrs {
				if a.Key == "org" {
					notified = append(notified, a.Value)
				}
			}
		}
	}
	if want := []string{dist, mfr, pharm, reg}; !slices.Equal(notified, want) {
		t.Fatalf("notified %v, want %v", notified, want)
	}
	if got := supply.Notices(e.KV, dist); !slices.Equal(got, []string{unit("S3")}) {
		t.Fatalf("distributor's notices: %v", got)
	}
	if v := verify(e, unit("S3"), pharm); v.Status != supply.VerifySuspect || !slices.Contains(v.Signals, supply.SignalIllegitimate) {
		t.Fatalf("illegitimate: %s %v", v.Status, v.Signals)
	}
	if err := e.Run(pS, capture(e.step("dispensing", unit("S3")))); !errors.Is(err, supply.ErrQuarantined) {
		t.Fatalf("dispensing an illegitimate unit: %v", err)
	}
	e.OK(rA, &supply.MsgTerminate{Unit: unit("S3")})
	if got := supply.Notices(e.KV, dist); len(got) != 0 {
		t.Fatalf("notices after termination: %v", got)
	}
	// An illegitimate product is destroyed by its holder.
	e.OK(pA, capture(e.step("destroying", unit("S3"))))
	if v := verify(e, unit("S3"), ""); v.Status != supply.VerifyDestroyed {
		t.Fatalf("destroyed: %s", v.Status)
	}
}

func TestRecall(t *testing.T) {
	e := newEnv(t)
	e.toDistributor()
	e.OK(mS, capture(e.commission("L2", "271231", "T1")))
	e.OK(mA, &supply.MsgRecall{GTIN: gtin, Lot: "L1", Reason: "contamination"})
	if v := verify(e, unit("S1"), dist); v.Status != supply.VerifyRecalled || v.Recall.Org != mfr {
		t.Fatalf("recalled: %s %+v", v.Status, v.Recall)
	}
	if v := verify(e, unit("T1"), mfr); v.Status != supply.VerifyGenuine {
		t.Fatalf("another lot: %s %v", v.Status, v.Signals)
	}
	if got := supply.LotUnits(e.KV, gtin, "L1"); !slices.Equal(got, []string{unit("S1"), unit("S2"), unit("S3")}) {
		t.Fatalf("lot units: %v", got)
	}
	// A recalled lot still moves (back to its maker), but is not dispensed.
	e.OK(dA, capture(e.step("receiving", case1)))
	e.OK(dA, capture(e.unpack(case1)))
	if err := e.Run(dA, capture(e.step("dispensing", unit("S1")))); !errors.Is(err, supply.ErrRecalled) {
		t.Fatalf("dispense recalled: %v", err)
	}
}

func TestVerifySignals(t *testing.T) {
	e := newEnv(t)
	e.toDistributor()
	cases := []struct {
		name, id, holder, status, signal string
	}{
		{"unknown product", "(01)00614141000012(21)X", "", supply.VerifyUnknown, supply.SignalUnknownProduct},
		{"serial never commissioned", unit("S404"), "", supply.VerifyUnknown, supply.SignalNeverCommissioned},
		{"lot differs", "(01)" + gtin + "(10)FAKE(21)S1", "", supply.VerifySuspect, supply.SignalLotMismatch},
		{"expiry differs", "(01)" + gtin + "(17)281231(21)S1", "", supply.VerifySuspect, supply.SignalExpiryMismatch},
		{"seen at another custodian", unit("S1"), pharm, supply.VerifySuspect, supply.SignalCustodianMismatch},
		{"the addressee holds it", unit("S1"), dist, supply.VerifyGenuine, supply.SignalInTransit},
		{"an SSCC", case1, "", supply.VerifyGenuine, supply.SignalInTransit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := verify(e, c.id, c.holder)
			if v.Status != c.status || !slices.Contains(v.Signals, c.signal) {
				t.Fatalf("%s: %s %v, want %s with %s", c.id, v.Status, v.Signals, c.status, c.signal)
			}
		})
	}
}
