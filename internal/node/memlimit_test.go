package node

import (
	"testing"
	"testing/fstest"
)

func TestCgroupMemoryMax(t *testing.T) {
	const v2root, v2unit = "0::/\n", "0::/system.slice/medchain.service\n"
	const v1root, v1unit = "9:memory:/\n2:cpu,cpuacct:/\n", "4:cpu:/x\n9:memory:/system.slice/medchain.service\n"
	for _, c := range []struct {
		name  string
		files fstest.MapFS
		self  string
		want  int64
		ok    bool
	}{
		{"v2 container", fstest.MapFS{"memory.max": {Data: []byte("4294967296\n")}}, v2root, 4 << 30, true},
		{"v2 unlimited", fstest.MapFS{"memory.max": {Data: []byte("max\n")}}, v2root, 0, false},
		{"v2 systemd unit", fstest.MapFS{
			"system.slice/medchain.service/memory.max": {Data: []byte("4294967296\n")},
			"system.slice/memory.max":                  {Data: []byte("max\n")},
		}, v2unit, 4 << 30, true},
		{"v2 tighter slice", fstest.MapFS{
			"system.slice/medchain.service/memory.max": {Data: []byte("8589934592\n")},
			"system.slice/memory.max":                  {Data: []byte("2147483648\n")},
		}, v2unit, 2 << 30, true},
		{"v1 container", fstest.MapFS{"memory/memory.limit_in_bytes": {Data: []byte("2147483648\n")}}, v1root, 2 << 30, true},
		{"v1 unlimited", fstest.MapFS{"memory/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")}}, v1root, 0, false},
		{"v1 systemd unit", fstest.MapFS{
			"memory/system.slice/medchain.service/memory.limit_in_bytes": {Data: []byte("3221225472\n")},
			"memory/memory.limit_in_bytes":                               {Data: []byte("9223372036854771712\n")},
		}, v1unit, 3 << 30, true},
		{"no cgroup files", fstest.MapFS{}, v2unit, 0, false},
		{"garbage", fstest.MapFS{"memory.max": {Data: []byte("lots")}}, v2root, 0, false},
		{"no cgroup line", fstest.MapFS{"memory.max": {Data: []byte("4294967296")}}, "", 0, false},
	} {
		got, ok := cgroupMemoryMax(c.files, c.self)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %d, %v; want %d, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// A 4 GiB container leaves Go 90% of what Pebble's C memory (its block
// cache and memtables) does not take; a tiny one gets no limit rather than
// a collector running without pause.
func TestGoMemoryLimit(t *testing.T) {
	if got, want := goMemoryLimit(4<<30, 256<<20), int64((4<<30-512<<20)/10*9); got != want {
		t.Fatalf("4 GiB: %d, want %d", got, want)
	}
	if got, want := goMemoryLimit(16<<30, 1<<30), int64((16<<30-(1<<30)-256<<20)/10*9); got != want {
		t.Fatalf("16 GiB with a 1 GiB block cache: %d, want %d", got, want)
	}
	if got := goMemoryLimit(600<<20, 256<<20); got != 0 {
		t.Fatalf("600 MiB: %d, want no limit", got)
	}
}

// The automatic block cache is a sixteenth of the memory, at least 256 MiB
// (a 4 GiB node, and unknown memory) and at most 2 GiB; a configured size
// wins.
func TestStateBlockCache(t *testing.T) {
	for _, c := range []struct{ mem, want int64 }{
		{0, 256 << 20},
		{2 << 30, 256 << 20},
		{4 << 30, 256 << 20},
		{24 << 30, 1536 << 20},
		{64 << 30, 2 << 30},
	} {
		if got := blockCacheFor(c.mem); got != c.want {
			t.Errorf("memory %d: block cache %d, want %d", c.mem, got, c.want)
		}
	}
	if got := StateBlockCache(100 << 20); got != 100<<20 {
		t.Errorf("configured 100 MiB: %d", got)
	}
	if got := StateBlockCache(0); got < 256<<20 || got > 2<<30 {
		t.Errorf("automatic: %d, outside [256 MiB, 2 GiB]", got)
	}
}

func TestParseMemTotal(t *testing.T) {
	for in, want := range map[string]int64{
		"MemTotal:       24634844 kB\nMemFree:         1000 kB\n": 24634844 << 10,
		"MemFree: 1 kB\nMemTotal: 4194304 kB\n":                   4 << 30,
		"MemTotal: 12 MB\n":                                       0,
		"MemTotal: lots kB\n":                                     0,
		"":                                                        0,
	} {
		if got := parseMemTotal(in); got != want {
			t.Errorf("%q: %d, want %d", in, got, want)
		}
	}
}
