//go:build !unix

package benchkit

import "time"

// ProcessCPU is not measured on this platform; the CPU column shows 0.
func ProcessCPU() time.Duration { return 0 }
