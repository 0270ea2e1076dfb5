// Package smtest holds what the modules' tests share: deterministic keys
// and running one message the way a block does.
package smtest

import (
	"crypto/sha256"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// Key derives a key from a namespace and a name: the same pair always gives
// the same key, different namespaces give unrelated keys.
func Key(namespace, name string) *crypto.PrivKey {
	s := sha256.Sum256([]byte(namespace + "/sign/" + name))
	e := sha256.Sum256([]byte(namespace + "/enc/" + name))
	k, err := crypto.KeyFromSeeds(s[:], e[:])
	if err != nil {
		panic(err) // 32-byte seeds cannot fail
	}
	return k
}

// Exec runs msg through its route as FinalizeBlock does: through the wire
// encoding and the route's decoder, ValidateBasic, then Exec over a cache of
// ctx.Store that is written back only when the message succeeds. A failed
// message's events are dropped from ctx.Events.
func Exec(rt sm.Route, ctx sm.Context, msg sm.Msg) error {
	decoded, err := rt.Decode(codec.Marshal(msg))
	if err != nil {
		return err
	}
	if err := decoded.ValidateBasic(); err != nil {
		return err
	}
	cache := store.NewCache(ctx.Store)
	n := ctx.Events.Len()
	if err := rt.Exec(ctx.WithStore(cache), decoded); err != nil {
		ctx.Events.Truncate(n)
		return err
	}
	cache.Write()
	return nil
}
