package api

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/policy/cond"
)

// Policy routes (docs/policies.md). Checking an expression is public (it
// reads no state but the governance bound); rules and encounters name
// patients, so they are served to signed reads only: an account's rules to
// itself or whoever acts for it, a patient's encounters to those with care
// grounds.
func (s *Server) routePolicy() {
	s.handle("GET /v1/policy/check", s.policyCheck)
	s.handleSigned("GET /v1/accounts/{address}/rules", selfOrOwnerGuard, s.accountRules)
	s.handleSigned("GET /v1/patients/{address}/encounters", patientGuard(groundCare), s.patientEncounters)
}

// ConditionCheck is the result of checking an expression.
type ConditionCheck struct {
	Kind     string   `json:"kind"`
	Hash     string   `json:"hash"`
	CostMin  uint64   `json:"cost_min"`
	CostMax  uint64   `json:"cost_max"`
	Limit    uint64   `json:"limit"` // the governance bound registration applies now
	Uses     []string `json:"uses"`
	Accepted bool     `json:"accepted"`
	Error    string   `json:"error,omitempty"` // "policy/N: ..." when not accepted
}

func (s *Server) policyCheck(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind, param := cond.KindAccess, consent.ParamMaxConditionCost
	switch q.Get("kind") {
	case "", "access":
	case "event":
		kind, param = cond.KindEvent, policy.ParamMaxRuleCost
	default:
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "kind: access or event"))
		return
	}
	expr := q.Get("expr")
	if expr == "" {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "expr: the expression to check"))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	limit := uint64(cond.MaxRegisteredCost)
	if slices.ContainsFunc(s.b.Params().Defs(), func(d params.Def) bool { return d.Name == param }) {
		limit = s.b.Params().Get(snap, param)
	}
	out := ConditionCheck{Kind: q.Get("kind"), Hash: cond.Hash(expr), Limit: limit, Uses: []string{}}
	if out.Kind == "" {
		out.Kind = "access"
	}
	p, err := cond.Compile(kind, expr, cond.MaxRegisteredCost)
	if err == nil && p.CostMax > limit {
		_, err = cond.Compile(kind, expr, limit)
	}
	if p != nil {
		out.CostMin, out.CostMax = p.CostMin, p.CostMax
		for v := range p.Uses {
			out.Uses = append(out.Uses, v)
		}
		slices.Sort(out.Uses)
	}
	if err != nil {
		code, space, _ := sm.ABCIInfo(err)
		out.Error = fmt.Sprintf("%s/%d: %v", space, code, err)
	} else {
		out.Accepted = true
	}
	writeJSON(w, http.StatusOK, out)
}

// ActionView is an automation's action.
type ActionView struct {
	Kind      string   `json:"kind"`
	Grantee   string   `json:"grantee,omitempty"`
	Actions   []string `json:"actions,omitempty"`
	Types     []string `json:"types,omitempty"`
	Purpose   string   `json:"purpose,omitempty"`
	Seconds   int64    `json:"seconds,omitempty"`
	ConsentID uint64   `json:"consent_id,omitempty"`
	To        string   `json:"to,omitempty"`
	Topic     string   `json:"topic,omitempty"`
	Reason    string   `json:"reason,omitempty"` // open_quarantine
}

// RuleView is an automation rule as the API shows it.
type RuleView struct {
	ID            uint64     `json:"id"`
	Owner         string     `json:"owner"`
	Org           string     `json:"org,omitempty"`
	Event         string     `json:"event"`
	Condition     string     `json:"condition,omitempty"`
	ConditionHash string     `json:"condition_hash,omitempty"`
	Action        ActionView `json:"action"`
	Paused        bool       `json:"paused"`
	PauseReason   string     `json:"pause_reason,omitempty"`
	Created       int64      `json:"created"`
	Fired         uint64     `json:"fired"`
	LastFired     int64      `json:"last_fired,omitempty"`
}

// RuleViewOf renders a rule.
func RuleViewOf(r *policy.Rule) RuleView {
	v := RuleView{ID: r.ID, Owner: r.Owner.String(), Org: r.Org, Event: r.Event, Condition: r.Condition,
		Paused: r.Paused, PauseReason: r.PauseReason, Created: r.Created, Fired: r.Fired, LastFired: r.LastFired}
	if r.Condition != "" {
		v.ConditionHash = cond.Hash(r.Condition)
	}
	a := r.Action
	v.Action = ActionView{Kind: a.Kind, Types: a.Types, Purpose: a.Purpose, Seconds: a.Seconds, ConsentID: a.ConsentID, Topic: a.Topic, Reason: a.Reason}
	if a.Kind == policy.ActionGrantConsent {
		v.Action.Grantee = a.Grantee.String()
		if a.Actions&consent.ActRead != 0 {
			v.Action.Actions = append(v.Action.Actions, "read")
		}
		if a.Actions&consent.ActWrite != 0 {
			v.Action.Actions = append(v.Action.Actions, "write")
		}
	}
	if a.Kind == policy.ActionNotify {
		v.Action.To = a.To.String()
	}
	return v
}

func (s *Server) accountRules(w http.ResponseWriter, r *http.Request) {
	a, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	out := []RuleView{}
	for _, rule := range policy.ByOwner(snap, a) {
		out = append(out, RuleViewOf(rule))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "rules": out})
}

// EncounterView is an encounter in progress.
type EncounterView struct {
	Org   string `json:"org"`
	Since int64  `json:"since"`
	By    string `json:"by"`
}

func (s *Server) patientEncounters(w http.ResponseWriter, r *http.Request) {
	p, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	out := []EncounterView{}
	for _, e := range cond.Encounters(snap, p) {
		out = append(out, EncounterView{Org: e.Org, Since: e.Since, By: e.By.String()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "encounters": out})
}

// patientOfPolicyKey names the patient a policy key is about: a patient's
// encounters, or a rule a patient owns.
func patientOfPolicyKey(kv store.Reader, key []byte) (crypto.Address, bool) {
	var none, a crypto.Address
	body := key[1:]
	switch key[0] {
	case sm.PrefixPolicyEncounter:
		if len(body) >= len(a) {
			copy(a[:], body)
			return a, true
		}
	case sm.PrefixPolicyRule:
		if len(body) == 8 {
			if r := policy.GetRule(kv, beUint64(body)); r != nil && r.Org == "" {
				return r.Owner, true
			}
		}
	}
	return none, false
}
