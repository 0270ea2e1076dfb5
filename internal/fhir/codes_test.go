package fhir

import (
	"slices"
	"testing"
)

func TestResourceCodes(t *testing.T) {
	res := map[string]any{"code": map[string]any{"coding": []any{
		map[string]any{"system": "http://loinc.org", "code": "8867-4"},
		map[string]any{"system": "http://snomed.info/sct", "code": "364075005"},
		map[string]any{"system": "http://loinc.org", "code": "8867-4"},
		map[string]any{"system": "http://loinc.org"},
	}}}
	want := []string{"http://loinc.org|8867-4", "http://snomed.info/sct|364075005"}
	if got := resourceCodes(res); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := resourceCodes(map[string]any{}); got == nil || len(got) != 0 {
		t.Fatalf("no code element: got %#v, want an empty, non-nil list (codes known, none)", got)
	}
}
