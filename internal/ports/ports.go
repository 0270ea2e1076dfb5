// Package ports hands out free TCP ports on 127.0.0.1 for nodes that tests,
// benchmarks and local networks start.
//
// Ports are chosen below the kernel's ephemeral range: outgoing connections
// (of running nodes, HTTP clients, anything on the machine) take their local
// port from that range, so a port chosen inside it, checked free and then
// closed, can be taken by such a connection before the node binds it ("bind:
// address already in use"). Below the range only another listener can take
// it. Ports handed out by this process are remembered and never handed out
// again, even before their nodes bind them.
package ports

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Host is the only address the ports are checked on.
const Host = "127.0.0.1"

// Lowest is the bottom of the range ports are chosen from: above the
// well-known and most registered services.
const Lowest = 20000

// ErrNoPorts means no free block of ports was found.
var ErrNoPorts = errors.New("ports: no free ports")

var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// EphemeralLow is the first port of the kernel's ephemeral range (Linux's
// default when it cannot be read).
func EphemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil && lo > Lowest+1000 {
				return lo
			}
		}
	}
	return 32768 // Linux's default; BSDs and macOS use 49152 and up
}

// Reserve finds a base such that base+off is free on Host for every offset,
// records those ports as handed out and returns the base.
func Reserve(offsets []int) (int, error) {
	span := 0
	for _, off := range offsets {
		if off < 0 {
			return 0, fmt.Errorf("ports: negative offset %d", off)
		}
		span = max(span, off+1)
	}
	hi := EphemeralLow() - span
	if hi <= Lowest {
		return 0, fmt.Errorf("%w: ephemeral range starts too low", ErrNoPorts)
	}
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	for range 100 {
		base := Lowest + rand.IntN(hi-Lowest)
		if allFree(base, offsets) {
			for _, off := range offsets {
				handedOut.ports[base+off] = true
			}
			return base, nil
		}
	}
	return 0, ErrNoPorts
}

// Free returns n distinct free ports, each reserved as by Reserve.
func Free(n int) ([]int, error) {
	out := make([]int, 0, n)
	for range n {
		p, err := Reserve([]int{0})
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// allFree reports whether every port base+off is unused here and can be
// listened on. It holds each listener until all are checked.
func allFree(base int, offsets []int) bool {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, off := range offsets {
		p := base + off
		if handedOut.ports[p] {
			return false
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		lns = append(lns, ln)
	}
	return true
}

// Addrs returns n distinct free "127.0.0.1:port" addresses, as by Free.
func Addrs(n int) ([]string, error) {
	ps, err := Free(n)
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i, p := range ps {
		out[i] = net.JoinHostPort(Host, strconv.Itoa(p))
	}
	return out, nil
}
