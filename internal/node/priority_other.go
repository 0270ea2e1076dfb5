//go:build !linux

package node

import (
	"errors"
	"fmt"
	"runtime"
)

// setThreadNice is Linux only: elsewhere the consensus routine keeps the
// default priority and the intake gate stays on.
func setThreadNice(int) error {
	return fmt.Errorf("thread priorities on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
