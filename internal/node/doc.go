// Package node runs one medchain node: the state tree and ABCI application,
// CometBFT in process (consensus, p2p, block store, RPC), the HTTP API with
// Prometheus metrics, and an orderly shutdown. It is the I/O edge around the
// deterministic core.
package node
