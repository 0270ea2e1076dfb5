package devnet

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/epcis"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/supply"
)

// The demo's supply chain (docs/supply.md): the GS1 identifiers of the
// js/epcis scenario, with the development organizations.
const (
	DemoGTIN = "00614141123452"
	DemoLot  = "L2026A"
	// DemoUnitDL is the Digital Link of the unit the demo dispenses.
	DemoUnitDL = "https://id.medchain.example/01/00614141123452/10/L2026A/21/S1001?17=271231"
	// DemoUnitDL2 is one the pharmacy still holds.
	DemoUnitDL2 = "https://id.medchain.example/01/00614141123452/10/L2026A/21/S1002?17=271231"
)

func demoGLN(twelve string) string { return twelve + string(gs1.CheckDigit(twelve)) }

// The demo's GLNs: SGLN urn:epc:id:sgln:0614141.00001.0 and so on.
var (
	demoGLNManufacturer = demoGLN("061414100001")
	demoGLNDistributor  = demoGLN("001234500010")
	demoGLNPharmacy     = demoGLN("009876500020")
)

// demoDoc builds an EPCIS 2.0 document of events (each a JSON object
// without @context).
func demoDoc(events ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"@context": []string{epcis.ContextURL}, "type": "EPCISDocument", "schemaVersion": "2.0",
		"creationDate": "2026-03-01T08:00:00.000Z", "epcisBody": map[string]any{"eventList": events},
	})
	return b
}

func demoEvent(typ, t, action, step, disp, loc string, fields map[string]any) map[string]any {
	e := map[string]any{"type": typ, "eventTime": t, "eventTimeZoneOffset": "+00:00", "action": action, "bizStep": step,
		"disposition": disp, "readPoint": map[string]string{"id": loc}, "bizLocation": map[string]string{"id": loc}}
	for k, v := range fields {
		e[k] = v
	}
	return e
}

// seedSupply registers the demo's product, sites and trading partners, and
// captures a short custody chain as each organization would from its
// EPCIS system: dev-manufacturer commissions three units of lot L2026A,
// packs them in a case and ships it to dev-distributor, which receives it
// and ships it to dev-pharmacy, which receives it, unpacks it and
// dispenses one unit.
func seedSupply(ctx context.Context, c *client.Client, keys map[string]*crypto.PrivKey) error {
	steps, err := DemoSupply()
	if err != nil {
		return err
	}
	for _, st := range steps {
		if _, err := c.Send(ctx, keys[st.Who], st.Msg); err != nil {
			return fmt.Errorf("demo: %s %s: %w", st.Who, st.Msg.Type(), err)
		}
	}
	return nil
}

// DemoStep is one transaction of the supply demo: who signs what.
type DemoStep struct {
	Who string // a development account name
	Msg sm.Msg
}

// DemoSupply returns the supply demo's transactions in order.
func DemoSupply() ([]DemoStep, error) {
	const maker, dist, pharm = "manufacturer-admin", "distributor-admin", "pharmacy-admin"
	out := []DemoStep{
		{maker, &supply.MsgProduct{GTIN: DemoGTIN, Name: "Amoxicillin 500 mg capsules", NDC: "0614-1123-45", Strength: "500mg", Form: "capsule", PackSize: 30}},
		{maker, &supply.MsgLocation{GLN: demoGLNManufacturer, Name: "Development Pharma plant 1"}},
		{dist, &supply.MsgLocation{GLN: demoGLNDistributor, Name: "Development Wholesale warehouse"}},
		{pharm, &supply.MsgLocation{GLN: demoGLNPharmacy, Name: "Development Pharmacy, Main Street"}},
		{maker, &supply.MsgPartner{Partner: "dev-distributor"}},
		{dist, &supply.MsgPartner{Partner: "dev-manufacturer"}},
		{dist, &supply.MsgPartner{Partner: "dev-pharmacy"}},
		{pharm, &supply.MsgPartner{Partner: "dev-distributor"}},
	}
	const (
		locM, locD, locP = "urn:epc:id:sgln:0614141.00001.0", "urn:epc:id:sgln:0012345.00010.0", "urn:epc:id:sgln:0098765.00020.0"
		pM, pD, pP       = "urn:epc:id:pgln:0614141.00001", "urn:epc:id:pgln:0012345.00010", "urn:epc:id:pgln:0098765.00020"
		sscc             = "urn:epc:id:sscc:0614141.0000000001"
	)
	units := []string{"urn:epc:id:sgtin:0614141.012345.S1001", "urn:epc:id:sgtin:0614141.012345.S1002", "urn:epc:id:sgtin:0614141.012345.S1003"}
	ship := func(from, fromLoc, to, toLoc string) map[string]any {
		return map[string]any{"epcList": []string{sscc},
			"sourceList":      []map[string]string{{"type": "owning_party", "source": from}, {"type": "location", "source": fromLoc}},
			"destinationList": []map[string]string{{"type": "owning_party", "destination": to}, {"type": "location", "destination": toLoc}}}
	}
	docs := []struct {
		who string
		doc []byte
	}{
		{maker, demoDoc(
			demoEvent("ObjectEvent", "2026-03-01T08:00:00.000Z", "ADD", "commissioning", "active", locM, map[string]any{
				"epcList": units, "ilmd": map[string]string{"cbvmda:lotNumber": DemoLot, "cbvmda:itemExpirationDate": "2027-12-31"}}),
			demoEvent("AggregationEvent", "2026-03-01T08:10:00.000Z", "ADD", "packing", "in_progress", locM, map[string]any{
				"parentID": sscc, "childEPCs": units}),
			demoEvent("ObjectEvent", "2026-03-01T09:00:00.000Z", "OBSERVE", "shipping", "in_transit", locM, ship(pM, locM, pD, locD)),
		)},
		{dist, demoDoc(
			demoEvent("ObjectEvent", "2026-03-02T13:30:00.000Z", "OBSERVE", "receiving", "in_progress", locD, ship(pM, locM, pD, locD)),
			demoEvent("ObjectEvent", "2026-03-03T19:00:00.000Z", "OBSERVE", "shipping", "in_transit", locD, ship(pD, locD, pP, locP)),
		)},
		{pharm, demoDoc(
			demoEvent("ObjectEvent", "2026-03-04T14:00:00.000Z", "OBSERVE", "receiving", "in_progress", locP, ship(pD, locD, pP, locP)),
			demoEvent("AggregationEvent", "2026-03-04T14:30:00.000Z", "DELETE", "unpacking", "active", locP, map[string]any{
				"parentID": sscc, "childEPCs": units}),
			demoEvent("ObjectEvent", "2026-03-05T21:45:12.345Z", "OBSERVE", "dispensing", "dispensed", locP, map[string]any{
				"epcList": []string{DemoUnitDL}}),
		)},
	}
	for _, d := range docs {
		evs, err := epcis.Parse(d.doc)
		if err != nil {
			return nil, fmt.Errorf("demo: %s's EPCIS document: %w", d.who, err)
		}
		m := &supply.MsgCapture{}
		for _, e := range evs {
			ce, err := epcis.CaptureEvent(e)
			if err != nil {
				return nil, fmt.Errorf("demo: %s's EPCIS event: %w", d.who, err)
			}
			m.Events = append(m.Events, ce)
		}
		out = append(out, DemoStep{d.who, m})
	}
	return out, nil
}
