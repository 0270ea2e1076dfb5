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

// A 4 GiB container leaves Go 90% of what Pebble's C memory does not take;
// a tiny one gets no limit rather than a collector running without pause.
func TestGoMemoryLimit(t *testing.T) {
	if got, want := goMemoryLimit(4<<30), int64((4<<30-512<<20)/10*9); got != want {
		t.Fatalf("4 GiB: %d, want %d", got, want)
	}
	if got := goMemoryLimit(600 << 20); got != 0 {
		t.Fatalf("600 MiB: %d, want no limit", got)
	}
}
