package testnet

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

// Host is the only address nodes listen on and dial.
const Host = "127.0.0.1"

// handedOut remembers the ports given to networks of this process, so that
// two tests never get the same port even before their nodes bind it.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// lowestPort is the bottom of the range ports are chosen from: above the
// well-known and most registered services.
const lowestPort = 20000

// ephemeralLow is the first port of the kernel's ephemeral range, from which
// outgoing connections (of running nodes, among others) take their local
// port. Ports are chosen below it so that no such connection can take one
// between the check and the node binding it.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil && lo > lowestPort+1000 {
				return lo
			}
		}
	}
	return 32768 // Linux's default; BSDs and macOS use 49152 and up
}

// ErrNoPorts means no free block of ports was found.
var ErrNoPorts = errors.New("testnet: no free ports")

// reservePorts finds a base such that base+off is free on Host for every
// offset, records the ports as handed out and returns the base.
func reservePorts(offsets []int) (int, error) {
	span := 0
	for _, off := range offsets {
		span = max(span, off+1)
	}
	hi := ephemeralLow() - span
	if hi <= lowestPort {
		return 0, fmt.Errorf("%w: ephemeral range starts too low", ErrNoPorts)
	}
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	for range 50 {
		base := lowestPort + rand.IntN(hi-lowestPort)
		if allFree(base, offsets) {
			for _, off := range offsets {
				handedOut.ports[base+off] = true
			}
			return base, nil
		}
	}
	return 0, ErrNoPorts
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

// testnetOffsets are the port offsets from a base B of a network written by
// `medchain testnet --p2p-port B --rpc-port B+1 --api-port B+2`: node K
// listens on P2P B+10K, RPC B+1+10K and API B+2+K. With fewer than nine nodes
// the API ports stay clear of the others.
func testnetOffsets(nodes int) []int {
	var offs []int
	for k := range nodes {
		offs = append(offs, 10*k, 10*k+1, 2+k)
	}
	return offs
}

// nodePorts are one node's three ports.
type nodePorts struct{ P2P, RPC, API int }

// reserveNodePorts reserves three ports for a single node.
func reserveNodePorts() (nodePorts, error) {
	base, err := reservePorts([]int{0, 1, 2})
	if err != nil {
		return nodePorts{}, err
	}
	return nodePorts{P2P: base, RPC: base + 1, API: base + 2}, nil
}
