//go:build unix

package benchkit

import (
	"syscall"
	"time"
)

// ProcessCPU is the user+system CPU time this process has used so far; the
// servers run in-process, so it covers client and server together.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
