//go:build !linux

package testenv

import (
	"os/exec"
	"syscall"
)

// procAttr: outside Linux there is no parent-death signal; servers stop at cleanup only.
func procAttr() *syscall.SysProcAttr { return nil }

func killGroup(cmd *exec.Cmd) { cmd.Process.Kill() }

// listens cannot tell which process holds a port outside Linux: the readiness probe decides.
func listens(pgid, port int) (bool, error) { return true, nil }
