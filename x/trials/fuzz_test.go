package trials_test

import (
	"testing"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/trials"
)

// FuzzDecode: every message decoder is strict and canonical, and so is
// every stored-state decoder. Seeded with one valid encoding of each.
func FuzzDecode(f *testing.F) {
	seeds := []codec.Encoder{
		register(),
		&trials.MsgAmend{ID: trialID, ProtocolHash: h(1), SAPHash: h(2), Outcomes: []trials.Outcome{primary}, Reconsent: true, Reason: "r"},
		&trials.MsgConsent{ID: trialID, Participant: crypto.Address{1}, Version: 2},
		&trials.MsgEnroll{ID: trialID, Participant: crypto.Address{1}},
		&trials.MsgWithdraw{ID: trialID, Participant: crypto.Address{1}},
		&trials.MsgAnchor{ID: trialID, Root: h(3), Leaves: 3, Participants: []crypto.Address{{1}, {2}}, CollectedFrom: 5, CollectedTo: 9},
		&trials.MsgLock{ID: trialID},
		&trials.MsgResults{ID: trialID, ReportHash: h(4), Outcomes: []trials.Outcome{primary, secondary}},
		&trials.Trial{ID: trialID, Sponsor: "sponsor", Title: "t", Sites: []string{"hosp"}, Planned: 3, LateAfter: 3600, Version: 2, Reconsent: 2,
			Registered: trials.Stamp{Height: 2, Time: 9}, Consents: 1, Anchors: 1, LateCount: 1, Results: true},
		&trials.Version{Number: 1, ProtocolHash: h(1), SAPHash: h(2), Outcomes: []trials.Outcome{primary, secondary}, Reconsent: true, Reason: "r"},
		&trials.Anchor{Trial: trialID, Seq: 1, Site: "hosp", Root: h(3), Leaves: 2, Participants: []crypto.Address{{1}}, CollectedFrom: 4, CollectedTo: 5, Late: true},
		&trials.Participation{Trial: trialID, Consents: []trials.ConsentEntry{{Version: 1, At: trials.Stamp{Height: 3, Time: 4}}}, Site: "hosp"},
		&trials.Results{Trial: trialID, Reported: []trials.Outcome{primary}, Switching: trials.Compare([]trials.Outcome{secondary, hypo}, []trials.Outcome{primary, {Type: 1, Measure: hypo.Measure, TimeFrame: "x"}})},
	}
	for _, s := range seeds {
		f.Add(codec.Marshal(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, trials.Module{}.Routes(), b)
		smtest.FuzzCanonical(t, "trial", b, trials.DecodeTrial)
		smtest.FuzzCanonical(t, "version", b, trials.DecodeVersion)
		smtest.FuzzCanonical(t, "participation", b, trials.DecodeParticipation)
		smtest.FuzzCanonical(t, "anchor", b, trials.DecodeAnchor)
		smtest.FuzzCanonical(t, "results", b, trials.DecodeResults)
	})
}
