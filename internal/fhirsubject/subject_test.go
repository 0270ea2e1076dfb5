package fhirsubject_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/fhirsubject"
	"github.com/medchain/medchain/x/consent"
)

func addrOf(t *testing.T, b byte) crypto.Address {
	t.Helper()
	var a crypto.Address
	for i := range a {
		a[i] = b
	}
	return a
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestElement(t *testing.T) {
	for typ, want := range map[string]string{
		"Observation": "subject", "Condition": "subject", "AllergyIntolerance": "patient", "Immunization": "patient",
		"Coverage": "beneficiary", "Patient": "", "Medication": "", "Account": "", // Account.subject is a list
	} {
		if got := fhirsubject.Element(typ); got != want {
			t.Errorf("Element(%s) = %q, want %q", typ, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	p1, p2 := addrOf(t, 1), addrOf(t, 2)
	var patientRec consent.RecordID
	patientRec[0] = 7
	lookup := func(id consent.RecordID) (crypto.Address, string, bool) {
		if id == patientRec {
			return p1, "Patient", true
		}
		return crypto.Address{}, "", false
	}
	obs := func(ref string) string {
		return `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"` + ref + `"}}`
	}
	tests := []struct {
		name    string
		typ     string
		res     string
		wantErr error
	}{
		{"own address", "Observation", obs("Patient/" + p1.String()), nil},
		{"own address under the base URL", "Observation", obs("https://node.example/fhir/Patient/" + p1.String()), nil},
		{"own Patient record", "Observation", obs("Patient/" + hex.EncodeToString(patientRec[:])), nil},
		{"no subject", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, nil},
		{"type without a patient element", "Medication", `{"resourceType":"Medication"}`, nil},
		{"another patient", "Observation", obs("Patient/" + p2.String()), fhirsubject.ErrOtherPatient},
		{"a name, not a medchain patient", "Observation", obs("Patient/patient1"), fhirsubject.ErrUnresolved},
		{"a group", "Observation", obs("Group/" + p1.String()), fhirsubject.ErrUnresolved},
		{"an unknown record id", "Observation", obs("Patient/" + strings.Repeat("ab", 16)), fhirsubject.ErrUnresolved},
		{"identifier-only reference", "Observation", `{"resourceType":"Observation","subject":{"identifier":{"value":"x"}}}`, fhirsubject.ErrUnresolved},
		{"allergy of another patient", "AllergyIntolerance", `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/` + p2.String() + `"}}`, fhirsubject.ErrOtherPatient},
		{"coverage of another beneficiary", "Coverage", `{"resourceType":"Coverage","beneficiary":{"reference":"Patient/` + p2.String() + `"}}`, fhirsubject.ErrOtherPatient},
		{"Patient naming itself", "Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:medchain:address","value":"` + p1.String() + `"}]}`, nil},
		{"Patient naming another", "Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:medchain:address","value":"` + p2.String() + `"}]}`, fhirsubject.ErrOtherPatient},
		{"Bundle entry about another patient", "Bundle", `{"resourceType":"Bundle","type":"collection","entry":[
			{"resource":` + obs("Patient/"+p1.String()) + `},{"resource":` + obs("Patient/"+p2.String()) + `}]}`, fhirsubject.ErrOtherPatient},
		{"Bundle entry referencing its Patient entry", "Bundle", `{"resourceType":"Bundle","type":"collection","entry":[
			{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","identifier":[{"system":"urn:medchain:address","value":"` + p1.String() + `"}]}},
			{"resource":` + obs("urn:uuid:1") + `}]}`, nil},
		{"Bundle's Patient entry is another", "Bundle", `{"resourceType":"Bundle","type":"collection","entry":[
			{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","identifier":[{"system":"urn:medchain:address","value":"` + p2.String() + `"}]}},
			{"resource":` + obs("urn:uuid:1") + `}]}`, fhirsubject.ErrOtherPatient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fhirsubject.Check(tt.typ, decode(t, tt.res), p1, "https://node.example/fhir", lookup)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
}
