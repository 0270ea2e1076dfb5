package epcis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReferenceHashVectors computes the event hash of every JSON-LD example
// of the reference implementation (epcis-event-hash-generator 1.9.3) and
// compares with its expected hashes, byte for byte.
func TestReferenceHashVectors(t *testing.T) {
	docs, _ := filepath.Glob("testdata/hashgen/*.json*")
	if len(docs) < 15 {
		t.Fatalf("only %d vector documents", len(docs))
	}
	for _, doc := range docs {
		base := strings.TrimSuffix(doc, filepath.Ext(doc))
		t.Run(filepath.Base(base), func(t *testing.T) {
			data, err := os.ReadFile(doc)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(base + ".hashes")
			if err != nil {
				t.Fatal(err)
			}
			got, err := DocumentHashes(data)
			if err != nil {
				t.Fatal(err)
			}
			wantLines := strings.Fields(string(want))
			pre, _ := PreHashes(data)
			wantPre := []string{}
			if p, err := os.ReadFile(base + ".prehashes"); err == nil {
				wantPre = strings.Split(strings.TrimRight(string(p), "\n"), "\n")
			}
			if len(got) != len(wantLines) {
				t.Fatalf("%d hashes, want %d", len(got), len(wantLines))
			}
			for i := range got {
				if got[i] != wantLines[i] {
					w := ""
					if i < len(wantPre) {
						w = wantPre[i]
					}
					t.Errorf("event %d: hash %s, want %s\n pre-hash %s\n want     %s", i, got[i], wantLines[i], pre[i], w)
				}
			}
		})
	}
}

// TestFastEPCAgreesWithRules: the regex-free path accepts exactly what the
// rules accept, and builds the same links.
func TestFastEPCAgreesWithRules(t *testing.T) {
	inputs := []string{
		"urn:epc:id:sgtin:0614141.812345.6789", "urn:epc:id:sgtin:0614141.812345.a%2Fb", "urn:epc:id:sgtin:0614141.812345.a%2Gb",
		"urn:epc:id:sgtin:0614141.812345.a%20b", "urn:epc:id:sgtin:0614141.812345.", "urn:epc:id:sgtin:0614141.8123456.1",
		"urn:epc:id:sgtin:061414.1812345.1.2", "urn:epc:id:sgtin:950600013435.0.x!y", "urn:epc:id:sgtin:0614141.812345." + strings.Repeat("1", 21),
		"urn:epc:id:sscc:0614141.1234567890", "urn:epc:id:sscc:0614141.123456789", "urn:epc:id:sscc:0614141.1234567890x",
		"urn:epc:id:sgln:0614141.12345.400", "urn:epc:id:sgln:0614141.12345.0", "urn:epc:id:sgln:061414112345..1", "urn:epc:id:sgln:0614141.12345.",
		"urn:epc:class:lgtin:4012345.012345.998877", "urn:epc:class:lgtin:4012345.012345.9%7A", "urn:epc:class:lgtin:4012345.012345.9%7B",
	}
	for _, in := range inputs {
		fast, fok, decided := fastEPC(in)
		if !decided {
			t.Fatalf("%q not decided", in)
		}
		slow, sok := "", false
		for _, r := range epcRules {
			if r.re.MatchString(in) {
				slow, sok = r.build(in), true
				break
			}
		}
		if fok != sok || fast != slow {
			t.Errorf("%q: fast %q %v, rules %q %v", in, fast, fok, slow, sok)
		}
	}
}

// TestReferenceNormaliserVectors checks identifier normalisation against the
// reference implementation's own normaliser tests.
func TestReferenceNormaliserVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/hashgen/dl_normaliser.tsv")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		in, want, _ := strings.Cut(line, "\t")
		got, ok := normaliseID(in)
		if !ok {
			got = "-"
		}
		if got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
		n++
	}
	if n < 60 {
		t.Fatalf("only %d vectors", n)
	}
}
