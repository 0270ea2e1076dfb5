package smtest

import (
	"encoding/json"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// Env is the harness module tests share: an in-memory store, a block time,
// the routes of the modules under test, and the events of the messages run.
// Keys are Key(Namespace, name), so a test names its actors.
type Env struct {
	T         TB
	Namespace string
	KV        *store.Memory
	Now       time.Time
	Events    *sm.Events
	routes    map[string]sm.Route
}

// NewEnv builds an empty state at block time now with the modules' routes.
func NewEnv(t TB, namespace string, now time.Time, mods ...sm.Module) *Env {
	t.Helper()
	e := &Env{T: t, Namespace: namespace, KV: store.NewMemory(), Now: now, Events: &sm.Events{}, routes: map[string]sm.Route{}}
	for _, m := range mods {
		for _, rt := range m.Routes() {
			e.routes[rt.Type] = rt
		}
	}
	return e
}

// Key is the key of the actor name.
func (e *Env) Key(name string) *crypto.PrivKey { return Key(e.Namespace, name) }

// Addr is the address of the actor name.
func (e *Env) Addr(name string) crypto.Address { return e.Key(name).Address() }

// Genesis loads v, encoded as the genesis document carries it, with g.
func (e *Env) Genesis(g sm.GenesisLoader, v any) {
	e.T.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		e.T.Fatalf("genesis: %v", err)
	}
	if err := g.InitGenesis(sm.Context{Time: e.Now, Store: e.KV, Events: &sm.Events{}}, raw); err != nil {
		e.T.Fatalf("genesis: %v", err)
	}
}

// Run runs msg signed by the actor signer as a block does (Exec) at
// height 2 of chain "test", its events into e.Events.
func (e *Env) Run(signer string, msg sm.Msg) error {
	e.T.Helper()
	rt, ok := e.routes[msg.Type()]
	if !ok {
		e.T.Fatalf("no route %s", msg.Type())
	}
	k := e.Key(signer)
	return Exec(rt, sm.Context{ChainID: "test", Height: 2, Time: e.Now, Store: e.KV, Events: e.Events, Signer: k.Address(), Key: k.PubKey()}, msg)
}

// OK runs msg and fails the test unless it succeeds.
func (e *Env) OK(signer string, msg sm.Msg) {
	e.T.Helper()
	if err := e.Run(signer, msg); err != nil {
		e.T.Fatalf("%s by %s: %v", msg.Type(), signer, err)
	}
}
