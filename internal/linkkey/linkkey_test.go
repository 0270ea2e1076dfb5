package linkkey

import (
	"os"
	"path/filepath"
	"testing"
)

func TestGenerateLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config", "link_key.json")
	if r, err := LoadIfExists(p); r != nil || err != nil {
		t.Fatalf("no file: %v %v", r, err)
	}
	g, err := Generate(p, "dev-hospital")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(p, "dev-hospital"); err == nil {
		t.Fatal("overwrote a key")
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	l, err := Load(p)
	if err != nil || *l != *g {
		t.Fatalf("loaded %+v, %v", l, err)
	}
	if err := os.WriteFile(p, []byte(`{"org":"x","key":"00"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Fatal("short key accepted")
	}
}
