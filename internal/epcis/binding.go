package epcis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medchain/medchain/gs1"
)

// The EPCIS 2.0 REST binding (EPCIS 2.0 §12, its OpenAPI document): capture
// of EPCISDocuments as asynchronous jobs and the events query, mounted
// under /epcis:
//
//	POST    /epcis/capture              202 + Location: /epcis/capture/{captureID}
//	OPTIONS /epcis/capture              the capture limits (GS1-EPCIS-Capture-Limit, …)
//	GET     /epcis/capture/{captureID}  the capture job: running, success, errors per event
//	GET     /epcis/events               EPCISQueryDocument; SimpleEventQuery parameters; paging
//
// Errors are RFC 7807 problem documents (application/problem+json) whose
// type is the EPCIS exception ("epcisException:ValidationException", …).

// Caller is whoever the node's authentication says sent a request (for
// medchain: the account address the gateway acts for). Opaque here.
type Caller string

// Backend is what the binding needs from the node; x/supply's glue
// implements it over the chain.
type Backend interface {
	// Capture starts a capture job for events (parsed and syntactically
	// valid; each carries its hash) and returns its ID. behaviour is
	// "rollback" (all or nothing) or "proceed" (each event on its own).
	Capture(ctx context.Context, caller Caller, events []Event, behaviour string) (captureID string, err error)
	// Job returns the capture job; ErrNoSuchCapture if there is none the
	// caller may see.
	Job(ctx context.Context, caller Caller, captureID string) (CaptureJob, error)
	// Query returns up to q.PerPage events matching q (see Query.Matches)
	// in a stable order, starting after q.PageToken, and the token of the
	// next page ("" on the last page). ErrBadPageToken for a token it did
	// not issue.
	Query(ctx context.Context, caller Caller, q Query) (events []StoredEvent, next string, err error)
}

// Backend errors the binding maps to EPCIS exceptions.
var (
	ErrNoSuchCapture = errors.New("no such capture job")
	ErrBadPageToken  = errors.New("unknown or expired nextPageToken")
	ErrForbidden     = errors.New("not allowed")
)

// CaptureJob is the capture-job resource.
type CaptureJob struct {
	ID         string
	CreatedAt  time.Time
	FinishedAt time.Time // zero while running
	Running    bool
	Success    bool
	Behaviour  string // rollback or proceed
	Errors     []EventError
}

// EventError is the fate of one refused event of a job.
type EventError struct {
	Index   int    // position in the captured document
	EventID string // as given, may be empty
	Hash    string // the event's CBV 2.0 hash
	Code    string // stable refusal code, e.g. "supply/7"
	Message string
}

// StoredEvent is a captured event as a query returns it.
type StoredEvent struct {
	JSON       []byte    // Event.JSON
	RecordTime time.Time // when the chain committed it (block time)
}

// Query is a SimpleEventQuery. Identifier lists hold ID.Key forms;
// locations hold gs1 SGLN element strings "(414)…[(254)…]"; bizSteps and
// dispositions bare CBV names. Empty lists and nil times do not restrict.
type Query struct {
	EventTypes   []string
	MatchEPC     []string // epcList and childEPCs
	MatchParent  []string // parentID
	MatchAnyEPC  []string // epcList, childEPCs or parentID
	MatchClass   []string // quantityList/childQuantityList epcClass
	BizSteps     []string
	Dispositions []string
	Actions      []string
	ReadPoints   []string // SGLN element strings, or other read point URIs as written
	BizLocations []string
	GEEventTime  *time.Time
	LTEventTime  *time.Time
	GERecordTime *time.Time
	LTRecordTime *time.Time
	PerPage      int
	PageToken    string
}

// Matches reports whether an event, committed at recordTime, satisfies q.
// An identifier pattern that is a bare GTIN key "(01)…" matches every
// serial and lot of that GTIN (MATCH_epc with urn:epc:idpat:sgtin:…*).
func (q Query) Matches(e Event, recordTime time.Time) bool {
	in := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	anyKey := func(patterns []string, ids []ID) bool {
		for _, p := range patterns {
			for _, id := range ids {
				if MatchKey(p, id.Key()) {
					return true
				}
			}
		}
		return false
	}
	loc := func(l *gs1.SGLN) string {
		if l == nil {
			return ""
		}
		return l.String()
	}
	var parent []ID
	if e.ParentID != nil {
		parent = []ID{*e.ParentID}
	}
	var classes []ID
	for _, qt := range e.Quantities {
		classes = append(classes, qt.Class)
	}
	switch {
	case !in(q.EventTypes, e.Type), !in(q.BizSteps, e.BizStep), !in(q.Dispositions, e.Disposition),
		!in(q.Actions, e.Action), !in(q.BizLocations, loc(e.BizLocation)),
		!in(q.ReadPoints, loc(e.ReadPoint)) && !in(q.ReadPoints, e.ReadPointID):
		return false
	case len(q.MatchEPC) > 0 && !anyKey(q.MatchEPC, e.EPCs),
		len(q.MatchParent) > 0 && !anyKey(q.MatchParent, parent),
		len(q.MatchAnyEPC) > 0 && !anyKey(q.MatchAnyEPC, append(append([]ID{}, e.EPCs...), parent...)),
		len(q.MatchClass) > 0 && !anyKey(q.MatchClass, classes):
		return false
	case q.GEEventTime != nil && e.EventTime.Before(*q.GEEventTime),
		q.LTEventTime != nil && !e.EventTime.Before(*q.LTEventTime),
		q.GERecordTime != nil && recordTime.Before(*q.GERecordTime),
		q.LTRecordTime != nil && !recordTime.Before(*q.LTRecordTime):
		return false
	}
	return true
}

// MatchKey reports whether identifier key matches pattern: equal, or the
// pattern is a GTIN key and key is an instance or lot of that GTIN.
func MatchKey(pattern, key string) bool {
	if pattern == key {
		return true
	}
	return IsKeyPattern(pattern) && (strings.HasPrefix(key, pattern+"(21)") || strings.HasPrefix(key, pattern+"(10)"))
}

// IsKeyPattern reports whether a query identifier is a pattern (a bare
// GTIN key "(01)…", from urn:epc:idpat:sgtin:…*) rather than one key.
func IsKeyPattern(k string) bool { return len(k) == 18 && strings.HasPrefix(k, "(01)") }

// Options configure the handler.
type Options struct {
	// Authenticate names the caller of a request, or fails (401).
	Authenticate func(r *http.Request) (Caller, error)
	// Now gives the creationDate of query documents (time.Now if nil).
	Now func() time.Time
	// MaxBodyBytes limits a capture document (default 8 MiB).
	MaxBodyBytes int64
	// MaxEvents limits the events of one capture (default 10,000).
	MaxEvents int
}

// Handler serves the binding.
type Handler struct {
	b    Backend
	opts Options
	mux  *http.ServeMux
}

// Version headers (EPCIS 2.0 §12.2).
const (
	EPCISVersion = "2.0.0"
	CBVVersion   = "2.0.0"
	// ContextURL is the EPCIS 2.0 JSON-LD context.
	ContextURL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
)

// NewHandler builds the binding's handler over b.
func NewHandler(b Backend, opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	if opts.MaxEvents <= 0 || opts.MaxEvents > MaxEvents {
		opts.MaxEvents = MaxEvents
	}
	h := &Handler{b: b, opts: opts, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /epcis/capture", h.capture)
	h.mux.HandleFunc("OPTIONS /epcis/capture", h.captureOptions)
	h.mux.HandleFunc("GET /epcis/capture/{captureID}", h.job)
	h.mux.HandleFunc("GET /epcis/events", h.events)
	return h
}

// Routes lists the binding's routes ("METHOD /path"), for the node's
// OpenAPI check.
func Routes() []string {
	return []string{
		"POST /epcis/capture", "OPTIONS /epcis/capture",
		"GET /epcis/capture/{captureID}", "GET /epcis/events",
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("GS1-EPCIS-Version", EPCISVersion)
	w.Header().Set("GS1-CBV-Version", CBVVersion)
	if v := r.Header.Get("GS1-EPCIS-Version"); v != "" && !strings.HasPrefix(v, "2.0") {
		problem(w, http.StatusNotAcceptable, "ImplementationException", "GS1-EPCIS-Version "+v+" is not served; this binding speaks "+EPCISVersion)
		return
	}
	if v := r.Header.Get("GS1-CBV-Version"); v != "" && !strings.HasPrefix(v, "2.0") {
		problem(w, http.StatusNotAcceptable, "ImplementationException", "GS1-CBV-Version "+v+" is not served; this binding speaks "+CBVVersion)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// problem writes an RFC 7807 problem document for an EPCIS exception.
func problem(w http.ResponseWriter, status int, exception, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail,omitempty"`
	}{"epcisException:" + exception, http.StatusText(status), status, detail})
	w.Write(append(b, '\n'))
}

func (h *Handler) caller(w http.ResponseWriter, r *http.Request) (Caller, bool) {
	if h.opts.Authenticate == nil {
		problem(w, http.StatusUnauthorized, "SecurityException", "no authentication configured")
		return "", false
	}
	c, err := h.opts.Authenticate(r)
	if err != nil {
		problem(w, http.StatusUnauthorized, "SecurityException", err.Error())
		return "", false
	}
	return c, true
}

func (h *Handler) backendError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNoSuchCapture):
		problem(w, http.StatusNotFound, "NoSuchResourceException", err.Error())
	case errors.Is(err, ErrBadPageToken):
		problem(w, http.StatusBadRequest, "QueryParameterException", err.Error())
	case errors.Is(err, ErrForbidden):
		problem(w, http.StatusForbidden, "SecurityException", err.Error())
	default:
		problem(w, http.StatusInternalServerError, "ImplementationException", "the node could not serve the request")
	}
}

func (h *Handler) captureOptions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "OPTIONS, POST")
	w.Header().Set("GS1-EPCIS-Capture-Limit", strconv.Itoa(h.opts.MaxEvents))
	w.Header().Set("GS1-EPCIS-Capture-File-Size-Limit", strconv.FormatInt(h.opts.MaxBodyBytes, 10))
	w.Header().Set("GS1-Capture-Error-Behaviour", "rollback, proceed")
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) capture(w http.ResponseWriter, r *http.Request) {
	caller, ok := h.caller(w, r)
	if !ok {
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/ld+json") {
		problem(w, http.StatusUnsupportedMediaType, "ValidationException", "send the EPCISDocument as application/json or application/ld+json")
		return
	}
	behaviour := strings.ToLower(r.Header.Get("GS1-Capture-Error-Behaviour"))
	switch behaviour {
	case "":
		behaviour = "rollback"
	case "rollback", "proceed":
	default:
		problem(w, http.StatusBadRequest, "ValidationException", "GS1-Capture-Error-Behaviour must be rollback or proceed")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem(w, http.StatusRequestEntityTooLarge, "CaptureLimitExceededException",
				fmt.Sprintf("the document exceeds %d bytes (GS1-EPCIS-Capture-File-Size-Limit)", h.opts.MaxBodyBytes))
			return
		}
		problem(w, http.StatusBadRequest, "ValidationException", "could not read the document")
		return
	}
	events, err := Parse(body)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			problem(w, http.StatusRequestEntityTooLarge, "CaptureLimitExceededException", err.Error())
			return
		}
		problem(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	if len(events) > h.opts.MaxEvents {
		problem(w, http.StatusRequestEntityTooLarge, "CaptureLimitExceededException",
			fmt.Sprintf("%d events; at most %d in one capture (GS1-EPCIS-Capture-Limit)", len(events), h.opts.MaxEvents))
		return
	}
	id, err := h.b.Capture(r.Context(), caller, events, behaviour)
	if err != nil {
		h.backendError(w, err)
		return
	}
	w.Header().Set("Location", "/epcis/capture/"+url.PathEscape(id))
	w.WriteHeader(http.StatusAccepted)
}

func (h *Handler) job(w http.ResponseWriter, r *http.Request) {
	caller, ok := h.caller(w, r)
	if !ok {
		return
	}
	j, err := h.b.Job(r.Context(), caller, r.PathValue("captureID"))
	if err != nil {
		h.backendError(w, err)
		return
	}
	type jobError struct {
		Type     string `json:"type"`
		Title    string `json:"title"`
		Status   int    `json:"status"`
		Detail   string `json:"detail,omitempty"`
		Instance string `json:"instance,omitempty"`
		Index    int    `json:"eventIndex"`
		EventID  string `json:"eventID,omitempty"`
		Hash     string `json:"eventHash,omitempty"`
		Code     string `json:"code,omitempty"`
	}
	out := struct {
		ID         string     `json:"captureID"`
		CreatedAt  string     `json:"createdAt"`
		FinishedAt string     `json:"finishedAt,omitempty"`
		Running    bool       `json:"running"`
		Success    bool       `json:"success"`
		Behaviour  string     `json:"captureErrorBehaviour"`
		Errors     []jobError `json:"errors"`
	}{ID: j.ID, CreatedAt: stamp(j.CreatedAt), Running: j.Running, Success: j.Success, Behaviour: j.Behaviour, Errors: []jobError{}}
	if !j.FinishedAt.IsZero() {
		out.FinishedAt = stamp(j.FinishedAt)
	}
	for _, e := range j.Errors {
		out.Errors = append(out.Errors, jobError{
			Type: "epcisException:ValidationException", Title: "event refused", Status: http.StatusBadRequest,
			Detail: e.Message, Index: e.Index, EventID: e.EventID, Hash: e.Hash, Code: e.Code,
		})
	}
	writeJSON(w, http.StatusOK, "application/json", out)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func writeJSON(w http.ResponseWriter, status int, ctype string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		problem(w, http.StatusInternalServerError, "ImplementationException", "could not encode the answer")
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// Paging limits.
const (
	DefaultPerPage = 30
	MaxPerPage     = 1000
)

// ParseQuery reads the SimpleEventQuery parameters of GET /epcis/events.
// Lists are "|"-separated (as the binding writes them) or repeated.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{PerPage: DefaultPerPage}
	list := func(k string) []string {
		var out []string
		for _, s := range v[k] {
			for _, p := range strings.Split(s, "|") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	when := func(k string) (*time.Time, error) {
		s := v.Get(k)
		if s == "" {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a date-time with offset", k, s)
		}
		return &t, nil
	}
	for k := range v {
		switch k {
		case "eventType", "MATCH_epc", "MATCH_parentID", "MATCH_anyEPC", "MATCH_epcClass", "EQ_bizStep",
			"EQ_disposition", "EQ_action", "EQ_readPoint", "EQ_bizLocation", "GE_eventTime", "LT_eventTime",
			"GE_recordTime", "LT_recordTime", "perPage", "nextPageToken":
		default:
			return Query{}, fmt.Errorf("query parameter %q is not supported", k)
		}
	}
	for _, t := range list("eventType") {
		switch t {
		case ObjectEvent, AggregationEvent, TransactionEvent:
		case "TransformationEvent", "AssociationEvent":
			// Never captured here; a query for them matches nothing.
		default:
			return Query{}, fmt.Errorf("eventType %q is not an EPCIS event type", t)
		}
		q.EventTypes = append(q.EventTypes, t)
	}
	ids := func(k string, class bool) ([]string, error) {
		var out []string
		for _, s := range list(k) {
			var id ID
			var err error
			if class || idpatSGTIN.MatchString(s) {
				id, err = parseClass(k, s)
			} else {
				id, err = parseInstance(k, &jv{kind: 's', str: s})
			}
			if err != nil {
				return nil, err
			}
			out = append(out, id.Key())
		}
		return out, nil
	}
	var err error
	if q.MatchEPC, err = ids("MATCH_epc", false); err != nil {
		return Query{}, err
	}
	if q.MatchParent, err = ids("MATCH_parentID", false); err != nil {
		return Query{}, err
	}
	if q.MatchAnyEPC, err = ids("MATCH_anyEPC", false); err != nil {
		return Query{}, err
	}
	if q.MatchClass, err = ids("MATCH_epcClass", true); err != nil {
		return Query{}, err
	}
	for _, s := range list("EQ_bizStep") {
		n, err := cbvValue("EQ_bizStep", s, &jv{kind: 's', str: s}, cbvBizSteps, "BizStep-", "urn:epcglobal:cbv:bizstep:")
		if err != nil {
			return Query{}, err
		}
		q.BizSteps = append(q.BizSteps, n)
	}
	for _, s := range list("EQ_disposition") {
		n, err := cbvValue("EQ_disposition", s, &jv{kind: 's', str: s}, cbvDispositions, "Disp-", "urn:epcglobal:cbv:disp:")
		if err != nil {
			return Query{}, err
		}
		q.Dispositions = append(q.Dispositions, n)
	}
	for _, a := range list("EQ_action") {
		if a != ActionAdd && a != ActionObserve && a != ActionDelete {
			return Query{}, fmt.Errorf("EQ_action %q: want ADD, OBSERVE or DELETE", a)
		}
		q.Actions = append(q.Actions, a)
	}
	locs := func(k string) ([]string, error) {
		var out []string
		for _, s := range list(k) {
			if k == "EQ_readPoint" && !isGS1Location(s) {
				out = append(out, s) // a geo: or private read point, compared as written
				continue
			}
			l, err := parseLocation(k, &jv{kind: 'o', keys: []string{"id"}, vals: []*jv{{kind: 's', str: s}}})
			if err != nil {
				return nil, err
			}
			out = append(out, l.String())
		}
		return out, nil
	}
	if q.ReadPoints, err = locs("EQ_readPoint"); err != nil {
		return Query{}, err
	}
	if q.BizLocations, err = locs("EQ_bizLocation"); err != nil {
		return Query{}, err
	}
	for _, p := range []struct {
		k   string
		dst **time.Time
	}{{"GE_eventTime", &q.GEEventTime}, {"LT_eventTime", &q.LTEventTime}, {"GE_recordTime", &q.GERecordTime}, {"LT_recordTime", &q.LTRecordTime}} {
		if *p.dst, err = when(p.k); err != nil {
			return Query{}, err
		}
	}
	if s := v.Get("perPage"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPerPage {
			return Query{}, fmt.Errorf("perPage %q: want 1 to %d", s, MaxPerPage)
		}
		q.PerPage = n
	}
	q.PageToken = v.Get("nextPageToken")
	if len(q.PageToken) > 512 {
		return Query{}, errors.New("nextPageToken too long")
	}
	return q, nil
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	caller, ok := h.caller(w, r)
	if !ok {
		return
	}
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		problem(w, http.StatusBadRequest, "QueryParameterException", err.Error())
		return
	}
	evs, next, err := h.b.Query(r.Context(), caller, q)
	if err != nil {
		h.backendError(w, err)
		return
	}
	list := make([]json.RawMessage, 0, len(evs))
	for _, e := range evs {
		raw, err := withRecordTime(e)
		if err != nil {
			problem(w, http.StatusInternalServerError, "ImplementationException", "a stored event could not be read")
			return
		}
		list = append(list, raw)
	}
	if next != "" {
		nv := r.URL.Query()
		nv.Set("nextPageToken", next)
		w.Header().Set("Link", "</epcis/events?"+nv.Encode()+`>; rel="next"`)
	}
	type results struct {
		EventList []json.RawMessage `json:"eventList"`
	}
	type queryResults struct {
		QueryName   string  `json:"queryName"`
		ResultsBody results `json:"resultsBody"`
	}
	type body struct {
		QueryResults queryResults `json:"queryResults"`
	}
	doc := struct {
		Context       []string `json:"@context"`
		Type          string   `json:"type"`
		SchemaVersion string   `json:"schemaVersion"`
		CreationDate  string   `json:"creationDate"`
		Body          body     `json:"epcisBody"`
	}{[]string{ContextURL}, "EPCISQueryDocument", "2.0", stamp(h.opts.Now()),
		body{queryResults{"SimpleEventQuery", results{list}}}}
	ctype := "application/json"
	if strings.Contains(r.Header.Get("Accept"), "application/ld+json") {
		ctype = "application/ld+json"
	}
	writeJSON(w, http.StatusOK, ctype, doc)
}

// withRecordTime adds recordTime to a stored event's JSON.
func withRecordTime(e StoredEvent) (json.RawMessage, error) {
	v, err := decodeTree(e.JSON)
	if err != nil || v.kind != 'o' {
		return nil, fmt.Errorf("stored event: %v", err)
	}
	out := &jv{kind: 'o'}
	for i, k := range v.keys {
		if k == "recordTime" {
			continue
		}
		out.keys = append(out.keys, k)
		out.vals = append(out.vals, v.vals[i])
		if k == "eventTimeZoneOffset" && !e.RecordTime.IsZero() {
			out.keys = append(out.keys, "recordTime")
			out.vals = append(out.vals, &jv{kind: 's', str: stamp(e.RecordTime)})
		}
	}
	var b bytes.Buffer
	out.marshal(&b)
	return b.Bytes(), nil
}
