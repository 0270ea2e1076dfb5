package sm

import (
	"errors"
	"fmt"
	"sync"
)

// Error is a stable, documented failure of a transaction or query. Codespace
// and Code never change meaning once released; new errors take new codes.
type Error struct {
	Codespace string
	Code      uint32
	Desc      string
}

func (e *Error) Error() string { return e.Desc }

var (
	regMu    sync.Mutex
	registry = map[string]*Error{}
)

// Register declares an error. It panics on a duplicate (codespace, code) or a
// zero code, which is reserved for success; call it from package var blocks.
func Register(codespace string, code uint32, desc string) *Error {
	if code == 0 {
		panic("sm: error code 0 is reserved for success")
	}
	regMu.Lock()
	defer regMu.Unlock()
	k := fmt.Sprintf("%s/%d", codespace, code)
	if _, dup := registry[k]; dup {
		panic("sm: duplicate error " + k)
	}
	e := &Error{Codespace: codespace, Code: code, Desc: desc}
	registry[k] = e
	return e
}

// Registered lists every declared error (for documentation and tests).
func Registered() []*Error {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]*Error, 0, len(registry))
	for _, e := range registry {
		out = append(out, e)
	}
	return out
}

// Wrapf adds context to a registered error, keeping it matchable with errors.Is.
func Wrapf(err *Error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", err, fmt.Sprintf(format, args...))
}

// Codespace of the core (transaction format and authentication).
const Codespace = "tx"

// Errors of the transaction envelope. Their codes are part of the protocol.
var (
	ErrInternal      = Register(Codespace, 1, "internal error")
	ErrTxDecode      = Register(Codespace, 2, "malformed transaction")
	ErrTxTooLarge    = Register(Codespace, 3, "transaction too large")
	ErrWrongChainID  = Register(Codespace, 4, "wrong chain id")
	ErrBadSignature  = Register(Codespace, 5, "invalid signature")
	ErrBadSequence   = Register(Codespace, 6, "wrong sequence: replayed or out of order")
	ErrUnknownType   = Register(Codespace, 7, "unknown message type")
	ErrUnknownSigner = Register(Codespace, 8, "signer has no account")
	ErrInactive      = Register(Codespace, 9, "signer account is deactivated")
	ErrFeeTooLow     = Register(Codespace, 10, "fee below the minimum")
	ErrFunds         = Register(Codespace, 11, "insufficient funds for the fee")
	ErrInvalidMsg    = Register(Codespace, 12, "invalid message")
)

// ABCIInfo maps an error to its ABCI code, codespace and log. Errors that are
// not registered are reported as internal errors with their text.
func ABCIInfo(err error) (code uint32, codespace, log string) {
	if err == nil {
		return 0, "", ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code, e.Codespace, err.Error()
	}
	return ErrInternal.Code, ErrInternal.Codespace, "internal error: " + err.Error()
}
