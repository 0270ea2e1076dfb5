package testnet

import "syscall"

// setParentDeathSignal makes the kernel kill the child when the test binary
// dies, even by SIGKILL or a -timeout panic, when no cleanup runs.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
