package fhir

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// Bulk Data (SMART Bulk Data IG, async pattern): $export at system, Group
// and Patient level, and $import of NDJSON. A job belongs to the account
// that started it; its status, files and cancellation answer only a token
// of that account. Jobs live in the node's memory (outputs are decrypted
// health data, never written to disk) and end BulkJobTTL after they
// finish, or at a restart: an export is then asked for again, and an
// import sent again resumes, because imported records have ids derived
// from the file's own resource ids (see importID).
const (
	BulkJobTTL         = time.Hour
	BulkRetryAfter     = 2 // seconds, the Retry-After of a running job
	MaxBulkJobs        = 16
	MaxBulkJobsPerAcct = 2
	BulkFileResources  = 10_000 // resources per NDJSON output file
	MaxImportBytes     = 256 << 20
	MaxExportBytes     = 512 << 20 // an export's files together, held in memory
	MaxImportResources = 1_000_000
	importBatch        = 100 // records/add transactions submitted together
	ndjson             = "application/fhir+ndjson"
	bulkStatusExport   = "$export-status"
	bulkStatusImport   = "$import-status"
	bulkFilePath       = "$export-file"
	importIDDomain     = "medchain/bulk-import-id/v1"
)

type bulkState int

const (
	bulkRunning bulkState = iota
	bulkComplete
	bulkFailed
)

type bulkFile struct {
	typ   string
	count int
	data  []byte
}

type bulkJob struct {
	id      string
	kind    string // "export" or "import"
	owner   crypto.Address
	request string
	txTime  time.Time
	cancel  context.CancelFunc

	mu       sync.Mutex
	state    bulkState
	done     int
	total    int
	phase    string
	outputs  []*bulkFile
	errs     []*bulkFile
	outcome  map[string]any // import result, or the failure
	finished time.Time
}

func (j *bulkJob) progress(done, total int, phase string) {
	j.mu.Lock()
	j.done, j.total, j.phase = done, total, phase
	j.mu.Unlock()
}

func (j *bulkJob) wipe() {
	for _, f := range append(j.outputs, j.errs...) {
		clear(f.data)
		f.data = nil
	}
	j.outputs, j.errs = nil, nil
}

// bulkJobs is the server's table of jobs.
type bulkJobs struct {
	mu   sync.Mutex
	jobs map[string]*bulkJob
}

func (b *bulkJobs) sweep(now time.Time) {
	for id, j := range b.jobs {
		j.mu.Lock()
		old := j.state != bulkRunning && now.Sub(j.finished) > BulkJobTTL
		if old {
			j.wipe()
		}
		j.mu.Unlock()
		if old {
			delete(b.jobs, id)
		}
	}
}

func (b *bulkJobs) start(kind string, owner crypto.Address, request string, txTime, now time.Time) (*bulkJob, context.Context, *problem) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.jobs == nil {
		b.jobs = map[string]*bulkJob{}
	}
	b.sweep(now)
	running, mine := 0, 0
	for _, j := range b.jobs {
		j.mu.Lock()
		if j.state == bulkRunning {
			running++
			if j.owner == owner {
				mine++
			}
		}
		j.mu.Unlock()
	}
	if running >= MaxBulkJobs || mine >= MaxBulkJobsPerAcct {
		return nil, nil, failf(http.StatusTooManyRequests, "throttled", ErrUnavailable,
			"%d bulk jobs running (at most %d, %d per account): wait for one to finish or cancel it (DELETE its status URL)", running, MaxBulkJobs, MaxBulkJobsPerAcct)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, nil, failf(http.StatusInternalServerError, "exception", ErrUnavailable, "%v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &bulkJob{id: hex.EncodeToString(raw[:]), kind: kind, owner: owner, request: request, txTime: txTime, cancel: cancel, phase: "queued"}
	b.jobs[j.id] = j
	return j, ctx, nil
}

// get finds a job of kind for its owner; another account's job is not
// found (its id reveals nothing).
func (b *bulkJobs) get(id, kind string, owner crypto.Address, now time.Time) *bulkJob {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweep(now)
	j := b.jobs[id]
	if j == nil || j.kind != kind || j.owner != owner {
		return nil
	}
	return j
}

func (b *bulkJobs) remove(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if j := b.jobs[id]; j != nil {
		j.cancel()
		j.mu.Lock()
		j.wipe()
		j.mu.Unlock()
		delete(b.jobs, id)
	}
}

func (b *bulkJobs) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, j := range b.jobs {
		j.cancel()
		j.mu.Lock()
		j.wipe()
		j.mu.Unlock()
		delete(b.jobs, id)
	}
}

// bulkRoute serves the Bulk Data paths; it reports whether segs was one.
func (s *Server) bulkRoute(w http.ResponseWriter, rq *request, segs []string) bool {
	m := rq.r.Method
	switch {
	case len(segs) == 1 && segs[0] == "$export":
		s.only(w, rq.r, http.MethodGet, func(w http.ResponseWriter, _ *http.Request) { s.exportKickoff(w, rq, "system", "") })
	case len(segs) == 2 && segs[0] == "Patient" && segs[1] == "$export":
		s.only(w, rq.r, http.MethodGet, func(w http.ResponseWriter, _ *http.Request) { s.exportKickoff(w, rq, "patient", "") })
	case len(segs) == 3 && segs[0] == "Group" && segs[2] == "$export":
		s.only(w, rq.r, http.MethodGet, func(w http.ResponseWriter, _ *http.Request) { s.exportKickoff(w, rq, "group", segs[1]) })
	case len(segs) == 1 && segs[0] == "$import":
		s.only(w, rq.r, http.MethodPost, func(w http.ResponseWriter, _ *http.Request) { s.importKickoff(w, rq) })
	case len(segs) == 2 && (segs[0] == bulkStatusExport || segs[0] == bulkStatusImport):
		kind := "export"
		if segs[0] == bulkStatusImport {
			kind = "import"
		}
		switch m {
		case http.MethodGet, http.MethodHead:
			s.bulkStatus(w, rq, kind, segs[1])
		case http.MethodDelete:
			s.bulkCancel(w, rq, kind, segs[1])
		default:
			writeProblem(w, notAllowed(rq.r))
		}
	case len(segs) == 3 && segs[0] == bulkFilePath:
		s.only(w, rq.r, http.MethodGet, func(w http.ResponseWriter, _ *http.Request) { s.bulkFile(w, rq, segs[1], segs[2]) })
	default:
		return false
	}
	return true
}

// isBulkPath tells ServeHTTP which paths bulkRoute serves.
func isBulkPath(segs []string) bool {
	switch {
	case len(segs) >= 1 && strings.HasPrefix(segs[0], "$"):
		return true
	case len(segs) == 2 && segs[0] == "Patient" && segs[1] == "$export":
		return true
	case len(segs) == 3 && segs[0] == "Group" && segs[2] == "$export":
		return true
	}
	return false
}

func respondAsync(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Prefer"), ",") {
		if strings.TrimSpace(part) == "respond-async" {
			return true
		}
	}
	return false
}

// exportParams are a kick-off's parameters as understood.
type exportParams struct {
	types    map[string]bool // nil: every type
	since    int64           // unix seconds; versions created after it
	hasSince bool
	patients []crypto.Address // the patient parameter
}

func parseExportParams(rq *request) (*exportParams, *problem) {
	q := rq.r.URL.Query()
	ep := &exportParams{}
	for k, vs := range q {
		switch k {
		case "_outputFormat":
			switch vs[0] {
			case ndjson, "application/ndjson", "ndjson":
			default:
				return nil, failf(http.StatusBadRequest, "not-supported", ErrNotSupported, "_outputFormat %q: only %s is produced", vs[0], ndjson)
			}
		case "_type":
			ep.types = map[string]bool{}
			for _, v := range vs {
				for _, t := range strings.Split(v, ",") {
					t = strings.TrimSpace(t)
					if !storable(t) {
						return nil, failf(http.StatusBadRequest, "not-supported", ErrNotSupported, "_type %q is not a resource type stored here", t)
					}
					ep.types[t] = true
				}
			}
		case "_since":
			d, err := parseDate(vs[0])
			if err != nil {
				return nil, failf(http.StatusBadRequest, "invalid", ErrBadRequest, "_since %q: %v", vs[0], err)
			}
			ep.since, ep.hasSince = d.lo.Unix(), true
		case "patient":
			for _, v := range vs {
				for _, ref := range strings.Split(v, ",") {
					a, p := resolvePatientRef(rq, strings.TrimSpace(ref), nil)
					if p != nil {
						return nil, failf(http.StatusBadRequest, "invalid", ErrBadRequest, "patient %q: %v", ref, p.err)
					}
					ep.patients = append(ep.patients, a)
				}
			}
		case "_format":
		default:
			// _elements, _typeFilter, includeAssociatedData…: refused
			// rather than silently ignored, so a client never takes a
			// partial answer for the one it asked.
			return nil, failf(http.StatusBadRequest, "not-supported", ErrNotSupported, "parameter %s is not supported ($export takes _outputFormat, _type, _since, patient)", k)
		}
	}
	return ep, nil
}

// exportKickoff starts an export: level "system" and "patient" cover every
// patient the requester may read (their own records, consents to them or
// to their organization, open emergency accesses); "group" the patients
// who consent to the organization named by the Group id (the requester's
// own organization). Every resource exported is decided by consent and
// reported to the trail like any read.
func (s *Server) exportKickoff(w http.ResponseWriter, rq *request, level, group string) {
	if !respondAsync(rq.r) {
		writeProblem(w, failf(http.StatusBadRequest, "not-supported", ErrNotSupported, "$export is asynchronous: send Prefer: respond-async"))
		return
	}
	if !slices.ContainsFunc(rq.sess.scopes, func(sc scope) bool { return sc.perms&permRead != 0 }) {
		writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrScope, "the token's scopes (%s) do not allow reading: ask for user/*.read or patient/*.read", rq.sess.scope))
		return
	}
	ep, p := parseExportParams(rq)
	if p != nil {
		writeProblem(w, p)
		return
	}
	var patients []crypto.Address
	switch level {
	case "group":
		m := accounts.ActiveMember(rq.snap, rq.sess.addr)
		if m == nil || m.Org != group || group != rq.org {
			writeProblem(w, failf(http.StatusNotFound, "not-found", ErrNotFound,
				"Group/%s: the groups here are organizations, and a member exports its own organization's (Group/%s) through its node", group, rq.org))
			return
		}
		set := map[crypto.Address]bool{}
		for _, c := range consent.ByGrantee(rq.snap, consent.Org(group)) {
			if c.Actions&consent.ActRead != 0 && c.Purpose != consent.PurposeEmergency && c.ActiveAt(rq.now) {
				set[c.Patient] = true
			}
		}
		for a := range set {
			patients = append(patients, a)
		}
	default:
		patients = reachable(rq)
	}
	if ep.patients != nil {
		allowed := map[crypto.Address]bool{}
		for _, a := range patients {
			allowed[a] = true
		}
		var kept []crypto.Address
		for _, a := range ep.patients {
			if allowed[a] {
				kept = append(kept, a)
			}
		}
		patients = kept
	}
	slices.SortFunc(patients, func(a, b crypto.Address) int { return bytes.Compare(a[:], b[:]) })
	patients = slices.Compact(patients)
	job, ctx, p := s.bulk.start("export", rq.sess.addr, rq.r.URL.String(), rq.time, s.cfg.Now())
	if p != nil {
		w.Header().Set("Retry-After", "30")
		writeProblem(w, p)
		return
	}
	job.request = rq.base + strings.TrimPrefix(rq.r.URL.RequestURI(), "/fhir")
	jrq := *rq
	jrq.r = rq.r.Clone(ctx)
	go s.runExport(ctx, &jrq, job, patients, ep)
	w.Header().Set("Content-Location", rq.base+"/"+bulkStatusExport+"/"+job.id)
	writeJSONValue(w, http.StatusAccepted, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
		"severity": "information", "code": "informational", "diagnostics": "export started: poll the Content-Location URL"}}})
}

func (s *Server) runExport(ctx context.Context, rq *request, job *bulkJob, patients []crypto.Address, ep *exportParams) {
	byType := map[string]*bulkFile{}
	var files []*bulkFile
	fail := func(p *problem) {
		for _, f := range files {
			clear(f.data)
		}
		job.mu.Lock()
		job.state, job.outcome, job.finished = bulkFailed, p.outcome(), s.cfg.Now()
		job.wipe()
		job.mu.Unlock()
	}
	hits := s.candidates(rq, &query{}, patients, permRead)
	hits = slices.DeleteFunc(hits, func(h *hit) bool {
		return (ep.types != nil && !ep.types[h.typ]) || (ep.hasSince && h.ver.Created <= ep.since)
	})
	sortHits(hits, nil)
	slices.SortStableFunc(hits, func(a, b *hit) int { return strings.Compare(a.typ, b.typ) })
	job.progress(0, len(hits), "exporting")
	var errLines bytes.Buffer
	errCount, size := 0, 0
	for i, h := range hits {
		if ctx.Err() != nil {
			return // cancelled: the job is gone
		}
		pt, d, p := s.decrypt(ctx, rq, h.rec, h.ver, h.d)
		if p != nil {
			_ = s.report(rq, h.rec, h.ver.Version, d, p.err)
			oo := p.outcome()
			oo["issue"].([]any)[0].(map[string]any)["expression"] = []any{h.typ + "/" + h.id}
			b, _ := json.Marshal(oo)
			errLines.Write(append(b, '\n'))
			errCount++
			continue
		}
		if err := s.report(rq, h.rec, h.ver.Version, d, nil); err != nil {
			clear(pt)
			fail(notRecorded(err))
			return
		}
		body, err := render(pt, h.ver)
		clear(pt)
		if err != nil {
			fail(failf(http.StatusInternalServerError, "exception", ErrUnavailable, "%s/%s: %v", h.typ, h.id, err))
			return
		}
		f := byType[h.typ]
		if f == nil || f.count >= BulkFileResources {
			f = &bulkFile{typ: h.typ}
			byType[h.typ] = f
			files = append(files, f)
		}
		if size += len(body) + 1; size > MaxExportBytes {
			clear(body)
			fail(failf(http.StatusRequestEntityTooLarge, "too-costly", ErrTooLarge,
				"the export is larger than %d MiB: narrow it with _type, _since or patient", MaxExportBytes>>20))
			return
		}
		f.data = append(f.data, body...)
		f.data = append(f.data, '\n')
		clear(body)
		f.count++
		if i%100 == 99 {
			job.progress(i+1, len(hits), "exporting")
		}
	}
	job.mu.Lock()
	defer job.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	job.outputs = files
	if errCount > 0 {
		job.errs = []*bulkFile{{typ: "OperationOutcome", count: errCount, data: errLines.Bytes()}}
	}
	job.state, job.done, job.total, job.finished = bulkComplete, len(hits), len(hits), s.cfg.Now()
}

// bulkStatus answers a status poll: 202 with X-Progress while running, 200
// with the manifest (export) or the result (import) once done, 500 with
// the OperationOutcome of a failed job.
func (s *Server) bulkStatus(w http.ResponseWriter, rq *request, kind, id string) {
	j := s.bulk.get(id, kind, rq.sess.addr, s.cfg.Now())
	if j == nil {
		writeProblem(w, failf(http.StatusNotFound, "not-found", ErrNotFound, "no %s job %s for you (finished jobs are kept %s)", kind, id, BulkJobTTL))
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	switch j.state {
	case bulkRunning:
		w.Header().Set("X-Progress", fmt.Sprintf("%s: %d of %d resources", j.phase, j.done, j.total))
		w.Header().Set("Retry-After", strconv.Itoa(BulkRetryAfter))
		w.WriteHeader(http.StatusAccepted)
	case bulkFailed:
		writeJSONValue(w, http.StatusInternalServerError, j.outcome)
	case bulkComplete:
		w.Header().Set("Expires", j.finished.Add(BulkJobTTL).UTC().Format(http.TimeFormat))
		if kind == "import" {
			writeJSONValue(w, http.StatusOK, j.outcome)
			return
		}
		out := []any{}
		for i, f := range j.outputs {
			out = append(out, map[string]any{"type": f.typ, "url": rq.base + "/" + bulkFilePath + "/" + j.id + "/" + strconv.Itoa(i), "count": f.count})
		}
		errs := []any{}
		for i, f := range j.errs {
			errs = append(errs, map[string]any{"type": f.typ, "url": rq.base + "/" + bulkFilePath + "/" + j.id + "/e" + strconv.Itoa(i), "count": f.count})
		}
		b, _ := json.Marshal(map[string]any{"transactionTime": j.txTime.UTC().Format(time.RFC3339), "request": j.request,
			"requiresAccessToken": true, "output": out, "error": errs})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
	}
}

// bulkCancel serves DELETE on a status URL: the job stops and its files go.
func (s *Server) bulkCancel(w http.ResponseWriter, rq *request, kind, id string) {
	if s.bulk.get(id, kind, rq.sess.addr, s.cfg.Now()) == nil {
		writeProblem(w, failf(http.StatusNotFound, "not-found", ErrNotFound, "no %s job %s for you", kind, id))
		return
	}
	s.bulk.remove(id)
	writeJSONValue(w, http.StatusAccepted, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
		"severity": "information", "code": "informational", "diagnostics": kind + " job " + id + " cancelled and its files deleted"}}})
}

// bulkFile serves one NDJSON file of a complete export.
func (s *Server) bulkFile(w http.ResponseWriter, rq *request, id, n string) {
	j := s.bulk.get(id, "export", rq.sess.addr, s.cfg.Now())
	if j == nil {
		writeProblem(w, failf(http.StatusNotFound, "not-found", ErrNotFound, "no export %s for you", id))
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	list := j.outputs
	if rest, ok := strings.CutPrefix(n, "e"); ok {
		list, n = j.errs, rest
	}
	i, err := strconv.Atoi(n)
	if j.state != bulkComplete || err != nil || i < 0 || i >= len(list) {
		writeProblem(w, failf(http.StatusNotFound, "not-found", ErrNotFound, "no file %s in export %s", n, id))
		return
	}
	w.Header().Set("Content-Type", ndjson)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(list[i].data)
}

// importID is the record id of an imported resource: a keyed MAC (the
// organization key's signing seed) of the patient, type and the resource's
// id in the file. Sending the same file again derives the same ids, so what
// is already on chain is skipped, never stored twice; and only this
// organization's nodes can derive them.
func (s *Server) importID(patient crypto.Address, typ, srcID string) consent.RecordID {
	seed, _ := s.cfg.Key.Seeds()
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte(importIDDomain))
	mac.Write(patient[:])
	mac.Write([]byte{0})
	mac.Write([]byte(typ))
	mac.Write([]byte{0})
	mac.Write([]byte(srcID))
	var id consent.RecordID
	copy(id[:], mac.Sum(nil))
	return id
}

// importKickoff serves POST /fhir/$import: the body is NDJSON, one
// resource a line, of any number of patients. Writes are signed by the
// requester's delegated session and each is decided by the chain's write
// consent, so an organization's integration account imports the patients
// who gave the organization write consent.
func (s *Server) importKickoff(w http.ResponseWriter, rq *request) {
	if !respondAsync(rq.r) {
		writeProblem(w, failf(http.StatusBadRequest, "not-supported", ErrNotSupported, "$import is asynchronous: send Prefer: respond-async"))
		return
	}
	if rq.sess.delegated() == nil {
		writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrNoDelegation, "writes are signed by you: ask for a token with a session delegation"))
		return
	}
	ct := rq.r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case ndjson, "application/ndjson", "application/x-ndjson":
	default:
		writeProblem(w, failf(http.StatusUnsupportedMediaType, "not-supported", ErrNotSupported, "Content-Type %q: send the resources as %s, one a line", ct, ndjson))
		return
	}
	body, err := io.ReadAll(io.LimitReader(rq.r.Body, MaxImportBytes+1))
	if err != nil {
		writeProblem(w, failf(http.StatusBadRequest, "structure", ErrBadRequest, "read body: %v", err))
		return
	}
	if len(body) > MaxImportBytes {
		writeProblem(w, failf(http.StatusRequestEntityTooLarge, "too-costly", ErrTooLarge, "body larger than %d bytes: split the import", MaxImportBytes))
		return
	}
	var lines []importLine
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), int(s.cfg.MaxResourceBytes)+1)
	n := 0
	for sc.Scan() {
		n++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if len(lines) >= MaxImportResources {
			writeProblem(w, failf(http.StatusRequestEntityTooLarge, "too-costly", ErrTooLarge, "more than %d resources: split the import", MaxImportResources))
			return
		}
		lines = append(lines, importLine{n: n, raw: bytes.Clone(sc.Bytes())})
	}
	if err := sc.Err(); err != nil {
		writeProblem(w, failf(http.StatusRequestEntityTooLarge, "too-costly", ErrTooLarge, "line %d: %v (a resource is at most %d bytes)", n+1, err, s.cfg.MaxResourceBytes))
		return
	}
	clear(body)
	if len(lines) == 0 {
		writeProblem(w, failf(http.StatusBadRequest, "invalid", ErrBadRequest, "the body has no resources"))
		return
	}
	job, ctx, p := s.bulk.start("import", rq.sess.addr, rq.base+"/$import", rq.time, s.cfg.Now())
	if p != nil {
		w.Header().Set("Retry-After", "30")
		writeProblem(w, p)
		return
	}
	jrq := *rq
	jrq.r = rq.r.Clone(ctx)
	go s.runImport(ctx, &jrq, job, lines)
	w.Header().Set("Content-Location", rq.base+"/"+bulkStatusImport+"/"+job.id)
	writeJSONValue(w, http.StatusAccepted, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
		"severity": "information", "code": "informational", "diagnostics": fmt.Sprintf("import of %d resources started: poll the Content-Location URL", len(lines))}}})
}

type importLine struct {
	n       int
	raw     []byte
	typ     string
	srcID   string
	res     map[string]any
	patient crypto.Address
	id      consent.RecordID
	err     *problem
}

func (s *Server) runImport(ctx context.Context, rq *request, job *bulkJob, lines []importLine) {
	total := len(lines)
	job.progress(0, total, "checking")
	lineErr := func(l *importLine, p *problem) { l.err = p }
	// Pass 1: parse, and find each Patient's medchain patient.
	patientOfSrc := map[string]crypto.Address{}
	for i := range lines {
		l := &lines[i]
		r, err := fhirr4.Parse(l.raw)
		if err != nil {
			lineErr(l, invalidResource(err, ""))
			continue
		}
		l.typ = r.Type
		if !storable(l.typ) {
			lineErr(l, notStorable(l.typ))
			continue
		}
		m, err := decodeJSON(l.raw)
		if err != nil {
			lineErr(l, failf(http.StatusBadRequest, "structure", ErrInvalid, "%v", err))
			continue
		}
		l.res, l.srcID = m, str(m["id"])
		if l.srcID == "" {
			sum := sha256.Sum256(l.raw)
			l.srcID = "sha256:" + hex.EncodeToString(sum[:])
		}
		if l.typ == "Patient" {
			// An address identifier, or (with the link key) a linked one.
			a, p := patientOf(rq, "Patient", m, nil, crypto.Address{})
			if p != nil {
				lineErr(l, p)
				continue
			}
			l.patient = a
			patientOfSrc["Patient/"+l.srcID] = a
		}
	}
	// Pass 2: every other resource's patient; then the ids, and the map
	// of references within the file.
	refs := map[string]string{}
	for i := range lines {
		l := &lines[i]
		if l.err != nil || l.res == nil {
			continue
		}
		if l.typ != "Patient" {
			ref, ok := subjectRef(l.typ, l.res)
			switch {
			case !ok || ref == "":
				lineErr(l, unprocessable("%s/%s has no subject or patient reference: an import names each resource's patient", l.typ, l.srcID))
				continue
			case patientOfSrc[ref] != crypto.Address{}:
				l.patient = patientOfSrc[ref]
			default:
				a, p := resolvePatientRef(rq, ref, nil)
				if p != nil {
					lineErr(l, unprocessable("%s/%s: patient reference %q is neither a Patient of this file nor a medchain patient", l.typ, l.srcID, ref))
					continue
				}
				l.patient = a
			}
		}
		l.id = s.importID(l.patient, l.typ, l.srcID)
		refs[l.typ+"/"+l.srcID] = l.typ + "/" + idString(l.id)
	}
	// Pass 3: write what is not there yet, in batches.
	created, present, failed := 0, 0, 0
	var issues []any
	report := func(l *importLine, p *problem) {
		failed++
		_, _, msg := sm.ABCIInfo(p.err)
		diag := p.err.Error()
		if len(p.issues) > 0 {
			diag = p.issues[0].String()
		}
		if len(issues) < 1000 {
			issues = append(issues, map[string]any{"severity": "error", "code": p.code,
				"details":     map[string]any{"coding": []any{map[string]any{"system": ErrorSystem, "code": codeOf(p.err)}}, "text": msg},
				"diagnostics": fmt.Sprintf("line %d: %s", l.n, diag), "expression": []any{fmt.Sprintf("line %d", l.n)}})
		}
	}
	var batch []*importLine
	done := 0
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		defer func() { batch = batch[:0] }()
		// The batch's records are locked until their transactions commit:
		// an import of the same file sent again while this one is still
		// waiting for its block (after a DELETE) waits, then skips them.
		ids := make([]consent.RecordID, len(batch))
		for i, l := range batch {
			ids[i] = l.id
		}
		release, lp := s.lockRecords(ids)
		for lp != nil {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(100 * time.Millisecond):
			}
			release, lp = s.lockRecords(ids)
		}
		defer release()
		snap, bt, err := s.cfg.Chain.Latest()
		if err != nil {
			for _, l := range batch {
				report(l, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "%v", err))
			}
			return false
		}
		brq := *rq
		brq.snap, brq.time, brq.now = snap, bt, bt.Unix()
		var drafts []*draft
		byDraft := map[*draft]*importLine{}
		for _, l := range batch {
			if rec := records.GetRecord(snap, l.id); rec != nil {
				present++
				continue
			}
			rewriteRefs(l.res, refs)
			d := &draft{entry: -1, prefix: fmt.Sprintf("line %d", l.n), typ: l.typ, id: l.id, version: 1, patient: l.patient, res: l.res}
			if p := checkWrite(&brq, d, permCreate); p != nil {
				report(l, p)
				continue
			}
			if p := finish(d); p != nil {
				report(l, p)
				continue
			}
			if p := s.seal(ctx, &brq, d); p != nil {
				report(l, p)
				continue
			}
			drafts = append(drafts, d)
			byDraft[d] = l
		}
		defer func() {
			for _, d := range drafts {
				clear(d.dk[:])
			}
		}()
		if len(drafts) == 0 {
			return true
		}
		failedDrafts, p := s.simulate(&brq, drafts, s.cfg.MinFee(snap), true)
		if p != nil {
			for _, d := range drafts {
				report(byDraft[d], p)
			}
			return false
		}
		var ok []*draft
		for _, d := range drafts {
			if fp := failedDrafts[d]; fp != nil {
				report(byDraft[d], fp)
			} else {
				ok = append(ok, d)
			}
		}
		if len(ok) == 0 {
			return true
		}
		msgs := make([]sm.Msg, len(ok))
		for i, d := range ok {
			msgs[i] = d.msg
		}
		// Not the job's context: once submitted, a batch is awaited even if
		// the job is cancelled, so that its records stay locked until they
		// are on chain.
		wctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommitWait)
		defer cancel()
		committed, _, sp := s.submit(wctx, &brq, msgs)
		for i, d := range ok {
			switch {
			case i < len(committed) && committed[i].Code == 0:
				created++
			case i < len(committed):
				report(byDraft[d], chainProblem(outcomeErr(committed[i]), ""))
			case sp != nil:
				report(byDraft[d], sp)
			default:
				report(byDraft[d], failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "not committed"))
			}
		}
		return sp == nil || sp.status < 500
	}
	for i := range lines {
		if ctx.Err() != nil {
			return
		}
		l := &lines[i]
		if l.err != nil {
			report(l, l.err)
			done++
			continue
		}
		batch = append(batch, l)
		if len(batch) == importBatch {
			n := len(batch)
			if !flush() {
				break
			}
			done += n
			job.progress(done, total, "writing")
		}
	}
	if ctx.Err() == nil && len(batch) > 0 {
		n := len(batch)
		flush()
		done += n
	}
	if ctx.Err() != nil {
		return
	}
	for i := range lines {
		clear(lines[i].raw)
	}
	summary := fmt.Sprintf("%d resources: %d created, %d already imported, %d failed", total, created, present, failed)
	sev := "information"
	if failed > 0 {
		sev = "warning"
	}
	out := map[string]any{"resourceType": "OperationOutcome", "issue": append([]any{map[string]any{
		"severity": sev, "code": "informational", "diagnostics": summary}}, issues...)}
	job.mu.Lock()
	job.state, job.outcome, job.done, job.finished = bulkComplete, out, total, s.cfg.Now()
	job.mu.Unlock()
}
