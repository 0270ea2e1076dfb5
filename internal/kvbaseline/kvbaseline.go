// Package kvbaseline runs CometBFT's own example application
// (abci/example/kvstore) in process under the consensus, mempool and
// storage settings of a medchain node, so that `medchain bench` can measure
// the engine's throughput on this machine with the same harness: the
// baseline medchain is compared with.
//
// The kvstore is the persistent one by default (goleveldb, written at each
// Commit), because a medchain node persists its state too; the in-memory
// one is available to see what the application's storage costs.
package kvbaseline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	mempl "github.com/cometbft/cometbft/mempool"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/ports"
	"github.com/medchain/medchain/sm"
)

// ChainID of a baseline network.
const ChainID = "kvstore-bench"

// DefaultBlockMaxBytes is the block size limit medchain's development
// networks use (internal/devnet).
const DefaultBlockMaxBytes = 4 << 20

// Options describe a baseline node.
type Options struct {
	// Home is an empty or absent folder for the node's files.
	Home string
	// Config supplies the consensus timeouts, mempool settings and metrics
	// exactly as a medchain node maps them onto CometBFT's configuration
	// (config.Config.CometBFT); its listen addresses are replaced by
	// RPCListen and free loopback ports. The indexer is CometBFT's kv
	// indexer (see NoIndex).
	Config config.Config
	// ConsensusParams of the genesis; nil means CometBFT's defaults with
	// DefaultBlockMaxBytes, as medchain's development networks have.
	ConsensusParams *cmttypes.ConsensusParams
	// Memory selects the in-memory kvstore instead of the persistent one.
	Memory bool
	// NoIndex turns CometBFT's transaction indexer off.
	NoIndex bool
	// RPCListen is the JSON-RPC address ("127.0.0.1:0" or empty: a free port).
	RPCListen string
	// Metrics registers CometBFT's Prometheus metrics, as a medchain node
	// does. They live in the process-wide registry: only one node of a
	// process may have them.
	Metrics bool
	Logger  *slog.Logger
}

// Node is a running baseline node.
type Node struct {
	cmt    *nm.Node
	rpcURL string
	home   string
}

// Start writes the node's files under o.Home and starts it.
func Start(o Options) (*Node, error) {
	if o.Home == "" {
		return nil, errors.New("kvbaseline: no home")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	rpc, err := listenAddr(o.RPCListen)
	if err != nil {
		return nil, err
	}
	p2pAddr, err := listenAddr("")
	if err != nil {
		return nil, err
	}
	c := o.Config
	c.RPC.Listen, c.P2P.Listen, c.P2P.PersistentPeers = rpc, p2pAddr, ""
	cc := c.CometBFT(o.Home)
	cc.Instrumentation.Prometheus = o.Metrics && firstMetrics()
	// medchain indexes its transactions itself (with its state) and so
	// turns CometBFT's indexer off. With CometBFT's indexer kvstore makes
	// every committed transaction findable by hash, as medchain does;
	// without it (NoIndex, what `medchain bench` compares with by default:
	// the strongest baseline) kvstore only writes blocks and its keys.
	cc.TxIndex.Indexer = "kv"
	if o.NoIndex {
		cc.TxIndex.Indexer = "null"
	}
	cc.Mempool.MaxTxBytes = sm.MaxTxBytes // no bundles here
	for _, d := range []string{filepath.Join(o.Home, "config"), filepath.Join(o.Home, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	pvKey := cmted25519.GenPrivKey()
	pv := privval.NewFilePV(pvKey, cc.PrivValidatorKeyFile(), cc.PrivValidatorStateFile())
	pv.Save()
	nodeKey := &p2p.NodeKey{PrivKey: cmted25519.GenPrivKey()}
	if err := nodeKey.SaveAs(cc.NodeKeyFile()); err != nil {
		return nil, err
	}
	params := o.ConsensusParams
	if params == nil {
		params = cmttypes.DefaultConsensusParams()
		params.Block.MaxBytes = DefaultBlockMaxBytes
	}
	gen := &cmttypes.GenesisDoc{
		GenesisTime:     time.Now().UTC().Truncate(time.Second),
		ChainID:         ChainID,
		InitialHeight:   1,
		ConsensusParams: params,
		Validators:      []cmttypes.GenesisValidator{{Address: pvKey.PubKey().Address(), PubKey: pvKey.PubKey(), Power: 10, Name: "kvstore"}},
	}
	if err := gen.ValidateAndComplete(); err != nil {
		return nil, err
	}
	if err := gen.SaveAs(cc.GenesisFile()); err != nil {
		return nil, err
	}
	if err := cc.ValidateBasic(); err != nil {
		return nil, err
	}
	var app *kvstore.Application
	if o.Memory {
		app = kvstore.NewInMemoryApplication()
	} else {
		app = kvstore.NewPersistentApplication(filepath.Join(o.Home, "data", "kvstore"))
	}
	cmt, err := nm.NewNode(cc, pv, nodeKey,
		proxy.NewLocalClientCreator(app), // as medchain's node does
		nm.DefaultGenesisDocProviderFunc(cc),
		cmtcfg.DefaultDBProvider,
		nm.DefaultMetricsProvider(cc.Instrumentation),
		logger{o.Logger},
	)
	if err != nil {
		return nil, fmt.Errorf("kvstore node: %w", err)
	}
	if err := cmt.Start(); err != nil {
		return nil, fmt.Errorf("kvstore node: %w", err)
	}
	return &Node{cmt: cmt, rpcURL: "http://" + rpc, home: o.Home}, nil
}

// RPCURL is the node's JSON-RPC endpoint.
func (n *Node) RPCURL() string { return n.rpcURL }

// Height is the block store's height.
func (n *Node) Height() int64 { return n.cmt.BlockStore().Height() }

// EventBus is the node's event bus.
func (n *Node) EventBus() *cmttypes.EventBus { return n.cmt.EventBus() }

// MempoolSize is the number of transactions in the mempool.
func (n *Node) MempoolSize() int { return n.cmt.Mempool().Size() }

// Stop stops the node.
func (n *Node) Stop() error {
	if !n.cmt.IsRunning() {
		return nil
	}
	err := n.cmt.Stop()
	n.cmt.Wait()
	return err
}

// SubmitBatch hands transactions to the mempool in process, in order, with
// the semantics of medchain's node.SubmitBatch: once the mempool is full
// the rest are answered busy.
func (n *Node) SubmitBatch(ctx context.Context, txs [][]byte) ([]api.BatchItem, error) {
	out := make([]api.BatchItem, len(txs))
	mp := n.cmt.Mempool()
	busy := false
	for i, tx := range txs {
		h := sha256.Sum256(tx)
		out[i].Hash = strings.ToUpper(hex.EncodeToString(h[:]))
		if busy {
			out[i].Code, out[i].Codespace = api.ErrBusy.Code, api.Codespace
			continue
		}
		var res *abci.ResponseCheckTx
		done := make(chan struct{})
		err := mp.CheckTx(tx, func(r *abci.ResponseCheckTx) { res = r; close(done) }, mempl.TxInfo{})
		var full mempl.ErrMempoolIsFull
		var tooLarge mempl.ErrTxTooLarge
		switch {
		case err == nil:
		case errors.Is(err, mempl.ErrTxInCache):
			out[i].Code, out[i].Codespace = api.ErrDuplicate.Code, api.Codespace
			continue
		case errors.As(err, &full):
			busy = true
			out[i].Code, out[i].Codespace = api.ErrBusy.Code, api.Codespace
			continue
		case errors.As(err, &tooLarge):
			out[i].Code, out[i].Codespace, out[i].Log = sm.ABCIInfo(sm.Wrapf(sm.ErrTxTooLarge, "%v", err))
			continue
		default:
			return nil, fmt.Errorf("tx %d: %w", i, err)
		}
		select {
		case <-done:
		default:
			select {
			case <-done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		out[i].Code, out[i].Codespace, out[i].Log = res.Code, res.Codespace, res.Log
	}
	return out, nil
}

// listenAddr returns addr, or a free loopback address when addr is empty
// or has port 0.
func listenAddr(addr string) (string, error) {
	if addr != "" && !strings.HasSuffix(addr, ":0") {
		return addr, nil
	}
	host := ports.Host
	if addr != "" {
		host = strings.TrimSuffix(addr, ":0")
	}
	if host == ports.Host {
		a, err := ports.Addrs(1)
		if err != nil {
			return "", err
		}
		return a[0], nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// CometBFT's Prometheus metrics register on the process-wide registry and
// panic when registered twice: only the first node of a process gets them
// (as in internal/node).
var metricsOnce sync.Once

func firstMetrics() bool {
	first := false
	metricsOnce.Do(func() { first = true })
	return first
}

// logger adapts slog as internal/node does: CometBFT's info is debug.
type logger struct{ l *slog.Logger }

func (c logger) Debug(msg string, kv ...any) {
	c.l.Log(context.Background(), slog.LevelDebug-4, msg, kv...)
}
func (c logger) Info(msg string, kv ...any)   { c.l.Debug(msg, kv...) }
func (c logger) Warn(msg string, kv ...any)   { c.l.Warn(msg, kv...) }
func (c logger) Error(msg string, kv ...any)  { c.l.Error(msg, kv...) }
func (c logger) With(kv ...any) cmtlog.Logger { return logger{c.l.With(kv...)} }
