package fhir

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

var renderVersion = &records.Version{Record: consent.RecordID{0xab, 0xcd}, Version: 7, Created: 1700000000}

// decodeForCompare decodes for comparison, numbers as written.
func decodeForCompare(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// checkRenderMatchesDecoded requires the byte path and the encoding/json
// path to agree: both fail, or both give the same JSON, and the same bytes
// when the stored content is compact and has nothing encoding/json escapes.
func checkRenderMatchesDecoded(t testing.TB, content []byte) {
	t.Helper()
	fast, ferr := render(content, renderVersion)
	slow, serr := renderDecoded(content, renderVersion)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("%.200s: render error %v, decoding path error %v", content, ferr, serr)
	}
	if ferr != nil {
		return
	}
	if !reflect.DeepEqual(decodeForCompare(t, fast), decodeForCompare(t, slow)) {
		t.Fatalf("render differs from the decoding path:\n%.400s\n%.400s", fast, slow)
	}
	var compact bytes.Buffer
	if json.Compact(&compact, content) == nil && bytes.Equal(compact.Bytes(), content) && !bytes.ContainsAny(content, "<>&\u2028\u2029") && !bytes.Equal(fast, slow) {
		t.Fatalf("compact content rendered to other bytes:\n%.400s\n%.400s", fast, slow)
	}
}

// Every resource of the Synthea export and of the generated bundle renders
// as the decoding path renders it.
func TestRenderMatchesDecodingOnRealResources(t *testing.T) {
	n := 0
	for _, path := range []string{"../../fhirtest/testdata/Clint_Champlin_4e83f4d0-0461-47bf-9711-292d8f5d69ff.json", "testdata/synthetic-patient-bundle.json"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			t.Fatal(err)
		}
		for _, e := range bundle.Entry {
			var compact bytes.Buffer
			if err := json.Compact(&compact, e.Resource); err != nil {
				t.Fatal(err)
			}
			checkRenderMatchesDecoded(t, compact.Bytes())
			checkRenderMatchesDecoded(t, e.Resource) // as indented in the file
			n++
		}
	}
	if n < 300 {
		t.Fatalf("only %d resources checked", n)
	}
}

func TestRenderEdgeCases(t *testing.T) {
	for _, c := range []string{
		`{}`,
		` { } `,
		`{"resourceType":"Observation"}`,
		`{"meta":null,"resourceType":"Observation"}`,
		`{"meta":{},"id":"x"}`,
		`{"meta":{"versionId":"99","lastUpdated":"2000-01-01T00:00:00Z","tag":[{"code":"a"}]}}`,
		`{"meta":5}`,
		`{"meta":[1]}`,
		`{"b":1,"a":2,"b":3}`,
		`{"k\u0065y":"escaped key","id":"y"}`,
		`{"ключ":"non-ASCII key"}`,
		`{"s":"a \"quoted\" } ] , value","n":-1.50e+3,"t":true,"f":false,"z":null,"arr":[{"x":[]},"]"]}`,
		`{"html":"<b>&</b>"}`,
		`[1,2]`,
		`"string"`,
		`{"a":1`,
		`{"a":1}x`,
		`{"a":tru}`,
		``,
	} {
		checkRenderMatchesDecoded(t, []byte(c))
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{`{"resourceType":"Patient","meta":{"profile":["p"]},"id":"1"}`, `{"a":[{"b":"}"}],"c":1e5}`, `{}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		checkRenderMatchesDecoded(t, content)
	})
}

func BenchmarkRender(b *testing.B) {
	content := []byte(`{"category":[{"coding":[{"code":"laboratory","display":"Laboratory","system":"http://terminology.hl7.org/CodeSystem/observation-category"}]}],"code":{"coding":[{"code":"2339-0","display":"Glucose","system":"http://loinc.org"}],"text":"Glucose"},"effectiveDateTime":"2023-01-05T08:00:00Z","id":"0123456789abcdef0123456789abcdef","resourceType":"Observation","status":"final","subject":{"reference":"Patient/mc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"},"valueQuantity":{"code":"mg/dL","system":"http://unitsofmeasure.org","unit":"mg/dL","value":95}}`)
	for _, bc := range []struct {
		name string
		fn   func([]byte, *records.Version) ([]byte, error)
	}{{"bytes", render}, {"decoding", renderDecoded}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.fn(content, renderVersion); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
