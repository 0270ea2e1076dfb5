package bench

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/node"
	"github.com/medchain/medchain/internal/ports"
	"github.com/medchain/medchain/x/accounts"
)

// DevNode is a single-validator development node run in this process
// (`medchain bench --inproc-node`, tests), so that its CPU can be
// profiled together with the load.
type DevNode struct {
	*node.Node
	Home string
}

// StartDevNode writes a development network of one validator under dir
// (as `medchain dev` does, on free loopback ports) and starts it. An empty
// chainID means "medchain-bench".
func StartDevNode(dir, chainID string, base config.Config, lg *slog.Logger) (*DevNode, error) {
	// Registrations are part of the measured load: lift the per-block cap.
	return StartDevNodeParams(dir, chainID, base, lg, map[string]uint64{accounts.ParamMaxSelfRegistrations: 100_000})
}

// StartDevNodeParams is StartDevNode with these genesis parameters.
func StartDevNodeParams(dir, chainID string, base config.Config, lg *slog.Logger, params map[string]uint64) (*DevNode, error) {
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	if chainID == "" {
		chainID = "medchain-bench"
	}
	home := filepath.Join(dir, "node0")
	pp, err := ports.Free(3)
	if err != nil {
		return nil, err
	}
	if _, err := devnet.Write(devnet.Options{
		ChainID: chainID, Validators: 1, Homes: []string{home},
		P2PBase: pp[0], RPCBase: pp[1], APIBase: pp[2], Base: base, Light: true,
		Params: params,
	}); err != nil {
		return nil, err
	}
	cfg, err := config.Load(home)
	if err != nil {
		return nil, err
	}
	n, err := node.New(home, cfg, lg)
	if err != nil {
		return nil, err
	}
	if err := n.Start(); err != nil {
		_ = n.Stop()
		return nil, err
	}
	return &DevNode{Node: n, Home: home}, nil
}

// API is the node's API base URL.
func (d *DevNode) API() string { return "http://" + d.APIAddr() }

// DevConfig is the development configuration with the given block
// interval (0 keeps the default).
func DevConfig(timeoutCommit time.Duration) config.Config {
	c := config.Default()
	c.LogLevel = "error"
	if timeoutCommit > 0 {
		c.Consensus.TimeoutCommit = config.Duration(timeoutCommit)
	}
	return c
}
