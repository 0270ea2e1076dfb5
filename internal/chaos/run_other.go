//go:build !linux

package chaos

import (
	"context"
	"errors"
)

// ErrNoNetns means network namespaces are unavailable: they are Linux's.
var ErrNoNetns = errors.New("chaos: network namespaces unavailable (Linux only)")

// Probe reports that the fault harness needs Linux.
func Probe() error { return ErrNoNetns }

// Run needs Linux network namespaces.
func Run(context.Context, Options) (*Report, error) { return nil, ErrNoNetns }
