package fhir

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/links"
	"github.com/medchain/medchain/x/records"
)

// bentry is one entry of a transaction or batch Bundle.
type bentry struct {
	index   int
	fullURL string
	method  string
	typ     string
	res     map[string]any
	d       *draft
	p       *problem // batch: this entry's failure
	prefix  string
	// Conditional interactions: cond is an entry's ifNoneExist criteria
	// (POST) or the criteria of its conditional update (PUT Type?…).
	cond    *criteria
	condPut bool
	// skip: the entry stores nothing (it exists already, or was erased);
	// have is the record it names.
	skip   bool
	have   *records.Record
	erased bool
}

func statusText(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }

// bundle serves POST /fhir: a transaction or a batch Bundle of creates
// (POST) and updates (PUT).
func (s *Server) bundle(w http.ResponseWriter, rq *request) {
	body, p := readBody(rq.r, s.cfg.MaxBundleBytes)
	if p != nil {
		writeProblem(w, p)
		return
	}
	parsed, perr := fhirr4.Parse(body)
	m, err := decodeJSON(body)
	if perr != nil && (err != nil || str(m["resourceType"]) != "Bundle" || str(m["type"]) != "batch") {
		// A batch's entries stand alone: each is validated by itself below.
		writeProblem(w, invalidResource(perr, ""))
		return
	}
	if err != nil {
		writeProblem(w, failf(http.StatusBadRequest, "structure", ErrInvalid, "%v", err))
		return
	}
	if perr == nil && parsed.Type != "Bundle" {
		writeProblem(w, unprocessable("POST /fhir takes a transaction or batch Bundle, not a %s", parsed.Type))
		return
	}
	kind := str(m["type"])
	if kind != "transaction" && kind != "batch" {
		writeProblem(w, unprocessable("Bundle.type %q: POST /fhir takes a transaction or a batch", kind))
		return
	}
	raw, _ := m["entry"].([]any)
	if len(raw) > s.cfg.MaxBundleEntries {
		writeProblem(w, failf(http.StatusRequestEntityTooLarge, "too-costly", ErrTooLarge, "%d entries; at most %d in one Bundle", len(raw), s.cfg.MaxBundleEntries))
		return
	}
	entries := make([]*bentry, len(raw))
	for i, e := range raw {
		entries[i] = s.readEntry(rq, i, e)
	}
	batch := kind == "batch"
	seen := map[consent.RecordID]bool{}
	for _, e := range entries {
		if e.p == nil && e.method == http.MethodPut && !e.condPut {
			if seen[e.d.id] {
				e.p = entryProblem(e, unprocessable("%s/%s is updated twice in one Bundle", e.typ, idString(e.d.id)))
			}
			seen[e.d.id] = true
		}
	}
	if !batch {
		for _, e := range entries {
			if e.p != nil {
				writeProblem(w, e.p)
				return
			}
		}
	}
	if p := s.bundlePlan(rq, entries, batch); p != nil {
		writeProblem(w, p)
		return
	}
	var drafts []*draft
	var ids []consent.RecordID
	for _, e := range entries {
		if e.p == nil && !e.skip {
			drafts = append(drafts, e.d)
			if e.d.version > 1 {
				ids = append(ids, e.d.id)
			}
		}
	}
	release, p := s.lockRecords(ids)
	if p != nil {
		writeProblem(w, p)
		return
	}
	defer release()
	for _, e := range entries {
		if e.p != nil {
			continue
		}
		perm := permCreate
		if e.d.version > 1 {
			perm = permUpdate
		}
		if e.condPut && e.d.version > 1 && s.unchanged(rq, e.d) {
			e.skip = true // the same content again: no new version
		}
		if e.skip {
			// Nothing is written, but only a writer learns that it exists.
			if p := checkWrite(rq, e.d, perm); p != nil {
				if !batch {
					writeProblem(w, entryProblem(e, p))
					return
				}
				e.p = p
			}
			continue
		}
		if p := s.prepare(rq, e.d, perm); p != nil {
			if !batch {
				writeProblem(w, entryProblem(e, p))
				return
			}
			e.p = p
		}
	}
	drafts = drafts[:0]
	for _, e := range entries {
		if e.p == nil && !e.skip {
			drafts = append(drafts, e.d)
		}
	}
	if batch && len(drafts) > 0 {
		failed, p := s.simulate(rq, drafts, s.cfg.MinFee(rq.snap), true)
		if p != nil {
			writeProblem(w, p)
			return
		}
		drafts = drafts[:0]
		for _, e := range entries {
			if e.p == nil && !e.skip {
				if fp := failed[e.d]; fp != nil {
					e.p = fp
				} else {
					drafts = append(drafts, e.d)
				}
			}
		}
	}
	if len(drafts) > 0 {
		if p := s.commit(rq.r.Context(), rq, drafts); p != nil {
			if !batch {
				writeProblem(w, partial(p, entries))
				return
			}
			for _, e := range entries {
				if e.p == nil && !e.skip && e.d.ver == nil {
					e.p = p
				}
			}
		}
	}
	s.respondBundle(w, rq, entries, batch)
}

// entryProblem names the entry a problem is about.
func entryProblem(e *bentry, p *problem) *problem {
	if len(p.issues) == 0 {
		p.err = fmt.Errorf("in Bundle.entry[%d]: %w", e.index, p.err)
	}
	return p
}

// partial reports a transaction that failed after some entries committed.
func partial(p *problem, entries []*bentry) *problem {
	var done []string
	for _, e := range entries {
		if e.d != nil && e.d.ver != nil {
			done = append(done, fmt.Sprintf("entry[%d] %s/%s", e.index, e.typ, idString(e.d.id)))
		}
	}
	if len(done) > 0 {
		p.err = fmt.Errorf("the transaction failed after %d of %d entries committed (%s): %w", len(done), len(entries), strings.Join(done, ", "), p.err)
	}
	return p
}

// readEntry checks an entry's shape and gives it its id.
func (s *Server) readEntry(rq *request, i int, raw any) *bentry {
	e := &bentry{index: i, prefix: fmt.Sprintf("Bundle.entry[%d].resource", i)}
	bad := func(p *problem) *bentry { e.p = entryProblem(e, p); return e }
	m, _ := raw.(map[string]any)
	e.fullURL = str(m["fullUrl"])
	req, _ := m["request"].(map[string]any)
	if req == nil {
		return bad(unprocessable("entry.request is required in a transaction or batch"))
	}
	for _, k := range []string{"ifMatch", "ifNoneMatch", "ifModifiedSince"} {
		if _, ok := req[k]; ok {
			return bad(failf(http.StatusBadRequest, "not-supported", ErrNotSupported, "entry.request.%s is not supported", k))
		}
	}
	e.method = str(req["method"])
	url := str(req["url"])
	e.res, _ = m["resource"].(map[string]any)
	if e.method != http.MethodPost && e.method != http.MethodPut {
		return bad(failf(http.StatusBadRequest, "not-supported", ErrNotSupported, "entry.request.method %s: only POST (create) and PUT (update) are supported", e.method))
	}
	if e.res == nil {
		return bad(failf(http.StatusBadRequest, "required", ErrInvalid, "entry.resource is required for %s", e.method))
	}
	e.typ = str(e.res["resourceType"])
	if !storable(e.typ) {
		return bad(notStorable(e.typ))
	}
	d := &draft{entry: i, prefix: e.prefix, typ: e.typ, res: e.res}
	e.d = d
	switch e.method {
	case http.MethodPost:
		if strings.TrimPrefix(url, rq.base+"/") != e.typ {
			return bad(unprocessable("entry.request.url %q: a create posts to %q", url, e.typ))
		}
		if q, ok := req["ifNoneExist"]; ok {
			c, p := parseCriteria(strings.TrimPrefix(str(q), "?"))
			if p != nil {
				return bad(p)
			}
			e.cond = &c
		}
		id, err := newRecordID()
		if err != nil {
			return bad(failf(http.StatusInternalServerError, "exception", ErrUnavailable, "%v", err))
		}
		d.id, d.version = id, 1
	case http.MethodPut:
		if typ, q, ok := strings.Cut(strings.TrimPrefix(url, rq.base+"/"), "?"); ok {
			// A conditional update: the record the criteria name, created
			// when there is none (bundlePlan, once the patient is known).
			if typ != e.typ {
				return bad(unprocessable("entry.request.url %q does not name a %s", url, e.typ))
			}
			c, p := parseCriteria(q)
			if p != nil {
				return bad(p)
			}
			e.cond, e.condPut = &c, true
			id, err := newRecordID()
			if err != nil {
				return bad(failf(http.StatusInternalServerError, "exception", ErrUnavailable, "%v", err))
			}
			d.id, d.version = id, 1
			return e
		}
		typ, idStr, _ := strings.Cut(strings.TrimPrefix(url, rq.base+"/"), "/")
		if typ != e.typ {
			return bad(unprocessable("entry.request.url %q does not name a %s", url, e.typ))
		}
		if got := str(e.res["id"]); got != idStr {
			return bad(failf(http.StatusBadRequest, "invalid", ErrInvalid, "%s.id is %q, entry.request.url names %q", e.typ, got, idStr))
		}
		rec, p := lookup(rq, typ, idStr)
		if p != nil {
			if p.status == http.StatusNotFound {
				p = failf(http.StatusMethodNotAllowed, "not-supported", ErrNotSupported, "%s/%s does not exist, and ids are assigned by this server", typ, idStr)
			}
			return bad(p)
		}
		d.id, d.version, d.patient = rec.ID, rec.Version+1, rec.Patient
	}
	return e
}

// bundlePlan resolves every entry's patient, gives creates and conditional
// updates their ids (derived from their identity at this organization, so
// that importing the same Bundle again finds them: see derivedID), marks
// the entries that exist already, and rewrites the references between
// entries (fullUrl, such as urn:uuid:…) and conditional references
// (Practitioner?identifier=…) to the assigned ids.
func (s *Server) bundlePlan(rq *request, entries []*bentry, batch bool) *problem {
	local := map[string]localRef{}
	fail := func(e *bentry, p *problem) *problem {
		p = entryProblem(e, p)
		if batch {
			e.p = p
			return nil
		}
		return p
	}
	for _, e := range entries {
		if e.p != nil || e.fullURL == "" {
			continue
		}
		if _, dup := local[e.fullURL]; dup {
			if p := fail(e, failf(http.StatusBadRequest, "invalid", ErrInvalid, "fullUrl %q appears twice", e.fullURL)); p != nil {
				return p
			}
			continue
		}
		l := localRef{typ: e.typ}
		if e.typ == "Patient" {
			a, p := s.patientOfEntry(rq, e, nil)
			if p != nil {
				if p := fail(e, p); p != nil {
					return p
				}
				continue
			}
			l.patient = a
		}
		local[e.fullURL] = l
	}
	// The one patient the Bundle is about, for entries without a subject.
	patients := map[crypto.Address]bool{}
	for _, e := range entries {
		if e.p != nil {
			continue
		}
		var a crypto.Address
		var p *problem
		if _, has := subjectRef(e.typ, e.res); has || e.typ == "Patient" {
			a, p = s.patientOfEntry(rq, e, local)
		} else {
			continue
		}
		if p != nil {
			if p := fail(e, p); p != nil {
				return p
			}
			continue
		}
		if e.d.version > 1 && a != e.d.patient {
			if p := fail(e, otherPatient(e.typ, a, e.d.patient)); p != nil {
				return p
			}
			continue
		}
		e.d.patient = a
		patients[a] = true
	}
	var only crypto.Address
	if len(patients) == 1 {
		for a := range patients {
			only = a
		}
	} else if len(patients) == 0 {
		only = rq.sess.patient // a Bundle that names no patient: the token's
	}
	r := s.resolver(rq)
	byID := map[consent.RecordID]*bentry{}
	for _, e := range entries {
		if e.p != nil {
			continue
		}
		if e.d.patient.IsZero() {
			if only.IsZero() {
				if p := fail(e, unprocessable("%s has no subject or patient, and the Bundle is not about exactly one patient", e.typ)); p != nil {
					return p
				}
				continue
			}
			e.d.patient = only
		}
		if p := s.identify(rq, r, e); p != nil {
			if p := fail(e, p); p != nil {
				return p
			}
			continue
		}
		// Two entries naming one record (the same identity twice): the
		// later ones stand for the first.
		if first := byID[e.d.id]; first != nil {
			e.skip, e.have = true, &records.Record{ID: first.d.id, Type: first.typ, Patient: first.d.patient, Version: first.d.version}
			if first.have != nil {
				e.have = first.have
			}
			continue
		}
		byID[e.d.id] = e
	}
	refs := map[string]string{}
	type tokenKey struct{ typ, system, value string }
	tokens := map[tokenKey]string{}
	for _, e := range entries {
		if e.p != nil {
			continue
		}
		ref := e.typ + "/" + idString(e.d.id)
		if e.fullURL != "" {
			if l, ok := local[e.fullURL]; ok {
				l.ref = ref
				local[e.fullURL] = l
			}
			refs[e.fullURL] = ref
		}
		ids := identifiers(e.res)
		if e.cond != nil && e.cond.id != nil {
			ids = append(ids, *e.cond.id)
		}
		for _, id := range ids {
			k := tokenKey{e.typ, id.system, id.value}
			if _, taken := tokens[k]; !taken {
				tokens[k] = ref
			}
		}
	}
	inBundle := func(typ string, id identifier) string { return tokens[tokenKey{typ, id.system, id.value}] }
	for _, e := range entries {
		if e.p != nil || e.skip {
			continue
		}
		rewriteRefs(e.res, refs)
		s.resolveConditionalRefs(rq, e.res, e.d.patient, inBundle)
	}
	return nil
}

// patientOfEntry is patientOf for a Bundle entry.
func (s *Server) patientOfEntry(rq *request, e *bentry, local map[string]localRef) (crypto.Address, *problem) {
	return patientOf(rq, e.typ, e.res, local, crypto.Address{})
}

// identify gives a create or a conditional update its record id once its
// patient is known: the record its criteria name, or the id derived from
// its identity (importKey) with the organization's link key, so that the
// same entry imported again names the same record. An entry whose record
// exists is skipped (a create, ifNoneExist or not) or becomes its next
// version (a conditional update); an erased one is skipped.
func (s *Server) identify(rq *request, r *links.Resolver, e *bentry) *problem {
	d := e.d
	if e.method == http.MethodPut && !e.condPut {
		return nil // an update of a named record
	}
	var rec *records.Record
	switch {
	case e.cond != nil && e.cond.hasID:
		rec = records.GetRecord(rq.snap, e.cond.recID)
		if rec == nil || rec.Type != e.typ {
			if e.condPut {
				return failf(http.StatusNotFound, "not-found", ErrNotFound, "%s?_id=%s: no such %s (ids are assigned by this server)", e.typ, idString(e.cond.recID), e.typ)
			}
			return nil // no match: a create with a fresh id
		}
		if rec.Patient != d.patient {
			return otherPatient(e.typ, d.patient, rec.Patient)
		}
	default:
		key := importKey(e.res, e.fullURL, e.cond)
		if r == nil {
			if e.cond != nil {
				return fail(http.StatusBadRequest, "not-supported", sm.Wrapf(ErrNoLinkKey, "conditional %s of %s", e.method, e.typ))
			}
			return nil // no organization key: a fresh random id, as a plain create
		}
		if key == "" {
			return nil
		}
		d.id = derivedID(r, d.patient, e.typ, key)
		rec, _ = existing(rq, d.id, e.typ, d.patient)
	}
	if rec == nil {
		return nil
	}
	e.have, d.id = rec, rec.ID
	switch {
	case rec.Erased != 0:
		e.skip, e.erased = true, true
	case e.condPut:
		d.version = rec.Version + 1
	default:
		e.skip = true
	}
	return nil
}

// respondBundle writes the transaction-response or batch-response.
func (s *Server) respondBundle(w http.ResponseWriter, rq *request, entries []*bentry, batch bool) {
	out := make([]any, 0, len(entries))
	representation := prefer(rq.r) == "representation"
	for _, e := range entries {
		if e.p != nil {
			out = append(out, map[string]any{"response": map[string]any{"status": statusText(e.p.status), "outcome": e.p.outcome()}})
			continue
		}
		d := e.d
		if e.skip {
			status := http.StatusOK
			if e.erased {
				status = http.StatusGone
			}
			resp := map[string]any{
				"status":   statusText(status),
				"location": e.have.Type + "/" + idString(e.have.ID) + "/_history/" + strconv.FormatUint(uint64(e.have.Version), 10),
				"etag":     etag(e.have.Version),
			}
			if e.erased {
				resp["outcome"] = map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
					"severity": "information", "code": "deleted", "diagnostics": "erased by the patient: not imported again"}}}
			}
			out = append(out, map[string]any{"fullUrl": rq.base + "/" + e.have.Type + "/" + idString(e.have.ID), "response": resp})
			continue
		}
		status := http.StatusCreated
		if d.version > 1 {
			status = http.StatusOK
		}
		resp := map[string]any{
			"status":   statusText(status),
			"location": d.typ + "/" + idString(d.id) + "/_history/" + strconv.FormatUint(uint64(d.version), 10),
			"etag":     etag(d.version),
		}
		entry := map[string]any{"fullUrl": rq.base + "/" + d.typ + "/" + idString(d.id), "response": resp}
		if d.ver != nil {
			resp["lastModified"] = fhirInstant(d.ver.Created)
			if representation {
				if body, err := render(d.content, d.ver); err == nil {
					entry["resource"] = json.RawMessage(body)
				}
			}
		}
		out = append(out, entry)
	}
	typ := "transaction-response"
	if batch {
		typ = "batch-response"
	}
	writeJSONValue(w, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": typ, "entry": out})
}
