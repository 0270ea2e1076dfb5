package app_test

import (
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/supply"
)

func abciAttr(ev abci.Event, key string) string {
	for _, a := range ev.Attributes {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

func abciOfType(evs []abci.Event, typ string) []abci.Event {
	var out []abci.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// TestAutomationOpensQuarantine: an organization's rule "when a unit is
// received matching CONDITION, open a quarantine" — registered, then a
// receiving event committed, then the quarantine opened at the end of that
// block under the rule owner's authority, the firing recorded with its
// cause; a second rule on the same unit is refused with supply's code and
// changes nothing; the quarantine then stops the unit's case at the next
// receipt.
func TestAutomationOpensQuarantine(t *testing.T) {
	if policy.SupplyUnitReceived != supply.EventUnitReceived || policy.Triggers[supply.EventUnitReceived] != policy.EventUnitReceived {
		t.Fatalf("policy listens for %q, supply emits %q", policy.SupplyUnitReceived, supply.EventUnitReceived)
	}
	h := apptest.NewWithConfig(t, apptest.Supply())
	h.SupplyMasterData(t)
	maker, whole, pharm, reg := k(apptest.ManufacturerAdmin), k(apptest.DistributorAdmin), k(apptest.PharmacyAdmin), k(apptest.RegulatorAdmin)
	const s1002 = "(01)00614141123452(21)S1002"
	when := `attrs["from"] == "dev-manufacturer" && attrs["lot"] == "L2026A" && attrs["unit"].endsWith("(21)S1002")`
	rule := func(org string) *policy.MsgAddRule {
		return &policy.MsgAddRule{Org: org, Event: policy.EventUnitReceived, Condition: when,
			Action: policy.Action{Kind: policy.ActionOpenQuarantine, Reason: "diverted"}}
	}
	// A personal rule may not quarantine (refused at registration).
	if res := h.Deliver(t, h.Sign(k(apptest.Patient1), rule("")))[0]; res.Codespace != "policy" || res.Code != policy.ErrOrgActionOnly.Code {
		t.Fatalf("a patient's quarantine rule: %s/%d %s", res.Codespace, res.Code, res.Log)
	}
	h.DeliverOK(t, h.Sign(whole, rule(apptest.OrgDistributor)), h.Sign(reg, rule(apptest.OrgRegulator)))
	h.DeliverOK(t, h.Sign(maker, scenarioCapture(t, "manufacturer.json")))
	if u := supply.GetUnit(h.State(), s1002); u == nil || u.Case != 0 {
		t.Fatalf("before the receipt: %+v", u)
	}

	// The distributor receives the case (and ships it on, in the same
	// capture): the rule fires at the end of this block.
	res := h.DeliverOK(t, h.Sign(whole, scenarioCapture(t, "distributor.json")))
	received := abciOfType(res[0].Events, supply.EventUnitReceived)
	if len(received) != 4 { // the case and its three units
		t.Fatalf("%d %s events, want 4: %v", len(received), supply.EventUnitReceived, received)
	}
	for _, ev := range received {
		if abciAttr(ev, "org") != apptest.OrgDistributor || abciAttr(ev, "from") != apptest.OrgManufacturer || abciAttr(ev, "event") == "" {
			t.Fatalf("received event %v", ev)
		}
	}
	block := h.Last.Events
	fired := abciOfType(block, "policy_fired")
	if len(fired) != 2 {
		t.Fatalf("%d firings, want 2: %v", len(fired), block)
	}
	// The block's events as policy numbers them: the block's own events
	// from before the transactions, then the transaction's.
	firstPolicy := len(block)
	for i, ev := range block {
		if ev.Type == "policy_fired" || ev.Type == "supply_flagged" {
			firstPolicy = i
			break
		}
	}
	all := append(append([]abci.Event{}, block[:firstPolicy]...), res[0].Events...)
	for i, f := range fired {
		wantRule, wantOwner, wantOutcome := "1", "org:"+apptest.OrgDistributor, policy.OutcomeOK
		if i == 1 {
			// The regulator's rule: the unit is already under investigation.
			wantRule, wantOwner, wantOutcome = "2", "org:"+apptest.OrgRegulator, "supply/32"
		}
		if abciAttr(f, "rule") != wantRule || abciAttr(f, "owner") != wantOwner || abciAttr(f, "outcome") != wantOutcome ||
			abciAttr(f, "event") != policy.EventUnitReceived || abciAttr(f, "action") != policy.ActionOpenQuarantine ||
			abciAttr(f, "cause") != supply.EventUnitReceived || abciAttr(f, "condition") == "" {
			t.Fatalf("firing %d: %v", i, f)
		}
		var idx int
		for _, c := range abciAttr(f, "cause_index") {
			idx = idx*10 + int(c-'0')
		}
		if idx >= len(all) || all[idx].Type != supply.EventUnitReceived || abciAttr(all[idx], "unit") != s1002 {
			t.Fatalf("firing %d: cause_index %s does not name the receipt of %s", i, abciAttr(f, "cause_index"), s1002)
		}
	}
	flagged := abciOfType(block, "supply_flagged")
	if len(flagged) != 1 || abciAttr(flagged[0], "unit") != s1002 || abciAttr(flagged[0], "org") != apptest.OrgDistributor || abciAttr(flagged[0], "reason") != "diverted" {
		t.Fatalf("flag events %v", flagged)
	}
	kv := h.State()
	u := supply.GetUnit(kv, s1002)
	c := supply.GetCase(kv, s1002)
	if u == nil || u.Case != supply.CaseOpen || c == nil || c.FlaggedBy != apptest.OrgDistributor || c.Reason != "diverted" {
		t.Fatalf("unit %+v case %+v", u, c)
	}
	for _, other := range []string{"(01)00614141123452(21)S1001", "(01)00614141123452(21)S1003"} {
		if u := supply.GetUnit(kv, other); u == nil || u.Case != 0 {
			t.Fatalf("%s quarantined too: %+v", other, u)
		}
	}
	if r := policy.GetRule(kv, 1); r.Fired != 1 {
		t.Fatalf("rule 1 fired %d times", r.Fired)
	}
	// The quarantine holds the case the unit is packed in: the pharmacy
	// cannot receive it.
	if res := h.Deliver(t, h.Sign(pharm, scenarioCapture(t, "pharmacy.json")))[0]; res.Codespace != supply.Codespace || res.Code != supply.ErrQuarantined.Code {
		t.Fatalf("receiving a case holding a quarantined unit: %s/%d %s", res.Codespace, res.Code, res.Log)
	}
}
