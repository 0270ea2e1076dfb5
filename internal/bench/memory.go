package bench

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemSample is this process's memory at one moment.
type MemSample struct {
	HeapAlloc uint64 `json:"heap_alloc"` // bytes of live and not yet collected heap objects
	HeapInuse uint64 `json:"heap_inuse"` // bytes in heap spans holding objects
	GoSys     uint64 `json:"go_sys"`     // bytes the Go runtime obtained from the OS
	RSS       uint64 `json:"rss,omitempty"`
	PeakRSS   uint64 `json:"peak_rss,omitempty"` // since the start, or the last resetPeakRSS
}

// sampleMemory reads the Go heap, after a collection when gc is set, and
// the process's resident and peak resident memory (Linux; zero elsewhere).
func sampleMemory(gc bool) MemSample {
	if gc {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := MemSample{HeapAlloc: ms.HeapAlloc, HeapInuse: ms.HeapInuse, GoSys: ms.Sys}
	s.RSS, s.PeakRSS = procRSS()
	return s
}

// procRSS reads VmRSS and VmHWM of this process from /proc/self/status, in
// bytes; zeros when unavailable.
func procRSS() (rss, peak uint64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch name {
		case "VmRSS":
			rss = parseKB(val)
		case "VmHWM":
			peak = parseKB(val)
		}
	}
	return rss, peak
}

// parseKB parses "  1234 kB" into bytes (0 when malformed).
func parseKB(s string) uint64 {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0
	}
	return n << 10
}

// resetPeakRSS restarts the peak resident memory (VmHWM) from the current
// one (Linux 4.0 and later), so that a later phase's peak leaves out an
// earlier phase's. It reports whether the reset happened.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// memWatch samples resident memory and the Go heap in use periodically and
// keeps the largest values seen.
type memWatch struct {
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	maxRSS  uint64
	maxHeap uint64
}

func watchMemory(every time.Duration) *memWatch {
	w := &memWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(every)
	return w
}

func (w *memWatch) run(every time.Duration) {
	defer close(w.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.sample()
		select {
		case <-t.C:
		case <-w.stop:
			return
		}
	}
}

func (w *memWatch) sample() {
	s := sampleMemory(false)
	w.mu.Lock()
	w.maxRSS = max(w.maxRSS, s.RSS)
	w.maxHeap = max(w.maxHeap, s.HeapInuse)
	w.mu.Unlock()
}

// Stop ends the sampling and returns the largest resident memory and heap
// in use seen.
func (w *memWatch) Stop() (maxRSS, maxHeapInuse uint64) {
	close(w.stop)
	<-w.done
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxRSS, w.maxHeap
}
