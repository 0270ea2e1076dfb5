//go:build unix

package testnet

import (
	"os/exec"
	"syscall"
)

const procSupported = true

// setProcAttr puts the child in its own process group, so that killing the
// group ends it and anything it started, and a terminal's Ctrl-C does not
// reach it directly.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

// killGroup sends SIGKILL to the process group led by pid.
func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }

// terminate asks the process to stop cleanly.
func terminate(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }
