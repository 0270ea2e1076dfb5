package merkle

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestArenaChunksAskForHugePages: past its first chunk an arena allocates
// chunks hugeGroup at a time, contiguous, and the kernel records the
// huge-page advice on their interior (VmFlags "hg" in /proc/self/smaps),
// which is what makes loading a large tree checkpoint fault 2 MiB at a time.
// Nodes written across the chunks read back unchanged.
func TestArenaChunksAskForHugePages(t *testing.T) {
	var a arena[innerNode]
	n := arenaChunkSize + 10
	for i := range n {
		x := a.alloc()
		*a.at(x) = innerNode{l: ref(i), gen: uint32(i)}
	}
	for c := uint32(1); c < hugeGroup; c++ {
		if a.chunks[c] == nil {
			t.Fatalf("chunk %d not allocated with chunk 1", c)
		}
		if got, want := uintptr(unsafe.Pointer(a.chunks[c])), uintptr(unsafe.Pointer(a.chunks[1]))+uintptr(c-1)*unsafe.Sizeof(*a.chunks[1]); got != want {
			t.Fatalf("chunk %d at %#x, want %#x (one allocation)", c, got, want)
		}
	}
	for i := 1; i <= n; i++ {
		if got := a.at(uint32(i)); got.l != ref(i-1) || got.gen != uint32(i-1) {
			t.Fatalf("node %d reads back %+v", i, *got)
		}
	}
	base := uintptr(unsafe.Pointer(a.chunks[1]))
	probe := (base + hugePage - 1) &^ (hugePage - 1)
	flags, err := vmFlags(probe)
	if err != nil {
		t.Skipf("cannot read /proc/self/smaps: %v", err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		if b, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); len(b) == 0 {
			t.Skip("this kernel has no transparent huge pages")
		}
		t.Fatalf("the arena's memory at %#x has VmFlags %q: no huge-page advice (hg)", probe, flags)
	}
	var r runArena
	for r.n < 2*runChunkSize {
		r.alloc(bucketMax)
	}
	if r.chunks[1] == nil || r.chunks[hugeGroup-1] == nil {
		t.Fatal("the leaves' arena did not grow in a group")
	}
}

// vmFlags returns the VmFlags line of the mapping of this process that
// holds addr.
func vmFlags(addr uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if _, err := fmt.Sscanf(line, "%x-%x ", &lo, &hi); err == nil { // a mapping's first line
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping holds %#x", addr)
}
