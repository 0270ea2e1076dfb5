//go:build unix && !linux

package testnet

import "syscall"

// setParentDeathSignal does nothing: only Linux has a parent-death signal.
// Test cleanup still kills every node.
func setParentDeathSignal(*syscall.SysProcAttr) {}
