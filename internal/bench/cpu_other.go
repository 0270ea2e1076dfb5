//go:build !unix

package bench

import "time"

// ProcessCPU is unknown on this system.
func ProcessCPU() time.Duration { return 0 }
