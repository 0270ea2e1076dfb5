package node

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakePriority records what consensusPriority does, with the stack check,
// the syscall and GOMAXPROCS replaced.
type fakePriority struct {
	consensus bool
	niceErr   error
	spareTo   int // what spare reports after (before is 2)

	niced  []int
	spares int
}

func (f *fakePriority) priority(nice int) *consensusPriority {
	return &consensusPriority{
		nice:        nice,
		log:         slog.New(slog.DiscardHandler),
		onConsensus: func() bool { return f.consensus },
		setNice:     func(n int) error { f.niced = append(f.niced, n); return f.niceErr },
		spare:       func() (int, int) { f.spares++; return 2, f.spareTo },
	}
}

// What the consensus routine's first call does, and that nothing else
// does anything: other goroutines (a replay, block sync) are left alone,
// the wiring happens once, and a refused priority keeps the P count.
func TestConsensusPriority(t *testing.T) {
	t.Run("wires the consensus routine once", func(t *testing.T) {
		f := &fakePriority{spareTo: 3}
		p := f.priority(-10)
		p.enter() // a replay's FinalizeBlock, not on the consensus routine
		if len(f.niced) != 0 || f.spares != 0 {
			t.Fatalf("a call off the consensus routine changed something: %+v", f)
		}
		f.consensus = true
		done := make(chan struct{})
		go func() { // the routine's thread stays locked: let it end with this goroutine
			defer close(done)
			p.enter()
			p.enter()
		}()
		<-done
		p.enter()
		if fmt.Sprint(f.niced) != "[-10]" || f.spares != 1 {
			t.Fatalf("want nice -10 set once and one spare P; got %+v", f)
		}
	})
	t.Run("refused", func(t *testing.T) {
		f := &fakePriority{consensus: true, niceErr: syscall.EPERM, spareTo: 3}
		p := f.priority(-10)
		p.enter()
		p.enter()
		if fmt.Sprint(f.niced) != "[-10]" || f.spares != 0 {
			t.Fatalf("want one try and no spare P; got %+v", f)
		}
	})
	t.Run("off", func(t *testing.T) {
		f := &fakePriority{consensus: true, spareTo: 3}
		p := f.priority(0)
		p.enter()
		if len(f.niced) != 0 || f.spares != 0 {
			t.Fatalf("consensus_nice 0 changed something: %+v", f)
		}
	})
	t.Run("a nil priority", func(t *testing.T) {
		var p *consensusPriority
		p.enter()
	})
}

// The stack check tells the consensus routine from any other goroutine.
func TestOnConsensusRoutine(t *testing.T) {
	if onConsensusRoutine() {
		t.Fatal("a test goroutine taken for the consensus routine")
	}
	if !bytes.Contains([]byte("github.com/cometbft/cometbft/consensus.(*State).receiveRoutine(0xc0001, 0x0)"), consensusMarker) {
		t.Fatal("the marker does not match the routine's frame as Go prints it")
	}
}

// threadNices are the nice values of this process's threads, by thread id
// (/proc/self/task/*/stat, field 19).
func threadNices() (map[int]int, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	out := map[int]int{}
	for _, e := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", e.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		// pid (comm) state ...: fields after the command, which may hold spaces.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		nice, err := strconv.Atoi(f[16]) // field 19 of stat; f[0] is field 3
		if err != nil {
			return nil, fmt.Errorf("stat of thread %s: %v", e.Name(), err)
		}
		tid, _ := strconv.Atoi(e.Name())
		out[tid] = nice
	}
	return out, nil
}

// The real syscall changes the calling thread alone, or is refused with
// EPERM/EACCES when the process may not raise priorities.
func TestSetThreadNice(t *testing.T) {
	if runtime.GOOS != "linux" {
		if err := setThreadNice(-1); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("setThreadNice on %s: %v, want unsupported", runtime.GOOS, err)
		}
		return
	}
	type result struct {
		tid      int
		err      error
		nices    map[int]int
		nicesErr error
	}
	res := make(chan result, 1)
	hold := make(chan struct{})
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends with this goroutine
		err := setThreadNice(-3)
		nices, nerr := threadNices()
		res <- result{tid: syscall.Gettid(), err: err, nices: nices, nicesErr: nerr}
		<-hold
	}()
	r := <-res
	close(hold)
	if r.nicesErr != nil {
		t.Fatal(r.nicesErr)
	}
	if r.err != nil {
		if !errors.Is(r.err, syscall.EPERM) && !errors.Is(r.err, syscall.EACCES) {
			t.Fatalf("setThreadNice: %v, want success or a permission error", r.err)
		}
		t.Logf("not permitted here (%v): checked the refusal only", r.err)
		return
	}
	if r.nices[r.tid] != -3 {
		t.Fatalf("thread %d has nice %d, want -3", r.tid, r.nices[r.tid])
	}
	for tid, n := range r.nices {
		if tid != r.tid && n == -3 {
			t.Fatalf("thread %d also got nice -3", tid)
		}
	}
}

// A node wires its consensus routine: one thread at the configured nice
// value and one P more; or, where raising a priority is not permitted,
// neither.
func TestNodeConsensusRoutinePriority(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are Linux only")
	}
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS set: the node keeps it")
	}
	n := startOne(t, 1000)
	deadline := time.Now().Add(20 * time.Second)
	for n.app.Committed() == nil || n.app.Committed().Version() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no blocks")
		}
		time.Sleep(20 * time.Millisecond)
	}
	nices, err := threadNices()
	if err != nil {
		t.Fatal(err)
	}
	var raised []int
	for tid, nice := range nices {
		if nice == -10 {
			raised = append(raised, tid)
		}
	}
	probe := make(chan error, 1)
	go func() { runtime.LockOSThread(); probe <- setThreadNice(-10) }()
	if err := <-probe; err != nil {
		if len(raised) != 0 {
			t.Fatalf("raising priorities is refused here (%v), yet threads %v are at -10", err, raised)
		}
		t.Logf("not permitted here (%v): checked that no thread was raised", err)
		return
	}
	// The consensus routine's thread; an earlier test's node may still be
	// ending its own.
	if len(raised) == 0 || 2*len(raised) >= len(nices) {
		t.Fatalf("threads at nice -10: %v of %d, want the consensus routine's", raised, len(nices))
	}
	if spareOnce.after != spareOnce.before+1 || runtime.GOMAXPROCS(0) != spareOnce.after {
		t.Fatalf("GOMAXPROCS %d (before the node %d, after %d), want one more", runtime.GOMAXPROCS(0), spareOnce.before, spareOnce.after)
	}
}
