// Package smtest holds what the modules' tests share: deterministic keys
// and running one message the way a block does.
package smtest

import (
	"crypto/sha256"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
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

// Exec runs msg through its route as a block does: through the wire
// encoding and the route's decoder, ValidateBasic, then the route's handler
// under sm.Isolate (the block's rule: a failed message's writes are
// discarded and its events dropped from ctx.Events).
func Exec(rt sm.Route, ctx sm.Context, msg sm.Msg) error {
	decoded, err := rt.Decode(codec.Marshal(msg))
	if err != nil {
		return err
	}
	if err := decoded.ValidateBasic(); err != nil {
		return err
	}
	return sm.Isolate(ctx, func(ctx sm.Context) error { return rt.Exec(ctx, decoded) })
}
