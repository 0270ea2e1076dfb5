package cli

import (
	"context"
	"fmt"
	"github.com/medchain/medchain/internal/portal"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/node"
)

// listenFlags are the address overrides shared by dev and start.
type listenFlags struct {
	api, rpc, p2p string
	logLevel      string
	timeoutCommit time.Duration
	tls           *tlsFlags // start only
}

func (l *listenFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&l.api, "api", "", "HTTP API listen address (default "+config.DefaultAPI+" or the home's config)")
	f.StringVar(&l.rpc, "rpc", "", "CometBFT RPC listen address (default "+config.DefaultRPC+" or the home's config)")
	f.StringVar(&l.p2p, "p2p", "", "CometBFT P2P listen address (default "+config.DefaultP2P+" or the home's config)")
	f.StringVar(&l.logLevel, "log-level", "", "debug, info, warn or error")
	f.DurationVar(&l.timeoutCommit, "timeout-commit", 0, "CometBFT timeout_commit (block interval), overrides the config")
}

func (l *listenFlags) apply(c *config.Config) {
	if l.api != "" {
		c.API.Listen = l.api
	}
	if l.rpc != "" {
		c.RPC.Listen = l.rpc
	}
	if l.p2p != "" {
		c.P2P.Listen = l.p2p
	}
	if l.logLevel != "" {
		c.LogLevel = l.logLevel
	}
	if l.timeoutCommit > 0 {
		c.Consensus.TimeoutCommit = config.Duration(l.timeoutCommit)
	}
	if l.tls != nil {
		l.tls.apply(c)
	}
}

func newLogger(w io.Writer, c config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// DevTimeoutCommit is the block interval (CometBFT timeout_commit) a new
// development network is written with; --timeout-commit overrides it.
const DevTimeoutCommit = 300 * time.Millisecond

// NewDevCmd builds `medchain dev`: a complete single-validator network.
func NewDevCmd(g *globals) *cobra.Command {
	var lf listenFlags
	var chainID string
	var demo bool
	var paramArgs []string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Create (when absent) and run a complete single-validator development network",
		Long: `dev creates a single-validator network in --home the first time (genesis with
development organizations and accounts, whose key files it writes under HOME/keys
with the passphrase "` + devnet.DevPassphrase + `"), then runs it. Run again on the same
home, it continues the same chain. Ctrl-C stops it cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home := g.home
			seed := false
			if !config.Exists(home) {
				params, err := parseGenesisParams(paramArgs)
				if err != nil {
					return err
				}
				seed = demo
				base := config.Default()
				// One validator needs no time for votes to travel: short
				// blocks keep submit-to-commit latency well under a second
				// (docs/performance.md).
				base.Consensus.TimeoutCommit = config.Duration(DevTimeoutCommit)
				lf.apply(&base)
				res, err := devnet.Write(devnet.Options{
					ChainID: chainID, Validators: 1, Homes: []string{home},
					P2PBase: portOf(base.P2P.Listen, 26656), RPCBase: portOf(base.RPC.Listen, 26657),
					APIBase: portOf(base.API.Listen, 8080), Host: hostOf(base.API.Listen),
					Base: base, Light: true, Params: params,
				})
				if err != nil {
					return err
				}
				printDevAccounts(g.env.Stdout, home, res)
			}
			var after func(ctx context.Context, api string)
			if seed {
				after = func(ctx context.Context, api string) {
					if err := devnet.Seed(ctx, "http://"+api, config.KeysDir(home), g.env.Stdout); err != nil && ctx.Err() == nil {
						fmt.Fprintln(g.env.Stderr, "demo seeding failed:", err)
					}
				}
			}
			return runNode(cmd.Context(), g, home, lf, after)
		},
	}
	lf.add(cmd)
	cmd.Flags().StringVar(&chainID, "chain-id", "medchain-dev", "chain id of a new development network")
	cmd.Flags().BoolVar(&demo, "demo", true, "seed a new network with demo patients, consents and FHIR records")
	cmd.Flags().StringArrayVar(&paramArgs, "param", nil, "a governance parameter of a new network's genesis, NAME=VALUE (repeatable; see GET /v1/params), e.g. accounts.max_self_registrations_per_block=100000 for load tests")
	return cmd
}

// parseGenesisParams reads --param NAME=VALUE flags, each checked against
// the parameters the state machine declares and their bounds.
func parseGenesisParams(args []string) (map[string]uint64, error) {
	if len(args) == 0 {
		return nil, nil
	}
	_, reg := app.NewCore()
	out := map[string]uint64{}
	for _, a := range args {
		name, val, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("--param %q: want NAME=VALUE", a)
		}
		v, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--param %s: %q is not a non-negative integer", name, val)
		}
		if err := reg.Validate(name, v); err != nil {
			return nil, fmt.Errorf("--param %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func printDevAccounts(w io.Writer, home string, res *devnet.Result) {
	fmt.Fprintf(w, "Created development network %q in %s\n", res.ChainID, home)
	fmt.Fprintf(w, "Development accounts (keys in %s, passphrase %q):\n", config.KeysDir(home), devnet.DevPassphrase)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range res.Accounts {
		who := a.Kind
		if a.Org != "" {
			who = a.Role + " of " + a.Org
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Name, a.Address, who)
	}
	tw.Flush()
}

// tlsFlags serve the API over TLS (start only: `medchain dev` stays plain
// on loopback).
type tlsFlags struct{ cert, key, clientCA string }

func (t *tlsFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.cert, "tls-cert", "", "PEM certificate (chain) to serve the API and FHIR over HTTPS; overrides api.tls.cert_file")
	f.StringVar(&t.key, "tls-key", "", "PEM private key of --tls-cert; overrides api.tls.key_file")
	f.StringVar(&t.clientCA, "tls-client-ca", "", "PEM CA of client certificates: blob requests forwarded by other nodes must present one (mutual TLS); overrides api.tls.client_ca_file")
	cmd.MarkFlagsRequiredTogether("tls-cert", "tls-key")
}

// apply sets the flags given; their paths are relative to the working
// directory (the config file's are relative to the home).
func (t *tlsFlags) apply(c *config.Config) {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	if t.cert != "" {
		c.API.TLS.CertFile, c.API.TLS.KeyFile = abs(t.cert), abs(t.key)
	}
	if t.clientCA != "" {
		c.API.TLS.ClientCAFile = abs(t.clientCA)
	}
}

// NewStartCmd builds `medchain start`: run one node of a network.
func NewStartCmd(g *globals) *cobra.Command {
	var lf listenFlags
	var tf tlsFlags
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the node whose home is --home",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lf.tls = &tf
			return runNode(cmd.Context(), g, g.home, lf, nil)
		},
	}
	lf.add(cmd)
	tf.add(cmd)
	return cmd
}

func runNode(ctx context.Context, g *globals, home string, lf listenFlags, after func(ctx context.Context, api string)) error {
	cfg, err := config.Load(home)
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	lf.apply(&cfg)
	if err := cfg.Validate(); err != nil {
		return err
	}
	lg := newLogger(g.env.Stderr, cfg)
	// Sized once here (from the machine unless configured), for Go's
	// memory limit and for the node alike.
	cfg.State.BlockCacheBytes = node.StateBlockCache(cfg.State.BlockCacheBytes)
	node.ApplyMemoryLimit(lg, cfg.State.BlockCacheBytes)
	opts := []node.Option{node.WithHaltExit(exitProcess)}
	if off, err := node.ParseClockOffset(g.env.Getenv(node.ClockOffsetEnv)); err != nil {
		return err
	} else if off != 0 {
		opts = append(opts, node.WithClockOffset(off)) // fault tests only (internal/chaos)
	}
	n, err := node.New(home, cfg, lg, opts...)
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		_ = n.Stop()
		return err
	}
	scheme := "http"
	if cfg.API.TLS.Enabled() {
		scheme = "https"
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if after != nil {
		// The node is ready for a user once what after sends (the demo) is
		// committed: a user's first command then never races it.
		fmt.Fprintf(g.env.Stdout, "medchain node started: API %s://%s; seeding the demo...\n", scheme, n.APIAddr())
		after(ctx, n.APIAddr())
	}
	if ctx.Err() == nil {
		fmt.Fprintf(g.env.Stdout, "medchain node running: API %s://%s  (Ctrl-C to stop)\n", scheme, n.APIAddr())
		fmt.Fprintf(g.env.Stdout, "web portal: %s://%s%s\n", scheme, n.APIAddr(), portal.Prefix)
	}
	<-ctx.Done()
	lg.Info("stopping")
	if err := n.Stop(); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	lg.Info("stopped cleanly")
	return nil
}

// exitProcess ends the process when the node stops at an upgrade's height
// (node.WithHaltExit): from inside the refused block, so that neither
// consensus nor block sync goes on.
var exitProcess = os.Exit

// NewTestnetCmd builds `medchain testnet`: the homes of an N-validator network.
func NewTestnetCmd(g *globals) *cobra.Command {
	var (
		n, fullNodes                  int
		out, chainID, host            string
		hosts                         []string
		p2pBase, rpcBase, apiBase     int
		timeoutCommit, timeoutPropose time.Duration
	)
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Write the homes of an N-validator network on this machine",
		Long: `testnet writes OUT/node0 ... OUT/node{N-1}, one home per validator, with distinct
ports on --host and persistent peers set. Run each with: medchain start --home OUT/nodeK.
Node K listens on P2P --p2p-port+10K, RPC --rpc-port+10K and API --api-port+K.
--full-nodes adds non-validator nodes after the validators (for adding validators by
governance). To run across machines, see docs/operations.md.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			base := config.Default()
			if timeoutCommit > 0 {
				base.Consensus.TimeoutCommit = config.Duration(timeoutCommit)
			}
			if timeoutPropose > 0 {
				base.Consensus.TimeoutPropose = config.Duration(timeoutPropose)
			}
			var homes []string
			for i := 0; i < n+fullNodes; i++ {
				homes = append(homes, filepath.Join(out, fmt.Sprintf("node%d", i)))
			}
			res, err := devnet.Write(devnet.Options{
				ChainID: chainID, Validators: n, Homes: homes, Host: host, Hosts: hosts,
				P2PBase: p2pBase, RPCBase: rpcBase, APIBase: apiBase, Base: base, Light: true,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "Wrote %d validator homes and %d full-node homes of %q under %s\n", n, fullNodes, res.ChainID, out)
			for i, h := range homes {
				at := host
				if len(hosts) > i {
					at = hosts[i]
				}
				fmt.Fprintf(g.env.Stdout, "  medchain start --home %s   # API http://%s:%d\n", h, at, apiBase+i)
			}
			printDevAccounts(g.env.Stdout, homes[0], res)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&n, "validators", 4, "number of validators")
	f.IntVar(&fullNodes, "full-nodes", 0, "number of non-validator nodes")
	f.StringVar(&out, "out", "", "folder to write the node homes into")
	f.StringVar(&chainID, "chain-id", "medchain-testnet", "chain id")
	f.StringVar(&host, "host", "127.0.0.1", "address the nodes listen on and peer through")
	f.StringSliceVar(&hosts, "hosts", nil, "one address per node, for a network across machines (node K listens and is peered at the K-th)")
	f.IntVar(&p2pBase, "p2p-port", 26656, "P2P port of node0")
	f.IntVar(&rpcBase, "rpc-port", 26657, "RPC port of node0")
	f.IntVar(&apiBase, "api-port", 8080, "API port of node0")
	f.DurationVar(&timeoutCommit, "timeout-commit", 0, "block interval (CometBFT timeout_commit)")
	f.DurationVar(&timeoutPropose, "timeout-propose", 0, "CometBFT timeout_propose")
	return cmd
}

// NewVersionCmd prints the version.
func NewVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(g.env.Stdout, "medchain %s (app protocol %d)\n", app.SoftVersion, app.AppVersion)
		},
	}
}

func portOf(addr string, def int) int {
	var p int
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		if _, err := fmt.Sscan(addr[i+1:], &p); err == nil {
			return p
		}
	}
	return def
}

func hostOf(addr string) string {
	addr = strings.TrimPrefix(addr, "tcp://")
	if i := strings.LastIndex(addr, ":"); i > 0 {
		return addr[:i]
	}
	return "127.0.0.1"
}
