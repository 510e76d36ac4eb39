package penguiflow_test

import (
	"os/exec"
	"syscall"
)

// reapWithParent makes the kernel kill the spawned server if the test binary
// dies without running its cleanup (e.g. a -timeout panic), so no server is
// left behind.
func reapWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
