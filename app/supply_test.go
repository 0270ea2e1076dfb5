package app_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/internal/epcis"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/supply"
)

// The supply rows of the authorization table. The test genesis has no
// manufacturer: no role registers a product; hospital and lab admins may
// register their own locations and trading partners.
func init() {
	unknownUnit := "(01)00614141123452(21)NOPE"
	members := func(want *sm.Error, except map[string]*sm.Error) map[string]*sm.Error {
		m := every(want, except)
		for _, r := range []string{rolePatient, roleOtherPatient, roleGuardian} {
			if _, ok := except[r]; !ok {
				m[r] = supply.ErrNotMember
			}
		}
		return m
	}
	capture := &supply.MsgCapture{Events: []supply.CaptureEvent{{
		Hash: "ni:///sha-256;" + "00000000000000000000000000000000000000000000000000000000000000aa" + "?ver=CBV2.0",
		Type: supply.ObjectEvent, Action: supply.ActionAdd, BizStep: "commissioning", EventTime: 1,
		EPCs: []string{unknownUnit}, Lot: "L1", Expiry: "271231", JSON: []byte(`{}`),
	}}}
	for typ, r := range map[string]authRow{
		supply.TypeProduct: {
			msg:  fixedMsg(&supply.MsgProduct{GTIN: "00614141123452", Name: "n", NDC: "1", Strength: "1mg", Form: "tablet", PackSize: 1}),
			want: members(supply.ErrNotManufacturer, map[string]*sm.Error{rolePractitioner: supply.ErrNotAdmin}),
		},
		supply.TypeLocation: {
			msg:  fixedMsg(&supply.MsgLocation{GLN: glnOf("061414100001"), Name: "Site"}),
			want: members(nil, map[string]*sm.Error{rolePractitioner: supply.ErrNotAdmin}),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if l := supply.GetLocation(h.State(), glnOf("061414100001")); l == nil || l.Org != h.Account(signer).Org {
					t.Fatalf("location %+v", l)
				}
			},
		},
		supply.TypePartner: {
			msg:  fixedMsg(&supply.MsgPartner{Partner: apptest.OrgPharmacy}),
			want: members(nil, map[string]*sm.Error{rolePractitioner: supply.ErrNotAdmin}),
			check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
				if !supply.Partners(h.State(), h.Account(signer).Org, apptest.OrgPharmacy) {
					t.Fatal("no partner")
				}
			},
		},
		supply.TypeCapture:   {msg: fixedMsg(capture), want: members(supply.ErrUnknownProduct, nil)},
		supply.TypeRecall:    {msg: fixedMsg(&supply.MsgRecall{GTIN: "00614141123452", Lot: "L1", Reason: "quality"}), want: members(supply.ErrUnknownProduct, nil)},
		supply.TypeFlag:      {msg: fixedMsg(&supply.MsgFlag{Unit: unknownUnit, Reason: "counterfeit"}), want: members(supply.ErrUnknownUnit, nil)},
		supply.TypeResolve:   {msg: fixedMsg(&supply.MsgResolve{Unit: unknownUnit}), want: members(supply.ErrUnknownUnit, nil)},
		supply.TypeTerminate: {msg: fixedMsg(&supply.MsgTerminate{Unit: unknownUnit}), want: members(supply.ErrNotRegulator, nil)},
	} {
		authRows[typ] = r
	}
}

func glnOf(twelve string) string { return twelve + string(gs1.CheckDigit(twelve)) }

// scenarioCapture reads a js/epcis fixture document (built with epcis2.js) and
// signs its events, one capture message for the whole document.
func scenarioCapture(t *testing.T, name string) *supply.MsgCapture {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "internal", "epcis", "testdata", "scenario", name))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := epcis.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	m := &supply.MsgCapture{}
	for _, e := range evs {
		c, err := epcis.CaptureEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		m.Events = append(m.Events, c)
	}
	return m
}

// TestSupplyScenario drives the js/epcis scenario through real
// transactions: master data, then the manufacturer's, the distributor's and
// the pharmacy's documents; every unit's provenance shows the whole chain.
func TestSupplyScenario(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Supply())
	h.SupplyMasterData(t)
	maker, whole, pharm := k(apptest.ManufacturerAdmin), k(apptest.DistributorAdmin), k(apptest.PharmacyAdmin)
	// The distributor cannot receive before the manufacturer ships.
	dist := scenarioCapture(t, "distributor.json")
	res := h.Deliver(t, h.Sign(whole, dist))[0]
	if res.Code != supply.ErrUnknownUnit.Code || res.Codespace != supply.Codespace {
		t.Fatalf("receiving before shipping: %d %s %s", res.Code, res.Codespace, res.Log)
	}
	h.DeliverOK(t, h.Sign(maker, scenarioCapture(t, "manufacturer.json")))
	h.DeliverOK(t, h.Sign(whole, dist))
	// The pharmacy's document sent by the distributor: its bizLocation is
	// the pharmacy's.
	ph := scenarioCapture(t, "pharmacy.json")
	if res := h.Deliver(t, h.Sign(whole, ph))[0]; res.Code != supply.ErrNotOwnLocation.Code {
		t.Fatalf("the distributor capturing at the pharmacy: %d %s", res.Code, res.Log)
	}
	h.DeliverOK(t, h.Sign(pharm, ph))
	// The same document again: each event's hash is captured once.
	if res := h.Deliver(t, h.Sign(pharm, ph))[0]; res.Code != supply.ErrDuplicateEvent.Code {
		t.Fatalf("capturing twice: %d %s", res.Code, res.Log)
	}

	kv := h.State()
	day := gs1.Date{Year: 2026, Month: 3, Day: 6}
	want := []string{"dev-manufacturer:commissioning", "dev-manufacturer:packing", "dev-manufacturer:shipping", "dev-manufacturer:shipping",
		"dev-distributor:receiving", "dev-distributor:shipping", "dev-pharmacy:receiving", "dev-pharmacy:unpacking"}
	for _, s := range []string{"S1001", "S1002", "S1003"} {
		d, err := gs1.Parse("https://id.medchain.example/01/00614141123452/10/L2026A/21/" + s + "?17=271231")
		if err != nil {
			t.Fatal(err)
		}
		v := supply.Verify(kv, d, apptest.OrgPharmacy, day)
		var steps []string
		for _, e := range v.Provenance {
			steps = append(steps, e.Org+":"+e.BizStep)
		}
		wantSteps, wantStatus := want, supply.VerifyGenuine
		if s == "S1001" {
			wantSteps, wantStatus = append(slices.Clone(want), "dev-pharmacy:dispensing"), supply.VerifyDispensed
		}
		if v.Status != wantStatus || !slices.Equal(steps, wantSteps) {
			t.Fatalf("%s: %s %v\n%v\nwant %s\n%v", s, v.Status, v.Signals, steps, wantStatus, wantSteps)
		}
		if v.Unit.Owner != apptest.OrgPharmacy {
			t.Fatalf("%s held by %s", s, v.Unit.Owner)
		}
	}
	// The regulator recalls the lot: the pharmacy dispenses no more of it.
	h.DeliverOK(t, h.Sign(k(apptest.RegulatorAdmin), &supply.MsgRecall{GTIN: "00614141123452", Lot: "L2026A", Reason: "contamination"}))
	d, _ := gs1.Parse("(01)00614141123452(21)S1002")
	if v := supply.Verify(h.State(), d, apptest.OrgPharmacy, day); v.Status != supply.VerifyRecalled {
		t.Fatalf("after the recall: %s", v.Status)
	}
}
