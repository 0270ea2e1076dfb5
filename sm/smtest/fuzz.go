package smtest

import (
	"bytes"
	"errors"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
)

// TB is the part of testing.TB the helpers use (smtest does not import
// testing, so linking it links no test framework).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// FuzzRoutes is the body every module's FuzzDecode runs on b for its
// routes: no decoder panics, a decoding failure is ErrTxDecode, whatever
// decodes is the route's type and re-encodes to exactly b (one encoding per
// message), and ValidateBasic does not panic.
func FuzzRoutes(t TB, routes []sm.Route, b []byte) {
	t.Helper()
	for _, rt := range routes {
		msg, err := rt.Decode(b)
		if err != nil {
			if !errors.Is(err, sm.ErrTxDecode) {
				t.Fatalf("%s: decode error %v is not ErrTxDecode", rt.Type, err)
			}
			continue
		}
		if msg.Type() != rt.Type {
			t.Fatalf("route %s decoded a %s", rt.Type, msg.Type())
		}
		if got := codec.Marshal(msg); !bytes.Equal(got, b) {
			t.Fatalf("%s: not canonical: %x re-encodes to %x", rt.Type, b, got)
		}
		_ = msg.ValidateBasic() // must not panic
	}
}

// FuzzCanonical checks a stored-state decoder on b: whatever decodes
// re-encodes to exactly b. It returns the decoded value (nil when b does
// not decode) for further checks.
func FuzzCanonical[T codec.Encoder](t TB, name string, b []byte, decode func([]byte) (T, error)) (v T, ok bool) {
	t.Helper()
	v, err := decode(b)
	if err != nil {
		return v, false
	}
	if got := codec.Marshal(v); !bytes.Equal(got, b) {
		t.Fatalf("%s: not canonical: %x re-encodes to %x", name, b, got)
	}
	return v, true
}
