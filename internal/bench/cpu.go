package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// CPU is the processor time used during the window, in cores (CPU seconds
// per second) and as a share of the machine's logical CPUs.
type CPU struct {
	// InProcess: the node ran inside the bench process, so Process* cover
	// node and load generator together.
	InProcess    bool    `json:"in_process"`
	ProcessSecs  float64 `json:"process_cpu_seconds"` // user + system
	ProcessCores float64 `json:"process_cores"`
	ProcessShare float64 `json:"process_share"`
	NodeKnown    bool    `json:"node_known"`
	NodeSecs     float64 `json:"node_cpu_seconds,omitempty"`
	NodeCores    float64 `json:"node_cores,omitempty"`
	NodeShare    float64 `json:"node_share,omitempty"`
}

// cpuWindow samples CPU times at the window's start and end.
type cpuWindow struct {
	inProcess      bool
	node           func() (time.Duration, bool)
	p0, p1, n0, n1 time.Duration
	nodeOK         bool
	done           chan struct{}
}

func newCPUWindow(t Target) *cpuWindow {
	return &cpuWindow{inProcess: t.InProcess, node: t.NodeCPU, done: make(chan struct{})}
}

func (c *cpuWindow) sample() (time.Duration, time.Duration, bool) {
	p := ProcessCPU()
	if c.node == nil {
		return p, 0, false
	}
	n, ok := c.node()
	return p, n, ok
}

// run samples at from and at to (or when stop closes first).
func (c *cpuWindow) run(from, to time.Time, stop <-chan struct{}) {
	defer close(c.done)
	ok0, ok1 := false, false
	select {
	case <-time.After(time.Until(from)):
	case <-stop:
	}
	c.p0, c.n0, ok0 = c.sample()
	select {
	case <-time.After(time.Until(to)):
	case <-stop:
	}
	c.p1, c.n1, ok1 = c.sample()
	c.nodeOK = ok0 && ok1
}

func (c *cpuWindow) result(window time.Duration) CPU {
	<-c.done
	cores := float64(runtime.NumCPU())
	w := window.Seconds()
	out := CPU{InProcess: c.inProcess, ProcessSecs: (c.p1 - c.p0).Seconds()}
	if w > 0 {
		out.ProcessCores = out.ProcessSecs / w
		out.ProcessShare = out.ProcessCores / cores
	}
	if c.nodeOK {
		out.NodeKnown = true
		out.NodeSecs = (c.n1 - c.n0).Seconds()
		if w > 0 {
			out.NodeCores = out.NodeSecs / w
			out.NodeShare = out.NodeCores / cores
		}
	}
	return out
}

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat times; it is
// 100 on every architecture Go supports.
const clockTicks = 100

// PIDCPU returns the user+system CPU time of process pid from
// /proc/PID/stat (Linux).
func PIDCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after its closing
	// parenthesis are positional: state is field 3, utime 14, stime 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}
