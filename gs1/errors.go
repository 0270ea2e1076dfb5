package gs1

import (
	"errors"
	"strconv"
)

// The faults an identifier can have. Every error this package returns is an
// *Error wrapping exactly one of them, so callers test with errors.Is and map
// each to its own refusal code.
var (
	ErrEmpty        = errors.New("empty")
	ErrLength       = errors.New("wrong length")
	ErrNotDigits    = errors.New("not all digits")
	ErrCheckDigit   = errors.New("wrong check digit")
	ErrCharset      = errors.New("character outside the GS1 AI encodable character set 82")
	ErrDate         = errors.New("not a valid YYMMDD date")
	ErrPrefixLength = errors.New("GS1 Company Prefix length out of range 6..12")
	ErrSyntax       = errors.New("malformed")
	ErrUnknownAI    = errors.New("unsupported application identifier")
	ErrDuplicateAI  = errors.New("application identifier given twice")
	ErrConflict     = errors.New("application identifiers conflict")
	ErrMissingKey   = errors.New("no primary key")
	ErrEscape       = errors.New("bad percent-encoding")
)

// Error names the identifier (or application identifier) that is faulty, the
// fault, and the offending input (shortened). Its message reads like
// `gs1: GTIN "04012345111112": wrong check digit (want 8)`.
type Error struct {
	What   string // "GTIN", "SSCC", "GLN", "serial (AI 21)", "Digital Link", ...
	Input  string
	Fault  error // one of the Err* values above
	Detail string
}

func (e *Error) Error() string {
	s := "gs1: " + e.What
	if e.Input != "" {
		in := e.Input
		if len(in) > 64 {
			in = in[:64] + "…"
		}
		s += " " + strconv.Quote(in)
	}
	s += ": " + e.Fault.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Fault }

func fault(what, input string, f error, detail string) error {
	return &Error{What: what, Input: input, Fault: f, Detail: detail}
}
