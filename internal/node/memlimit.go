package node

import (
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// ApplyMemoryLimit gives Go's garbage collector a soft memory limit when
// the operator set none (GOMEMLIMIT) and the process runs under a cgroup
// memory limit (a container, a systemd MemoryMax): without one, Go lets the
// heap grow to twice its live size between collections, and a node whose
// state tree holds gigabytes would be killed by the cgroup long before it
// ran out of live memory. It reports the limit set, 0 for none.
func ApplyMemoryLimit(lg *slog.Logger) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	max, ok := cgroupMemoryMax(os.DirFS("/sys/fs/cgroup"))
	if !ok {
		return 0
	}
	limit := goMemoryLimit(max)
	if limit == 0 {
		return 0
	}
	debug.SetMemoryLimit(limit)
	lg.Info("Go memory limit set from the cgroup's", "cgroup_bytes", max, "go_limit_bytes", limit)
	return limit
}

// outsideGoHeap is what a node keeps outside Go's heap: Pebble's block
// cache (256 MiB) and memtables (64 MiB each, up to three) are allocated
// in C.
const outsideGoHeap = 512 << 20

// goMemoryLimit is the Go memory limit for a cgroup limit of max bytes:
// 90% of what the memory outside Go's heap leaves, or 0 when that is too
// small to be worth a limit.
func goMemoryLimit(max int64) int64 {
	l := (max - outsideGoHeap) / 10 * 9
	if l < 256<<20 {
		return 0
	}
	return l
}

// cgroupMemoryMax reads the memory limit of the process's cgroup from the
// cgroup file system root: version 2 (memory.max) or version 1
// (memory/memory.limit_in_bytes). ok is false when there is no limit.
func cgroupMemoryMax(root fs.FS) (max int64, ok bool) {
	for _, name := range []string{"memory.max", "memory/memory.limit_in_bytes"} {
		b, err := fs.ReadFile(root, name)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		// cgroup v1 writes "no limit" as a number near 2^63.
		if err != nil || v <= 0 || v >= 1<<60 {
			return 0, false
		}
		return v, true
	}
	return 0, false
}
