package portal

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/epcis"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/research"
	"github.com/medchain/medchain/x/staking"
	"github.com/medchain/medchain/x/supply"
	"github.com/medchain/medchain/x/telemed"
)

var update = flag.Bool("update", false, "rewrite web/test/testdata/msgs.json from the Go encoders")

const testdata = "../../web/test/testdata"

// msgVector is one message the portal encodes in the browser, with the
// fields web/src/lib/codec.js takes and the bytes Go's encoder gives.
type msgVector struct {
	Type   string         `json:"type"`
	Fields map[string]any `json:"fields"`
	Hex    string         `json:"hex"`
}

func addr(b byte) crypto.Address {
	var a crypto.Address
	for i := range a {
		a[i] = b + byte(i)
	}
	return a
}

func fill32(b byte) (out [32]byte) {
	for i := range out {
		out[i] = b
	}
	return
}

// TestBrowserMessageEncodings pins what the portal's JavaScript encoders
// (web/test/codec.test.mjs) must produce: the Go encoders' bytes.
func TestBrowserMessageEncodings(t *testing.T) {
	p, g := addr(0x10), addr(0x40)
	rid := consent.RecordID{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	var enc1, enc2 [records.WrappedEncLen]byte
	var ct1, ct2 [records.WrappedCTLen]byte
	enc1[0], enc2[0], ct1[0], ct2[0] = 1, 2, 3, 4
	vs := []struct {
		m      codec.Encoder
		typ    string
		fields map[string]any
	}{
		{&consent.MsgGrant{Patient: p, Grantee: consent.Account(g), Actions: 1, Types: []string{"Condition", "Observation"}, Purpose: "treatment", Until: 1900000000},
			"consent/grant", map[string]any{"patient": p.String(), "grantee": map[string]any{"kind": "account", "address": g.String()}, "actions": 1, "types": []string{"Observation", "Condition"}, "records": []string{}, "purpose": "treatment", "until": 1900000000}},
		{&consent.MsgGrant{Patient: p, Grantee: consent.Org("dev-hospital"), Actions: 3, Records: []consent.RecordID{rid}, Purpose: "emergency"},
			"consent/grant", map[string]any{"patient": p.String(), "grantee": map[string]any{"kind": "org", "org": "dev-hospital"}, "actions": 3, "types": []string{}, "records": []string{hex.EncodeToString(rid[:])}, "purpose": "emergency", "until": 0}},
		{&consent.MsgRevoke{ID: 300}, "consent/revoke", map[string]any{"id": 300}},
		{&consent.MsgOpenEmergency{Patient: p, Reason: "life_threatening"}, "consent/open_emergency", map[string]any{"patient": p.String(), "reason": "life_threatening"}},
		{&records.MsgAdd{ID: rid, Patient: p, ResourceType: "Observation", ContentHash: fill32(0xcd), Size: 1234, Keys: []records.WrappedKey{
			{Recipient: consent.Account(p), Enc: enc1, CT: ct1}, {Recipient: consent.Org("dev-hospital"), Enc: enc2, CT: ct2}}},
			"records/add", map[string]any{"id": hex.EncodeToString(rid[:]), "patient": p.String(), "resourceType": "Observation", "contentHash": hex.EncodeToString(bytes.Repeat([]byte{0xcd}, 32)), "size": 1234,
				// Given unsorted: the encoder sorts by the recipients' index keys.
				"keys": []map[string]any{
					{"recipient": map[string]any{"kind": "org", "org": "dev-hospital"}, "enc": hex.EncodeToString(enc2[:]), "ct": hex.EncodeToString(ct2[:])},
					{"recipient": map[string]any{"kind": "account", "address": p.String()}, "enc": hex.EncodeToString(enc1[:]), "ct": hex.EncodeToString(ct1[:])},
				}}},
		{&records.MsgShare{ID: rid, Version: 2, Keys: []records.WrappedKey{{Recipient: consent.Account(g), Enc: enc1, CT: ct1}}},
			"records/share", map[string]any{"id": hex.EncodeToString(rid[:]), "version": 2, "keys": []map[string]any{{"recipient": map[string]any{"kind": "account", "address": g.String()}, "enc": hex.EncodeToString(enc1[:]), "ct": hex.EncodeToString(ct1[:])}}}},
		{&gov.MsgVote{ProposalID: 7, Approve: true}, "gov/vote", map[string]any{"proposal": 7, "approve": true}},
		{&research.MsgOptIn{Request: 1, Patient: p, Consent: 9}, "research/optin", map[string]any{"request": 1, "patient": p.String(), "consent": 9}},
		{&accounts.MsgRegisterPatient{EncKey: crypto.EncKey(fill32(0xee))}, "accounts/register_patient", map[string]any{"encKey": hex.EncodeToString(bytes.Repeat([]byte{0xee}, 32))}},
		{&accounts.MsgSetGuardian{Guardian: g}, "accounts/set_guardian", map[string]any{"guardian": g.String()}},
		{&accounts.MsgRevokeGuardian{Guardian: g}, "accounts/revoke_guardian", map[string]any{"guardian": g.String()}},
		{&records.MsgErase{ID: rid}, "records/erase", map[string]any{"id": hex.EncodeToString(rid[:])}},
		{telemed.Confirm(12), "telemed/confirm", map[string]any{"booking": 12}},
		{telemed.Cancel(300), "telemed/cancel", map[string]any{"booking": 300}},
		{telemed.Dispute(1), "telemed/dispute", map[string]any{"booking": 1}},
		{telemed.NoShow(70000), "telemed/noshow", map[string]any{"booking": 70000}},
		// A pharmacy's receiving and dispensing (web/src/lib/supply.js): the
		// Go side parses the EPCIS document, hashes and encodes the events.
		{pharmacyCapture(t, `{"type":"ObjectEvent","eventTime":"2026-03-06T10:00:00.000Z","eventTimeZoneOffset":"+00:00","epcList":["https://id.gs1.org/01/00614141123452/21/S1002"],"action":"OBSERVE","bizStep":"dispensing","disposition":"dispensed"}`),
			"supply/capture", map[string]any{"events": []map[string]any{{"step": "dispensing", "unitKey": "(01)00614141123452(21)S1002", "time": 1772791200000, "gln": ""}}}},
		{pharmacyCapture(t,
			`{"type":"ObjectEvent","eventTime":"2026-03-06T10:00:00.123Z","eventTimeZoneOffset":"+00:00","epcList":["https://id.gs1.org/01/00614141123452/21/A%2FB%211"],"action":"OBSERVE","bizStep":"receiving","disposition":"in_progress","bizLocation":{"id":"https://id.gs1.org/414/0098765000205"}}`,
			`{"type":"ObjectEvent","eventTime":"2026-03-06T10:05:00.000Z","eventTimeZoneOffset":"+00:00","epcList":["https://id.gs1.org/00/006141410000000012"],"action":"OBSERVE","bizStep":"dispensing","disposition":"dispensed","bizLocation":{"id":"https://id.gs1.org/414/0098765000205"}}`),
			"supply/capture", map[string]any{"events": []map[string]any{
				{"step": "receiving", "unitKey": "(01)00614141123452(21)A/B!1", "time": 1772791200123, "gln": "0098765000205"},
				{"step": "dispensing", "unitKey": "(00)006141410000000012", "time": 1772791500000, "gln": "0098765000205"}}}},
		// Issue 19's remaining pages and issue 17's forms.
		{&consent.MsgGrant{Patient: p, Grantee: consent.Org("dev-hospital"), Actions: 1, Purpose: "treatment", Condition: `"dev-hospital" in encounter_orgs`},
			"consent/grant", map[string]any{"patient": p.String(), "grantee": map[string]any{"kind": "org", "org": "dev-hospital"}, "actions": 1, "types": []string{}, "records": []string{}, "purpose": "treatment", "until": 0, "condition": `"dev-hospital" in encounter_orgs`}},
		{&telemed.MsgOffer{Service: "general-consultation", Price: 250, Duration: 1800, Arbiter: "dev-regulator", CancelBefore: 3600, Grace: 900},
			"telemed/offer", map[string]any{"service": "general-consultation", "price": 250, "duration": 1800, "arbiter": "dev-regulator", "cancelBefore": 3600, "grace": 900}},
		{&telemed.MsgBook{Offer: 3, Start: 1900000000}, "telemed/book", map[string]any{"offer": 3, "start": 1900000000}},
		{&telemed.MsgWithdraw{Offer: 9}, "telemed/withdraw", map[string]any{"offer": 9}},
		{telemed.Done(5), "telemed/done", map[string]any{"booking": 5}},
		{&telemed.MsgResolve{Booking: 5, ToProvider: 150, ToPatient: 100}, "telemed/resolve", map[string]any{"booking": 5, "toProvider": 150, "toPatient": 100}},
		{&research.MsgOpen{Budget: 10000, Price: 100, Types: []string{"Condition", "Observation"}, Codes: []string{"http://loinc.org|85354-9"}, Purpose: "bp-outcomes", End: 1900000000},
			"research/open", map[string]any{"budget": 10000, "price": 100, "types": []string{"Observation", "Condition"}, "codes": []string{"http://loinc.org|85354-9"}, "purpose": "bp-outcomes", "end": 1900000000}},
		{&research.MsgClose{Request: 4}, "research/close", map[string]any{"request": 4}},
		{&accounts.MsgDeactivateMember{Address: g}, "accounts/deactivate_member", map[string]any{"address": g.String()}},
		{&accounts.MsgRegisterMember{PubKey: crypto.PubKey(fill32(0x21)), EncKey: crypto.EncKey(fill32(0x22)), Role: "practitioner"},
			"accounts/register_member", map[string]any{"pubKey": hex.EncodeToString(bytes.Repeat([]byte{0x21}, 32)), "encKey": hex.EncodeToString(bytes.Repeat([]byte{0x22}, 32)), "role": "practitioner"}},
		{&gov.MsgPropose{Action: gov.Action{Kind: "set_param", Param: "telemed.release_seconds", Value: 7200}, Reason: "shorter release"},
			"gov/propose", map[string]any{"kind": "set_param", "param": "telemed.release_seconds", "value": 7200, "reason": "shorter release"}},
		{&gov.MsgPropose{Action: gov.Action{Kind: "remove_member", OrgID: "dev-lab"}, Reason: "left the consortium"},
			"gov/propose", map[string]any{"kind": "remove_member", "orgId": "dev-lab", "reason": "left the consortium"}},
		{&staking.MsgWithdrawCommission{Validator: crypto.PubKey(fill32(0x33))}, "staking/withdraw_commission", map[string]any{"validator": hex.EncodeToString(bytes.Repeat([]byte{0x33}, 32))}},
		{&supply.MsgFlag{Unit: "(01)00614141123452(21)S1003", Reason: "tampered"}, "supply/flag", map[string]any{"unit": "(01)00614141123452(21)S1003", "reason": "tampered"}},
		{&policy.MsgAddRule{Event: "record_added", Condition: `attrs["type"] == "Observation"`, Action: policy.Action{Kind: "grant_consent", Grantee: consent.Org("dev-lab"), Actions: 1, Types: []string{"Observation"}, Purpose: "treatment", Seconds: 259200}},
			"policy/add_rule", map[string]any{"org": "", "event": "record_added", "condition": `attrs["type"] == "Observation"`, "action": map[string]any{"kind": "grant_consent", "grantee": map[string]any{"kind": "org", "org": "dev-lab"}, "actions": 1, "types": []string{"Observation"}, "purpose": "treatment", "seconds": 259200}}},
		{&policy.MsgAddRule{Org: "dev-hospital", Event: "emergency_opened", Action: policy.Action{Kind: "notify", To: consent.Account(g), Topic: "emergency_opened"}},
			"policy/add_rule", map[string]any{"org": "dev-hospital", "event": "emergency_opened", "condition": "", "action": map[string]any{"kind": "notify", "to": map[string]any{"kind": "account", "address": g.String()}, "topic": "emergency_opened"}}},
		{&policy.MsgAddRule{Event: "consultation_completed", Action: policy.Action{Kind: "release_escrow"}},
			"policy/add_rule", map[string]any{"org": "", "event": "consultation_completed", "condition": "", "action": map[string]any{"kind": "release_escrow"}}},
		{&policy.MsgAddRule{Event: "emergency_opened", Action: policy.Action{Kind: "revoke_consent", ConsentID: 7}},
			"policy/add_rule", map[string]any{"org": "", "event": "emergency_opened", "condition": "", "action": map[string]any{"kind": "revoke_consent", "consent": 7}}},
		{&policy.MsgRuleAction{Action: policy.TypePauseRule, ID: 2}, "policy/pause_rule", map[string]any{"id": 2}},
		{&policy.MsgRuleAction{Action: policy.TypeResumeRule, ID: 2}, "policy/resume_rule", map[string]any{"id": 2}},
		{&policy.MsgRuleAction{Action: policy.TypeDeleteRule, ID: 300}, "policy/delete_rule", map[string]any{"id": 300}},
		// A shipment to a trading partner's GLN (owning party and location).
		{pharmacyCapture(t, `{"type":"ObjectEvent","eventTime":"2026-03-06T10:00:00.000Z","eventTimeZoneOffset":"+00:00","epcList":["https://id.gs1.org/01/00614141123452/21/S1003"],"action":"OBSERVE","bizStep":"shipping","disposition":"in_transit","bizLocation":{"id":"https://id.gs1.org/414/0098765000205"},"destinationList":[{"type":"owning_party","destination":"https://id.gs1.org/417/0012345000102"},{"type":"location","destination":"https://id.gs1.org/414/0012345000102"}]}`),
			"supply/capture", map[string]any{"events": []map[string]any{{"step": "shipping", "unitKey": "(01)00614141123452(21)S1003", "time": 1772791200000, "gln": "0098765000205", "dest": "0012345000102"}}}},
	}
	var out []msgVector
	for _, v := range vs {
		if m, ok := v.m.(interface{ Type() string }); ok && m.Type() != v.typ {
			t.Fatalf("%T is %s, not %s", v.m, m.Type(), v.typ)
		}
		out = append(out, msgVector{Type: v.typ, Fields: v.fields, Hex: hex.EncodeToString(codec.Marshal(v.m))})
	}
	want, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	path := filepath.Join(testdata, "msgs.json")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is stale (or missing: %v): go test ./internal/portal -run TestBrowserMessageEncodings -update", path, err)
	}
}

// pharmacyCapture is the supply/capture of an EPCIS document of the given
// events, as medchain supply capture builds it.
func pharmacyCapture(t *testing.T, events ...string) *supply.MsgCapture {
	t.Helper()
	doc := `{"@context":["` + epcis.ContextURL + `"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-03-06T10:00:00.000Z","epcisBody":{"eventList":[` + strings.Join(events, ",") + `]}}`
	evs, err := epcis.Parse([]byte(doc))
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
	if err := m.ValidateBasic(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBrowserKeyFileOpensInGo: a key file the portal wrote in JavaScript
// (web/make_keyfile.mjs) loads with the CLI's keystore, and gives the
// keys the file names.
func TestBrowserKeyFileOpensInGo(t *testing.T) {
	ks := keystore.Open(testdata)
	key, err := ks.Load("js-fixture", "portal passphrase")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ks.Info("js-fixture")
	if err != nil {
		t.Fatal(err)
	}
	if key.Address() != info.Address || key.PubKey() != info.PubKey || key.EncKey() != info.EncKey {
		t.Fatalf("the JS key file's keys do not match its public fields")
	}
	if _, err := ks.Load("js-fixture", "wrong passphrase"); err == nil {
		t.Fatal("a wrong passphrase opened the JS key file")
	}
}
