package testnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
)

// Options describe a network written by `medchain testnet`.
type Options struct {
	Validators int // default 4
	FullNodes  int
	// Consensus timeouts; defaults 200ms and 1s.
	TimeoutCommit  time.Duration
	TimeoutPropose time.Duration
	// Configure, when set, changes node i's configuration before it
	// starts (for example its execution mode).
	Configure func(i int, c *config.Config)
}

// Network is a running multi-node network.
type Network struct {
	Dir   string
	Nodes []*Node // validators first, then full nodes
}

// startAttempts bounds how often a network is written again on new ports
// after losing one of its ports to another process.
const startAttempts = 3

// Start writes a network and starts all its nodes, and returns once every
// node has committed block 2. It fails the test if the network cannot start.
func Start(tb testing.TB, o Options) *Network {
	tb.Helper()
	if o.Validators == 0 {
		o.Validators = 4
	}
	if o.TimeoutCommit == 0 {
		o.TimeoutCommit = 200 * time.Millisecond
	}
	if o.TimeoutPropose == 0 {
		o.TimeoutPropose = time.Second
	}
	if n := o.Validators + o.FullNodes; n > 8 {
		tb.Fatalf("testnet: %d nodes; at most 8 fit the port scheme", n)
	}
	var err error
	for range startAttempts {
		var nw *Network
		if nw, err = write(tb, o); err != nil {
			break
		}
		if err = nw.start(tb); err == nil {
			return nw
		}
		for _, n := range nw.Nodes {
			n.Kill()
		}
		if !errors.Is(err, errPortTaken) {
			break
		}
		tb.Logf("testnet: %v; trying other ports", err)
	}
	tb.Fatalf("testnet: %v", err)
	return nil
}

// write runs `medchain testnet` into a fresh folder on free ports.
func write(tb testing.TB, o Options) (*Network, error) {
	nodes := o.Validators + o.FullNodes
	base, err := reservePorts(testnetOffsets(nodes))
	if err != nil {
		return nil, err
	}
	dir := tb.TempDir()
	args := []string{"testnet",
		"--validators", strconv.Itoa(o.Validators), "--full-nodes", strconv.Itoa(o.FullNodes),
		"--out", dir, "--host", Host,
		"--p2p-port", strconv.Itoa(base), "--rpc-port", strconv.Itoa(base + 1), "--api-port", strconv.Itoa(base + 2),
		"--timeout-commit", o.TimeoutCommit.String(), "--timeout-propose", o.TimeoutPropose.String(),
	}
	if out, err := exec.Command(Binary(tb), args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("medchain %v: %v\n%s", args, err, out)
	}
	nw := &Network{Dir: dir}
	for k := range nodes {
		name := fmt.Sprintf("node%d", k)
		home := filepath.Join(dir, name)
		ports := nodePorts{P2P: base + 10*k, RPC: base + 1 + 10*k, API: base + 2 + k}
		if o.Configure != nil {
			c, err := config.Load(home)
			if err != nil {
				return nil, err
			}
			o.Configure(k, &c)
			if err := config.Save(home, c); err != nil {
				return nil, err
			}
		}
		nw.Nodes = append(nw.Nodes, newNode(tb, name, home, ports, []string{"start", "--home", home}))
	}
	// Registered after the nodes' own cleanups, so it runs before any of
	// them kills its node: every node's consensus state is taken while the
	// whole network still runs.
	tb.Cleanup(func() {
		if tb.Failed() {
			for _, n := range nw.Nodes {
				n.noteRoundState()
			}
		}
	})
	return nw, nil
}

func (nw *Network) start(tb testing.TB) error {
	for _, n := range nw.Nodes {
		if err := n.Start(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, n := range nw.Nodes {
		if err := n.WaitReady(ctx); err != nil {
			return err
		}
	}
	return WaitHeight(ctx, 2, nw.Nodes...)
}

// Key loads a development account's key (devnet.Accounts) from the first
// node's home.
func (nw *Network) Key(tb testing.TB, name string) *crypto.PrivKey {
	tb.Helper()
	return loadKey(tb, nw.Nodes[0].Home, name)
}

func loadKey(tb testing.TB, home, name string) *crypto.PrivKey {
	tb.Helper()
	k, err := keystore.Open(config.KeysDir(home)).Load(name, devnet.DevPassphrase)
	if err != nil {
		tb.Fatalf("load key %s: %v", name, err)
	}
	return k
}

// DevOptions describe a `medchain dev` node.
type DevOptions struct {
	TimeoutCommit time.Duration // default 100ms
}

// StartDev creates a development network with `medchain dev` in a fresh home
// on free ports and returns its running node. Start after Kill or Stop runs
// the same command again, which continues the chain.
func StartDev(tb testing.TB, o DevOptions) *Node {
	tb.Helper()
	if o.TimeoutCommit == 0 {
		o.TimeoutCommit = 100 * time.Millisecond
	}
	return startNode(tb, "dev", tb.TempDir(), func(home string, p nodePorts) []string {
		return append([]string{"dev", "--home", home}, append(listenArgs(p), "--timeout-commit", o.TimeoutCommit.String())...)
	})
}

// StartHome runs `medchain start` on an existing home, on free ports, and
// returns once its API answers. extra flags follow the command.
func StartHome(tb testing.TB, name, home string, extra ...string) *Node {
	tb.Helper()
	return startNode(tb, name, home, func(home string, p nodePorts) []string {
		return append(append([]string{"start", "--home", home}, listenArgs(p)...), extra...)
	})
}

func listenArgs(p nodePorts) []string {
	addr := func(port int) string { return fmt.Sprintf("%s:%d", Host, port) }
	return []string{"--api", addr(p.API), "--rpc", addr(p.RPC), "--p2p", addr(p.P2P)}
}

// startNode starts a single node, choosing other ports when one was taken.
func startNode(tb testing.TB, name, home string, args func(home string, p nodePorts) []string) *Node {
	tb.Helper()
	var err error
	for range startAttempts {
		var p nodePorts
		if p, err = reserveNodePorts(); err != nil {
			break
		}
		n := newNode(tb, name, home, p, args(home, p))
		if err = n.Start(); err != nil {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		err = n.WaitReady(ctx)
		cancel()
		if err == nil {
			return n
		}
		n.Kill()
		if !errors.Is(err, errPortTaken) {
			break
		}
		tb.Logf("testnet: %v; trying other ports", err)
	}
	tb.Fatalf("testnet: %v", err)
	return nil
}

// CopyDir copies the regular files and folders under src to dst, which must
// not exist. Copy a node's home only while the node is stopped.
func CopyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(target, 0o700)
		case d.Type().IsRegular():
			return copyFile(path, target)
		}
		return nil // sockets and the like are not part of a home
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
