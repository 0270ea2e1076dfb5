package scenario

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/trials"
)

// Scenario messages of the trials module. Outcomes are written
// outcomes=p:MEASURE:FRAME,s:MEASURE:FRAME (p primary, s secondary; no
// spaces); participants=NAME,NAME; times are unix seconds.
func init() {
	num := func(a map[string]string, k string) (uint64, error) {
		if a[k] == "" {
			return 0, nil
		}
		return strconv.ParseUint(a[k], 10, 64)
	}
	outcomes := func(s string) ([]trials.Outcome, error) {
		var out []trials.Outcome
		for _, o := range strings.Split(s, ",") {
			f := strings.Split(o, ":")
			if len(f) != 3 || (f[0] != "p" && f[0] != "s") {
				return nil, fmt.Errorf("outcome %q: want p|s:MEASURE:FRAME", o)
			}
			t := trials.OutcomePrimary
			if f[0] == "s" {
				t = trials.OutcomeSecondary
			}
			out = append(out, trials.Outcome{Type: t, Measure: f[1], TimeFrame: f[2]})
		}
		return out, nil
	}
	participant := func(key *crypto.PrivKey, a map[string]string) crypto.Address {
		if p := a["participant"]; p != "" {
			return apptest.Key(p).Address()
		}
		return key.Address()
	}
	hash := func(s string) [32]byte { return [32]byte{1, byte(len(s)), s[0]} }
	messages["propose_sponsor"] = func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		k := apptest.Key(a["admin"])
		return &gov.MsgPropose{Action: gov.Action{Kind: gov.KindAddMember, Org: accounts.GenesisOrg{ID: a["org"], Name: a["org"], Type: trials.SponsorType},
			AdminPubKey: k.PubKey(), AdminEncKey: k.EncKey()}, Reason: "sponsor"}, nil
	}
	messages["trial_register"] = func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		os, err := outcomes(a["outcomes"])
		if err != nil {
			return nil, err
		}
		planned, err := num(a, "planned")
		if err != nil {
			return nil, err
		}
		late, err := num(a, "late")
		return &trials.MsgRegister{ID: a["id"], Title: "scenario trial", Sites: strings.Split(a["sites"], ","), ProtocolHash: hash("protocol"),
			SAPHash: hash("sap"), Outcomes: os, Planned: planned, LateAfter: int64(late)}, err
	}
	messages["trial_amend"] = func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		os, err := outcomes(a["outcomes"])
		return &trials.MsgAmend{ID: a["id"], ProtocolHash: hash("protocol " + a["reason"]), SAPHash: hash("sap"), Outcomes: os,
			Reconsent: a["reconsent"] == "true", Reason: a["reason"]}, err
	}
	messages["trial_consent"] = func(key *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		v, err := num(a, "version")
		return &trials.MsgConsent{ID: a["id"], Participant: participant(key, a), Version: uint32(v)}, err
	}
	messages["trial_enroll"] = func(key *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		return &trials.MsgEnroll{ID: a["id"], Participant: participant(key, a)}, nil
	}
	messages["trial_withdraw"] = func(key *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		return &trials.MsgWithdraw{ID: a["id"], Participant: participant(key, a)}, nil
	}
	messages["trial_anchor"] = func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		m := &trials.MsgAnchor{ID: a["id"], Root: hash("root " + a["from"])}
		for _, p := range strings.Split(a["participants"], ",") {
			m.Participants = append(m.Participants, apptest.Key(p).Address())
		}
		slices.SortFunc(m.Participants, func(x, y crypto.Address) int { return bytes.Compare(x[:], y[:]) })
		var err error
		if m.Leaves, err = num(a, "leaves"); err != nil {
			return nil, err
		}
		from, err := num(a, "from")
		if err != nil {
			return nil, err
		}
		to, err := num(a, "to")
		m.CollectedFrom, m.CollectedTo = int64(from), int64(to)
		return m, err
	}
	messages["trial_lock"] = func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		return &trials.MsgLock{ID: a["id"]}, nil
	}
	messages["trial_results"] = func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		os, err := outcomes(a["outcomes"])
		return &trials.MsgResults{ID: a["id"], ReportHash: hash("report"), Outcomes: os}, err
	}
}
