// Package params keeps the chain's governance parameters: named unsigned
// integers with declared defaults and bounds, changed only by a passed
// governance proposal. Deterministic; no I/O.
package params

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// Codespace of the params module.
const Codespace = "params"

var (
	ErrUnknown    = sm.Register(Codespace, 1, "unknown parameter")
	ErrOutOfRange = sm.Register(Codespace, 2, "parameter value out of range")
)

// Def declares a parameter.
type Def struct {
	Name     string
	Default  uint64
	Min, Max uint64
	Doc      string
}

// Registry holds the declared parameters.
type Registry struct{ defs map[string]Def }

// NewRegistry declares the given parameters; duplicates panic.
func NewRegistry(defs ...Def) *Registry {
	r := &Registry{defs: map[string]Def{}}
	for _, d := range defs {
		r.Declare(d)
	}
	return r
}

// Declare adds a parameter; a module calls it when it is wired in.
func (r *Registry) Declare(d Def) {
	if _, dup := r.defs[d.Name]; dup {
		panic("params: duplicate " + d.Name)
	}
	if d.Default < d.Min || d.Default > d.Max {
		panic("params: default out of range for " + d.Name)
	}
	r.defs[d.Name] = d
}

// Defs lists the declarations sorted by name.
func (r *Registry) Defs() []Def {
	names := make([]string, 0, len(r.defs))
	for n := range r.defs {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]Def, len(names))
	for i, n := range names {
		out[i] = r.defs[n]
	}
	return out
}

// Validate checks a proposed value.
func (r *Registry) Validate(name string, v uint64) error {
	d, ok := r.defs[name]
	if !ok {
		return sm.Wrapf(ErrUnknown, "%q", name)
	}
	if v < d.Min || v > d.Max {
		return sm.Wrapf(ErrOutOfRange, "%s=%d, allowed %d..%d", name, v, d.Min, d.Max)
	}
	return nil
}

func key(name string) []byte { return append([]byte{sm.PrefixParam}, name...) }

// Has reports whether name is declared.
func (r *Registry) Has(name string) bool { _, ok := r.defs[name]; return ok }

// Get returns the value in state, or the default when never set. Unknown
// names panic: they are programming errors, not user input.
func (r *Registry) Get(kv store.Reader, name string) uint64 {
	d, ok := r.defs[name]
	if !ok {
		panic("params: undeclared " + name)
	}
	if b := kv.Get(key(name)); len(b) == 8 {
		return binary.BigEndian.Uint64(b)
	}
	return d.Default
}

// Set validates and stores a value.
func (r *Registry) Set(kv store.KV, name string, v uint64) error {
	if err := r.Validate(name, v); err != nil {
		return err
	}
	kv.Set(key(name), binary.BigEndian.AppendUint64(nil, v))
	return nil
}

// All returns every parameter's current value.
func (r *Registry) All(kv store.Reader) map[string]uint64 {
	out := map[string]uint64{}
	for _, d := range r.Defs() {
		out[d.Name] = r.Get(kv, d.Name)
	}
	return out
}

// InitGenesis sets the values given in genesis ({"name": value, ...}).
func (r *Registry) InitGenesis(kv store.KV, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var vals map[string]uint64
	if err := json.Unmarshal(raw, &vals); err != nil {
		return fmt.Errorf("params genesis: %w", err)
	}
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := r.Set(kv, n, vals[n]); err != nil {
			return fmt.Errorf("params genesis: %w", err)
		}
	}
	return nil
}
