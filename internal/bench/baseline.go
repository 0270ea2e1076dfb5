package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/medchain/medchain/internal/ports"
)

// Baseline names a CometBFT kvstore run in words: how transactions reached
// it, whether the load generator shared its process, and whether its
// transaction indexer ran. The strongest baseline is the one a real kvstore
// deployment would show: JSON-RPC, load generator in its own process,
// indexer off.
func Baseline(r *Report) string {
	p := r.Params
	intake := "JSON-RPC"
	if p.Target == "kvstore-inproc" {
		intake = "mempool directly"
	}
	gen := "separate load generator"
	if r.Results != nil && r.Results.CPU.InProcess {
		gen = "load generator in its process"
	}
	index := "indexer off"
	if p.KVIndexer != "null" {
		index = "indexer on"
	}
	return fmt.Sprintf("kvstore (%s, %s, %s)", intake, gen, index)
}

// baselineRank orders baselines strongest first: a separate load generator,
// then JSON-RPC, then the indexer off.
func baselineRank(r *Report) int {
	rank := 0
	if r.Results == nil || r.Results.CPU.InProcess {
		rank += 4
	}
	if r.Params.Target != "kvstore-rpc" {
		rank += 2
	}
	if r.Params.KVIndexer != "null" {
		rank++
	}
	return rank
}

// Ratio prints medchain's committed rate over a baseline's:
// "medchain / kvstore (...) = 0.878× (12033 / 13708 tx/s)".
func Ratio(w io.Writer, med, base *Report) {
	m, b := med.Results.CommittedTPS, base.Results.CommittedTPS
	if b == 0 {
		fmt.Fprintf(w, "medchain / %s: the baseline committed nothing\n", Baseline(base))
		return
	}
	fmt.Fprintf(w, "medchain / %s = %.3f× (%.0f / %.0f tx/s)\n", Baseline(base), m/b, m, b)
}

// Comparison prints a medchain run and its baseline runs: the ratios first,
// strongest baseline first, then each run's summary.
func Comparison(w io.Writer, med *Report, bases ...*Report) {
	bases = slices.Clone(bases)
	slices.SortStableFunc(bases, func(a, b *Report) int { return baselineRank(a) - baselineRank(b) })
	fmt.Fprintln(w)
	for _, b := range bases {
		Ratio(w, med, b)
	}
	med.Summary(w)
	for _, b := range bases {
		fmt.Fprintf(w, "\nbaseline: %s", Baseline(b))
		b.Summary(w)
	}
}

// KVNodeProcess is a kvstore baseline node run by `medchain bench
// kvstore-node` in a child process, so that the load generator (this
// process) and the node do not share a process, as with a medchain node.
type KVNodeProcess struct {
	URL    string // JSON-RPC
	cmd    *exec.Cmd
	exited chan error // receives the process's end once
}

// StartKVNodeProcess starts exe (a medchain binary) with args after
// "bench kvstore-node --rpc-listen ADDR" on a free loopback port, and waits
// until its JSON-RPC answers and its chain has a block.
func StartKVNodeProcess(ctx context.Context, exe string, args []string, stderr io.Writer) (*KVNodeProcess, error) {
	addrs, err := ports.Addrs(1)
	if err != nil {
		return nil, err
	}
	addr := addrs[0]
	cmd := exec.Command(exe, append([]string{"bench", "kvstore-node", "--rpc-listen", addr}, args...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kvstore node: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p := &KVNodeProcess{URL: "http://" + addr, cmd: cmd, exited: exited}
	obs := &RPCObserver{Base: p.URL, Client: &http.Client{Timeout: 2 * time.Second}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if h, err := obs.Height(ctx); err == nil && h >= 1 {
			return p, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("kvstore node exited before it was ready: %v", err)
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-exited
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return nil, errors.New("kvstore node: no block within 60s")
		}
	}
}

// PID is the node process's id (for its CPU use).
func (p *KVNodeProcess) PID() int { return p.cmd.Process.Pid }

// Stop interrupts the node (it stops cleanly on SIGINT) and kills it if it
// has not exited within ten seconds.
func (p *KVNodeProcess) Stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}
