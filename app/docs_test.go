package app_test

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/app"
	_ "github.com/medchain/medchain/internal/api"     // registers the api codespace
	_ "github.com/medchain/medchain/internal/gateway" // registers the gateway codespace
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store/merkle"
)

var rewriteDocs = flag.Bool("rewrite-docs", false, "regenerate the error table in docs/transactions.md")

// TestDocsListEveryError keeps docs/transactions.md's error table equal to
// the registered errors, so a new error cannot ship undocumented.
func TestDocsListEveryError(t *testing.T) {
	_ = app.New(merkle.NewMemTree(), app.Options{})
	errs := sm.Registered()
	slices.SortFunc(errs, func(a, b *sm.Error) int {
		return cmp.Or(cmp.Compare(a.Codespace, b.Codespace), cmp.Compare(a.Code, b.Code))
	})
	var rows strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&rows, "| `%s` | %d | %s |\n", e.Codespace, e.Code, e.Desc)
	}
	const path = "../docs/transactions.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	const begin, end = "<!-- errors:begin -->\n", "<!-- errors:end -->"
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the error table markers", path)
	}
	want := doc[:i+len(begin)] + rows.String() + doc[j:]
	if *rewriteDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != doc {
		t.Errorf("%s's error table is out of date: run go test ./app -run TestDocsListEveryError -rewrite-docs", path)
	}
}
