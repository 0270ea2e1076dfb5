package app_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/policy/cond"
	"github.com/medchain/medchain/x/records"
)

// TestConsentConditionsAreDeterministic: the chain's own decisions under
// consent conditions — a practitioner's records/add under "not after 18:00
// in Paris" and "only while admitted at the hospital", and an automation
// whose condition reads the event — give the same results and app hashes
// on a second app instance fed the same blocks and on a node restarted
// half-way (a new app over its tree, with an empty compiled-condition
// cache of the same process: the cache changes nothing but speed).
func TestConsentConditionsAreDeterministic(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	doctor, patient := k(apptest.HospitalDoctor), k(apptest.Patient1)
	notAfter18 := `block_time.getHours("Europe/Paris") < 18`
	admitted := `"dev-hospital" in encounter_orgs`
	h.DeliverOK(t, h.Sign(patient, &consent.MsgGrant{Patient: patient.Address(), Grantee: consent.Account(doctor.Address()),
		Actions: consent.ActWrite, Types: []string{"Observation"}, Purpose: consent.PurposeTreatment, Condition: notAfter18}))
	h.DeliverOK(t, h.Sign(patient, &consent.MsgGrant{Patient: patient.Address(), Grantee: consent.Account(doctor.Address()),
		Actions: consent.ActWrite, Types: []string{"Condition"}, Purpose: consent.PurposeTreatment, Condition: admitted}))
	h.DeliverOK(t, h.Sign(patient, &policy.MsgAddRule{Event: policy.EventRecordAdded, Condition: `attrs["type"] == "Observation"`,
		Action: policy.Action{Kind: policy.ActionNotify, To: consent.Account(patient.Address()), Topic: "observation_added"}}))

	seed := byte(0)
	add := func(typ string) []byte {
		seed++
		id := consent.RecordID{0xee, seed}
		var keys []records.WrappedKey
		for _, p := range consent.KeyHolders(h.State(), h.Time.Unix(), consent.Target{Patient: patient.Address(), Record: id, Type: typ}) {
			keys = append(keys, records.WrappedKey{Recipient: p})
		}
		slices.SortFunc(keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
		return h.Sign(doctor, &records.MsgAdd{ID: id, Patient: patient.Address(), ResourceType: typ, ContentHash: [32]byte{0xee, seed}, Size: 1, Keys: keys})
	}
	// deliver runs one block and returns its results, resyncing the
	// doctor's sequence after a refusal.
	deliver := func(txs ...[]byte) []*abci.ExecTxResult {
		res := h.Deliver(t, txs...)
		h.ResyncAll()
		return res
	}
	at := func(s string) {
		when, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		h.Advance(when.Sub(h.NextTime()))
	}
	refusedBy := func(r *abci.ExecTxResult, expr string) bool {
		return r.Codespace == records.Codespace && r.Code == records.ErrNoWriteConsent.Code && strings.Contains(r.Log, "condition "+cond.Hash(expr))
	}

	at("2025-01-01T16:59:00Z") // 17:59 in Paris: the Observation is written, the Condition is not (not admitted)
	res := deliver(add("Observation"), add("Condition"))
	if res[0].Code != 0 || !refusedBy(res[1], admitted) {
		t.Fatalf("at 17:59, not admitted: %v / %v", res[0], res[1])
	}
	fired := 0
	for _, e := range h.Last.Events {
		if e.Type == "policy_fired" {
			fired++
		}
	}
	if fired != 1 {
		t.Fatalf("%d firings of the rule for one Observation, want 1", fired)
	}
	h.DeliverOK(t, h.Sign(doctor, &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: patient.Address()}))
	at("2025-01-01T17:00:00Z") // 18:00 in Paris, admitted: the other way round
	res = deliver(add("Observation"), add("Condition"))
	if !refusedBy(res[0], notAfter18) || res[1].Code != 0 {
		t.Fatalf("at 18:00, admitted: %v / %v", res[0], res[1])
	}
	h.DeliverOK(t, h.Sign(doctor, &policy.MsgEncounter{Action: policy.TypeDischarge, Patient: patient.Address()}))
	at("2025-07-01T15:59:59Z") // 17:59:59 in summer time, discharged
	res = deliver(add("Observation"), add("Condition"))
	if res[0].Code != 0 || !refusedBy(res[1], admitted) {
		t.Fatalf("in summer at 17:59:59, discharged: %v / %v", res[0], res[1])
	}
	h.DeliverOK(t) // a block of nothing: the rule's own output never triggers it
	if r := policy.GetRule(h.State(), 1); r.Fired != 2 {
		t.Fatalf("rule fired %d times, want 2 (one per Observation written)", r.Fired)
	}

	same := func(name string, i int, got *abci.ResponseFinalizeBlock, want apptest.Block) {
		t.Helper()
		if !bytes.Equal(got.AppHash, want.Resp.AppHash) {
			t.Fatalf("%s: block %d app hash %X, first %X", name, want.Height, got.AppHash, want.Resp.AppHash)
		}
		for j, r := range got.TxResults {
			w := want.Resp.TxResults[j]
			if r.Code != w.Code || r.Codespace != w.Codespace || r.Log != w.Log {
				t.Fatalf("%s: block %d tx %d: %s/%d %q, first %s/%d %q", name, want.Height, j, r.Codespace, r.Code, r.Log, w.Codespace, w.Code, w.Log)
			}
		}
	}
	replay := apptest.NewWithConfig(t, apptest.Domain())
	for i, blk := range h.Blocks {
		replay.Advance(blk.Time.Sub(replay.NextTime()))
		same("second app", i, replay.Finalize(t, blk.Txs...), blk)
	}
	restart := apptest.NewWithConfig(t, apptest.Domain())
	for i, blk := range h.Blocks {
		if i == len(h.Blocks)/2 {
			restart = apptest.Resume(t, restart.Tree, restart.Time, app.Options{})
		}
		restart.Advance(blk.Time.Sub(restart.NextTime()))
		same("restarted", i, restart.Finalize(t, blk.Txs...), blk)
	}
}
