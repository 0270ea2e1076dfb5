package audit_test

import (
	"bytes"
	"testing"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy/cond"
	"github.com/medchain/medchain/x/records"
)

// TestLogNamesTheCondition: the chain names, in each logged event, the
// condition of the consent the event was decided under — whether that
// condition allowed the read or refused it — and only for a consent of the
// event's patient; a gateway cannot report the field itself.
func TestLogNamesTheCondition(t *testing.T) {
	e := newEnv(t)
	now := blockTime.Unix()
	expr := `block_time.getHours("Europe/Paris") < 18`
	e.ok(alice, &consent.MsgGrant{Patient: addr(alice), Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead,
		Purpose: consent.PurposeTreatment, Condition: expr}) // consent 1
	e.ok(bob, &consent.MsgGrant{Patient: addr(bob), Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead,
		Purpose: consent.PurposeTreatment}) // consent 2, no condition

	ok := served(alice, doctorA, now) // under consent 1
	no := refused(alice, doctorA, now+1, "consent/24: consent 1 condition "+cond.Hash(expr))
	no.ConsentID = 1
	plain := served(bob, doctorA, now)
	plain.ConsentID = 2
	foreign := served(bob, doctorA, now+1)
	foreign.ConsentID = 1 // alice's consent named in bob's trail: no condition assigned
	e.ok(gwA, &audit.MsgLog{Events: []audit.Event{ok, no, plain, foreign}})

	h := cond.Hash(expr)
	ta := audit.Trail(e.kv, addr(alice), audit.Filter{})
	if len(ta) != 2 || ta[0].Condition != h || ta[1].Condition != h || ta[1].Served {
		t.Fatalf("alice's trail %+v; want the served read and the refusal naming condition %s", ta, h)
	}
	tb := audit.Trail(e.kv, addr(bob), audit.Filter{})
	if len(tb) != 2 || tb[0].Condition != "" || tb[1].Condition != "" {
		t.Fatalf("bob's trail %+v; want no condition named", tb)
	}

	// Encoding: an event without a condition keeps its old bytes; the
	// condition is a trailing field.
	without := tb[0]
	b := codec.Marshal(&without)
	with := without
	with.Condition = h
	bw := codec.Marshal(&with)
	if !bytes.HasPrefix(bw, b) || len(bw) <= len(b) {
		t.Fatal("the condition must be a trailing field after the unchanged encoding")
	}

	// A gateway may not report it.
	forged := served(alice, doctorA, now)
	forged.Condition = h
	if err := (&audit.MsgLog{Events: []audit.Event{forged}}).ValidateBasic(); err == nil {
		t.Fatal("a reported event carrying a condition passed ValidateBasic")
	}
}

// TestAccessNamesTheRefusingConsent: a refusal by a condition is reported
// under the consent whose condition refused.
func TestAccessNamesTheRefusingConsent(t *testing.T) {
	ce := &consent.ConditionError{ConsentID: 7, Hash: "1f2e3d4c5b6a7980", Outcome: cond.ErrFalse}
	rec := &records.Record{ID: records.RecordID{3}, Patient: addr(alice), Type: "Observation", Version: 1}
	ev := audit.Access(rec, 1, addr(doctorA), 5, consent.Decision{Err: ce}, ce, nil)
	if ev.Served || ev.ConsentID != 7 || ev.Reason != "consent/24: consent 7 condition 1f2e3d4c5b6a7980" {
		t.Fatalf("event %+v", ev)
	}
}
