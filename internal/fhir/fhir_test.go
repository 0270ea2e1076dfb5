package fhir_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/x/consent"
)

func patientJSON(t testing.TB, name string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"urn:medchain:address","value":%q}],
		"name":[{"family":"Testperson","given":["Ada"]}],"gender":"female","birthDate":"1980-04-02"}`, addr(t, name))
}

func observationJSON(subject, code, display, when string, value string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","status":"final",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":%q,"display":%q}]},
		"subject":{"reference":%q},"effectiveDateTime":%q,
		"valueQuantity":{"value":%s,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}`, code, display, subject, when, value)
}

func resourceID(t testing.TB, r reply) string {
	t.Helper()
	id, _ := r.json(t)["id"].(string)
	if len(id) != 32 {
		t.Fatalf("id %q", id)
	}
	return id
}

func meta(t testing.TB, r reply) (string, string) {
	t.Helper()
	m, _ := r.json(t)["meta"].(map[string]any)
	return fmt.Sprint(m["versionId"]), fmt.Sprint(m["lastUpdated"])
}

func TestMetadataIsACapabilityStatement(t *testing.T) {
	r := want(t, do(t, http.MethodGet, "/fhir/metadata", "", nil), http.StatusOK)
	res, err := fhirr4.Parse(r.body)
	if err != nil {
		t.Fatalf("CapabilityStatement is not valid FHIR R4: %v", err)
	}
	if res.Type != "CapabilityStatement" {
		t.Fatalf("type %s", res.Type)
	}
	s := string(r.body)
	for _, w := range []string{`"code":"search-type"`, `"name":"everything"`, `"code":"transaction"`, `"name":"code"`, "auth/token"} {
		if !strings.Contains(s, w) {
			t.Errorf("CapabilityStatement lacks %s", w)
		}
	}
	for _, absent := range []string{`"type":"Bundle"`, `"code":"patch"`, `"code":"history-type"`} {
		if strings.Contains(s, absent) {
			t.Errorf("CapabilityStatement claims %s, which is not implemented", absent)
		}
	}
}

func TestAuthentication(t *testing.T) {
	devNode(t)
	tests := []struct {
		name string
		tok  string
	}{
		{"no token", ""},
		{"unknown token", "bm90LWEtdG9rZW4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := want(t, do(t, http.MethodGet, "/fhir/Observation", tt.tok, nil), http.StatusUnauthorized)
			if code := r.outcomeCode(t); code != "fhir/1" {
				t.Fatalf("code %s", code)
			}
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("bad scope", func(t *testing.T) {
		if _, err := loginErr(t, "patient1", "patient/Widget.read"); err == nil || !strings.Contains(err.Error(), "scope") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("system scope", func(t *testing.T) {
		if _, err := loginErr(t, "doctor1", "system/*.read"); err == nil {
			t.Fatal("system scope accepted")
		}
	})
	t.Run("patient scope without a patient", func(t *testing.T) {
		if _, err := loginErr(t, "doctor1", "patient/*.read"); err == nil {
			t.Fatal("patient scope without context accepted")
		}
	})
	t.Run("too long", func(t *testing.T) {
		if _, err := loginErr(t, "patient1", "patient/*.read", func(o *loginOpts) { o.TTL = 9 * time.Hour }); err == nil {
			t.Fatal("a 9 h token was issued")
		}
	})
	t.Run("replayed challenge and wrong signature", func(t *testing.T) {
		testChallengeRules(t)
	})
}

func TestCreateReadUpdateHistory(t *testing.T) {
	me := newPatient(t, "crud")
	tok := token(t, me, "patient/*.read patient/*.write")
	r := want(t, do(t, http.MethodPost, "/fhir/Patient", tok, patientJSON(t, me)), http.StatusCreated)
	pid := resourceID(t, r)
	if loc := r.header.Get("Location"); !strings.HasSuffix(loc, "/fhir/Patient/"+pid+"/_history/1") {
		t.Fatalf("Location %q", loc)
	}
	obs := observationJSON("Patient/"+pid, "2339-0", "Glucose", "2024-03-01T08:30:00Z", "98")
	r = want(t, do(t, http.MethodPost, "/fhir/Observation", tok, obs), http.StatusCreated)
	oid := resourceID(t, r)
	if v, lu := meta(t, r); v != "1" || lu == "" || lu == "<nil>" {
		t.Fatalf("meta %s %s", v, lu)
	}
	if r.header.Get("ETag") != `W/"1"` {
		t.Fatalf("ETag %q", r.header.Get("ETag"))
	}

	got := want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid, tok, nil), http.StatusOK)
	if eq, err := fhirr4.Equal([]byte(obs), got.body); err != nil || !eq {
		t.Fatalf("read back differs (%v):\nsent %s\ngot  %s", err, obs, got.body)
	}
	// A reference by address resolves to the same patient.
	byAddr := observationJSON("Patient/"+addr(t, me).String(), "2339-0", "Glucose", "2024-03-02T08:30:00Z", "101")
	want(t, do(t, http.MethodPost, "/fhir/Observation", tok, byAddr), http.StatusCreated)

	// update = a new version; the old one stays readable.
	upd := strings.Replace(observationJSON("Patient/"+pid, "2339-0", "Glucose", "2024-03-01T08:30:00Z", "99"), `{"resourceType"`, `{"id":"`+oid+`","resourceType"`, 1)
	r = want(t, do(t, http.MethodPut, "/fhir/Observation/"+oid, tok, upd), http.StatusOK)
	if v, _ := meta(t, r); v != "2" {
		t.Fatalf("version after update %s", v)
	}
	want(t, do(t, http.MethodPut, "/fhir/Observation/"+oid, tok, upd, "If-Match", `W/"1"`), http.StatusPreconditionFailed)
	v1 := want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid+"/_history/1", tok, nil), http.StatusOK)
	if eq, _ := fhirr4.Equal([]byte(obs), v1.body); !eq {
		t.Fatalf("version 1 changed: %s", v1.body)
	}
	want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid+"/_history/3", tok, nil), http.StatusNotFound)
	h := want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid+"/_history", tok, nil), http.StatusOK).json(t)
	if h["type"] != "history" || h["total"].(float64) != 2 {
		t.Fatalf("history %v", h)
	}
	first := h["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	if first["meta"].(map[string]any)["versionId"] != "2" {
		t.Fatalf("history not newest first: %v", first["meta"])
	}

	// Errors.
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
	}{
		{"invalid resource names the field", http.MethodPost, "/fhir/Observation", `{"resourceType":"Observation","code":{"text":"x"},"subject":{"reference":"Patient/` + pid + `"}}`, 400, "fhir/3"},
		{"type mismatch", http.MethodPost, "/fhir/Condition", obs, 422, "fhir/7"},
		{"unknown patient", http.MethodPost, "/fhir/Observation", observationJSON("Patient/0123456789abcdef0123456789abcdef", "1", "x", "2024-01-01", "1"), 422, "fhir/7"},
		{"patient without an address", http.MethodPost, "/fhir/Patient", `{"resourceType":"Patient","gender":"male"}`, 422, "fhir/7"},
		{"not JSON", http.MethodPost, "/fhir/Observation", `{"resourceType":`, 400, "fhir/3"},
		{"unknown type", http.MethodGet, "/fhir/Widget/1", "", 404, "fhir/8"},
		{"unknown id", http.MethodGet, "/fhir/Observation/0123456789abcdef0123456789abcdef", "", 404, "fhir/4"},
		{"wrong type for the id", http.MethodGet, "/fhir/Condition/" + oid, "", 404, "fhir/4"},
		{"update of an unknown id", http.MethodPut, "/fhir/Observation/0123456789abcdef0123456789abcdef", strings.Replace(upd, oid, "0123456789abcdef0123456789abcdef", 1), 405, "fhir/8"},
		{"update with another id", http.MethodPut, "/fhir/Observation/" + oid, strings.Replace(upd, oid, "0123456789abcdef0123456789abcdef", 1), 400, "fhir/3"},
		{"too large", http.MethodPost, "/fhir/Observation", `{"resourceType":"Observation","note":[{"text":"` + strings.Repeat("x", 5<<20) + `"}]}`, 413, "fhir/6"},
		{"consents are the chain's", http.MethodPost, "/fhir/Consent", `{"resourceType":"Consent"}`, 405, "fhir/8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := want(t, do(t, tt.method, tt.path, tok, body), tt.status)
			if code := r.outcomeCode(t); code != tt.code {
				t.Fatalf("code %s, want %s: %s", code, tt.code, r.body)
			}
		})
	}
	t.Run("400 names the field", func(t *testing.T) {
		r := do(t, http.MethodPost, "/fhir/Observation", tok, `{"resourceType":"Observation","code":{"text":"x"},"subject":{"reference":"Patient/`+pid+`"}}`)
		if !strings.Contains(string(r.body), `"expression":["Observation.status"]`) {
			t.Fatalf("%s", r.body)
		}
	})
}

func TestSearch(t *testing.T) {
	me := newPatient(t, "search")
	tok := token(t, me, "patient/*.read patient/*.write")
	pid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Patient", tok, patientJSON(t, me)), http.StatusCreated))
	ref := "Patient/" + pid
	var ids []string
	for i, v := range []struct{ code, when, value string }{
		{"2339-0", "2023-01-10T09:00:00Z", "90"},
		{"4548-4", "2023-06-10T09:00:00Z", "5.9"},
		{"2339-0", "2024-02-10T09:00:00Z", "110"},
		{"2339-0", "2024-08-10T09:00:00+02:00", "120"},
		{"2093-3", "2025-01-10", "180"},
	} {
		r := want(t, do(t, http.MethodPost, "/fhir/Observation", tok, observationJSON(ref, v.code, fmt.Sprint("test ", i), v.when, v.value)), http.StatusCreated)
		ids = append(ids, resourceID(t, r))
	}
	want(t, do(t, http.MethodPost, "/fhir/Condition", tok, `{"resourceType":"Condition","subject":{"reference":"`+ref+`"},
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},"onsetDateTime":"2022-05-01","recordedDate":"2022-05-03"}`), http.StatusCreated)

	search := func(q string) (int, []string, map[string]any) {
		t.Helper()
		b := want(t, do(t, http.MethodGet, "/fhir/"+q, tok, nil), http.StatusOK).json(t)
		if b["resourceType"] != "Bundle" || b["type"] != "searchset" {
			t.Fatalf("%v", b)
		}
		var got []string
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			res := e.(map[string]any)["resource"].(map[string]any)
			if res["resourceType"] == "OperationOutcome" {
				t.Fatalf("search outcome: %v", res)
			}
			got = append(got, res["id"].(string))
		}
		return int(b["total"].(float64)), got, b
	}
	is := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return out
	}
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"by patient", "Observation?patient=" + ref, is(0, 1, 2, 3, 4)},
		{"by subject address", "Observation?subject=Patient/" + addr(t, me).String(), is(0, 1, 2, 3, 4)},
		{"code with system", "Observation?patient=" + ref + "&code=http://loinc.org|2339-0", is(0, 2, 3)},
		{"code alone, OR", "Observation?patient=" + ref + "&code=4548-4,2093-3", is(1, 4)},
		{"code of another system", "Observation?patient=" + ref + "&code=http://snomed.info/sct|2339-0", nil},
		{"date year", "Observation?patient=" + ref + "&date=2024", is(2, 3)},
		{"date range", "Observation?patient=" + ref + "&date=ge2023-06-01&date=lt2024-08-10", is(1, 2)},
		{"date with zone", "Observation?patient=" + ref + "&date=eq2024-08-10T07:00:00Z", is(3)},
		{"date gt a day", "Observation?patient=" + ref + "&date=gt2024-08-10", is(4)},
		{"sort by date descending", "Observation?patient=" + ref + "&_sort=-date", is(4, 3, 2, 1, 0)},
		{"sort by date", "Observation?patient=" + ref + "&_sort=date", is(0, 1, 2, 3, 4)},
		{"_id", "Observation?_id=" + ids[1] + "," + ids[3], is(1, 3)},
		{"_lastUpdated", "Observation?patient=" + ref + "&_lastUpdated=ge2000-01-01&_sort=-_lastUpdated", is(0, 1, 2, 3, 4)},
		{"_lastUpdated in the future", "Observation?patient=" + ref + "&_lastUpdated=gt2100", nil},
		{"condition onset", "Condition?patient=" + ref + "&onset-date=2022", nil}, // filled below
	}
	for _, tt := range tests[:len(tests)-1] {
		t.Run(tt.name, func(t *testing.T) {
			_, got, _ := search(tt.query)
			if !strings.Contains(tt.query, "_sort=") || strings.Contains(tt.query, "_lastUpdated") {
				// Versions of one second (several blocks) are in no particular order.
				slices.Sort(got)
				tt.want = slices.Sorted(slices.Values(tt.want))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("condition onset", func(t *testing.T) {
		if n, _, _ := search("Condition?patient=" + ref + "&onset-date=2022"); n != 1 {
			t.Fatalf("total %d", n)
		}
		if n, _, _ := search("Condition?patient=" + ref + "&recorded-date=lt2022-05-02"); n != 0 {
			t.Fatalf("total %d", n)
		}
	})
	t.Run("paging", func(t *testing.T) {
		var all []string
		q := "Observation?patient=" + url.QueryEscape(ref) + "&_sort=date&_count=2"
		for pages := 0; q != ""; pages++ {
			n, got, b := search(q)
			if n != 5 || pages > 3 {
				t.Fatalf("total %d after %d pages", n, pages)
			}
			all = append(all, got...)
			q = ""
			for _, l := range b["link"].([]any) {
				l := l.(map[string]any)
				if l["relation"] == "next" {
					q = strings.TrimPrefix(l["url"].(string), devNode(t)+"/fhir/")
				}
			}
		}
		if strings.Join(all, ",") != strings.Join(ids, ",") {
			t.Fatalf("pages %v, want %v", all, ids)
		}
	})
	t.Run("everything", func(t *testing.T) {
		b := want(t, do(t, http.MethodGet, "/fhir/Patient/"+pid+"/$everything", tok, nil), http.StatusOK).json(t)
		entries := b["entry"].([]any)
		if len(entries) != 7 || entries[0].(map[string]any)["resource"].(map[string]any)["resourceType"] != "Patient" {
			t.Fatalf("$everything: %d entries", len(entries))
		}
	})
	t.Run("unsupported parameter", func(t *testing.T) {
		r := want(t, do(t, http.MethodGet, "/fhir/Observation?patient="+ref+"&value-quantity=gt5", tok, nil), http.StatusBadRequest)
		if code := r.outcomeCode(t); code != "fhir/15" {
			t.Fatal(code)
		}
	})
	t.Run("post _search", func(t *testing.T) {
		r := want(t, do(t, http.MethodPost, "/fhir/Observation/_search", tok, "patient="+url.QueryEscape(ref)+"&code=2093-3",
			"Content-Type", "application/x-www-form-urlencoded"), http.StatusOK).json(t)
		if r["total"].(float64) != 1 {
			t.Fatalf("%v", r["total"])
		}
	})
}

func TestConsentScopeAndAudit(t *testing.T) {
	me := newPatient(t, "consent")
	ptok := token(t, me, "patient/*.read patient/*.write")
	pid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Patient", ptok, patientJSON(t, me)), http.StatusCreated))
	oid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Observation", ptok,
		observationJSON("Patient/"+pid, "2339-0", "Glucose", "2024-05-05T10:00:00Z", "97")), http.StatusCreated))

	doctor := token(t, "doctor2", "user/*.read user/Observation.write")
	r := want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid, doctor, nil), http.StatusForbidden)
	if code := r.outcomeCode(t); code != "consent/17" {
		t.Fatalf("refusal code %s: %s", code, r.body)
	}
	if n := want(t, do(t, http.MethodGet, "/fhir/Observation?patient=Patient/"+pid, doctor, nil), http.StatusOK).json(t)["total"]; n.(float64) != 0 {
		t.Fatalf("search without consent found %v", n)
	}

	id := grant(t, me, consent.MsgGrant{Grantee: consent.Account(addr(t, "doctor2")), Actions: consent.ActRead | consent.ActWrite, Types: []string{"Observation"}})
	// A session reads the keys re-wrapped to it when it began: the doctor's
	// client opens a new one to read what was shared since.
	doctor = token(t, "doctor2", "user/*.read user/Observation.write")
	got := want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid, doctor, nil), http.StatusOK)
	if resourceID(t, got) != oid {
		t.Fatal("wrong record")
	}
	// The consent covers Observation only.
	r = want(t, do(t, http.MethodGet, "/fhir/Patient/"+pid, doctor, nil), http.StatusForbidden)
	if code := r.outcomeCode(t); code != "consent/17" {
		t.Fatalf("code %s", code)
	}
	// The doctor writes an Observation under the write consent; the patient reads it.
	w := want(t, do(t, http.MethodPost, "/fhir/Observation", doctor, observationJSON("Patient/"+pid, "8867-4", "Heart rate", "2024-05-06", "64")), http.StatusCreated)
	want(t, do(t, http.MethodGet, "/fhir/Observation/"+resourceID(t, w), ptok, nil), http.StatusOK)
	// Scopes bound what the consent allows.
	want(t, do(t, http.MethodPost, "/fhir/Condition", doctor, `{"resourceType":"Condition","subject":{"reference":"Patient/`+pid+`"}}`), http.StatusForbidden)
	readOnly := token(t, "doctor2", "user/Observation.read")
	if code := want(t, do(t, http.MethodPost, "/fhir/Observation", readOnly, observationJSON("Patient/"+pid, "8867-4", "x", "2024-05-06", "64")), http.StatusForbidden).outcomeCode(t); code != "fhir/2" {
		t.Fatalf("code %s", code)
	}
	other := token(t, "patient1", "patient/*.read")
	if code := want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid, other, nil), http.StatusForbidden).outcomeCode(t); code != "fhir/2" {
		t.Fatalf("code %s", code)
	}

	revoke(t, me, id)
	if code := want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid, doctor, nil), http.StatusForbidden).outcomeCode(t); code != "consent/19" {
		t.Fatalf("after revocation: code %s", code)
	}

	// The chain's views: the consent and the trail, refusals included.
	c := want(t, do(t, http.MethodGet, "/fhir/Consent?patient=Patient/"+pid, ptok, nil), http.StatusOK).json(t)
	if c["total"].(float64) < 1 {
		t.Fatalf("consents %v", c)
	}
	want(t, do(t, http.MethodGet, "/fhir/AuditEvent?patient=Patient/"+pid, doctor, nil), http.StatusForbidden)
	deadline := time.Now().Add(15 * time.Second)
	for {
		b := want(t, do(t, http.MethodGet, "/fhir/AuditEvent?patient=Patient/"+pid+"&_count=100", ptok, nil), http.StatusOK)
		s := string(b.body)
		served, refusedN := strings.Count(s, `"outcome":"0"`), strings.Count(s, `"outcome":"4"`)
		if refusedN >= 3 && served >= 2 {
			if _, err := fhirr4.Parse(b.body); err != nil {
				t.Fatalf("AuditEvent Bundle is not valid FHIR: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trail: %d served, %d refused:\n%s", served, refusedN, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestWithoutDelegation(t *testing.T) {
	me := newPatient(t, "nodelegation")
	ptok := token(t, me, "patient/*.read patient/*.write")
	pid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Patient", ptok, patientJSON(t, me)), http.StatusCreated))
	cid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Condition", ptok, `{"resourceType":"Condition","subject":{"reference":"Patient/`+pid+`"},
		"code":{"text":"seasonal allergic rhinitis"}}`), http.StatusCreated))

	// Without delegation, the patient's own keys are out of the node's reach.
	bare := token(t, me, "patient/*.read patient/*.write", noDelegation)
	if code := want(t, do(t, http.MethodGet, "/fhir/Condition/"+cid, bare, nil), http.StatusForbidden).outcomeCode(t); code != "fhir/9" {
		t.Fatalf("code %s", code)
	}
	if code := want(t, do(t, http.MethodPost, "/fhir/Condition", bare, `{"resourceType":"Condition","subject":{"reference":"Patient/`+pid+`"}}`), http.StatusForbidden).outcomeCode(t); code != "fhir/9" {
		t.Fatalf("code %s", code)
	}
	// A consent to the organization that runs the node: its key opens the record.
	id := grant(t, me, consent.MsgGrant{Grantee: consent.Org("dev-hospital"), Actions: consent.ActRead, Types: []string{"Condition"}})
	defer revoke(t, me, id)
	doc := token(t, "doctor1", "user/Condition.read", noDelegation)
	got := want(t, do(t, http.MethodGet, "/fhir/Condition/"+cid, doc, nil), http.StatusOK)
	if resourceID(t, got) != cid {
		t.Fatal("wrong record")
	}
	// A member of another organization gets nothing through this node.
	lab := token(t, "labtech1", "user/*.read", noDelegation)
	want(t, do(t, http.MethodGet, "/fhir/Condition/"+cid, lab, nil), http.StatusForbidden)
}

func TestEraseGivesGone(t *testing.T) {
	me := newPatient(t, "erase")
	tok := token(t, me, "patient/*.*")
	pid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Patient", tok, patientJSON(t, me)), http.StatusCreated))
	oid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Observation", tok, observationJSON("Patient/"+pid, "2339-0", "Glucose", "2024-01-01", "88")), http.StatusCreated))
	doc := token(t, "doctor2", "user/*.*")
	want(t, do(t, http.MethodDelete, "/fhir/Observation/"+oid, doc, nil), http.StatusForbidden)
	if r := do(t, http.MethodDelete, "/fhir/Observation/"+oid, tok, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: HTTP %d %s", r.status, r.body)
	}
	if code := want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid, tok, nil), http.StatusGone).outcomeCode(t); code != "fhir/5" {
		t.Fatalf("code %s", code)
	}
	want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid+"/_history", tok, nil), http.StatusGone)
}

// TestEmergencyRead: break-glass through FHIR. With the hospital named
// emergency custodian, a practitioner of the hospital who opens an emergency
// access reads through the hospital's node without any delegation (the key
// is wrapped to the organization), and the read is flagged in the trail.
func TestEmergencyRead(t *testing.T) {
	me := newPatient(t, "emergency")
	grant(t, me, consent.MsgGrant{Grantee: consent.Org("dev-hospital"), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
	ptok := token(t, me, "patient/*.read patient/*.write")
	pid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Patient", ptok, patientJSON(t, me)), http.StatusCreated))
	aid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/AllergyIntolerance", ptok,
		`{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/`+pid+`"},"code":{"text":"penicillin"}}`), http.StatusCreated))

	doc := token(t, "doctor1", "user/*.read", noDelegation)
	if code := want(t, do(t, http.MethodGet, "/fhir/AllergyIntolerance/"+aid, doc, nil), http.StatusForbidden).outcomeCode(t); code != "consent/17" {
		t.Fatalf("before the emergency: %s", code)
	}
	if _, err := client.New(devNode(t)).Send(context.Background(), key(t, "doctor1"),
		&consent.MsgOpenEmergency{Patient: addr(t, me), Reason: "unable_to_consent"}); err != nil {
		t.Fatalf("open emergency: %v", err)
	}
	want(t, do(t, http.MethodGet, "/fhir/AllergyIntolerance/"+aid, doc, nil), http.StatusOK)
	found := want(t, do(t, http.MethodGet, "/fhir/AllergyIntolerance?patient=Patient/"+pid, doc, nil), http.StatusOK).json(t)
	if found["total"].(float64) != 1 {
		t.Fatalf("search during the emergency: %v", found["total"])
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		b := want(t, do(t, http.MethodGet, "/fhir/AuditEvent?patient=Patient/"+pid, ptok, nil), http.StatusOK)
		if strings.Count(string(b.body), `"code":"ETREAT"`) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emergency reads not flagged in the trail:\n%s", b.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestContentFilterReadsAreAudited closes the `_count=0` oracle: a search
// with a content filter decrypts every candidate, so every candidate it
// examined is in the patient's trail as a read by the searcher, matching or
// not, even when no entry is returned.
func TestContentFilterReadsAreAudited(t *testing.T) {
	me := newPatient(t, "oracle")
	ptok := token(t, me, "patient/*.read patient/*.write")
	pid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Patient", ptok, patientJSON(t, me)), http.StatusCreated))
	ref := "Patient/" + pid
	for _, v := range []struct{ code, value string }{{"75622-1", "1"}, {"75622-1", "0"}, {"2339-0", "97"}} {
		want(t, do(t, http.MethodPost, "/fhir/Observation", ptok, observationJSON(ref, v.code, "test", "2024-05-05T10:00:00Z", v.value)), http.StatusCreated)
	}
	grant(t, me, consent.MsgGrant{Grantee: consent.Account(addr(t, "doctor2")), Actions: consent.ActRead, Types: []string{"Observation"}})
	doctor := token(t, "doctor2", "user/*.read")
	doc := addr(t, "doctor2").String()
	readsBy := func() int {
		b := want(t, do(t, http.MethodGet, "/fhir/AuditEvent?patient="+ref+"&_count=100", ptok, nil), http.StatusOK).json(t)
		n := 0
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			res, _ := json.Marshal(e.(map[string]any)["resource"])
			if strings.Contains(string(res), doc) && strings.Contains(string(res), `"outcome":"0"`) {
				n++
			}
		}
		return n
	}
	if n := readsBy(); n != 0 {
		t.Fatalf("doctor2 has %d reads before searching", n)
	}
	b := want(t, do(t, http.MethodGet, "/fhir/Observation?patient="+ref+"&code=http://loinc.org|75622-1&_count=0", doctor, nil), http.StatusOK).json(t)
	if b["total"].(float64) != 2 || b["entry"] != nil {
		t.Fatalf("_count=0 search: total %v, entries %v; want 2 and none", b["total"], b["entry"])
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		n := readsBy()
		if n == 3 {
			break
		}
		if n > 3 || time.Now().After(deadline) {
			t.Fatalf("the trail shows %d reads by doctor2 after a _count=0 code search over 3 Observations, want 3", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Returned entries of a filtered search are not reported twice.
	want(t, do(t, http.MethodGet, "/fhir/Observation?patient="+ref+"&code=http://loinc.org|75622-1", doctor, nil), http.StatusOK)
	time.Sleep(1500 * time.Millisecond)
	if n := readsBy(); n != 6 {
		t.Fatalf("after a second filtered search: %d reads by doctor2, want 6 (3 examined, each once)", n)
	}
}

// TestAuditEventSearchOrderAndPages checks the trail's search against its
// own full listing: ascending and descending by date (ties by id), pages,
// a total without entries, and a date filter. The trail's events are
// rendered only for the page served, so these are the orders a client
// relies on when it pages through a long trail.
func TestAuditEventSearchOrderAndPages(t *testing.T) {
	me := newPatient(t, "trailpages")
	ptok := token(t, me, "patient/*.read patient/*.write")
	pid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Patient", ptok, patientJSON(t, me)), http.StatusCreated))
	ref := "Patient/" + pid
	oid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Observation", ptok, observationJSON(ref, "2339-0", "Glucose", "2024-05-05T10:00:00Z", "97")), http.StatusCreated))
	const reads = 7
	for i := range reads {
		want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid, ptok, nil), http.StatusOK)
		if i%2 == 1 {
			time.Sleep(600 * time.Millisecond) // events in several blocks and seconds
		}
	}
	type ev struct{ id, recorded string }
	list := func(query string) (int, []ev) {
		b := want(t, do(t, http.MethodGet, "/fhir/AuditEvent?patient="+ref+query, ptok, nil), http.StatusOK).json(t)
		var out []ev
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			res := e.(map[string]any)["resource"].(map[string]any)
			out = append(out, ev{res["id"].(string), res["recorded"].(string)})
		}
		return int(b["total"].(float64)), out
	}
	deadline := time.Now().Add(20 * time.Second)
	var all []ev
	for {
		var total int
		total, all = list("&_count=100")
		if total >= reads {
			if len(all) != total {
				t.Fatalf("total %d, %d entries", total, len(all))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d reads in the trail", total, reads)
		}
		time.Sleep(200 * time.Millisecond)
	}
	seq := func(e ev) uint64 { n, _ := strconv.ParseUint(e.id, 10, 64); return n }
	for i := 1; i < len(all); i++ {
		if a, b := all[i-1], all[i]; a.recorded > b.recorded || a.recorded == b.recorded && seq(a) >= seq(b) {
			t.Fatalf("default order: %v before %v", a, b)
		}
	}
	if all[0].recorded == all[len(all)-1].recorded {
		t.Fatalf("every event recorded in one second (%s): the order is not tested", all[0].recorded)
	}
	// Descending: by date, newest first, ties still by id.
	_, desc := list("&_count=100&_sort=-date")
	wantDesc := slices.Clone(all)
	slices.SortStableFunc(wantDesc, func(a, b ev) int {
		if c := strings.Compare(b.recorded, a.recorded); c != 0 {
			return c
		}
		return cmp.Compare(seq(a), seq(b))
	})
	if !slices.Equal(desc, wantDesc) {
		t.Fatalf("_sort=-date:\n got %v\nwant %v", desc, wantDesc)
	}
	if total, page := list("&_count=0"); total != len(all) || page != nil {
		t.Fatalf("_count=0: total %d, %d entries; want %d and none", total, len(page), len(all))
	}
	if total, page := list("&_count=3&_offset=2"); total != len(all) || !slices.Equal(page, all[2:5]) {
		t.Fatalf("_offset=2&_count=3: total %d, page %v; want %d, %v", total, page, len(all), all[2:5])
	}
	last := all[len(all)-1].recorded
	var after []ev
	for _, e := range all {
		if e.recorded >= last {
			after = append(after, e)
		}
	}
	if total, page := list("&_count=100&date=ge" + url.QueryEscape(last)); total != len(after) || !slices.Equal(page, after) {
		t.Fatalf("date=ge%s: total %d, %v; want %v", last, total, page, after)
	}
}
