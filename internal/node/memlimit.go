package node

import (
	"io/fs"
	"log/slog"
	"os"
	"path"
	"runtime/debug"
	"slices"
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
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	max, ok := cgroupMemoryMax(os.DirFS("/sys/fs/cgroup"), string(self))
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

// cgroupMemoryMax returns the tightest memory limit on the process's
// cgroup and its ancestors, read from the cgroup file system root given the
// content of /proc/self/cgroup: version 2 (memory.max) or version 1
// (memory/memory.limit_in_bytes). A systemd unit's MemoryMax is on the
// unit's own cgroup; in a container with its own cgroup namespace the
// process's cgroup is the root. ok is false when there is no limit.
func cgroupMemoryMax(root fs.FS, self string) (max int64, ok bool) {
	for _, line := range strings.Split(self, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var dir, file string
		switch {
		case parts[0] == "0" && parts[1] == "": // cgroup v2
			dir, file = parts[2], "memory.max"
		case slices.Contains(strings.Split(parts[1], ","), "memory"): // cgroup v1
			dir, file = path.Join("memory", parts[2]), "memory.limit_in_bytes"
		default:
			continue
		}
		for d := path.Clean(strings.TrimPrefix(dir, "/")); ; d = path.Dir(d) {
			if v, has := readLimit(root, path.Join(d, file)); has && (!ok || v < max) {
				max, ok = v, true
			}
			if d == "." || d == "/" {
				break
			}
		}
	}
	return max, ok
}

// readLimit reads one cgroup memory limit file; has is false for a missing
// or unreadable file and for "no limit" ("max", or v1's number near 2^63).
func readLimit(root fs.FS, name string) (v int64, has bool) {
	b, err := fs.ReadFile(root, name)
	if err != nil {
		return 0, false
	}
	v, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v <= 0 || v >= 1<<60 {
		return 0, false
	}
	return v, true
}
