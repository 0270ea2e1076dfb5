package node

import (
	"testing"
	"testing/fstest"
)

func TestCgroupMemoryMax(t *testing.T) {
	for _, c := range []struct {
		name  string
		files fstest.MapFS
		want  int64
		ok    bool
	}{
		{"v2 limit", fstest.MapFS{"memory.max": {Data: []byte("4294967296\n")}}, 4 << 30, true},
		{"v2 unlimited", fstest.MapFS{"memory.max": {Data: []byte("max\n")}}, 0, false},
		{"v1 limit", fstest.MapFS{"memory/memory.limit_in_bytes": {Data: []byte("2147483648\n")}}, 2 << 30, true},
		{"v1 unlimited", fstest.MapFS{"memory/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")}}, 0, false},
		{"no cgroup", fstest.MapFS{}, 0, false},
		{"garbage", fstest.MapFS{"memory.max": {Data: []byte("lots")}}, 0, false},
	} {
		got, ok := cgroupMemoryMax(c.files)
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
