package fhir

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/x/consent"
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
		if e.p == nil && e.method == http.MethodPut {
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
		if e.p == nil {
			drafts = append(drafts, e.d)
			if e.method == http.MethodPut {
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
		if e.method == http.MethodPut {
			perm = permUpdate
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
		if e.p == nil {
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
			if e.p == nil {
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
				if e.p == nil && e.d.ver == nil {
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
	for _, k := range []string{"ifNoneExist", "ifMatch", "ifNoneMatch", "ifModifiedSince"} {
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
		id, err := newRecordID()
		if err != nil {
			return bad(failf(http.StatusInternalServerError, "exception", ErrUnavailable, "%v", err))
		}
		d.id, d.version = id, 1
	case http.MethodPut:
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

// bundlePlan resolves every entry's patient and rewrites the references
// between entries (fullUrl, such as urn:uuid:…) to the assigned ids.
func (s *Server) bundlePlan(rq *request, entries []*bentry, batch bool) *problem {
	local := map[string]localRef{}
	refs := map[string]string{}
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
		l := localRef{ref: e.typ + "/" + idString(e.d.id), typ: e.typ}
		if e.typ == "Patient" {
			a, p := patientOf(rq, e.typ, e.res, nil, crypto.Address{})
			if p != nil {
				if p := fail(e, p); p != nil {
					return p
				}
				continue
			}
			l.patient = a
		}
		local[e.fullURL] = l
		refs[e.fullURL] = l.ref
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
			a, p = patientOf(rq, e.typ, e.res, local, crypto.Address{})
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
	}
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
		rewriteRefs(e.res, refs)
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
