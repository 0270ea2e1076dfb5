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
