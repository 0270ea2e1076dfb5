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
// blockCache is the state database's block cache (StateBlockCache), which
// Pebble allocates outside Go's heap.
func ApplyMemoryLimit(lg *slog.Logger, blockCache int64) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	max, ok := cgroupLimit()
	if !ok {
		return 0
	}
	limit := goMemoryLimit(max, blockCache)
	if limit == 0 {
		return 0
	}
	debug.SetMemoryLimit(limit)
	lg.Info("Go memory limit set from the cgroup's", "cgroup_bytes", max, "go_limit_bytes", limit)
	return limit
}

// cgroupLimit is the process's cgroup memory limit, if it has one.
func cgroupLimit() (int64, bool) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	return cgroupMemoryMax(os.DirFS("/sys/fs/cgroup"), string(self))
}

// memtables is what Pebble's memtables (64 MiB each, up to three, and
// their overhead) take outside Go's heap besides the block cache.
const memtables = 256 << 20

// goMemoryLimit is the Go memory limit for a cgroup limit of max bytes:
// 90% of what the memory outside Go's heap (the block cache and the
// memtables, allocated in C) leaves, or 0 when that is too small to be
// worth a limit.
func goMemoryLimit(max, blockCache int64) int64 {
	l := (max - blockCache - memtables) / 10 * 9
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

// Block cache sizing: a sixteenth of the memory the node may use, within
// these bounds. A node of 4 GiB gets the minimum, which is what the
// 10 M-record state was measured with (docs/performance.md); a machine
// with room to spare keeps more of a large state's tables in memory.
const (
	minBlockCache = 256 << 20
	maxBlockCache = 2 << 30
)

// StateBlockCache is the state database's block cache: configured (bytes
// > 0), or sized from the machine's memory and the cgroup's limit.
func StateBlockCache(configured int64) int64 {
	if configured > 0 {
		return configured
	}
	mem := memTotal()
	if max, ok := cgroupLimit(); ok && (mem == 0 || max < mem) {
		mem = max
	}
	return blockCacheFor(mem)
}

// blockCacheFor is the automatic block cache for mem bytes of memory (0:
// unknown).
func blockCacheFor(mem int64) int64 {
	return min(max(mem/16, minBlockCache), maxBlockCache)
}

// memTotal is the machine's memory from /proc/meminfo (0: unknown).
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return parseMemTotal(string(b))
}

// parseMemTotal reads the MemTotal line of /proc/meminfo ("MemTotal:
// 24634844 kB").
func parseMemTotal(meminfo string) int64 {
	for line := range strings.Lines(meminfo) {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb <= 0 {
			return 0
		}
		return kb << 10
	}
	return 0
}
