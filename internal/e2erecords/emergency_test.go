package e2erecords

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/consent"
)

// Distinctive free text, as a practitioner would write it, that the chain
// must refuse as an emergency's reason or review (testNoPlaintext also
// looks for it in every block).
const (
	freeReason = "Quorvane-7 overdose, unconscious on arrival"
	freeReview = "justified: Quorvane-7 overdose confirmed by the ethics lead"
)

func emergencyFreeText() []secret {
	return []secret{newSecret("free-text emergency reason", []byte(freeReason)),
		newSecret("free-text emergency review", []byte(freeReview)), newSecret("word of the free text", []byte("Quorvane"))}
}

// testEmergency: break-glass access needs the patient's custodian consent to
// the practitioner's organization; once open, the practitioner reads through
// the organization's node, the read is flagged in the trail (and in its FHIR
// export); when the access expires reads are refused and an unreviewed
// access is signalled until the organization's admin reviews it. The reason
// and the review are codes: free text (a clinical justification is health
// data) is refused by the CLI and by the chain, and never reaches state.
func testEmergency(t *testing.T, nw *localNet) {
	mc := nw.cli(0) // node0 is dev-hospital's gateway
	doc2 := mc.addr(t, "doctor2")
	file, want := mc.fixtureFor(t, "observation-glucose.json", "patient3")
	id := mc.addRecord(t, "patient3", "patient3", file)
	const reason, outcome = "life_threatening", "justified"

	r := mc.fails(t, "emergency", "open", "--from", "doctor2", "--patient", "patient3", "--reason", reason)
	wantContains(t, "emergency open without a custodian", r.stderr,
		"the patient has named no emergency custodian in your organization: emergency access cannot decrypt", "code 9/consent")

	mc.grant(t, "--from", "patient3", "--to", "org:dev-hospital", "--actions", "read", "--purpose", "emergency")
	// Custody alone opens nothing.
	wantContains(t, "read with custody but no emergency access", mc.fails(t, "record", "get", "--from", "doctor2", id).stderr, "code 17/consent")

	// Free text is refused: by the CLI before sending, and by the chain
	// when a client sends it anyway.
	wantContains(t, "emergency open with a free-text reason",
		mc.fails(t, "emergency", "open", "--from", "doctor2", "--patient", "patient3", "--reason", freeReason).stderr,
		"unknown emergency reason code", "life_threatening", "code 20/consent")
	wantChainRefuses(t, mc, "doctor2", &consent.MsgOpenEmergency{Patient: mc.key(t, "patient3").Address(), Reason: freeReason}, 20)

	var res api.TxResult
	mc.okJSON(t, &res, "emergency", "open", "--from", "doctor2", "--patient", "patient3", "--reason", reason)
	emID, expires := eventAttr(t, res, "emergency_opened", "id"), eventAttr(t, res, "emergency_opened", "expires")
	until, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		t.Fatal(err)
	}

	// node0 opens the key wrapped to dev-hospital and re-wraps it for doctor2.
	if got := mc.read(t, "doctor2", id); !bytes.Equal(got, want) {
		t.Errorf("doctor2's emergency read: %d bytes that differ from the %d written", len(got), len(want))
	}
	// dev-lab's node cannot open dev-hospital's key.
	nw.sync(t)
	wantContains(t, "emergency read through dev-lab's node", mc.at(nw.apis[1]).fails(t, "record", "get", "--from", "doctor2", id).stderr,
		"another organization", "code 6/gateway")

	evs := mc.waitAudit(t, "patient3", func(evs []api.EventView) error {
		if flaggedRead(evs, doc2, id, emID) == nil {
			return fmt.Errorf("no flagged read by doctor2 under emergency access %s", emID)
		}
		return nil
	})
	flagged := flaggedRead(evs, doc2, id, emID)
	wantContains(t, "audit", mc.ok(t, "audit", "--from", "patient3"), "EMERGENCY "+emID)
	checkETREAT(t, mc.ok(t, "audit", "--from", "patient3", "--fhir"), flagged.Seq, emID)

	waitBlockTime(t, mc.client(), until)
	wantContains(t, "read after the emergency access expired", mc.fails(t, "record", "get", "--from", "doctor2", id).stderr, "code 17/consent")
	wantContains(t, "audit --signals", mc.ok(t, "audit", "--from", "patient3", "--signals"),
		"emergency_unreviewed", "emergency access "+emID, "expired without review")
	wantContains(t, "emergency list", mc.ok(t, "emergency", "list", "--patient", "patient3"), "expired, NOT REVIEWED", reason)

	wantContains(t, "review by another organization's admin",
		mc.fails(t, "emergency", "review", "--from", "lab-admin", emID, "--outcome", outcome).stderr, "code 13/consent")
	wantContains(t, "emergency review with a free-text review",
		mc.fails(t, "emergency", "review", "--from", "hospital-admin", emID, "--outcome", freeReview).stderr,
		"unknown emergency review outcome", "inconclusive", "code 21/consent")
	emNum, err := strconv.ParseUint(emID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	wantChainRefuses(t, mc, "hospital-admin", &consent.MsgReviewEmergency{ID: emNum, Review: freeReview}, 21)
	wantContains(t, "emergency review", mc.ok(t, "emergency", "review", "--from", "hospital-admin", emID, "--outcome", outcome),
		"emergency access "+emID+" reviewed and closed")

	var list struct {
		Emergencies []api.EmergencyView `json:"emergencies"`
	}
	mc.okJSON(t, &list, "emergency", "list", "--patient", "patient3")
	if len(list.Emergencies) != 1 || list.Emergencies[0].Reviewed == nil || list.Emergencies[0].Reviewer != mc.addr(t, "hospital-admin") ||
		list.Emergencies[0].Reason != reason || list.Emergencies[0].Review != outcome {
		t.Errorf("emergency list after review: %+v", list.Emergencies)
	} else if e := list.Emergencies[0]; e.Expires.Sub(e.Opened) != emergencySeconds*time.Second || e.Expires.Unix() != until {
		t.Errorf("emergency access %s lasted from %s to %s, want the genesis parameter's %d s", emID, e.Opened, e.Expires, emergencySeconds)
	}
	wantContains(t, "emergency list", mc.ok(t, "emergency", "list", "--patient", "patient3"), "reviewed")
	if s := mc.ok(t, "audit", "--from", "patient3", "--signals"); strings.Contains(s, "emergency_unreviewed") {
		t.Errorf("the reviewed access is still signalled:\n%s", s)
	}

	// The on-chain emergency holds only the codes: the refused free text is
	// in no node's state, nor in their logs.
	nw.sync(t)
	secrets := emergencyFreeText()
	for k, nd := range nw.nodes {
		nd.App().Committed().Iterate(nil, nil, func(key, value []byte) bool {
			if hits := append(find(secrets, key), find(secrets, value)...); len(hits) > 0 {
				t.Errorf("node%d state key %x holds %s", k, key, strings.Join(hits, ", "))
			}
			return true
		})
	}
	if hits := find(secrets, nw.logs.Bytes()); len(hits) > 0 {
		t.Errorf("the nodes' log output holds %s", strings.Join(hits, ", "))
	}
}

// wantChainRefuses sends msg signed by signer's key straight to the node,
// past the CLI's own checks, and wants it refused with consent/code and not
// committed.
func wantChainRefuses(t *testing.T, mc medchain, signer string, msg sm.Msg, code uint32) {
	t.Helper()
	res, err := mc.client().Send(t.Context(), mc.key(t, signer), msg)
	var te *client.TxError
	if !errors.As(err, &te) || te.Result.Code != code || te.Result.Codespace != consent.Codespace || te.Result.Committed {
		t.Errorf("%s with free text sent to the chain: %+v, %v; want refused with code %d/consent", msg.Type(), res, err, code)
	}
}

// flaggedRead finds the served emergency read of record id by accessor under
// emergency access emID, reported by dev-hospital's node.
func flaggedRead(evs []api.EventView, accessor, id, emID string) *api.EventView {
	for i, e := range evs {
		if e.Accessor == accessor && e.Record == id && e.Served && e.Emergency && e.Basis == "emergency" &&
			jsonID(e.EmergencyID) == emID && e.Node == "dev-hospital" {
			return &evs[i]
		}
	}
	return nil
}

// checkETREAT parses the trail's FHIR export and checks that the AuditEvent
// of the flagged read has purposeOfEvent ETREAT naming the access.
func checkETREAT(t *testing.T, bundle string, seq uint64, emID string) {
	t.Helper()
	if res, err := fhirr4.Parse([]byte(bundle)); err != nil || res.Type != "Bundle" {
		t.Fatalf("audit --fhir is not a valid FHIR R4 Bundle: %v", err)
	}
	var b struct {
		Entry []struct {
			Resource struct {
				ID             string `json:"id"`
				PurposeOfEvent []struct {
					Coding []struct{ System, Code string }
					Text   string
				} `json:"purposeOfEvent"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal([]byte(bundle), &b); err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		if e.Resource.ID != jsonID(seq) {
			continue
		}
		for _, p := range e.Resource.PurposeOfEvent {
			for _, c := range p.Coding {
				if c.Code == "ETREAT" && c.System == "http://terminology.hl7.org/CodeSystem/v3-ActReason" && strings.Contains(p.Text, emID) {
					return
				}
			}
		}
		t.Errorf("AuditEvent %d has no purposeOfEvent ETREAT naming emergency access %s: %+v", seq, emID, e.Resource.PurposeOfEvent)
		return
	}
	t.Errorf("no AuditEvent %d in audit --fhir", seq)
}

// eventAttr returns an attribute of a transaction's event.
func eventAttr(t *testing.T, res api.TxResult, typ, key string) string {
	t.Helper()
	for _, e := range res.Events {
		if e.Type == typ {
			if v, ok := e.Attrs[key]; ok {
				return v
			}
		}
	}
	t.Fatalf("transaction %s has no %s event with %s: %+v", res.Hash, typ, key, res.Events)
	return ""
}
