package epcis

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files of the binding tests")

// fakeBackend keeps captured events in memory. Each capture is one job
// that finishes at once; an event whose bizStep is "destroying" is
// refused, to show per-event errors. Record times tick by a second from
// a fixed start.
type fakeBackend struct {
	jobs   map[string]CaptureJob
	owner  map[string]Caller
	events []Event
	times  []time.Time
	clock  time.Time
}

func newFake() *fakeBackend {
	return &fakeBackend{jobs: map[string]CaptureJob{}, owner: map[string]Caller{}, clock: time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeBackend) Capture(_ context.Context, c Caller, evs []Event, behaviour string) (string, error) {
	id := "job-" + strconv.Itoa(len(f.jobs)+1)
	j := CaptureJob{ID: id, CreatedAt: f.clock, FinishedAt: f.clock.Add(2 * time.Second), Success: true, Behaviour: behaviour}
	for i, e := range evs {
		if e.BizStep == "destroying" {
			j.Success = false
			j.Errors = append(j.Errors, EventError{Index: i, EventID: e.EventID, Hash: e.Hash, Code: "supply/9", Message: "only the custodian destroys"})
		}
	}
	if j.Success || behaviour == "proceed" {
		for _, e := range evs {
			if e.BizStep == "destroying" {
				continue
			}
			f.clock = f.clock.Add(time.Second)
			f.events = append(f.events, e)
			f.times = append(f.times, f.clock)
		}
	}
	f.jobs[id], f.owner[id] = j, c
	return id, nil
}

func (f *fakeBackend) Job(_ context.Context, c Caller, id string) (CaptureJob, error) {
	j, ok := f.jobs[id]
	if !ok || f.owner[id] != c {
		return CaptureJob{}, ErrNoSuchCapture
	}
	return j, nil
}

func (f *fakeBackend) Query(_ context.Context, _ Caller, q Query) ([]StoredEvent, string, error) {
	start := 0
	if q.PageToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(q.PageToken, "p"))
		if err != nil || !strings.HasPrefix(q.PageToken, "p") {
			return nil, "", ErrBadPageToken
		}
		start = n
	}
	var out []StoredEvent
	for i := start; i < len(f.events); i++ {
		if !q.Matches(f.events[i], f.times[i]) {
			continue
		}
		if len(out) == q.PerPage {
			return out, "p" + strconv.Itoa(i), nil
		}
		out = append(out, StoredEvent{JSON: f.events[i].JSON, RecordTime: f.times[i]})
	}
	return out, "", nil
}

func testHandler(f *fakeBackend) *Handler {
	return NewHandler(f, Options{
		Authenticate: func(r *http.Request) (Caller, error) {
			if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
				return Caller(strings.TrimPrefix(a, "Bearer ")), nil
			}
			return "", errors.New("no credentials")
		},
		Now:          func() time.Time { return time.Date(2026, 3, 7, 8, 0, 0, 0, time.UTC) },
		MaxBodyBytes: 64 << 10,
		MaxEvents:    20,
	})
}

type exchange struct {
	method, path, body, ctype, who string
	header                         map[string]string
}

func (x exchange) do(h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(x.method, x.path, strings.NewReader(x.body))
	if x.ctype != "" {
		r.Header.Set("Content-Type", x.ctype)
	}
	if x.who != "" {
		r.Header.Set("Authorization", "Bearer "+x.who)
	}
	for k, v := range x.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// golden compares (or with -rewrite writes) a response transcript.
func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := "testdata/binding/" + name
	if *rewrite {
		os.MkdirAll("testdata/binding", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite)", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs:\n%s\nwant:\n%s", name, got, want)
	}
}

func transcript(w *httptest.ResponseRecorder) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", w.Code)
	for _, k := range []string{"Content-Type", "Location", "Link", "GS1-EPCIS-Version", "GS1-CBV-Version", "GS1-EPCIS-Capture-Limit", "GS1-EPCIS-Capture-File-Size-Limit"} {
		if v := w.Header().Get(k); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n" + w.Body.String())
	return b.String()
}

// TestBindingScenario captures the three scenario documents as their
// senders, reads the capture jobs, and queries the events.
func TestBindingScenario(t *testing.T) {
	f := newFake()
	h := testHandler(f)
	for i, who := range []string{"manufacturer", "distributor", "pharmacy"} {
		w := exchange{method: "POST", path: "/epcis/capture", body: string(readFixture(t, who+".json")), ctype: "application/ld+json", who: who}.do(h)
		if w.Code != http.StatusAccepted || w.Header().Get("Location") != "/epcis/capture/job-"+strconv.Itoa(i+1) {
			t.Fatalf("%s capture: %d %s %s", who, w.Code, w.Header().Get("Location"), w.Body)
		}
		if w.Header().Get("GS1-EPCIS-Version") != "2.0.0" || w.Header().Get("GS1-CBV-Version") != "2.0.0" {
			t.Fatalf("version headers %v", w.Header())
		}
	}
	golden(t, "job.txt", transcript(exchange{method: "GET", path: "/epcis/capture/job-1", who: "manufacturer"}.do(h)))
	if w := (exchange{method: "GET", path: "/epcis/capture/job-1", who: "pharmacy"}).do(h); w.Code != http.StatusNotFound {
		t.Fatalf("another caller's job: %d", w.Code)
	}
	queries := []struct{ name, path string }{
		{"query_unit.txt", "/epcis/events?MATCH_epc=urn:epc:id:sgtin:0614141.012345.S1001"},
		{"query_anyepc_dl.txt", "/epcis/events?MATCH_anyEPC=https://id.gs1.org/00/006141410000000012&EQ_bizStep=shipping|receiving"},
		{"query_page1.txt", "/epcis/events?eventType=ObjectEvent&perPage=2&GE_eventTime=2026-03-01T00:00:00Z&LT_eventTime=2026-03-05T00:00:00Z"},
		{"query_page2.txt", "/epcis/events?eventType=ObjectEvent&perPage=2&GE_eventTime=2026-03-01T00:00:00Z&LT_eventTime=2026-03-05T00:00:00Z&nextPageToken=p4"},
		{"query_location.txt", "/epcis/events?EQ_bizLocation=urn:epc:id:sgln:0098765.00020.0&EQ_disposition=https://ref.gs1.org/cbv/Disp-dispensed&EQ_action=OBSERVE"},
		{"query_recordtime.txt", "/epcis/events?GE_recordTime=2026-03-06T12:00:09Z&LT_recordTime=2026-03-06T12:00:10Z&EQ_readPoint=urn:epc:id:sgln:0098765.00020.0"},
		{"query_bad_param.txt", "/epcis/events?EQ_colour=red"},
		{"query_bad_epc.txt", "/epcis/events?MATCH_epc=urn:epc:id:sgtin:0614141.012345"},
		{"query_bad_token.txt", "/epcis/events?nextPageToken=zzz"},
	}
	for _, q := range queries {
		golden(t, q.name, transcript(exchange{method: "GET", path: q.path, who: "regulator"}.do(h)))
	}
	// The first page links to the second.
	w := exchange{method: "GET", path: queries[2].path, who: "regulator"}.do(h)
	if !strings.Contains(w.Header().Get("Link"), "nextPageToken=p4") {
		t.Fatalf("Link %q", w.Header().Get("Link"))
	}
}

func TestBindingCaptureRefusals(t *testing.T) {
	doc := string(readFixture(t, "manufacturer.json"))
	tests := []struct {
		name     string
		x        exchange
		status   int
		contains string
	}{
		{"no credentials", exchange{method: "POST", path: "/epcis/capture", body: doc, ctype: "application/json"}, 401, "SecurityException"},
		{"wrong media type", exchange{method: "POST", path: "/epcis/capture", body: doc, ctype: "application/xml", who: "m"}, 415, "ValidationException"},
		{"bad document", exchange{method: "POST", path: "/epcis/capture", body: strings.Replace(doc, `"commissioning"`, `"teleporting"`, 1), ctype: "application/json", who: "m"}, 400, `bizStep: \"teleporting\" is not a CBV 2.0 bizStep`},
		{"transformation event", exchange{method: "POST", path: "/epcis/capture", body: strings.Replace(doc, `"AggregationEvent"`, `"TransformationEvent"`, 1), ctype: "application/json", who: "m"}, 400, "TransformationEvent is not accepted"},
		{"too large", exchange{method: "POST", path: "/epcis/capture", body: doc + strings.Repeat(" ", 64<<10), ctype: "application/json", who: "m"}, 413, "CaptureLimitExceededException"},
		{"too many events", exchange{method: "POST", path: "/epcis/capture", body: manyEvents(21), ctype: "application/json", who: "m"}, 413, "at most 20"},
		{"bad error behaviour", exchange{method: "POST", path: "/epcis/capture", body: doc, ctype: "application/json", who: "m", header: map[string]string{"GS1-Capture-Error-Behaviour": "ignore"}}, 400, "rollback or proceed"},
		{"EPCIS 1.2 asked", exchange{method: "POST", path: "/epcis/capture", body: doc, ctype: "application/json", who: "m", header: map[string]string{"GS1-EPCIS-Version": "1.2"}}, 406, "not served"},
		{"unknown job", exchange{method: "GET", path: "/epcis/capture/nope", who: "m"}, 404, "NoSuchResourceException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			w := tt.x.do(testHandler(f))
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.contains) {
				t.Fatalf("%d %s, want %d with %q", w.Code, w.Body, tt.status, tt.contains)
			}
			if w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("content type %q", w.Header().Get("Content-Type"))
			}
			if len(f.events) != 0 || len(f.jobs) != 0 {
				t.Fatal("a refused capture reached the backend")
			}
		})
	}
}

// TestBindingJobErrors shows a job's per-event errors (proceed mode).
func TestBindingJobErrors(t *testing.T) {
	f := newFake()
	h := testHandler(f)
	doc := strings.Replace(string(readFixture(t, "pharmacy.json")), `"dispensing"`, `"destroying"`, 1)
	w := exchange{method: "POST", path: "/epcis/capture", body: doc, ctype: "application/json", who: "pharmacy", header: map[string]string{"GS1-Capture-Error-Behaviour": "proceed"}}.do(h)
	if w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	golden(t, "job_errors.txt", transcript(exchange{method: "GET", path: "/epcis/capture/job-1", who: "pharmacy"}.do(h)))
	if len(f.events) != 2 {
		t.Fatalf("proceed kept %d events, want 2", len(f.events))
	}
	o := exchange{method: "OPTIONS", path: "/epcis/capture", who: "pharmacy"}.do(h)
	if o.Code != http.StatusNoContent || o.Header().Get("GS1-EPCIS-Capture-Limit") != "20" || o.Header().Get("GS1-EPCIS-Capture-File-Size-Limit") != "65536" {
		t.Fatalf("OPTIONS: %d %v", o.Code, o.Header())
	}
}

func manyEvents(n int) string {
	ev := `{"type":"ObjectEvent","eventTime":"2026-03-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":["urn:epc:id:sgtin:0614141.012345.S%d"]}`
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, fmt.Sprintf(ev, i))
	}
	return `{"type":"EPCISDocument","schemaVersion":"2.0","epcisBody":{"eventList":[` + strings.Join(parts, ",") + `]}}`
}

func TestQueryMatches(t *testing.T) {
	evs, err := Parse(readFixture(t, "pharmacy.json"))
	if err != nil {
		t.Fatal(err)
	}
	dispense := evs[2]
	geo := dispense
	geo.ReadPoint, geo.ReadPointID = nil, "geo:47.5,11.1"
	rec := time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC)
	q := func(params string) Query {
		v, _ := urlValues(params)
		q, err := ParseQuery(v)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	tests := []struct {
		name   string
		params string
		e      Event
		want   bool
	}{
		{"GTIN pattern matches a serial", "MATCH_epc=urn:epc:idpat:sgtin:0614141.012345.*", dispense, true},
		{"other GTIN pattern", "MATCH_epc=urn:epc:idpat:sgtin:0614141.012346.*", dispense, false},
		{"unit as Digital Link", "MATCH_anyEPC=https://x.example/01/00614141123452/21/S1001", dispense, true},
		{"parent filter excludes an event without parent", "MATCH_parentID=urn:epc:id:sscc:0614141.0000000001", dispense, false},
		{"geo read point as written", "EQ_readPoint=geo:47.5,11.1", geo, true},
		{"GS1 read point does not match a geo one", "EQ_readPoint=urn:epc:id:sgln:0098765.00020.0", geo, false},
		{"eventTime upper bound is exclusive", "LT_eventTime=2026-03-05T21:45:12.345Z", dispense, false},
		{"eventTime lower bound is inclusive", "GE_eventTime=2026-03-05T21:45:12.345Z", dispense, true},
		{"recordTime window", "GE_recordTime=2026-03-05T00:00:00Z&LT_recordTime=2026-03-07T00:00:00Z", dispense, true},
		{"bizStep URN form", "EQ_bizStep=urn:epcglobal:cbv:bizstep:dispensing", dispense, true},
		{"eventType", "eventType=AggregationEvent", dispense, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := q(tt.params).Matches(tt.e, rec); got != tt.want {
				t.Fatalf("Matches = %v", got)
			}
		})
	}
}

func urlValues(s string) (map[string][]string, error) {
	v, err := url.ParseQuery(s)
	return v, err
}

// FuzzParseQuery: no query string panics ParseQuery or Matches.
func FuzzParseQuery(f *testing.F) {
	f.Add("MATCH_epc=urn:epc:idpat:sgtin:0614141.012345.*&EQ_bizStep=shipping|receiving&perPage=2")
	f.Add("EQ_readPoint=geo:1,2&GE_eventTime=2026-03-05T21:45:12.345Z&MATCH_anyEPC=https://x.example/00/006141410000000012")
	evs, err := Parse(mustRead(f, "testdata/scenario/pharmacy.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		q, err := ParseQuery(v)
		if err != nil {
			return
		}
		for _, e := range evs {
			q.Matches(e, time.Time{})
		}
	})
}

func mustRead(f *testing.F, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// TestQueryDocumentKeepsHashes: the events a query returns hash as they did
// when captured (recordTime is outside the hash), so a client can check an
// answer against the hashes on chain.
func TestQueryDocumentKeepsHashes(t *testing.T) {
	f := newFake()
	h := testHandler(f)
	var want []string
	for _, who := range []string{"manufacturer", "distributor", "pharmacy"} {
		body := readFixture(t, who+".json")
		evs, err := Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			want = append(want, e.Hash)
		}
		if w := (exchange{method: "POST", path: "/epcis/capture", body: string(body), ctype: "application/json", who: who}).do(h); w.Code != http.StatusAccepted {
			t.Fatal(w.Body)
		}
	}
	w := exchange{method: "GET", path: "/epcis/events?perPage=100", who: "regulator"}.do(h)
	got, err := DocumentHashes(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("query document hashes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
