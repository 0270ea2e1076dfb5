package fhir

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/trials"
)

// searchChain serves GET /fhir/Consent, GET /fhir/AuditEvent and GET
// /fhir/ResearchSubject: views of the chain's consents, access trail and
// trial participations, exported as internal/api exports them. The patient
// (or a guardian) sees all of them; a grantee sees the consents given to it
// or to its organization; an overseer of a trial (trials.Overseer) the
// participations it oversees; nobody else sees any. ResearchStudy (public
// trial registrations) goes to searchStudies.
func (s *Server) searchChain(w http.ResponseWriter, rq *request, typ string, vals url.Values) {
	q, p := parseQuery(rq, typ, vals, DefaultCount)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if typ == "ResearchStudy" {
		s.searchStudies(w, rq, q)
		return
	}
	if len(q.lastUpdated) > 0 {
		writeProblem(w, badParam("_lastUpdated is not supported for %s: use date", typ))
		return
	}
	patients := q.patients
	if !q.patientGiven {
		switch {
		case !rq.sess.patient.IsZero():
			patients = []crypto.Address{rq.sess.patient}
		default:
			writeProblem(w, badParam("%s searches need patient=", typ))
			return
		}
	}
	if len(q.sort) == 0 && q.sort == nil {
		q.sort = []sortKey{{date: dateParams[typ][0].elems}}
	}
	if typ == "AuditEvent" {
		// An AuditEvent's recorded is its event's time to the second,
		// which is the hit's updated: sorting by date is sorting by
		// updated, with no event rendered for it.
		for i, k := range q.sort {
			if slices.Equal(k.date, dateParams[typ][0].elems) {
				q.sort[i].date = nil
			}
		}
	}
	var hs []*hit
	for _, pa := range patients {
		if !grants(rq.sess.scopes, typ, permSearch, pa, rq.sess.patient) {
			writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrScope, "the token's scopes (%s) do not allow searching %s of %s", rq.sess.scope, typ, pa))
			return
		}
		own := accounts.CanActFor(rq.snap, rq.sess.addr, pa)
		switch typ {
		case "Consent":
			mine := []consent.Party{consent.Account(rq.sess.addr)}
			if m := accounts.ActiveMember(rq.snap, rq.sess.addr); m != nil {
				mine = append(mine, consent.Org(m.Org))
			}
			for _, c := range consent.ByPatient(rq.snap, pa) {
				if own || slices.Contains(mine, c.Grantee) {
					res := api.FHIRConsent(c, rq.now)
					hs = append(hs, &hit{typ: typ, id: str(res["id"]), res: res})
				}
			}
			if !own && len(hs) == 0 {
				writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrScope, "only %s, a guardian or a grantee sees these consents", pa))
				return
			}
		case "ResearchSubject":
			for _, part := range trials.ParticipationsOf(rq.snap, pa) {
				t := trials.GetTrial(rq.snap, part.Trial)
				if over, site := trials.Overseer(rq.snap, t, rq.sess.addr); own || over && (site == "" || site == part.Site) {
					res := api.FHIRResearchSubject(t, part)
					hs = append(hs, &hit{typ: typ, id: str(res["id"]), res: res})
				}
			}
			if !own && len(hs) == 0 {
				writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrScope, "only %s, a guardian or an overseer of the patient's trials sees these participations", pa))
				return
			}
		case "AuditEvent":
			if !own {
				writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrScope, "only %s or a guardian sees the trail of the patient's records", pa))
				return
			}
			for _, e := range audit.Trail(rq.snap, pa, audit.Filter{}) {
				hs = append(hs, &hit{typ: typ, id: strconv.FormatUint(e.Seq, 10), updated: e.Time,
					lazy: func() map[string]any { return api.FHIRAuditEvent(e) }})
			}
		}
	}
	if q.idGiven {
		hs = slices.DeleteFunc(hs, func(h *hit) bool { return !slices.Contains(q.ids, h.id) })
	}
	s.respondSearch(w, rq, q, hs, rq.base+"/"+typ)
}

// searchStudies serves GET /fhir/ResearchStudy: every registered trial as a
// ResearchStudy. A trial's registration is public (docs/trials.md); the
// token still needs a scope that allows searching ResearchStudy.
func (s *Server) searchStudies(w http.ResponseWriter, rq *request, q *query) {
	if anyPatient, contextOnly := reach(rq.sess.scopes, "ResearchStudy", permSearch); !anyPatient && !contextOnly {
		writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrScope, "the token's scopes (%s) do not allow searching ResearchStudy", rq.sess.scope))
		return
	}
	if len(q.sort) == 0 && q.sort == nil {
		q.sort = []sortKey{{date: dateParams["ResearchStudy"][0].elems}}
	}
	var hs []*hit
	for _, t := range trials.Trials(rq.snap) {
		res := api.FHIRResearchStudy(rq.snap, t)
		hs = append(hs, &hit{typ: "ResearchStudy", id: t.ID, res: res, updated: t.Registered.Time})
	}
	if q.idGiven {
		hs = slices.DeleteFunc(hs, func(h *hit) bool { return !slices.Contains(q.ids, h.id) })
	}
	s.respondSearch(w, rq, q, hs, rq.base+"/ResearchStudy")
}
