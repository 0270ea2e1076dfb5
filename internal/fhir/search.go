package fhir

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// Paging limits.
const (
	DefaultCount           = 50
	MaxCount               = 1000
	DefaultEverythingCount = 1000
)

type dateFilter struct {
	elems []string
	conds []dateCond // AND
}

type tokenFilter struct {
	elem   string
	values []token // OR
}

type sortKey struct {
	date  []string // the elements of a date parameter; nil: _lastUpdated
	desc  bool
	label string
}

// query is a parsed search.
type query struct {
	typ          string // "" for $everything: every type
	patients     []crypto.Address
	patientGiven bool
	ids          []string
	idGiven      bool
	lastUpdated  []dateCond
	dates        []dateFilter
	tokens       []tokenFilter
	count        int
	offset       int
	sort         []sortKey
	links        url.Values // the parameters as understood, for paging links
}

func (q *query) needsContent() bool {
	if len(q.dates) > 0 || len(q.tokens) > 0 {
		return true
	}
	for _, k := range q.sort {
		if k.date != nil {
			return true
		}
	}
	return false
}

func badParam(format string, args ...any) *problem {
	return failf(http.StatusBadRequest, "not-supported", ErrBadRequest, format, args...)
}

// formQuery reads the parameters of POST /fhir/{type}/_search.
func formQuery(r *http.Request) (url.Values, *problem) {
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, badParam("search form: %v", err)
	}
	return r.Form, nil
}

// parseQuery parses search parameters for typ. Parameters that are not
// implemented are refused (400), never silently ignored.
func parseQuery(rq *request, typ string, vals url.Values, defCount int) (*query, *problem) {
	q := &query{typ: typ, count: defCount, links: url.Values{}}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := vals[k]
		name, modifier, _ := strings.Cut(k, ":")
		if modifier != "" && !((name == "subject" || name == "patient") && modifier == "Patient") {
			return nil, badParam("modifier :%s on %s is not supported", modifier, name)
		}
		switch name {
		case "_format", "_pretty":
			continue
		case "_count":
			n, err := strconv.Atoi(vs[len(vs)-1])
			if err != nil || n < 0 {
				return nil, badParam("_count must be a non-negative integer")
			}
			q.count = min(n, MaxCount)
			continue
		case "_offset":
			n, err := strconv.Atoi(vs[len(vs)-1])
			if err != nil || n < 0 {
				return nil, badParam("_offset must be a non-negative integer")
			}
			q.offset = n
			continue
		case "_sort":
			for _, v := range vs {
				for _, f := range strings.Split(v, ",") {
					k := sortKey{label: f}
					f, k.desc = strings.CutPrefix(f, "-")
					switch {
					case f == "_lastUpdated":
					case typ == "":
						return nil, badParam("$everything sorts by _lastUpdated only")
					default:
						p, ok := findDate(typ, f)
						if !ok && f == "date" && len(dateParams[typ]) > 0 {
							p, ok = dateParams[typ][0], true
						}
						if !ok {
							return nil, badParam("_sort %q: %s sorts by _lastUpdated%s", f, typ, dateNames(typ))
						}
						k.date = p.elems
					}
					q.sort = append(q.sort, k)
				}
			}
		case "_id":
			q.idGiven = true
			for _, v := range vs {
				q.ids = append(q.ids, strings.Split(v, ",")...)
			}
		case "_lastUpdated":
			for _, v := range vs {
				c, err := parseDateCond(v)
				if err != nil {
					return nil, badParam("_lastUpdated: %v", err)
				}
				q.lastUpdated = append(q.lastUpdated, c)
			}
		case "patient", "subject":
			if typ == "" {
				return nil, badParam("$everything takes its patient from the URL")
			}
			for _, v := range vs {
				for _, ref := range strings.Split(v, ",") {
					if !strings.Contains(ref, "/") {
						ref = "Patient/" + ref
					}
					a, p := resolvePatientRef(rq, ref, nil)
					if p != nil {
						continue // an unknown patient matches nothing
					}
					q.patients = append(q.patients, a)
				}
			}
			q.patientGiven = true
		default:
			if dp, ok := findDate(typ, name); ok {
				f := dateFilter{elems: dp.elems}
				for _, v := range vs {
					c, err := parseDateCond(v)
					if err != nil {
						return nil, badParam("%s: %v", name, err)
					}
					f.conds = append(f.conds, c)
				}
				q.dates = append(q.dates, f)
				break
			}
			if tp, ok := findToken(typ, name); ok {
				for _, v := range vs {
					f := tokenFilter{elem: tp.elem}
					for _, t := range strings.Split(v, ",") {
						tok, err := parseToken(t)
						if err != nil {
							return nil, badParam("%s: %v", name, err)
						}
						f.values = append(f.values, tok)
					}
					q.tokens = append(q.tokens, f)
				}
				break
			}
			return nil, badParam("search parameter %q is not supported for %s (see GET /fhir/metadata)", k, typeLabel(typ))
		}
		q.links[k] = vs
	}
	return q, nil
}

func typeLabel(typ string) string {
	if typ == "" {
		return "$everything"
	}
	return typ
}

func dateNames(typ string) string {
	var out string
	for _, p := range dateParams[typ] {
		out += " or " + p.name
	}
	return out
}

// hit is one search result on its way to the Bundle.
type hit struct {
	typ   string
	id    string
	rec   *records.Record
	ver   *records.Version
	d     consent.Decision
	plain []byte         // decrypted stored resource
	res   map[string]any // decoded, for filters
	// lazy renders res for a chain view when it is first needed (content
	// filters, a date sort, the page): a long access trail is not rendered
	// whole to serve one page or a total.
	lazy    func() map[string]any
	updated int64
	// reported: the read is already in the trail (a content filter or a
	// date sort examined the resource).
	reported bool
}

// reachable lists the patients whose records a user may read without
// naming them: themselves, their token's patient, those who granted them or
// their organization a read consent, and those of their open emergency
// accesses.
func reachable(rq *request) []crypto.Address {
	set := map[crypto.Address]bool{}
	if rq.sess.kind == accounts.KindPatient {
		set[rq.sess.addr] = true
	}
	if !rq.sess.patient.IsZero() {
		set[rq.sess.patient] = true
	}
	for _, c := range consent.ByGrantee(rq.snap, consent.Account(rq.sess.addr)) {
		if c.Actions&consent.ActRead != 0 && c.ActiveAt(rq.now) {
			set[c.Patient] = true
		}
	}
	if m := accounts.ActiveMember(rq.snap, rq.sess.addr); m != nil {
		for _, c := range consent.ByGrantee(rq.snap, consent.Org(m.Org)) {
			if c.Actions&consent.ActRead != 0 && c.Purpose != consent.PurposeEmergency && c.ActiveAt(rq.now) {
				set[c.Patient] = true
			}
		}
		for _, e := range consent.EmergenciesByOrg(rq.snap, m.Org) {
			if e.Practitioner == rq.sess.addr && e.OpenAt(rq.now) {
				set[e.Patient] = true
			}
		}
	}
	out := make([]crypto.Address, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b crypto.Address) int { return strings.Compare(string(a[:]), string(b[:])) })
	return out
}

// patientsFor decides which patients a search covers, after the scopes.
func patientsFor(rq *request, q *query, typ string, p perm) ([]crypto.Address, *problem) {
	anyPatient, ctxOnly := true, false
	if typ != "" {
		anyPatient, ctxOnly = reach(rq.sess.scopes, typ, p)
		if !anyPatient && !ctxOnly {
			return nil, failf(http.StatusForbidden, "forbidden", ErrScope, "the token's scopes (%s) do not allow searching %s", rq.sess.scope, typ)
		}
	}
	var ps []crypto.Address
	switch {
	case q.patientGiven:
		ps = q.patients
	default:
		ps = reachable(rq)
	}
	if !anyPatient {
		ps = slices.DeleteFunc(slices.Clone(ps), func(a crypto.Address) bool { return a != rq.sess.patient })
	}
	return ps, nil
}

// candidates lists the records a search may return, after the filters that
// need no decryption and after consent; the reads are not yet reported.
func (s *Server) candidates(rq *request, q *query, patients []crypto.Address, p perm) []*hit {
	var recs []*records.Record
	if q.idGiven && !q.patientGiven {
		for _, idStr := range q.ids {
			if id, ok := parseID(idStr); ok {
				// Scopes and consent are applied to each record below.
				if rec := records.GetRecord(rq.snap, id); rec != nil {
					recs = append(recs, rec)
				}
			}
		}
	} else {
		for _, pa := range patients {
			recs = append(recs, records.ByPatient(rq.snap, pa)...)
		}
	}
	var out []*hit
	for _, rec := range recs {
		if (q.typ != "" && rec.Type != q.typ) || !storable(rec.Type) {
			continue
		}
		id := idString(rec.ID)
		if q.idGiven && !slices.Contains(q.ids, id) {
			continue
		}
		if !grants(rq.sess.scopes, rec.Type, p, rec.Patient, rq.sess.patient) {
			continue
		}
		ver := records.GetVersion(rq.snap, rec.ID, rec.Version)
		if ver == nil || !matchDates(q.lastUpdated, interval{unixTime(ver.Created), unixTime(ver.Created + 1)}) {
			continue
		}
		d := records.MayRead(rq.snap, rq.now, rq.sess.addr, rec)
		if !d.Allowed {
			continue // not readable (erased, or no consent): not a match (refusals of named reads are in the trail)
		}
		out = append(out, &hit{typ: rec.Type, id: id, rec: rec, ver: ver, d: d, updated: ver.Created})
	}
	return out
}

func matchDates(conds []dateCond, t interval) bool {
	for _, c := range conds {
		if !c.matches(t) {
			return false
		}
	}
	return true
}

// matchContent applies the date and token filters to a decoded resource.
func (q *query) matchContent(res map[string]any) bool {
	for _, f := range q.dates {
		ok := false
		for _, e := range f.elems {
			if iv, found := valueInterval(res[e]); found && matchDates(f.conds, iv) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, f := range q.tokens {
		v, found := res[f.elem]
		if !found || !slices.ContainsFunc(f.values, func(t token) bool { return t.matchValue(v) }) {
			return false
		}
	}
	return true
}

// dateOf is the start of a resource's date for sorting.
func dateOf(res map[string]any, elems []string) (interval, bool) {
	for _, e := range elems {
		if iv, ok := valueInterval(res[e]); ok {
			return iv, true
		}
	}
	return interval{}, false
}

// resource returns the hit's decoded resource, rendering a lazy chain view.
func (h *hit) resource() map[string]any {
	if h.res == nil && h.lazy != nil {
		h.res, h.lazy = h.lazy(), nil
	}
	return h.res
}

// datedHit is a hit with its sort keys' dates, found once before sorting.
type datedHit struct {
	h     *hit
	dates []dated // one per sort key; unset for _lastUpdated keys
}

type dated struct {
	iv interval
	ok bool
}

func sortHits(hs []*hit, keys []sortKey) {
	ds := make([]datedHit, len(hs))
	all := make([]dated, len(hs)*len(keys))
	for i, h := range hs {
		ds[i] = datedHit{h: h, dates: all[i*len(keys) : (i+1)*len(keys)]}
		for j, k := range keys {
			if k.date != nil {
				ds[i].dates[j].iv, ds[i].dates[j].ok = dateOf(h.resource(), k.date)
			}
		}
	}
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].h, ds[j].h
		for n, k := range keys {
			var c int
			if k.date == nil {
				c = cmp.Compare(a.updated, b.updated)
			} else {
				da, oka := ds[i].dates[n].iv, ds[i].dates[n].ok
				db, okb := ds[j].dates[n].iv, ds[j].dates[n].ok
				switch {
				case oka && okb:
					c = da.lo.Compare(db.lo)
				case oka:
					c = -1 // resources without the date go last, either way
					if k.desc {
						c = 1
					}
				case okb:
					c = 1
					if k.desc {
						c = -1
					}
				}
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		if c := cmp.Compare(a.updated, b.updated); c != 0 {
			return c < 0
		}
		return a.id < b.id
	})
	for i := range ds {
		hs[i] = ds[i].h
	}
}

// decryptHit opens a hit's resource without reporting the read.
func (s *Server) decryptHit(ctx context.Context, rq *request, h *hit) *problem {
	pt, d, p := s.decrypt(ctx, rq, h.rec, h.ver, h.d)
	if p != nil {
		if consent.AsConditionError(p.err) != nil {
			h.d = d // the refusal, for the trail
		}
		return p
	}
	h.plain, h.d = pt, d
	return nil
}

// search serves GET /fhir/{type}.
func (s *Server) search(w http.ResponseWriter, rq *request, typ string, vals url.Values) {
	if chainViews[typ] {
		s.searchChain(w, rq, typ, vals)
		return
	}
	if !storable(typ) {
		writeProblem(w, notStorable(typ))
		return
	}
	q, p := parseQuery(rq, typ, vals, DefaultCount)
	if p != nil {
		writeProblem(w, p)
		return
	}
	patients, p := patientsFor(rq, q, typ, permSearch)
	if p != nil {
		writeProblem(w, p)
		return
	}
	s.respondSearch(w, rq, q, s.candidates(rq, q, patients, permSearch), rq.base+"/"+typ)
}

// everything serves GET /fhir/Patient/{id}/$everything: every record of the
// patient that the reader may read, the Patient resources first.
func (s *Server) everything(w http.ResponseWriter, rq *request, idStr string, vals url.Values) {
	ref := "Patient/" + idStr
	patient, p := resolvePatientRef(rq, ref, nil)
	if p != nil {
		writeProblem(w, failf(http.StatusNotFound, "not-found", ErrNotFound, "%s: no such patient", ref))
		return
	}
	q, p := parseQuery(rq, "", vals, DefaultEverythingCount)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if !grants(rq.sess.scopes, "Patient", permRead, patient, rq.sess.patient) && !slices.ContainsFunc(rq.sess.scopes, func(sc scope) bool {
		return sc.typ == "*" && sc.perms&permRead != 0 && (!sc.patient || patient == rq.sess.patient)
	}) {
		writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrScope, "the token's scopes (%s) do not allow reading the record of %s", rq.sess.scope, patient))
		return
	}
	hs := s.candidates(rq, q, []crypto.Address{patient}, permRead)
	if len(q.sort) == 0 {
		sortHits(hs, nil)
		sort.SliceStable(hs, func(i, j int) bool { return hs[i].typ == "Patient" && hs[j].typ != "Patient" })
		q.sort = []sortKey{} // keep that order
	}
	s.respondSearch(w, rq, q, hs, rq.base+"/Patient/"+idStr+"/$everything")
}

// respondSearch filters on content, sorts, pages, decrypts the page,
// reports each served resource to the trail and writes the Bundle.
//
// A content filter (code, value, status, dates…) or a date sort decrypts
// every candidate, and what the requester learns (total, order, _count=0)
// depends on each one's content: so every candidate decrypted for such a
// search is reported as a served read, whether it matched or not, and a
// patient sees in the trail each record a search examined (docs/fhir.md,
// "Searches and the trail").
func (s *Server) respondSearch(w http.ResponseWriter, rq *request, q *query, hs []*hit, self string) {
	ctx := rq.r.Context()
	undecryptable := 0
	var why *problem
	drop := func(h *hit, p *problem) {
		undecryptable++
		if why == nil {
			why = p
		}
	}
	// A candidate allowed under a consent with a condition is examined
	// like one of a content search: its condition may read the codes,
	// known only once decrypted, and a refusal must not count in the
	// total. A refusal is reported to the trail (naming the consent and
	// its condition) and is not a match.
	conditioned := func(h *hit) bool { return h.rec != nil && h.d.Condition != "" }
	if q.needsContent() || slices.ContainsFunc(hs, conditioned) {
		kept := hs[:0]
		for _, h := range hs {
			if !q.needsContent() && !conditioned(h) {
				kept = append(kept, h)
				continue
			}
			if h.rec == nil { // a chain view: no decryption
				if q.matchContent(h.resource()) {
					kept = append(kept, h)
				}
				continue
			}
			if p := s.decryptHit(ctx, rq, h); p != nil {
				if consent.AsConditionError(p.err) != nil {
					_ = s.report(rq, h.rec, h.ver.Version, h.d, p.err)
					continue
				}
				drop(h, p)
				continue
			}
			// Examined for the requester: on the trail whether it matches
			// or not; one that cannot be recorded is dropped unexamined.
			if err := s.report(rq, h.rec, h.ver.Version, h.d, nil); err != nil {
				clear(h.plain)
				drop(h, notRecorded(err))
				continue
			}
			h.reported = true
			if !q.needsContent() {
				kept = append(kept, h)
				continue
			}
			res, err := decodeJSON(h.plain)
			if err != nil || !q.matchContent(res) {
				clear(h.plain)
				continue
			}
			h.res = res
			kept = append(kept, h)
		}
		hs = kept
	}
	switch {
	case q.sort == nil:
		sortHits(hs, nil)
	case len(q.sort) > 0:
		sortHits(hs, q.sort)
	}
	total := len(hs)
	lo := min(q.offset, total)
	hi := min(lo+q.count, total)
	var entries []any
	for _, h := range hs[lo:hi] {
		if h.rec == nil {
			body, err := json.Marshal(h.resource())
			if err != nil {
				continue
			}
			entries = append(entries, map[string]any{
				"fullUrl":  rq.base + "/" + h.typ + "/" + h.id,
				"resource": json.RawMessage(body),
				"search":   map[string]any{"mode": "match"},
			})
			continue
		}
		if h.plain == nil {
			if p := s.decryptHit(ctx, rq, h); p != nil {
				drop(h, p)
				continue
			}
		}
		body, err := render(h.plain, h.ver)
		clear(h.plain)
		if err != nil {
			continue
		}
		if !h.reported {
			if err := s.report(rq, h.rec, h.ver.Version, h.d, nil); err != nil {
				drop(h, notRecorded(err)) // not recorded, so not served
				continue
			}
		}
		entries = append(entries, map[string]any{
			"fullUrl":  rq.base + "/" + h.typ + "/" + h.id,
			"resource": json.RawMessage(body),
			"search":   map[string]any{"mode": "match"},
		})
	}
	for _, h := range hs[hi:] {
		clear(h.plain)
	}
	if undecryptable > 0 {
		_, _, msg := sABCI(why)
		entries = append(entries, map[string]any{
			"resource": warning("suppressed", fmt.Sprintf("%d matching resources could not be decrypted for you and are left out; the first: %s", undecryptable, msg)),
			"search":   map[string]any{"mode": "outcome"},
		})
	}
	out := map[string]any{"resourceType": "Bundle", "type": "searchset", "total": total, "link": pageLinks(self, q, total)}
	if len(entries) > 0 {
		out["entry"] = entries
	}
	writeJSONValue(w, http.StatusOK, out)
}

func sABCI(p *problem) (uint32, string, string) {
	if p == nil {
		return 0, "", ""
	}
	return sABCIErr(p.err)
}

// pageLinks builds Bundle.link: self, first, previous and next.
func pageLinks(self string, q *query, total int) []any {
	link := func(rel string, offset int) any {
		v := url.Values{}
		for k, vs := range q.links {
			if k != "_offset" && k != "_count" {
				v[k] = vs
			}
		}
		v.Set("_count", strconv.Itoa(q.count))
		if offset > 0 {
			v.Set("_offset", strconv.Itoa(offset))
		}
		return map[string]any{"relation": rel, "url": self + "?" + v.Encode()}
	}
	out := []any{link("self", q.offset), link("first", 0)}
	if q.offset > 0 && q.count > 0 {
		out = append(out, link("previous", max(0, q.offset-q.count)))
	}
	if q.count > 0 && q.offset+q.count < total {
		out = append(out, link("next", q.offset+q.count))
	}
	return out
}
