package supply_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/supply"
)

// FuzzDecode: every message decoder and every stored-state decoder is
// strict and canonical. Seeded with one valid encoding of each.
func FuzzDecode(f *testing.F) {
	ev := supply.CaptureEvent{Hash: "ni:///sha-256;" + "ab" + "00000000000000000000000000000000000000000000000000000000000000"[:62] + "?ver=CBV2.0",
		EventID: "urn:uuid:1", Type: supply.ObjectEvent, Action: supply.ActionAdd, BizStep: "commissioning", Disposition: "active",
		EventTime: 1, EPCs: []string{unit("S1")}, BizLocation: glnM, Lot: "L1", Expiry: "271231", JSON: []byte(`{}`)}
	seeds := []codec.Encoder{
		product(gtin), &supply.MsgLocation{GLN: glnM, Name: "Plant"}, &supply.MsgPartner{Partner: dist, Remove: true},
		&supply.MsgCapture{Events: []supply.CaptureEvent{ev}}, &supply.MsgRecall{GTIN: gtin, Lot: "L1", Reason: "quality"},
		&supply.MsgFlag{Unit: unit("S1"), Reason: "stolen"}, &supply.MsgResolve{Unit: unit("S1"), Illegitimate: true},
		&supply.MsgTerminate{Unit: case1},
		&supply.Product{GTIN: gtin, Org: mfr, Name: "n", NDC: "1", Strength: "1mg", Form: "tablet", PackSize: 3, Registered: 4},
		&supply.Location{GLN: glnM, Org: mfr, Name: "Plant", Registered: 2},
		&supply.Unit{Key: unit("S1"), GTIN: gtin, Lot: "L1", Expiry: "271231", Brand: mfr, Owner: dist, Status: supply.StatusInTransit,
			Parent: case1, ShipFrom: mfr, ShipTo: dist, Commissioned: 5, Events: 3, Case: supply.CaseOpen},
		&supply.StoredEvent{Hash: ev.Hash, Seq: 1, Org: mfr, Signer: crypto.Address{1}, Height: 2, Time: 3, Type: ev.Type, Action: ev.Action,
			BizStep: ev.BizStep, EventTime: 4, EPCs: ev.EPCs, Parent: case1, To: dist, JSON: ev.JSON},
		&supply.Recall{GTIN: gtin, Lot: "L1", Org: reg, Reason: "quality", Time: 1, Height: 2},
		&supply.Case{Unit: unit("S1"), FlaggedBy: pharm, Reason: "stolen", Opened: 1, State: supply.CaseIllegitimate, ClosedBy: reg, Closed: 2,
			Notified: []string{dist, reg}},
	}
	for _, s := range seeds {
		f.Add(codec.Marshal(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, supply.Module{}.Routes(), b)
		smtest.FuzzCanonical(t, "product", b, supply.DecodeProduct)
		smtest.FuzzCanonical(t, "location", b, supply.DecodeLocation)
		smtest.FuzzCanonical(t, "unit", b, supply.DecodeUnit)
		smtest.FuzzCanonical(t, "event", b, supply.DecodeEvent)
		smtest.FuzzCanonical(t, "recall", b, supply.DecodeRecall)
		smtest.FuzzCanonical(t, "case", b, supply.DecodeCase)
	})
}

// TestFastUnitKey: the fast path of ParseUnitKey agrees with the element
// string parser on every key it accepts, and refuses none the slow path
// accepts differently.
func TestFastUnitKey(t *testing.T) {
	accepted := 0
	for _, s := range []string{
		"(00)" + withCheck("10614141000000001"), "(00)106141410000000010", "(00)106141410000000011", "(01)00614141123452(21)S1001", "(01)00614141123453(21)S1001",
		"(01)00614141123452(21)" + strings.Repeat("x", 20), "(01)00614141123452(21)" + strings.Repeat("x", 21),
		"(01)00614141123452(21)a(b)", "(01)00614141123452(21)!%&*+-./:;<=>?_\"", "(01)00614141123452(21)a b", "(01)00614141123452(21)", "(00)10614141000000001a",
		"(01)00614141123452(10)L1", "(01)00614141123452(21)S1(10)L1", "(01)0061414112345(21)S1",
	} {
		got, err := supply.ParseUnitKey(s)
		want, werr := supply.ParseUnitKeySlow(s)
		if (err == nil) != (werr == nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: fast %+v %v, slow %+v %v", s, got, err, want, werr)
		}
		if err == nil {
			accepted++
		}
	}
	if accepted < 4 { // SSCC, S1001, a 20-character serial, a set-82 serial
		t.Fatalf("%d keys accepted", accepted)
	}
}
