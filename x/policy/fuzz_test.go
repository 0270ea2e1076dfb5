package policy_test

import (
	"testing"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/policy/cond"
)

// FuzzDecode runs the module's decoders (every route, a stored rule, a
// patient's encounters) on the same bytes: none may panic, and whatever
// decodes re-encodes to exactly the input.
func FuzzDecode(f *testing.F) {
	a := crypto.Address{1, 2, 3}
	for _, m := range []sm.Msg{
		&policy.MsgAddRule{Event: policy.EventRecordAdded, Condition: `attrs["type"] == "Observation"`, Action: grantObs(3600)},
		&policy.MsgAddRule{Org: "org-a", Event: policy.EventEmergencyOpened, Action: policy.Action{Kind: policy.ActionNotify, To: consent.Org("org-b"), Topic: "t"}},
		&policy.MsgAddRule{Event: policy.EventConsultationCompleted, Action: policy.Action{Kind: policy.ActionReleaseEscrow}},
		&policy.MsgAddRule{Event: policy.EventTrialAmended, Action: policy.Action{Kind: policy.ActionRevokeConsent, ConsentID: 7}},
		&policy.MsgRuleAction{Action: policy.TypePauseRule, ID: 3},
		&policy.MsgEncounter{Action: policy.TypeAdmit, Patient: a},
	} {
		f.Add(codec.Marshal(m))
	}
	f.Add(codec.Marshal(&policy.Rule{ID: 1, Owner: a, Event: policy.EventRecordAdded, Condition: "true", Action: grantObs(60), Paused: true, Created: 5, Fired: 2, LastFired: 9}))
	f.Add(cond.EncodeEncounters([]cond.Encounter{{Org: "org-a", Since: 1, By: a}, {Org: "org-b", Since: 2, By: a}}))
	routes := (&policy.Module{}).Routes()
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, routes, b)
		smtest.FuzzCanonical(t, "rule", b, policy.DecodeRule)
		if es, err := cond.DecodeEncounters(b); err == nil {
			if got := cond.EncodeEncounters(es); string(got) != string(b) {
				t.Fatalf("encounters re-encode to %x, input %x", got, b)
			}
		}
	})
}
