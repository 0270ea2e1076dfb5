package params_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/params"
)

func registry() *params.Registry {
	return params.NewRegistry(
		params.Def{Name: "b.limit", Default: 10, Min: 1, Max: 100},
		params.Def{Name: "a.fee", Default: 0, Min: 0, Max: 5},
	)
}

func TestGetSetValidate(t *testing.T) {
	r := registry()
	kv := store.NewMemory()
	if got := r.Get(kv, "b.limit"); got != 10 {
		t.Fatalf("default = %d", got)
	}
	tests := []struct {
		name    string
		param   string
		value   uint64
		wantErr error
	}{
		{"min", "b.limit", 1, nil},
		{"max", "b.limit", 100, nil},
		{"below min", "b.limit", 0, params.ErrOutOfRange},
		{"above max", "b.limit", 101, params.ErrOutOfRange},
		{"unknown", "c.nope", 1, params.ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := store.NewMemory()
			err := r.Set(kv, tt.param, tt.value)
			if !errors.Is(err, tt.wantErr) || !errors.Is(r.Validate(tt.param, tt.value), tt.wantErr) {
				t.Fatalf("Set = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && r.Get(kv, tt.param) != tt.value {
				t.Fatalf("Get after Set = %d", r.Get(kv, tt.param))
			}
			if tt.wantErr != nil && kv.Len() != 0 {
				t.Fatal("a rejected value was stored")
			}
		})
	}
	if defs := r.Defs(); len(defs) != 2 || defs[0].Name != "a.fee" {
		t.Fatalf("Defs not sorted: %+v", defs)
	}
	if all := r.All(kv); len(all) != 2 || all["b.limit"] != 10 || all["a.fee"] != 0 {
		t.Fatalf("All = %v", all)
	}
}

func TestGenesis(t *testing.T) {
	r := registry()
	kv := store.NewMemory()
	if err := r.InitGenesis(kv, json.RawMessage(`{"b.limit": 50, "a.fee": 5}`)); err != nil {
		t.Fatal(err)
	}
	if r.Get(kv, "b.limit") != 50 || r.Get(kv, "a.fee") != 5 {
		t.Fatalf("after genesis: %v", r.All(kv))
	}
	for _, raw := range []string{`{"b.limit": 0}`, `{"zzz": 1}`, `[1]`, `{"b.limit": -1}`} {
		if err := r.InitGenesis(store.NewMemory(), json.RawMessage(raw)); err == nil {
			t.Errorf("genesis %s accepted", raw)
		}
	}
	if err := r.InitGenesis(store.NewMemory(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestDeclarePanics(t *testing.T) {
	for name, f := range map[string]func(){
		"duplicate":         func() { registry().Declare(params.Def{Name: "a.fee", Max: 1}) },
		"default below min": func() { params.NewRegistry(params.Def{Name: "x", Default: 0, Min: 1, Max: 2}) },
		"default above max": func() { params.NewRegistry(params.Def{Name: "x", Default: 3, Min: 1, Max: 2}) },
		"get of undeclared": func() { registry().Get(store.NewMemory(), "nope") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("did not panic")
				}
			}()
			f()
		})
	}
}
