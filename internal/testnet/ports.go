package testnet

import "github.com/medchain/medchain/internal/ports"

// Host is the only address nodes listen on and dial.
const Host = ports.Host

// reservePorts finds a base such that base+off is free on Host for every
// offset and never handed out before in this process (package ports).
func reservePorts(offsets []int) (int, error) { return ports.Reserve(offsets) }

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
