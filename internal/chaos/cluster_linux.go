//go:build linux

package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/x/staking"
)

// ClockOffsetEnv is the node's test-only clock offset (internal/node): a
// Go duration added to the wall clock the node shows CometBFT's votes and
// proposals and its own request checks.
const ClockOffsetEnv = "MEDCHAIN_TEST_CLOCK_OFFSET"

// Ports every node uses inside its own namespace.
const (
	p2pPort = 26656
	rpcPort = 26657
	apiPort = 8080
)

// ClusterOptions describe the network of a run.
type ClusterOptions struct {
	Dir        string // an empty folder for the homes and logs
	Binary     string // the medchain binary the nodes run
	Validators int    // default 4
	// DiskNode is the node whose home is a small tmpfs the disk fault fills;
	// -1 for none.
	DiskNode int
	// DiskBytes is that tmpfs's size; default 1 GiB (a limit: tmpfs holds
	// only what is written).
	DiskBytes                     int64
	TimeoutCommit, TimeoutPropose time.Duration
}

// Cluster is a running network of real medchain processes, each in its own
// network namespace.
type Cluster struct {
	Dir     string
	ChainID string
	Net     *Netns
	Nodes   []*Node
	opts    ClusterOptions
	mounted string // the disk node's home, when mounted
}

// Node is one medchain process of the cluster. Methods may be called from
// any goroutine.
type Node struct {
	Index  int
	Name   string
	Home   string
	Log    string
	Client *client.Client
	cl     *Cluster

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	env  []string // extra environment of the next start
	runs int
}

// StartCluster writes a network with devnet (the nodes addressed inside
// their namespaces) and starts every node; it returns once all have
// committed block 2. The caller must Close it.
func StartCluster(ctx context.Context, o ClusterOptions) (cl *Cluster, err error) {
	if o.Validators == 0 {
		o.Validators = 4
	}
	if o.DiskBytes == 0 {
		o.DiskBytes = 1 << 30
	}
	if o.TimeoutCommit == 0 {
		o.TimeoutCommit = 200 * time.Millisecond
	}
	if o.TimeoutPropose == 0 {
		o.TimeoutPropose = time.Second
	}
	nw, err := NewNetns(o.Validators)
	if err != nil {
		return nil, err
	}
	cl = &Cluster{Dir: o.Dir, ChainID: "medchain-chaos", Net: nw, opts: o}
	defer func() {
		if err != nil {
			cl.Close()
		}
	}()
	var homes, hosts []string
	for k := range o.Validators {
		home := filepath.Join(o.Dir, fmt.Sprintf("node%d", k))
		if err := os.MkdirAll(home, 0o700); err != nil {
			return cl, err
		}
		if k == o.DiskNode {
			if err := unix.Mount("tmpfs", home, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", o.DiskBytes)); err != nil {
				return cl, fmt.Errorf("mount a tmpfs for %s: %w", home, err)
			}
			cl.mounted = home
		}
		homes = append(homes, home)
		hosts = append(hosts, nw.IP(k))
	}
	base := config.Default()
	base.Consensus.TimeoutCommit = config.Duration(o.TimeoutCommit)
	base.Consensus.TimeoutPropose = config.Duration(o.TimeoutPropose)
	if _, err := devnet.Write(devnet.Options{
		ChainID: cl.ChainID, Validators: o.Validators, Homes: homes, Hosts: hosts,
		P2PBase: p2pPort, RPCBase: rpcPort, APIBase: apiPort, Base: base, Light: true,
		// The default downtime window (100 blocks, half to be signed) is
		// about 25 s of blocks here: a 40 s pause or partition jailed a
		// validator for 10 minutes, and with three of four left every
		// later fault halted the chain (docs/chaos.md, 1-hour run). The
		// schedule tests consensus under faults, not slashing (tested in
		// internal/e2e): 2,000 blocks, several minutes of faults apart.
		Params: map[string]uint64{staking.ParamSignedWindow: 2000},
	}); err != nil {
		return cl, err
	}
	for k, home := range homes {
		c, err := config.Load(home)
		if err != nil {
			return cl, err
		}
		// Private addresses: CometBFT's strict address book would refuse them.
		c.P2P.AllowLoopback = true
		// The harness talks to each node from inside the node's namespace,
		// from the node's own address: a local client, exempt from the
		// API's per-address limit as loopback is. Other nodes stay limited.
		c.API.RateLimit.Exempt = append(c.API.RateLimit.Exempt, nw.IP(k)+"/32")
		if err := config.Save(home, c); err != nil {
			return cl, err
		}
		tr := &http.Transport{DialContext: nw.DialContext(k), MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}
		api := client.New(fmt.Sprintf("http://%s:%d", nw.IP(k), apiPort+k))
		api.HTTP = &http.Client{Transport: tr, Timeout: 20 * time.Second}
		api.ChainID = cl.ChainID
		cl.Nodes = append(cl.Nodes, &Node{Index: k, Name: fmt.Sprintf("node%d", k), Home: home,
			Log: filepath.Join(o.Dir, fmt.Sprintf("node%d.log", k)), Client: api, cl: cl})
	}
	for _, n := range cl.Nodes {
		if err := n.Start(); err != nil {
			return cl, err
		}
	}
	for _, n := range cl.Nodes {
		if err := n.WaitReady(ctx); err != nil {
			return cl, err
		}
	}
	return cl, cl.WaitHeight(ctx, 2, cl.Nodes...)
}

// Close kills every node, unmounts the disk node's tmpfs and removes the
// namespaces. The homes stay in Dir.
func (cl *Cluster) Close() error {
	for _, n := range cl.Nodes {
		n.Kill() // SIGKILL ends a stopped (paused) process too
	}
	var errs []error
	if cl.mounted != "" {
		if err := unix.Unmount(cl.mounted, unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", cl.mounted, err))
		}
		cl.mounted = ""
	}
	if cl.Net != nil {
		errs = append(errs, cl.Net.Close())
	}
	return errors.Join(errs...)
}

// SetEnv sets extra environment (NAME=VALUE) for the node's next starts.
func (n *Node) SetEnv(env ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.env = env
}

// Start runs `medchain start` in the node's namespace.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done != nil {
		select {
		case <-n.done:
		default:
			return fmt.Errorf("%s is already running", n.Name)
		}
	}
	f, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	n.runs++
	fmt.Fprintf(f, "==== %s run %d at %s %s\n", n.Name, n.runs, time.Now().UTC().Format(time.RFC3339Nano), strings.Join(n.env, " "))
	cmd := n.cl.Net.Command(n.Index, n.cl.opts.Binary, "start", "--home", n.Home)
	cmd.Env = append(os.Environ(), n.env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	n.cmd, n.done = cmd, done
	return nil
}

func (n *Node) proc() (*exec.Cmd, chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd, n.done
}

// Running reports whether the node's process is alive (paused counts).
func (n *Node) Running() bool {
	_, done := n.proc()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (n *Node) signal(sig syscall.Signal) error {
	cmd, done := n.proc()
	if cmd == nil {
		return fmt.Errorf("%s was never started", n.Name)
	}
	select {
	case <-done:
		return fmt.Errorf("%s is not running", n.Name)
	default:
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}

// Kill ends the node with SIGKILL, as a power cut would, and waits for it.
func (n *Node) Kill() {
	if err := n.signal(syscall.SIGKILL); err != nil {
		return
	}
	_, done := n.proc()
	<-done
}

// Pause stops the process with SIGSTOP: it keeps its connections but does
// nothing, as a machine frozen by a hypervisor or a long GC pause.
func (n *Node) Pause() error { return n.signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (n *Node) Resume() { _ = n.signal(syscall.SIGCONT) }

// Stop asks the node to stop cleanly (SIGTERM) and waits up to timeout,
// then kills it.
func (n *Node) Stop(timeout time.Duration) error {
	if err := n.signal(syscall.SIGTERM); err != nil {
		return err
	}
	_, done := n.proc()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		n.Kill()
		return fmt.Errorf("%s did not stop within %v", n.Name, timeout)
	}
}

// WaitReady waits until the node's API answers; it fails early if the
// process exits.
func (n *Node) WaitReady(ctx context.Context) error {
	_, done := n.proc()
	for {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := n.Client.Status(sctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited while starting; log tail:\n%s", n.Name, n.LogTail(15))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (%v)", n.Name, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Height is the node's latest committed height.
func (n *Node) Height(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := n.Client.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", n.Name, err)
	}
	return st.Height, nil
}

// LogTail is the last lines of the node's log.
func (n *Node) LogTail(lines int) string {
	b, err := os.ReadFile(n.Log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if lines--; lines == 0 {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

// WaitHeight waits until every node reports at least height h.
func (cl *Cluster) WaitHeight(ctx context.Context, h int64, nodes ...*Node) error {
	for _, n := range nodes {
		for {
			got, err := n.Height(ctx)
			if err == nil && got >= h {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s at height %d (%v), waiting for %d: %w", n.Name, got, err, h, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// MaxHeight is the highest height the reachable nodes report.
func (cl *Cluster) MaxHeight(ctx context.Context) int64 {
	var top int64
	for _, n := range cl.Nodes {
		if h, err := n.Height(ctx); err == nil {
			top = max(top, h)
		}
	}
	return top
}
