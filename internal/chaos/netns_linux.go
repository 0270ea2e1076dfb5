//go:build linux

package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Netns is a private network for the nodes of a chaos run: one Linux network
// namespace per node, each with a veth pair whose other end is a port of a
// bridge in a hub namespace, and an nftables table on that bridge that drops
// packets between chosen nodes. Nothing is created in the host's namespace:
// the host's interfaces, routes and firewall are never touched. Close
// removes every namespace (and with them their interfaces and rules).
type Netns struct {
	prefix string   // unique per run: namespace names start with it
	nodes  []string // namespace of node k
	hub    string
	ips    []string // address of node k
}

// Subnet is the private subnet inside the namespaces; node k is 10.77.0.(10+k).
const Subnet = "10.77.0.0/24"

func nodeIP(k int) string { return fmt.Sprintf("10.77.0.%d", 10+k) }

// ErrNoNetns means this process may not create network namespaces (no
// CAP_NET_ADMIN, no `ip` or `nft`): the network faults cannot run here.
var ErrNoNetns = errors.New("chaos: network namespaces unavailable")

// Probe reports whether network namespaces, veth pairs, a bridge,
// nftables' bridge family and tmpfs mounts work here, by building and
// removing throwaway ones. The error says what is missing.
func Probe() error {
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found (Debian: apt-get install iproute2 nftables)", ErrNoNetns, tool)
		}
	}
	nw, err := NewNetns(1)
	if err != nil {
		return err
	}
	if err := nw.Close(); err != nil {
		return err
	}
	// The disk fault mounts a tmpfs (CAP_SYS_ADMIN).
	dir, err := os.MkdirTemp("", "mcchaos-probe-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		return fmt.Errorf("%w: cannot mount a tmpfs: %v", ErrNoNetns, err)
	}
	return unix.Unmount(dir, 0)
}

// NewNetns creates the hub and n node namespaces and wires them up.
func NewNetns(n int) (nw *Netns, err error) {
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	nw = &Netns{prefix: "mcchaos-" + hex.EncodeToString(id[:])}
	nw.hub = nw.prefix + "-hub"
	defer func() {
		if err != nil {
			_ = nw.Close()
			err = fmt.Errorf("%w: %v", ErrNoNetns, err)
		}
	}()
	if err := ipCmd("netns", "add", nw.hub); err != nil {
		return nw, err
	}
	if err := ipCmd("-n", nw.hub, "link", "add", "br0", "type", "bridge"); err != nil {
		return nw, err
	}
	if err := ipCmd("-n", nw.hub, "link", "set", "br0", "up"); err != nil {
		return nw, err
	}
	for k := range n {
		ns := fmt.Sprintf("%s-n%d", nw.prefix, k)
		if err := ipCmd("netns", "add", ns); err != nil {
			return nw, err
		}
		nw.nodes = append(nw.nodes, ns)
		nw.ips = append(nw.ips, nodeIP(k))
		port := fmt.Sprintf("v%d", k)
		steps := [][]string{
			{"-n", ns, "link", "set", "lo", "up"},
			{"link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", nw.hub},
			{"-n", ns, "addr", "add", nodeIP(k) + "/24", "dev", "eth0"},
			{"-n", ns, "link", "set", "eth0", "up"},
			{"-n", nw.hub, "link", "set", port, "master", "br0"},
			{"-n", nw.hub, "link", "set", port, "up"},
		}
		for _, s := range steps {
			if err := ipCmd(s...); err != nil {
				return nw, err
			}
		}
	}
	// An empty filter on the bridge's forward hook: SetRules fills it.
	if err := nw.SetRules(nil); err != nil {
		return nw, err
	}
	return nw, nil
}

// IP is node k's address.
func (nw *Netns) IP(k int) string { return nw.ips[k] }

// Namespace is node k's namespace name (for `ip netns exec`).
func (nw *Netns) Namespace(k int) string { return nw.nodes[k] }

// SetRules replaces the dropping rules on the bridge with rules (none: a
// healthy network). Packets are dropped on the bridge, between the nodes'
// network stacks, as a faulty switch or link would.
func (nw *Netns) SetRules(rules []Rule) error {
	script, err := nftScript(nw.ips, rules)
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", nw.hub, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %v: %s", nw.hub, err, bytes.TrimSpace(out))
	}
	return nil
}

// Command is `ip netns exec NS name args...`: the program runs inside node
// k's namespace (ip execs it, so the process is the program itself).
func (nw *Netns) Command(k int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", nw.nodes[k], name}, args...)...)
}

// DialContext returns a dial function that opens connections from inside
// node k's namespace: a socket belongs to the namespace of the thread that
// creates it, so the dial runs on a locked thread switched there and back.
func (nw *Netns) DialContext(k int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	path := filepath.Join("/run/netns", nw.nodes[k])
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			c, err := dialIn(ctx, path, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// dialIn must run on its own goroutine: when the thread cannot be switched
// back, the goroutine ends still locked and the runtime retires the thread.
func dialIn(ctx context.Context, path, network, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("setns %s: %w", path, err)
	}
	var d net.Dialer
	c, derr := d.DialContext(ctx, network, addr)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		return c, derr // the thread stays locked and dies with this goroutine
	}
	runtime.UnlockOSThread()
	return c, derr
}

// Close removes the namespaces; the veth pairs, the bridge and the rules go
// with them. Processes still running inside must be killed first.
func (nw *Netns) Close() error {
	var errs []error
	for _, ns := range append(append([]string{}, nw.nodes...), nw.hub) {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
			continue
		}
		if err := ipCmd("netns", "delete", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
