package sm

import (
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/store"
)

// Msg is one operation of a transaction.
type Msg interface {
	codec.Encoder
	// Type is the routing name, "module/action".
	Type() string
	// ValidateBasic checks the message without state; it runs in CheckTx and
	// again before execution.
	ValidateBasic() error
}

// Context is what a handler sees: the block, the authenticated signer and the
// store it may write through. Handlers never keep it beyond the call.
type Context struct {
	ChainID string
	Height  int64
	Time    time.Time // the block's time, identical on every node
	Store   store.KV
	Signer  crypto.Address
	Key     crypto.PubKey
	Events  *Events
	Valset  *ValidatorUpdates
}

// WithStore returns a copy of the context that writes through kv.
func (c Context) WithStore(kv store.KV) Context { c.Store = kv; return c }

// Attr is one key/value attribute of an event.
type Attr struct{ Key, Value string }

// Event is a typed, indexed notification of a state change.
type Event struct {
	Type  string
	Attrs []Attr
}

// Events collects events in emission order.
type Events struct{ list []Event }

// Emit appends an event.
func (e *Events) Emit(typ string, attrs ...Attr) {
	if e != nil {
		e.list = append(e.list, Event{Type: typ, Attrs: attrs})
	}
}

// List returns the events so far.
func (e *Events) List() []Event {
	if e == nil {
		return nil
	}
	return e.list
}

// Truncate drops events emitted after the first n (a failed message's events).
func (e *Events) Truncate(n int) {
	if e != nil && n < len(e.list) {
		e.list = e.list[:n]
	}
}

// Len reports the number of events.
func (e *Events) Len() int {
	if e == nil {
		return 0
	}
	return len(e.list)
}

// ValidatorUpdate changes a validator's voting power; power 0 removes it.
type ValidatorUpdate struct {
	PubKey crypto.PubKey // the validator's Ed25519 consensus key
	Power  int64
}

// ValidatorUpdates collects the changes of one block; the last update of a
// key wins. The ABCI adapter hands them to CometBFT in FinalizeBlock.
type ValidatorUpdates struct{ list []ValidatorUpdate }

// Set records a power change.
func (v *ValidatorUpdates) Set(pub crypto.PubKey, power int64) {
	for i := range v.list {
		if v.list[i].PubKey == pub {
			v.list[i].Power = power
			return
		}
	}
	v.list = append(v.list, ValidatorUpdate{PubKey: pub, Power: power})
}

// List returns the updates in the order keys were first changed.
func (v *ValidatorUpdates) List() []ValidatorUpdate {
	if v == nil {
		return nil
	}
	return v.list
}

// Isolate runs fn over a cache of ctx.Store. When fn succeeds its writes
// reach ctx.Store and its events stay; when it fails its writes are
// discarded and the events it emitted are dropped from ctx.Events. This is
// the one rule for what a failed message (or a failed governance action)
// leaves behind: nothing of its own; what the envelope did before it (the
// sequence advanced, the fee charged) stays, because that was written to
// ctx.Store before fn ran.
func Isolate(ctx Context, fn func(ctx Context) error) error {
	cache := store.NewCache(ctx.Store)
	n := ctx.Events.Len()
	if err := fn(ctx.WithStore(cache)); err != nil {
		ctx.Events.Truncate(n)
		return err
	}
	cache.Write()
	return nil
}
