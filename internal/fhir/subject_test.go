package fhir_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestWriteKeepsThePatient: a resource is filed under the patient it names;
// an update or a Bundle PUT that names another patient than its record's is
// refused with 422 and the stable code subject/1, a reference that names no
// medchain patient with fhir/7.
func TestWriteKeepsThePatient(t *testing.T) {
	me := newPatient(t, "subject-me")
	other := newPatient(t, "subject-other")
	tok := token(t, me, "patient/*.read patient/*.write")
	p, q := "Patient/"+addr(t, me).String(), "Patient/"+addr(t, other).String()
	oid := resourceID(t, want(t, do(t, http.MethodPost, "/fhir/Observation", tok, observationJSON(p, "2339-0", "Glucose", "2024-03-01", "98")), http.StatusCreated))
	withID := func(res string) string {
		return strings.Replace(res, `{"resourceType"`, `{"id":"`+oid+`","resourceType"`, 1)
	}

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
	}{
		{"update naming another patient", http.MethodPut, "/fhir/Observation/" + oid, withID(observationJSON(q, "2339-0", "Glucose", "2024-03-01", "99")), 422, "subject/1"},
		{"a bare patient name", http.MethodPost, "/fhir/Observation", observationJSON("Patient/patient1", "2339-0", "Glucose", "2024-03-01", "99"), 422, "fhir/7"},
		{"coverage beneficiary is the patient element", http.MethodPost, "/fhir/Coverage",
			`{"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/patient1"},"payor":[{"display":"x"}]}`, 422, "fhir/7"},
		{"Bundle PUT naming another patient", http.MethodPost, "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` +
			withID(observationJSON(q, "2339-0", "Glucose", "2024-03-01", "99")) + `,"request":{"method":"PUT","url":"Observation/` + oid + `"}}]}`, 422, "subject/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := want(t, do(t, tt.method, tt.path, tok, tt.body), tt.status)
			if code := r.outcomeCode(t); code != tt.code {
				t.Fatalf("code %s, want %s: %s", code, tt.code, r.body)
			}
		})
	}
	// Nothing was written: the record is still at version 1, about me.
	r := want(t, do(t, http.MethodGet, "/fhir/Observation/"+oid, tok, nil), http.StatusOK)
	if v, _ := meta(t, r); v != "1" || !strings.Contains(string(r.body), p) {
		t.Fatalf("record changed: %s", r.body)
	}
}
