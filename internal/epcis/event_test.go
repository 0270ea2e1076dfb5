package epcis

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/medchain/medchain/gs1"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/scenario/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScenarioDocuments parses the documents epcis2.js built (js/epcis) and
// checks what each event says.
func TestScenarioDocuments(t *testing.T) {
	const (
		unit1 = "(01)00614141123452(21)S1001"
		case1 = "(00)006141410000000012"
		mfr   = gs1.GLN("0614141000012")
		dist  = gs1.GLN("0012345000102")
		pharm = gs1.GLN("0098765000205")
	)
	type want struct {
		typ, action, bizStep, disp string
		epcs                       int
		first, parent              string
		where                      gs1.GLN
		from, to                   gs1.GLN
	}
	docs := []struct {
		file   string
		events []want
	}{
		{"manufacturer.json", []want{
			{ObjectEvent, "ADD", "commissioning", "active", 3, unit1, "", mfr, "", ""},
			{AggregationEvent, "ADD", "packing", "in_progress", 3, unit1, case1, mfr, "", ""},
			{TransactionEvent, "ADD", "shipping", "in_progress", 1, case1, "", mfr, "", ""},
			{ObjectEvent, "OBSERVE", "shipping", "in_transit", 1, case1, "", mfr, mfr, dist},
		}},
		{"distributor.json", []want{
			{ObjectEvent, "OBSERVE", "receiving", "in_progress", 1, case1, "", dist, mfr, dist},
			{ObjectEvent, "OBSERVE", "shipping", "in_transit", 1, case1, "", dist, dist, pharm},
		}},
		{"pharmacy.json", []want{
			{ObjectEvent, "OBSERVE", "receiving", "in_progress", 1, case1, "", pharm, dist, pharm},
			{AggregationEvent, "DELETE", "unpacking", "active", 3, unit1, case1, pharm, "", ""},
			{ObjectEvent, "OBSERVE", "dispensing", "dispensed", 1, unit1, "", pharm, "", ""},
		}},
	}
	for _, d := range docs {
		t.Run(d.file, func(t *testing.T) {
			evs, err := Parse(readFixture(t, d.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(d.events) {
				t.Fatalf("%d events, want %d", len(evs), len(d.events))
			}
			for i, w := range d.events {
				e := evs[i]
				if e.Type != w.typ || e.Action != w.action || e.BizStep != w.bizStep || e.Disposition != w.disp {
					t.Errorf("event %d: %s %s %s %s", i, e.Type, e.Action, e.BizStep, e.Disposition)
				}
				if len(e.EPCs) != w.epcs || e.EPCs[0].Key() != w.first {
					t.Errorf("event %d: epcs %d, first %v", i, len(e.EPCs), e.EPCs[0].Key())
				}
				if w.parent != "" && (e.ParentID == nil || e.ParentID.Key() != w.parent) {
					t.Errorf("event %d: parent %v", i, e.ParentID)
				}
				if e.BizLocation == nil || e.BizLocation.GLN != w.where || e.ReadPoint == nil || e.ReadPoint.GLN != w.where {
					t.Errorf("event %d: location %v / %v", i, e.BizLocation, e.ReadPoint)
				}
				if w.from != "" && (len(e.Sources) != 2 || e.Sources[0].Type != "owning_party" || e.Sources[0].GLN != w.from ||
					len(e.Destinations) != 2 || e.Destinations[0].GLN != w.to || e.Destinations[1].Type != "location") {
					t.Errorf("event %d: sources %+v destinations %+v", i, e.Sources, e.Destinations)
				}
				if !strings.HasPrefix(e.Hash, "ni:///sha-256;") || !strings.HasSuffix(e.Hash, "?ver=CBV2.0") {
					t.Errorf("event %d: hash %q", i, e.Hash)
				}
				if e.EventTime.Location().String() != "UTC" || e.TimeZone == "" {
					t.Errorf("event %d: time %v %q", i, e.EventTime, e.TimeZone)
				}
			}
			if d.file == "manufacturer.json" {
				il := evs[0].ILMD
				if il == nil || il.Lot != "L2026A" || il.Expiry == nil || *il.Expiry != (gs1.Date{Year: 2027, Month: 12, Day: 31}) {
					t.Errorf("ilmd %+v", il)
				}
				if len(evs[2].BizTransactions) != 1 || evs[2].BizTransactions[0].Type != "po" {
					t.Errorf("bizTransactions %+v", evs[2].BizTransactions)
				}
			}
			if d.file == "pharmacy.json" && !strings.HasPrefix(evs[2].EPCs[0].URI, "https://id.medchain.example/01/") {
				t.Errorf("the dispensed unit is named by its Digital Link: %q", evs[2].EPCs[0].URI)
			}
		})
	}
}

// TestScenarioHashes pins the event hashes of the scenario documents
// (testdata/scenario/hashes.txt): the algorithm equals the reference
// implementation on its own vectors (TestReferenceHashVectors), and these
// catch any change.
func TestScenarioHashes(t *testing.T) {
	var got []string
	for _, f := range []string{"manufacturer.json", "distributor.json", "pharmacy.json"} {
		hs, err := DocumentHashes(readFixture(t, f))
		if err != nil {
			t.Fatal(err)
		}
		evs, _ := Parse(readFixture(t, f))
		for i, h := range hs {
			if evs[i].Hash != h {
				t.Fatalf("%s event %d: Parse hash %s, DocumentHashes %s", f, i, evs[i].Hash, h)
			}
			got = append(got, f+" "+h)
		}
	}
	want := strings.Split(strings.TrimSpace(string(readFixture(t, "hashes.txt"))), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("hashes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestScenarioDigitalLinks reads every Digital Link digital-link.js built.
func TestScenarioDigitalLinks(t *testing.T) {
	var links []struct {
		GTIN, Serial, Lot, Expiry, DigitalLink, EPC string
	}
	if err := json.Unmarshal(readFixture(t, "digital-links.json"), &links); err != nil {
		t.Fatal(err)
	}
	if len(links) != 3 {
		t.Fatalf("%d links", len(links))
	}
	for _, l := range links {
		d, err := gs1.ParseDigitalLink(l.DigitalLink)
		if err != nil {
			t.Fatal(err)
		}
		if string(d.GTIN) != l.GTIN || d.Serial != l.Serial || d.Lot != l.Lot || string(d.Expiry) != l.Expiry {
			t.Errorf("%s → %+v", l.DigitalLink, d)
		}
		e, _, n, err := gs1.ParseEPCURN(l.EPC)
		if err != nil || e.GTIN != d.GTIN || e.Serial != d.Serial {
			t.Errorf("%s → %+v, %v", l.EPC, e, err)
		}
		sg, _ := d.SGTIN()
		if urn, err := sg.EPCURN(n); err != nil || urn != l.EPC {
			t.Errorf("%+v → %q, want %q", sg, urn, l.EPC)
		}
	}
}

func TestParseRefusals(t *testing.T) {
	base := `{"type":"ObjectEvent","eventTime":"2026-03-01T09:00:00.000+01:00","eventTimeZoneOffset":"+01:00","action":"OBSERVE","epcList":["urn:epc:id:sgtin:0614141.012345.S1001"],"bizStep":"shipping","disposition":"in_transit","readPoint":{"id":"urn:epc:id:sgln:0614141.00001.0"}}`
	edit := func(old, new string) string {
		if !strings.Contains(base, old) {
			panic(old)
		}
		return strings.Replace(base, old, new, 1)
	}
	tests := []struct {
		name, doc string
		wantErr   error
		wantText  string
	}{
		{"transformation event", edit(`"ObjectEvent"`, `"TransformationEvent"`), ErrUnsupportedEventType, "TransformationEvent"},
		{"unknown type", edit(`"ObjectEvent"`, `"FooEvent"`), ErrDocument, "FooEvent"},
		{"bad action", edit(`"OBSERVE"`, `"MOVE"`), ErrField, "action"},
		{"time without offset", edit(`09:00:00.000+01:00`, `09:00:00.000`), ErrField, "eventTime"},
		{"no time", edit(`"eventTime":"2026-03-01T09:00:00.000+01:00",`, ``), ErrMissingField, "eventTime"},
		{"bad offset", edit(`"+01:00"`, `"+1"`), ErrField, "eventTimeZoneOffset"},
		{"bad check digit in a Digital Link", edit(`urn:epc:id:sgtin:0614141.012345.S1001`, `https://x.example/01/00614141123453/21/S1001`), ErrIdentifier, "check digit"},
		{"class in epcList", edit(`urn:epc:id:sgtin:0614141.012345.S1001`, `urn:epc:class:lgtin:0614141.012345.L1`), ErrIdentifier, "epcList[0]"},
		{"element string in epcList", edit(`urn:epc:id:sgtin:0614141.012345.S1001`, `(01)00614141123452(21)S1`), ErrIdentifier, "element strings"},
		{"duplicate EPC", edit(`["urn:epc:id:sgtin:0614141.012345.S1001"]`, `["urn:epc:id:sgtin:0614141.012345.S1001","https://x.example/01/00614141123452/21/S1001"]`), ErrField, "twice"},
		{"unknown bizStep", edit(`"shipping"`, `"teleporting"`), ErrField, "bizStep"},
		{"unknown CBV URI", edit(`"shipping"`, `"https://ref.gs1.org/cbv/BizStep-teleporting"`), ErrField, "bizStep"},
		{"readPoint not a URI", edit(`urn:epc:id:sgln:0614141.00001.0`, `dock 7`), ErrField, "readPoint"},
		{"readPoint GLN with bad check digit", edit(`urn:epc:id:sgln:0614141.00001.0`, `https://id.gs1.org/414/0614141000013`), ErrIdentifier, "check digit"},
		{"bizLocation not a GLN", edit(`"readPoint"`, `"bizLocation":{"id":"geo:47.5,11.1"},"readPoint"`), ErrIdentifier, "bizLocation"},
		{"unprefixed unknown field", edit(`"action":`, `"color":"red","action":`), ErrField, "color"},
		{"error declaration", edit(`"action":`, `"errorDeclaration":{"declarationTime":"2026-03-01T09:00:00Z"},"action":`), ErrField, "errorDeclaration"},
		{"object event with childEPCs", edit(`"epcList"`, `"childEPCs"`), ErrField, "childEPCs"},
		{"no EPCs", edit(`"epcList":["urn:epc:id:sgtin:0614141.012345.S1001"],`, ``), ErrMissingField, "epcList"},
		{"duplicate member", edit(`"action":"OBSERVE"`, `"action":"OBSERVE","action":"ADD"`), ErrDocument, "duplicate"},
		{"not JSON", `{"type":`, ErrDocument, "JSON"},
		{"empty document", `{"type":"EPCISDocument","schemaVersion":"2.0","epcisBody":{"eventList":[]}}`, ErrDocument, "no events"},
		{"wrong schema version", `{"type":"EPCISDocument","schemaVersion":"1.2","epcisBody":{"eventList":[` + base + `]}}`, ErrDocument, "schemaVersion"},
		{"transaction event without transactions", edit(`"ObjectEvent"`, `"TransactionEvent"`), ErrMissingField, "bizTransactionList"},
		{"aggregation ADD without parent", strings.NewReplacer(`"ObjectEvent"`, `"AggregationEvent"`, `"epcList"`, `"childEPCs"`, `"OBSERVE"`, `"ADD"`).Replace(base), ErrMissingField, "parentID"},
		{"negative quantity", edit(`"epcList":["urn:epc:id:sgtin:0614141.012345.S1001"]`, `"quantityList":[{"epcClass":"urn:epc:class:lgtin:0614141.012345.L1","quantity":-1}]`), ErrField, "quantity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.wantErr, tt.wantText)
			}
		})
	}
}

func TestParseForms(t *testing.T) {
	doc := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{"ext":"https://ns.example.org/"}],
	"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-01-01T00:00:00Z","epcisBody":{"eventList":[
	{"type":"AggregationEvent","eventTime":"2026-03-01T09:00:00Z","eventTimeZoneOffset":"+00:00","recordTime":"2026-03-01T09:00:01Z","action":"ADD",
	 "parentID":"https://id.gs1.org/00/006141410000000012","childEPCs":["https://example.com/01/614141123452/21/A%2FB"],
	 "childQuantityList":[{"epcClass":"urn:epc:idpat:sgtin:0614141.012345.*","quantity":4},{"epcClass":"https://id.gs1.org/01/00614141123452/10/L1","quantity":2.5,"uom":"KGM"}],
	 "bizStep":"urn:epcglobal:cbv:bizstep:packing","disposition":"https://ref.gs1.org/cbv/Disp-in_progress",
	 "bizLocation":{"id":"https://id.gs1.org/414/0614141000012/254/dock1"},
	 "sourceList":[{"type":"https://ref.gs1.org/cbv/SDT-owning_party","source":"https://id.gs1.org/417/0614141000012"}],
	 "ext:note":"kept"}]}}`
	evs, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	e := evs[0]
	if e.BizStep != "packing" || e.Disposition != "in_progress" {
		t.Errorf("CBV forms: %q %q", e.BizStep, e.Disposition)
	}
	if e.ParentID.Key() != "(00)006141410000000012" || e.EPCs[0].Key() != "(01)00614141123452(21)A/B" {
		t.Errorf("identifiers %v %v", e.ParentID.Key(), e.EPCs[0].Key())
	}
	if e.Quantities[0].Class.Key() != "(01)00614141123452" || e.Quantities[0].Quantity != "4" ||
		e.Quantities[1].Class.Key() != "(01)00614141123452(10)L1" || e.Quantities[1].Quantity != "2.5" || e.Quantities[1].UOM != "KGM" {
		t.Errorf("quantities %+v", e.Quantities)
	}
	if e.BizLocation.GLN != "0614141000012" || e.BizLocation.Extension != "dock1" {
		t.Errorf("bizLocation %+v", e.BizLocation)
	}
	if e.Sources[0].Type != "owning_party" || e.Sources[0].GLN != "0614141000012" {
		t.Errorf("sources %+v", e.Sources)
	}
	if strings.Contains(string(e.JSON), "recordTime") || !strings.Contains(string(e.JSON), `"ext:note":"kept"`) {
		t.Errorf("JSON %s", e.JSON)
	}
	// A read point may be any URI (here a geo: URI); only GS1 ones are parsed.
	geo, err := Parse([]byte(strings.Replace(string(e.JSON), `"bizLocation"`, `"readPoint":{"id":"geo:47.506694,11.104301"},"bizLocation"`, 1)))
	if err != nil || geo[0].ReadPoint != nil || geo[0].ReadPointID != "geo:47.506694,11.104301" {
		t.Fatalf("geo read point: %v %+v", err, geo)
	}
	// A bare event (no document) parses too.
	if _, err := Parse(e.JSON); err != nil {
		t.Fatal(err)
	}
}

// FuzzParse: no input panics Parse or DocumentHashes.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"manufacturer.json", "pharmacy.json"} {
		b, err := os.ReadFile("testdata/scenario/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"ObjectEvent","eventTime":"2026-03-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD","epcList":["urn:epc:id:sscc:0614141.0000000001"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := Parse(b)
		if err == nil && len(evs) == 0 {
			t.Fatal("no error and no events")
		}
		_, _ = DocumentHashes(b)
	})
}
