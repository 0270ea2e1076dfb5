package fhirr4

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata/ from the current output")

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		file    string
		typ     string
		id      string
		subject string
		entries int
	}{
		{"patient.json", "Patient", "pat-0001", "Patient/pat-0001", 0},
		{"observation-hba1c.json", "Observation", "obs-hba1c-0001", "Patient/pat-0001", 0},
		{"condition.json", "Condition", "cond-0001", "Patient/pat-0001", 0},
		{"medicationrequest.json", "MedicationRequest", "medrx-0001", "Patient/pat-0001", 0},
		{"allergyintolerance.json", "AllergyIntolerance", "allergy-0001", "Patient/pat-0001", 0},
		{"immunization.json", "Immunization", "imm-0001", "Patient/pat-0001", 0},
		{"diagnosticreport.json", "DiagnosticReport", "dr-0001", "Patient/pat-0001", 0},
		{"encounter.json", "Encounter", "enc-0001", "Patient/pat-0001", 0},
		{"bundle-transaction.json", "Bundle", "bundle-0001", "", 3},
	}
	files, _ := filepath.Glob("testdata/valid/*.json")
	if len(files) != len(tests) {
		t.Errorf("testdata/valid has %d files, the table %d: keep them in step", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := Parse(readTestdata(t, "valid/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.Type != tt.typ || r.ID != tt.id || r.Subject != tt.subject {
				t.Errorf("got Type %q ID %q Subject %q, want %q %q %q", r.Type, r.ID, r.Subject, tt.typ, tt.id, tt.subject)
			}
			if r.Bundle != (tt.typ == "Bundle") || r.Entries != tt.entries {
				t.Errorf("got Bundle %v Entries %d, want %v %d", r.Bundle, r.Entries, tt.typ == "Bundle", tt.entries)
			}
			if r.Proto == nil || resourceOf(r.Proto) == nil {
				t.Error("no parsed proto")
			}
		})
	}
}

func TestBundleEntryReferences(t *testing.T) {
	r, err := Parse(readTestdata(t, "valid/bundle-transaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	entries := r.Proto.GetBundle().GetEntry()
	obs := &Resource{Proto: entries[1].GetResource()}
	if got := describe(obs.Proto).Subject; got != "urn:uuid:4f6a5f8e-1c1b-4d34-9a62-0d9f3b7c2a11" {
		t.Errorf("entry subject %q, want the Patient entry's urn:uuid", got)
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		file    string
		path    string // of the first issue
		problem string // a prefix of its problem
	}{
		{"observation-missing-status.json", "Observation.status", "missing required field"},
		{"observation-value-string.json", "Observation.valueQuantity.value", "invalid decimal"},
		{"unknown-resourcetype.json", "resourceType", `unknown resource type "LabResult"`},
		{"unknown-field.json", "Patient.favouriteColour", "unknown field"},
		{"truncated.json", "", "invalid JSON: unexpected end of input"},
		{"not-json.json", "", "invalid JSON at byte 1"},
		{"duplicate-field.json", "Observation.status", "duplicate field"},
		{"uppercase-field.json", "Observation.Status", "unknown field"},
		{"observation-bad-status-code.json", "Observation.status", "code not in required value set ObservationStatusCode"},
		{"observation-subject-practitioner.json", "Observation.subject", "invalid reference to a Practitioner resource"},
		{"observation-category-not-array.json", "Observation.category", "expected an array"},
		{"patient-empty-gender.json", "Patient.gender", "empty string"},
		{"patient-bad-birthdate.json", "Patient.birthDate", "invalid date"},
		{"bundle-entry-missing-status.json", "Bundle.entry[1].resource.Observation.status", "missing required field"},
		{"contained-missing-status.json", "DiagnosticReport.contained[0].Observation.status", "missing required field"},
	}
	files, _ := filepath.Glob("testdata/invalid/*.json")
	if len(files) != len(tests) {
		t.Errorf("testdata/invalid has %d files, the table %d: keep them in step", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := Parse(readTestdata(t, "invalid/"+tt.file))
			if err == nil {
				t.Fatalf("parsed as %s; want an error", r.Type)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			var ie *InvalidError
			if !errors.As(err, &ie) || len(ie.Issues) == 0 {
				t.Fatalf("error %v is not an *InvalidError with issues", err)
			}
			got := ie.Issues[0]
			if got.Path != tt.path || !strings.HasPrefix(got.Problem, tt.problem) {
				t.Errorf("first issue %q, want %q: %q...", got, tt.path, tt.problem)
			}
			want := tt.problem
			if tt.path != "" {
				want = tt.path + ": " + tt.problem
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q does not contain %q", err, want)
			}
		})
	}
}

// TestStrictJSON covers what checkJSON adds to the library, one rule a case.
func TestStrictJSON(t *testing.T) {
	const obs = `"resourceType":"Observation","status":"final","code":{"text":"HbA1c"}`
	tests := []struct {
		name string
		in   string
		want string // the error's text after the sentinel's; "" for valid
	}{
		{"minimal observation", `{` + obs + `}`, ""},
		{"resourceType last", `{"status":"final","code":{"text":"HbA1c"},"resourceType":"Observation","foo":1}`, "Observation.foo: unknown field"},
		{"duplicate nested key", `{` + obs + `,"valueQuantity":{"value":1,"value":2}}`, "Observation.valueQuantity.value: duplicate field"},
		{"upper-case extension key", `{` + obs + `,"_Status":{"id":"a"}}`, "Observation._Status: unknown field"},
		{"null value", `{` + obs + `,"issued":null}`, "Observation.issued: null value"},
		{"null in array", `{` + obs + `,"category":[null]}`, "Observation.category[0]: null value"},
		{"empty object", `{` + obs + `,"valueQuantity":{}}`, "Observation.valueQuantity: empty object"},
		{"empty array", `{` + obs + `,"category":[]}`, "Observation.category: empty array"},
		{"empty string", `{` + obs + `,"language":""}`, "Observation.language: empty string"},
		{"number too large", `{` + obs + `,"valueQuantity":{"value":1e999}}`, "Observation.valueQuantity.value: number out of range"},
		{"nested resource path", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{` + obs + `,"note":[{"text":""}]}}]}`, "Bundle.entry[0].resource.Observation.note[0].text: empty string"},
		{"array at top", `[{` + obs + `}]`, "a resource must be a JSON object"},
		{"two values", `{` + obs + `} {}`, "invalid JSON: more than one value"},
		{"trailing garbage", `{` + obs + `} x`, "invalid JSON at byte"},
		{"invalid UTF-8", "{" + obs + ",\"language\":\"\xff\"}", "invalid UTF-8"},
		{"empty input", ``, "invalid JSON: unexpected end of input"},
		{"missing resourceType", `{"status":"final"}`, "resourceType: missing required field"},
		{"resourceType not a string", `{"resourceType":7}`, "resourceType: resourceType must be a string"},
		{"choice given twice", `{` + obs + `,"valueString":"a","valueBoolean":true}`, "more than one value for value[x]"},
		{"unknown choice type", `{` + obs + `,"valueFoo":"a"}`, "Observation.valueFoo: unknown field"},
		{"validator path in a choice", `{` + obs + `,"valueCodeableConcept":{"coding":[{"code":" padded"}]}}`, "Observation.valueCodeableConcept.coding[0].code: invalid code"},
		{"object for a primitive", `{` + obs + `,"issued":{"x":1}}`, "Observation.issued.x: unknown field"},
		{"array for a singular element", `{` + obs + `,"subject":[{"reference":"Patient/1"}]}`, "Observation.subject: expected an object"},
		{"bad id", `{` + obs + `,"id":"has space"}`, "Observation.id: invalid id"},
		{"contained, key escaped", `{"resourceType":"Patient","\u0063ontained":[{"resourceType":"Observation","code":{"text":"x"}}]}`, "Patient.contained[0].Observation.status: missing required field"},
		{"urn:uuid reference", `{` + obs + `,"subject":{"reference":"urn:uuid:4f6a5f8e-1c1b-4d34-9a62-0d9f3b7c2a11"}}`, ""},
		{"primitive extension", `{"resourceType":"Patient","birthDate":"1970","_birthDate":{"extension":[{"url":"https://example.org/ext","valueString":"approximate"}]}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("parsed; want error %q", tt.want)
			case !errors.Is(err, ErrInvalid):
				t.Fatalf("error %v does not match ErrInvalid", err)
			case !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	t.Run("oversize", func(t *testing.T) {
		doc := []byte(`{"resourceType":"Basic","code":{"text":"` + strings.Repeat("a", MaxSize) + `"}}`)
		_, err := Parse(doc)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("got %v, want a size error", err)
		}
	})
	t.Run("too deep", func(t *testing.T) {
		doc := `{"resourceType":"Basic","x":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`
		_, err := Parse([]byte(doc))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "nested deeper than") {
			t.Fatalf("got %v, want a depth error", err)
		}
	})
	t.Run("issues are capped", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(`{"resourceType":"Patient"`)
		for i := range 3 * maxIssues {
			fmt.Fprintf(&b, `,"x%d":1`, i)
		}
		b.WriteString("}")
		_, err := Parse([]byte(b.String()))
		var ie *InvalidError
		if !errors.As(err, &ie) || len(ie.Issues) != maxIssues {
			t.Fatalf("got %v, want %d issues", err, maxIssues)
		}
		if !strings.Contains(err.Error(), "and 95 more") {
			t.Errorf("message %q does not summarise the rest", err)
		}
	})
}

// TestRoundTrip: JSON → Parse → JSON → Parse gives the same resource and the
// same bytes, and the canonical form is pinned by golden files.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.json")
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			orig := readTestdata(t, "valid/"+name)
			r1, err := Parse(orig)
			if err != nil {
				t.Fatal(err)
			}
			j1, err := r1.JSON()
			if err != nil {
				t.Fatal(err)
			}
			r2, err := Parse(j1)
			if err != nil {
				t.Fatalf("canonical JSON does not parse: %v\n%s", err, j1)
			}
			j2, err := r2.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(j1, j2) {
				t.Errorf("JSON not stable:\n%s\n%s", j1, j2)
			}
			if !proto.Equal(r1.Proto, r2.Proto) {
				t.Error("protos differ after a round trip")
			}
			if eq, err := Equal(orig, j1); err != nil || !eq {
				t.Errorf("Equal(original, canonical) = %v, %v", eq, err)
			}
			golden := filepath.Join("testdata", "canonical", name)
			if *rewrite {
				if err := os.WriteFile(golden, append(j1, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -rewrite to create it)", err)
			}
			if !bytes.Equal(append(j1, '\n'), want) {
				t.Errorf("canonical JSON differs from %s (run with -rewrite if intended):\n%s", golden, j1)
			}
		})
	}
}

func TestCanonicalJSONKeepsDecimalPrecision(t *testing.T) {
	r, err := Parse(readTestdata(t, "valid/observation-hba1c.json"))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := r.JSON()
	if !bytes.Contains(j, []byte(`"low":{"code":"%","system":"http://unitsofmeasure.org","unit":"%","value":4.0}`)) {
		t.Errorf("4.0 lost its precision or keys are unsorted:\n%s", j)
	}
}

func TestEqual(t *testing.T) {
	obs := readTestdata(t, "valid/observation-hba1c.json")
	r, _ := Parse(obs)
	canon, _ := r.JSON()
	reID, err := SetID(obs, "another-id", "7", time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(obs, []byte(`"value": 6.8`), []byte(`"value": 6.9`), 1)
	morePrecise := bytes.Replace(obs, []byte(`"value": 6.8`), []byte(`"value": 6.80`), 1)
	reissued := bytes.Replace(obs, []byte(`"issued": "2026-03-01T14:02:11.250Z"`), []byte(`"issued": "2026-03-02T09:00:00Z"`), 1)
	tests := []struct {
		name   string
		a, b   []byte
		ignore []string
		want   bool
	}{
		{"same bytes", obs, obs, nil, true},
		{"canonical vs pretty", obs, canon, nil, true},
		{"other id and meta", obs, reID, nil, true},
		{"other value", obs, changed, nil, false},
		{"other precision", obs, morePrecise, nil, false},
		{"other issued", obs, reissued, nil, false},
		{"other issued, ignored", obs, reissued, []string{"issued"}, true},
		{"choice element ignored", obs, changed, []string{"value[x]"}, true},
		{"other type", obs, readTestdata(t, "valid/patient.json"), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Equal(tt.a, tt.b, tt.ignore...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := Equal(obs, readTestdata(t, "invalid/truncated.json")); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid second resource: got %v, want ErrInvalid", err)
	}
	if _, err := Equal(obs, obs, "nosuchelement"); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("unknown element to ignore: got %v, want a plain error", err)
	}
}

func TestSetID(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 123_000_000, time.FixedZone("CET", 3600))
	tests := []struct {
		name      string
		file      string
		id, ver   string
		at        time.Time
		wantMeta  string // the meta element in the output; "" for none
		wantError bool
	}{
		{"replaces id and meta", "valid/patient.json", "p-42", "3", at, `"meta":{"lastUpdated":"2026-03-04T04:06:07.123Z","versionId":"3"}`, false},
		{"adds meta", "valid/encounter.json", "enc-9", "1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), `"meta":{"lastUpdated":"2026-01-01T00:00:00Z","versionId":"1"}`, false},
		{"microseconds", "valid/encounter.json", "enc-9", "1", time.Date(2026, 1, 1, 0, 0, 0, 1_234_567, time.UTC), `"lastUpdated":"2026-01-01T00:00:00.001234Z"`, false},
		{"clears meta", "valid/patient.json", "p-42", "", time.Time{}, "", false},
		{"bundle", "valid/bundle-transaction.json", "b-2", "1", at, `"lastUpdated":"2026-03-04T04:06:07.123Z"`, false},
		{"bad id", "valid/patient.json", "no spaces allowed", "1", at, "", true},
		{"id too long", "valid/patient.json", strings.Repeat("a", 65), "1", at, "", true},
		{"bad version", "valid/patient.json", "p-42", "v/1", at, "", true},
		{"invalid resource", "invalid/observation-missing-status.json", "x", "1", at, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := SetID(readTestdata(t, tt.file), tt.id, tt.ver, tt.at)
			if tt.wantError {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := Parse(out)
			if err != nil {
				t.Fatalf("SetID output does not parse: %v\n%s", err, out)
			}
			if r.ID != tt.id {
				t.Errorf("ID %q, want %q", r.ID, tt.id)
			}
			if tt.wantMeta == "" && bytes.Contains(out, []byte(`"meta"`)) {
				t.Errorf("meta left in %s", out)
			}
			if !bytes.Contains(out, []byte(tt.wantMeta)) {
				t.Errorf("output lacks %s:\n%s", tt.wantMeta, out)
			}
			if eq, err := Equal(readTestdata(t, tt.file), out); err != nil || !eq {
				t.Errorf("content changed: Equal = %v, %v", eq, err)
			}
		})
	}
}

func TestResourceTypes(t *testing.T) {
	types := ResourceTypes()
	if !slices.IsSorted(types) {
		t.Error("not sorted")
	}
	// R4 (4.0.1) defines 146 resource types, DomainResource and Resource
	// being abstract.
	if len(types) != 146 {
		t.Errorf("%d types, want 146", len(types))
	}
	for _, name := range []string{"Patient", "Observation", "Bundle", "Consent", "AuditEvent", "MedicationRequest"} {
		if !slices.Contains(types, name) || !IsResourceType(name) {
			t.Errorf("%s missing", name)
		}
	}
	for _, name := range []string{"observation", "Resource", "DomainResource", "ContainedResource", ""} {
		if IsResourceType(name) {
			t.Errorf("%q taken for a resource type", name)
		}
	}
	types[0] = "changed"
	if ResourceTypes()[0] == "changed" {
		t.Error("ResourceTypes shares its slice")
	}
}

// TestLibraryErrorShape pins the fields of google/fhir/go's internal error
// type that libraryErrors reads by reflection.
func TestLibraryErrorShape(t *testing.T) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.Unmarshal([]byte(`{"resourceType":"Observation","code":{"text":"x"},"foo":1}`))
	errs, ok := libraryErrors(err)
	if !ok || len(errs) != 1 {
		t.Fatalf("libraryErrors(%v) = %v, %v", err, errs, ok)
	}
	if want := (libraryError{Path: "Observation", Details: "unknown field", Diagnostics: `"foo"`}); errs[0] != want {
		t.Errorf("got %+v, want %+v", errs[0], want)
	}
	_, err = u.Unmarshal([]byte(`{"resourceType":"Observation","code":{"text":"x"}}`))
	errs, ok = libraryErrors(err)
	if !ok || len(errs) != 1 || errs[0].Details != `missing required field "status"` {
		t.Fatalf("libraryErrors(%v) = %+v, %v", err, errs, ok)
	}
	if _, ok := libraryErrors(errors.New("other")); ok {
		t.Error("a plain error taken for the library's")
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Observation", "Observation"},
		{"Observation.valueQuantity.value", "Observation.valueQuantity.value"},
		{"Observation.value.quantity.value", "Observation.valueQuantity.value"},
		{"Observation.component[2].value.codeableConcept.coding[0]", "Observation.component[2].valueCodeableConcept.coding[0]"},
		{"Bundle.entry[0].resource.observation", "Bundle.entry[0].resource.Observation"},
		{"Bundle.entry[0].resource.Observation.code", "Bundle.entry[0].resource.Observation.code"},
		{"Bundle.entry[0].resource.medicationRequest.medication.codeableConcept", "Bundle.entry[0].resource.MedicationRequest.medicationCodeableConcept"},
		{"Patient.birthDate.extension[0].url", "Patient._birthDate.extension[0].url"},
		{"Patient._birthDate.extension[0]", "Patient._birthDate.extension[0]"},
		{"Patient.contained[0].Observation.status", "Patient.contained[0].Observation.status"},
		{"Patient.nosuch.thing", "Patient.nosuch.thing"},
		{"Foo.bar", "Foo.bar"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := normalizePath(tt.in); got != tt.want {
			t.Errorf("normalizePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseConcurrent(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.json")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Error(err)
					return
				}
				if r, err := Parse(data); err == nil {
					if _, err := r.JSON(); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkParseObservation(b *testing.B) {
	data := readTestdata(b, "valid/observation-hba1c.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBundle(b *testing.B) {
	data := readTestdata(b, "valid/bundle-transaction.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONObservation(b *testing.B) {
	r, err := Parse(readTestdata(b, "valid/observation-hba1c.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.JSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// Conditional references (Type?identifier=system|value, as Synthea exports
// carry) are valid R4 references: they parse, and SetID keeps them
// verbatim, so the FHIR interface can store those it cannot resolve as
// they are (docs/fhir.md, conditional interactions).
func TestConditionalReferencesKept(t *testing.T) {
	in := []byte(`{"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
		"subject":{"reference":"Patient?identifier=http://hospital.example.org/mrn|MRN-1"},
		"participant":[{"individual":{"reference":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999900001"}}],
		"serviceProvider":{"reference":"Organization?identifier=https://github.com/synthetichealth/synthea|org-1"}}`)
	r, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(r.Proto).Subject; got != "Patient?identifier=http://hospital.example.org/mrn|MRN-1" {
		t.Errorf("subject %q", got)
	}
	out, err := SetID(in, "0123456789abcdef0123456789abcdef", "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999900001", "Organization?identifier=https://github.com/synthetichealth/synthea|org-1"} {
		if !strings.Contains(string(out), `"reference":"`+ref+`"`) {
			t.Errorf("%s not kept in %s", ref, out)
		}
	}
	if eq, err := Equal(in, out, "id"); err != nil || !eq {
		t.Fatalf("not equal apart from id: %v", err)
	}
}
