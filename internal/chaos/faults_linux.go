//go:build linux

package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// fault is one injected fault: inject starts it, heal ends it and says what
// the faulty node did meanwhile.
type fault struct {
	kind   string
	target int
	detail string
	heal   func(ctx context.Context) (observed string, err error)
}

// inject starts a fault of kind on cl; rng draws its parameters.
func inject(ctx context.Context, cl *Cluster, kind string, rng *rand.Rand, length time.Duration) (*fault, error) {
	n := len(cl.Nodes)
	target := rng.IntN(n)
	f := &fault{kind: kind, target: target}
	switch kind {
	case FaultPartition:
		var rules []Rule
		for k := range n {
			if k != target {
				rules = append(rules, Rule{From: target, To: k, Percent: 100}, Rule{From: k, To: target, Percent: 100})
			}
		}
		f.detail = fmt.Sprintf("node%d isolated from the others (all packets dropped both ways)", target)
		f.heal = healRules(cl)
		return f, cl.Net.SetRules(rules)
	case FaultSplit:
		perm := rng.Perm(n)
		a, b := perm[:n/2], perm[n/2:]
		var rules []Rule
		for _, x := range a {
			for _, y := range b {
				rules = append(rules, Rule{From: x, To: y, Percent: 100}, Rule{From: y, To: x, Percent: 100})
			}
		}
		f.target = -1
		f.detail = fmt.Sprintf("network split into %v and %v: no side has two thirds of the votes", names(a), names(b))
		f.heal = healRules(cl)
		return f, cl.Net.SetRules(rules)
	case FaultLoss:
		pct := 30 + rng.IntN(41) // 30..70 %
		var rules []Rule
		for k := range n {
			if k != target {
				rules = append(rules, Rule{From: target, To: k, Percent: pct})
			}
		}
		f.detail = fmt.Sprintf("%d%% of node%d's packets to the others dropped (one way: its incoming traffic intact)", pct, target)
		f.heal = healRules(cl)
		return f, cl.Net.SetRules(rules)
	case FaultPause:
		node := cl.Nodes[target]
		f.detail = fmt.Sprintf("node%d stopped with SIGSTOP", target)
		f.heal = func(ctx context.Context) (string, error) {
			node.Resume()
			return "continued with SIGCONT", nil
		}
		return f, node.Pause()
	case FaultKill:
		node := cl.Nodes[target]
		f.detail = fmt.Sprintf("node%d killed with SIGKILL at random moments and restarted", target)
		stop := make(chan struct{})
		done := make(chan string, 1)
		go func() { done <- killLoop(ctx, node, rng.Int64(), stop) }()
		f.heal = func(ctx context.Context) (string, error) {
			close(stop)
			obs := <-done
			if !node.Running() {
				if err := node.Start(); err != nil {
					return obs, err
				}
			}
			return obs, node.WaitReady(ctx)
		}
		return f, nil
	case FaultDisk:
		if cl.mounted == "" || cl.opts.DiskNode < 0 {
			return nil, errors.New("chaos: the cluster has no node on a small filesystem")
		}
		f.target = cl.opts.DiskNode
		node := cl.Nodes[f.target]
		h0, _ := node.Height(ctx)
		filled, err := fillDisk(cl.mounted)
		if err != nil {
			return nil, err
		}
		f.detail = fmt.Sprintf("node%d's home filesystem filled (%d MiB written until ENOSPC)", f.target, filled>>20)
		f.heal = func(ctx context.Context) (string, error) {
			h1, herr := node.Height(ctx)
			var obs string
			switch {
			case !node.Running():
				obs = fmt.Sprintf("the node stopped (last log line: %s)", lastLine(node.LogTail(3)))
			case herr != nil:
				obs = fmt.Sprintf("the node kept running but its API did not answer: %v", herr)
			default:
				obs = fmt.Sprintf("the node kept running: height %d before, %d while full", h0, h1)
			}
			if err := freeDisk(cl.mounted, cl.opts.DiskBytes); err != nil {
				return obs, err
			}
			if !node.Running() {
				obs += "; restarted after freeing space"
				if err := node.Start(); err != nil {
					return obs, err
				}
				return obs, node.WaitReady(ctx)
			}
			return obs, nil
		}
		return f, nil
	case FaultSkew:
		node := cl.Nodes[target]
		off := time.Duration(20+rng.IntN(21)) * time.Second // 20..40 s, under CometBFT's 60 s block time tolerance
		if rng.IntN(2) == 0 {
			off = -off
		}
		f.detail = fmt.Sprintf("node%d restarted with its wall clock off by %v (%s)", target, off, ClockOffsetEnv)
		if err := restartWith(ctx, node, ClockOffsetEnv+"="+off.String()); err != nil {
			return nil, err
		}
		f.heal = func(ctx context.Context) (string, error) {
			return "restarted with the true clock", restartWith(ctx, node)
		}
		return f, nil
	}
	return nil, fmt.Errorf("chaos: unknown fault kind %q (kinds: %s)", kind, strings.Join(FaultKinds, ", "))
}

func names(ks []int) []string {
	var out []string
	for _, k := range ks {
		out = append(out, fmt.Sprintf("node%d", k))
	}
	return out
}

func healRules(cl *Cluster) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return "rules removed", cl.Net.SetRules(nil) }
}

func restartWith(ctx context.Context, n *Node, env ...string) error {
	if n.Running() {
		if err := n.Stop(30 * time.Second); err != nil {
			return err
		}
	}
	n.SetEnv(env...)
	if err := n.Start(); err != nil {
		return err
	}
	return n.WaitReady(ctx)
}

// killLoop kills node at random moments until stop, restarting it after
// each kill (after a random wait), and says how many kills it made.
func killLoop(ctx context.Context, node *Node, seed int64, stop <-chan struct{}) string {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b696c6c))
	kills := 0
	for {
		select {
		case <-stop:
			return fmt.Sprintf("%d kills", kills)
		case <-ctx.Done():
			return fmt.Sprintf("%d kills", kills)
		case <-time.After(time.Duration(300+rng.IntN(2500)) * time.Millisecond):
		}
		if node.Running() {
			node.Kill()
			kills++
		}
		select {
		case <-stop:
			return fmt.Sprintf("%d kills", kills)
		case <-time.After(time.Duration(rng.IntN(1500)) * time.Millisecond):
		}
		_ = node.Start()
	}
}

// fillerName is the file that fills the disk node's filesystem.
const fillerName = "CHAOS-FILLER"

// fillDisk shrinks the tmpfs at dir to what it holds plus a little, then
// writes a file until the filesystem refuses (ENOSPC). The shrink keeps
// the filler small: a tmpfs holds its files in memory.
func fillDisk(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	used := int64(st.Blocks-st.Bfree) * int64(st.Bsize)
	size := used + 16<<20
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		return 0, fmt.Errorf("remount %s smaller: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, fillerName), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, unix.ENOSPC) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// freeDisk removes the filler and gives the filesystem its size back.
func freeDisk(dir string, size int64) error {
	if err := os.Remove(filepath.Join(dir, fillerName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT, fmt.Sprintf("size=%d,mode=0700", size))
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
