//go:build !unix

package testnet

import (
	"errors"
	"os/exec"
)

const procSupported = false

var errUnsupported = errors.New("testnet: process groups need a Unix system")

func setProcAttr(*exec.Cmd) {}
func killGroup(int) error   { return errUnsupported }
func terminate(int) error   { return errUnsupported }
