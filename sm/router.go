package sm

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Route binds one message type to its decoder and handler.
type Route struct {
	Type   string
	Decode func([]byte) (Msg, error)
	Exec   func(ctx Context, msg Msg) error
	// NewSigner allows a signer that has no account yet (self-registration).
	NewSigner bool
}

// Module is a domain package plugged into the state machine. A module with
// state in the genesis document also implements GenesisLoader. There is no
// end-of-block hook: the end of a block is exec.Core's (the validator
// updates its messages collected).
type Module interface {
	Name() string
	Routes() []Route
}

// GenesisLoader is implemented by modules with a part of the genesis app
// state.
type GenesisLoader interface {
	// InitGenesis loads the module's part of the genesis app state (may be nil).
	InitGenesis(ctx Context, raw json.RawMessage) error
}

// Router dispatches messages by type.
type Router struct {
	routes  map[string]Route
	modules []Module
}

// NewRouter registers the modules' routes; duplicate types panic (a wiring bug).
func NewRouter(mods ...Module) *Router {
	r := &Router{routes: map[string]Route{}, modules: mods}
	for _, m := range mods {
		for _, rt := range m.Routes() {
			if _, dup := r.routes[rt.Type]; dup {
				panic(fmt.Sprintf("sm: duplicate route %q", rt.Type))
			}
			r.routes[rt.Type] = rt
		}
	}
	return r
}

// Route looks up a message type.
func (r *Router) Route(typ string) (Route, bool) {
	rt, ok := r.routes[typ]
	return rt, ok
}

// Types lists the registered message types, sorted.
func (r *Router) Types() []string {
	out := make([]string, 0, len(r.routes))
	for t := range r.routes {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Modules returns the modules in registration order.
func (r *Router) Modules() []Module { return r.modules }

// DecodeMsg decodes and validates the message of a body.
func (r *Router) DecodeMsg(b Body) (Route, Msg, error) {
	rt, ok := r.routes[b.Type]
	if !ok {
		return Route{}, nil, Wrapf(ErrUnknownType, "%q", b.Type)
	}
	msg, err := rt.Decode(b.Msg)
	if err != nil {
		return Route{}, nil, err
	}
	if err := msg.ValidateBasic(); err != nil {
		return Route{}, nil, err
	}
	return rt, msg, nil
}
