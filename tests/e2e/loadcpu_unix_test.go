//go:build unix

package e2e

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) this process has used so
// far, every goroutine counted: the embedded server, the functions and the
// load generator alike.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
