package fhirr4

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzParse checks that Parse never panics, and that whatever it accepts is
// JSON that survives the round trip through canonical JSON unchanged. Its
// seed corpus, testdata/fuzz/FuzzParse, holds every file of testdata/valid
// and testdata/invalid (TestFuzzCorpus keeps it in step) and anything the
// fuzzer has found.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50}}`,
		`{"resourceType":"Patient","birthDate":"1970","_birthDate":{"extension":[{"url":"https://example.org/x","valueBoolean":true}]}}`,
		`{"resourceType":"Patient","contained":[{"resourceType":"Observation","status":"final","code":{"text":"x"}}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"a","resource":{"resourceType":"Patient","id":"p"}}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) {
				// Only bad input may fail, and it must say why.
				t.Fatalf("error is not an *InvalidError: %v", err)
			}
			if len(ie.Issues) == 0 || ie.Issues[0].Problem == "" {
				t.Fatalf("invalid without an issue: %v", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		j1, err := r.JSON()
		if err != nil {
			t.Fatalf("accepted but cannot marshal: %v", err)
		}
		r2, err := Parse(j1)
		if err != nil {
			t.Fatalf("canonical JSON of an accepted input is rejected: %v\ninput %q\ncanonical %s", err, data, j1)
		}
		j2, err := r2.JSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(j1, j2) || !proto.Equal(r.Proto, r2.Proto) {
			t.Fatalf("round trip changed the resource:\n%s\n%s", j1, j2)
		}
	})
}

// TestFuzzCorpus checks that the checked-in seed corpus holds each test
// document; -rewrite adds the missing ones.
func TestFuzzCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/*valid/*.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(filepath.Dir(file))+"-"+filepath.Base(file), ".json")
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
		path := filepath.Join(dir, name)
		if *rewrite {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is missing or stale (run with -rewrite)", path)
		}
	}
}
