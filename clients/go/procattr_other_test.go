//go:build !linux

package penguiflow_test

import "os/exec"

// reapWithParent is a no-op outside Linux (no parent-death signal).
func reapWithParent(*exec.Cmd) {}
