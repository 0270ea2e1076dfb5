package api

import (
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/trials"
)

// trialState: trial NCT00000042 by org sponsor, sites hosp and clinic;
// alice enrolled at hosp (one anchor), bob at clinic (one anchor), carol
// consented only.
func trialState(t *testing.T) (*smtest.Env, *trials.Trial) {
	e := smtest.NewEnv(t, "api-trials", time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC), accounts.Module{}, trials.Module{})
	member := func(name, org, role string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "member", Org: org, Role: role}
	}
	patient := func(name string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "patient"}
	}
	e.Genesis(accounts.Module{}, accounts.Genesis{
		Orgs: []accounts.GenesisOrg{{ID: "sponsor", Name: "S", Type: "research_sponsor"}, {ID: "hosp", Name: "H", Type: "hospital"},
			{ID: "clinic", Name: "C", Type: "clinic"}, {ID: "reg", Name: "R", Type: "regulator"}, {ID: "lab", Name: "L", Type: "lab"}},
		Accounts: []accounts.GenesisAccount{member("sp", "sponsor", accounts.RoleAdmin), member("hdoc", "hosp", accounts.RolePractitioner),
			member("cdoc", "clinic", accounts.RolePractitioner), member("reg", "reg", accounts.RoleAdmin), member("ltech", "lab", accounts.RolePractitioner),
			patient("alice"), patient("bob"), patient("carol")},
	})
	const id = "NCT00000042"
	e.OK("sp", &trials.MsgRegister{ID: id, Title: "t", Sites: []string{"clinic", "hosp"}, ProtocolHash: [32]byte{1}, SAPHash: [32]byte{2},
		Outcomes: []trials.Outcome{{Type: 1, Measure: "m", TimeFrame: "f"}}, Planned: 3, LateAfter: 3600})
	for _, p := range []string{"alice", "bob", "carol"} {
		e.OK(p, &trials.MsgConsent{ID: id, Participant: e.Addr(p), Version: 1})
	}
	e.OK("hdoc", &trials.MsgEnroll{ID: id, Participant: e.Addr("alice")})
	e.OK("cdoc", &trials.MsgEnroll{ID: id, Participant: e.Addr("bob")})
	e.Now = e.Now.Add(2 * time.Hour)
	from := e.Now.Add(-90 * time.Minute).Unix() // late: the threshold is an hour
	e.OK("hdoc", &trials.MsgAnchor{ID: id, Root: [32]byte{9}, Leaves: 1, Participants: []crypto.Address{e.Addr("alice")}, CollectedFrom: from, CollectedTo: from})
	e.OK("cdoc", &trials.MsgAnchor{ID: id, Root: [32]byte{8}, Leaves: 1, Participants: []crypto.Address{e.Addr("bob")}, CollectedFrom: e.Now.Unix(), CollectedTo: e.Now.Unix()})
	return e, trials.GetTrial(e.KV, id)
}

// TestTrialTimelineSiteScope: the sponsor's and regulators' timeline has
// every participant-level item, a site's only its own; items are ordered
// and each carries its proof key; the late anchor is flagged.
func TestTrialTimelineSiteScope(t *testing.T) {
	e, tr := trialState(t)
	all := BuildTimeline(e.KV, tr, 7, "")
	kinds := map[string]int{}
	for i, it := range all.Items {
		kinds[it.Kind]++
		if it.Key == "" {
			t.Errorf("item %d (%s) has no proof key", i, it.Kind)
		}
		if i > 0 && it.Height < all.Items[i-1].Height {
			t.Errorf("item %d out of order", i)
		}
	}
	if kinds["registered"] != 1 || kinds["consent"] != 3 || kinds["enrolled"] != 2 || kinds["anchor"] != 2 {
		t.Fatalf("kinds %v", kinds)
	}
	var late []bool
	for _, it := range all.Items {
		if it.Kind == "anchor" {
			late = append(late, it.Anchor.Late)
		}
	}
	if len(late) != 2 || !late[0] || late[1] || all.Counts.LateAnchors != 1 {
		t.Fatalf("late flags %v, counts %+v", late, all.Counts)
	}
	hosp := BuildTimeline(e.KV, tr, 7, "hosp")
	for _, it := range hosp.Items {
		if it.Participant != "" && it.Participant != e.Addr("alice").String() || it.Anchor != nil && it.Anchor.Site != "hosp" {
			t.Fatalf("hosp's timeline shows %+v", it)
		}
	}
}

// TestTrialKeyAllowed: proofs of participation and anchor keys go to the
// participant, overseers of every site, and the participant's own site only.
func TestTrialKeyAllowed(t *testing.T) {
	e, tr := trialState(t)
	acct := func(n string) *accounts.Account { return accounts.GetAccount(e.KV, e.Addr(n)) }
	aliceKey := trials.ParticipationKey(tr.ID, e.Addr("alice"))
	hospAnchor := trials.AnchorKey(tr.ID, 1)
	for _, tc := range []struct {
		who  string
		key  []byte
		want bool
	}{
		{"alice", aliceKey, true}, {"bob", aliceKey, false}, {"sp", aliceKey, true}, {"reg", aliceKey, true},
		{"hdoc", aliceKey, true}, {"cdoc", aliceKey, false}, {"ltech", aliceKey, false},
		{"alice", hospAnchor, true}, {"bob", hospAnchor, false}, {"hdoc", hospAnchor, true}, {"cdoc", hospAnchor, false}, {"sp", hospAnchor, true},
	} {
		if got := trialKeyAllowed(e.KV, tc.key, acct(tc.who)); got != tc.want {
			t.Errorf("%s reading %x: %v, want %v", tc.who, tc.key[:1], got, tc.want)
		}
	}
}
