package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/bench"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/kvbaseline"
	"github.com/medchain/medchain/internal/txbatch"
)

// Baselines `medchain bench --baseline` runs.
const (
	baselineRPC    = "kvstore-rpc"
	baselineInproc = "kvstore-inproc"
)

type benchFlags struct {
	rate                  float64
	duration, warmup      time.Duration
	drain, timeoutCommit  time.Duration
	accounts, auditEvents int
	epcisEvents           int
	mix, intake, out      string
	lanes, batch, txBytes int
	baseline, rpc, kvApp  string
	kvIndexer, compare    string
	inprocNode            bool
	profile               string
	nodePID, outstanding  int
	quiet                 bool
}

// NewBenchCmd builds `medchain bench`: load a network and measure what it
// commits (docs/performance.md).
func NewBenchCmd(g *globals) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a network with signed transactions and measure committed tx/s and latency",
		Long: `bench drives a running network (--node API URLs, comma-separated; each account
always uses the same node) with signed transactions from --accounts fresh patients
it first registers, in the --mix of kinds:

  register  accounts/register_patient by a fresh key
  grant     consent/grant to a development practitioner (read+write, treatment)
  revoke    consent/revoke of a grant seen committed
  guardian  accounts/set_guardian, then revoke_guardian, naming a development patient
  record    records/add by the patient, one wrapped key (the patient: its only key holder)
  audit     audit/log of --audit-events access events by a development gateway
  book      telemed/book of the next slot of the payer's own offer (price 1 into escrow) by a development patient
  cancel    telemed/cancel of a booking seen committed (escrow back to the patient)
  epcis     supply/capture of --epcis-events commissioning events (fresh SSCCs) by a development gateway
  transfer  bank/send of 1 token between funded development accounts

The development keys come from --home's keystore (the target node's home).
--rate N offers N tx/s open loop; --rate 0 runs closed loop at the maximum, with at
most --outstanding transactions sent and not yet committed when that is set.
--intake http posts one transaction per request (POST /v1/txs?wait=false);
--intake batch posts up to --batch per request (POST /v1/txs/batch); with
--inproc-node, --intake inproc calls the node's mempool directly.

Committed counts and latencies come from the blocks (GET /v1/blocks/{h}), not from
submission responses.

After medchain's run, bench runs the strongest baseline with the same load shape
(--compare kvstore-rpc, the default): CometBFT's kvstore example application in a
node of its own process ("medchain bench kvstore-node", with --home's consensus and
mempool settings, its transaction indexer off), fed --tx-bytes key=value
transactions through JSON-RPC broadcast_tx_async by this process, and reports
first "medchain / kvstore (JSON-RPC, separate load generator, indexer off)".
--compare none skips it.

--out writes the machine, the command, the parameters and the results (with the
baseline's) as JSON; "medchain bench compare" sets such files side by side.

--baseline kvstore-rpc | kvstore-inproc instead runs only a kvstore baseline, in
this process (or, with --rpc, an already running "bench kvstore-node"), fed through
CometBFT's JSON-RPC or straight into its mempool.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runBench(ctx, g, f)
		},
	}
	fl := cmd.Flags()
	fl.Float64Var(&f.rate, "rate", 0, "offered load in tx/s (open loop); 0: closed loop at the maximum")
	fl.IntVar(&f.outstanding, "outstanding", 0, "closed loop: at most this many transactions sent and not yet committed (0: only the mempool limits them)")
	fl.DurationVar(&f.duration, "duration", 60*time.Second, "measurement window")
	fl.DurationVar(&f.warmup, "warmup", 10*time.Second, "load before the window, not measured")
	fl.DurationVar(&f.drain, "drain", 30*time.Second, "how long to wait after the window for accepted transactions to commit")
	fl.IntVar(&f.accounts, "accounts", 2000, "fresh patients registered before the load")
	fl.StringVar(&f.mix, "mix", bench.DefaultMix, "weights of the transaction kinds")
	fl.IntVar(&f.auditEvents, "audit-events", 1, "access events per audit/log transaction")
	fl.IntVar(&f.epcisEvents, "epcis-events", 10, "EPCIS events per supply/capture transaction (kind epcis)")
	fl.StringVar(&f.intake, "intake", "http", "how transactions enter the node: http, batch, inproc (with --inproc-node)")
	fl.IntVar(&f.lanes, "lanes", 0, "concurrent submitters (default 64 for http and JSON-RPC, 4 for batch and inproc)")
	fl.IntVar(&f.batch, "batch", 500, fmt.Sprintf("transactions per batch request (at most %d)", txbatch.MaxTxs))
	fl.StringVar(&f.out, "out", "", "write the results as JSON to this file")
	fl.StringVar(&f.baseline, "baseline", "", "run a CometBFT kvstore baseline instead: "+baselineRPC+" or "+baselineInproc)
	fl.StringVar(&f.rpc, "rpc", "", "with --baseline "+baselineRPC+": drive this already running kvstore node's JSON-RPC (see bench kvstore-node)")
	fl.StringVar(&f.kvApp, "kv-app", "persistent", "baseline kvstore: persistent (goleveldb) or memory")
	fl.StringVar(&f.kvIndexer, "kv-indexer", "null", "baseline kvstore's transaction indexer: null (off, the strongest baseline) or kv (CometBFT's)")
	fl.StringVar(&f.compare, "compare", baselineRPC, "after a medchain run, the baseline run to compare with: "+baselineRPC+" (kvstore node in its own process, JSON-RPC, indexer off) or none")
	fl.IntVar(&f.txBytes, "tx-bytes", 250, "baseline transaction size")
	fl.DurationVar(&f.timeoutCommit, "timeout-commit", 0, "block interval of an in-process node or baseline (default: --home's config, else 1s)")
	fl.BoolVar(&f.inprocNode, "inproc-node", false, "run a development node in this process instead of using --node")
	fl.StringVar(&f.profile, "profile", "", "write a CPU profile of this process over the measurement window")
	fl.IntVar(&f.nodePID, "node-pid", 0, "process id of the node (same machine), to report its CPU use")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress lines")
	cmd.AddCommand(newBenchCompareCmd(g), newBenchKVNodeCmd(g), newBenchStateCmd(g))
	return cmd
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func runBench(ctx context.Context, g *globals, f benchFlags) error {
	mix, err := bench.ParseMix(f.mix)
	if err != nil {
		return err
	}
	if f.batch < 1 || f.batch > txbatch.MaxTxs {
		return fmt.Errorf("--batch must be 1..%d", txbatch.MaxTxs)
	}
	if f.duration <= 0 || f.warmup < 0 || f.rate < 0 {
		return errors.New("--duration must be positive, --warmup and --rate not negative")
	}
	machine := bench.CollectMachine()
	params := bench.Params{
		Intake: f.intake, Rate: f.rate, Outstanding: f.outstanding, Duration: f.duration.String(), Warmup: f.warmup.String(), Batch: f.batch,
	}
	progress := quietOr(f, g)
	if f.compare != baselineRPC && f.compare != "none" {
		return fmt.Errorf("--compare %q: want %s or none", f.compare, baselineRPC)
	}
	userLanes := f.lanes
	mode := f.intake
	switch f.baseline {
	case baselineRPC:
		mode = "jsonrpc"
	case baselineInproc:
		mode = "inproc"
	}
	defaultLanes(&f, mode)
	var target bench.Target
	var setup *bench.Setup
	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()
	switch f.baseline {
	case "":
		t, s, done, err := medchainTarget(ctx, g, f, mix, &params)
		cleanup = append(cleanup, done...)
		if err != nil {
			return err
		}
		target, setup = t, s
	case baselineRPC, baselineInproc:
		t, done, err := kvTarget(g, f, &params)
		cleanup = append(cleanup, done...)
		if err != nil {
			return err
		}
		target = t
	default:
		return fmt.Errorf("--baseline %q: want %s or %s", f.baseline, baselineRPC, baselineInproc)
	}
	if f.nodePID > 0 {
		pid := f.nodePID
		if _, err := bench.PIDCPU(pid); err != nil {
			return fmt.Errorf("--node-pid: %w", err)
		}
		target.NodeCPU = func() (time.Duration, bool) {
			d, err := bench.PIDCPU(pid)
			return d, err == nil
		}
	}
	params.Lanes = f.lanes
	cfg := bench.Config{Rate: f.rate, Duration: f.duration, Warmup: f.warmup, Drain: f.drain, Lanes: f.lanes, Batch: f.batch, Outstanding: f.outstanding, Progress: progress}
	if f.profile != "" {
		pf, err := os.Create(f.profile)
		if err != nil {
			return err
		}
		defer pf.Close()
		go profileWindow(ctx, pf, f.warmup, f.warmup+f.duration)
	}
	fmt.Fprintf(g.env.Stdout, "load: %s via %s, %s, %d lanes, window %s after %s warmup\n", target.Name, target.Intake.Name(), rateText(f.rate), f.lanes, f.duration, f.warmup)
	res, err := bench.Run(ctx, target, cfg)
	if err != nil {
		return err
	}
	machine.LoadEnd = bench.LoadAvg()
	rep := &bench.Report{
		Tool: "medchain bench", Date: time.Now().UTC(), Command: os.Args, Machine: machine,
		Params: params, Setup: setup, Results: res, Profile: f.profile,
	}
	if f.baseline != "" || f.compare == "none" {
		rep.Summary(g.env.Stdout)
		return writeResults(g, f.out, rep.WriteJSON)
	}
	base, err := runStrongestBaseline(ctx, g, f, userLanes, params.TimeoutCommit)
	if err != nil {
		rep.Summary(g.env.Stdout)
		return errors.Join(fmt.Errorf("baseline: %w", err), writeResults(g, f.out, rep.WriteJSON))
	}
	rep.Baselines = []*bench.Report{base}
	bench.Comparison(g.env.Stdout, rep, base)
	return writeResults(g, f.out, rep.WriteJSON)
}

// runStrongestBaseline runs CometBFT's kvstore in a node process of its own
// (this binary's `bench kvstore-node`, indexer off), loads it through
// JSON-RPC with the medchain run's rate, window and lanes, and stops it.
// timeoutCommit, when set, is the block interval the medchain node had.
func runStrongestBaseline(ctx context.Context, g *globals, f benchFlags, lanes int, timeoutCommit string) (*bench.Report, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"--home", g.home, "--kv-indexer", "null", "--kv-app", f.kvApp}
	switch {
	case f.timeoutCommit > 0:
		args = append(args, "--timeout-commit", f.timeoutCommit.String())
	case timeoutCommit != "":
		args = append(args, "--timeout-commit", timeoutCommit)
	}
	fmt.Fprintf(g.env.Stdout, "\nbaseline: starting a kvstore node process (JSON-RPC, indexer off)\n")
	kv, err := bench.StartKVNodeProcess(ctx, exe, args, g.env.Stderr)
	if err != nil {
		return nil, err
	}
	defer kv.Stop()
	bf := f
	bf.baseline, bf.rpc, bf.kvIndexer, bf.lanes, bf.nodePID, bf.profile = baselineRPC, kv.URL, "null", lanes, kv.PID(), ""
	defaultLanes(&bf, "jsonrpc")
	params := bench.Params{
		Intake: "jsonrpc", Rate: bf.rate, Outstanding: bf.outstanding, Duration: bf.duration.String(), Warmup: bf.warmup.String(), Batch: bf.batch, Lanes: bf.lanes,
	}
	target, _, err := kvTarget(g, bf, &params)
	if err != nil {
		return nil, err
	}
	pid := kv.PID()
	target.NodeCPU = func() (time.Duration, bool) {
		d, err := bench.PIDCPU(pid)
		return d, err == nil
	}
	machine := bench.CollectMachine()
	cfg := bench.Config{Rate: bf.rate, Duration: bf.duration, Warmup: bf.warmup, Drain: bf.drain, Lanes: bf.lanes, Batch: bf.batch, Outstanding: bf.outstanding, Progress: quietOr(f, g)}
	fmt.Fprintf(g.env.Stdout, "load: %s via %s, %s, %d lanes, window %s after %s warmup\n", bench.Baseline(&bench.Report{Params: params}), target.Intake.Name(), rateText(bf.rate), bf.lanes, bf.duration, bf.warmup)
	res, err := bench.Run(ctx, target, cfg)
	if err != nil {
		return nil, err
	}
	machine.LoadEnd = bench.LoadAvg()
	return &bench.Report{Tool: "medchain bench", Date: time.Now().UTC(), Command: os.Args, Machine: machine, Params: params, Results: res}, nil
}

// writeResults writes a report to path, when one is given.
func writeResults(g *globals, path string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	fo, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(fo); err != nil {
		fo.Close()
		return err
	}
	if err := fo.Close(); err != nil {
		return err
	}
	fmt.Fprintln(g.env.Stdout, "results written to", path)
	return nil
}

func rateText(rate float64) string {
	if rate == 0 {
		return "closed loop at the maximum"
	}
	return fmt.Sprintf("open loop at %.0f tx/s", rate)
}

// profileWindow profiles this process's CPU from `from` to `to` after now.
func profileWindow(ctx context.Context, w *os.File, from, to time.Duration) {
	start := time.Now()
	select {
	case <-time.After(from):
	case <-ctx.Done():
		return
	}
	if err := pprof.StartCPUProfile(w); err != nil {
		return
	}
	select {
	case <-time.After(to - time.Since(start)):
	case <-ctx.Done():
	}
	pprof.StopCPUProfile()
}

func defaultLanes(f *benchFlags, intake string) {
	if f.lanes > 0 {
		return
	}
	switch intake {
	case "http", "jsonrpc":
		f.lanes = 64
	default:
		f.lanes = 4
	}
}

// nodeBaseConfig is the configuration whose consensus settings an
// in-process node or baseline copies: --home's node's when there is one.
func nodeBaseConfig(g *globals, f benchFlags) (config.Config, *cmttypes.ConsensusParams) {
	c := bench.DevConfig(0)
	var params *cmttypes.ConsensusParams
	if config.Exists(g.home) {
		if hc, err := config.Load(g.home); err == nil {
			c = hc
			c.LogLevel = "error"
		}
		if gen, err := cmttypes.GenesisDocFromFile(config.GenesisPath(g.home)); err == nil {
			params = gen.ConsensusParams
		}
	}
	if f.timeoutCommit > 0 {
		c.Consensus.TimeoutCommit = config.Duration(f.timeoutCommit)
	}
	return c, params
}

func medchainTarget(ctx context.Context, g *globals, f benchFlags, mix bench.Mix, params *bench.Params) (bench.Target, *bench.Setup, []func(), error) {
	var cleanup []func()
	params.Target, params.Mix, params.Accounts, params.AuditEvents = "medchain", mix.String(), f.accounts, f.auditEvents
	nodes := splitURLs(g.node)
	home := g.home
	var dev *bench.DevNode
	if f.inprocNode {
		dir, err := os.MkdirTemp("", "medchain-bench-")
		if err != nil {
			return bench.Target{}, nil, nil, err
		}
		cleanup = append(cleanup, func() { os.RemoveAll(dir) })
		base := bench.DevConfig(f.timeoutCommit)
		lg := slog.New(slog.NewTextHandler(g.env.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		dev, err = bench.StartDevNode(dir, "", base, lg)
		if err != nil {
			return bench.Target{}, nil, cleanup, err
		}
		cleanup = append(cleanup, func() { _ = dev.Stop() })
		nodes, home = []string{dev.API()}, dev.Home
		params.InProcessNode = true
		params.TimeoutCommit = time.Duration(base.Consensus.TimeoutCommit).String()
	} else if f.intake == "inproc" {
		return bench.Target{}, nil, nil, errors.New("--intake inproc needs --inproc-node")
	}
	if len(nodes) == 0 {
		return bench.Target{}, nil, cleanup, errors.New("--node: no API URL")
	}
	params.Nodes = nodes
	hc := bench.NewHTTPClient(f.lanes)
	var in bench.Intake
	switch f.intake {
	case "http":
		in = &bench.HTTPIntake{Nodes: nodes, Client: hc}
	case "batch":
		in = &bench.BatchIntake{Nodes: nodes, Client: hc}
	case "inproc":
		in = &bench.FuncIntake{Label: "inproc", Max: txbatch.MaxTxs, Fn: dev.SubmitBatch}
	default:
		return bench.Target{}, nil, cleanup, fmt.Errorf("--intake %q: want http, batch or inproc", f.intake)
	}
	obs := &bench.APIObserver{Base: nodes[0], Client: hc}
	keys, err := bench.LoadDevKeys(home)
	if err != nil {
		return bench.Target{}, nil, cleanup, fmt.Errorf("%w (--home must be the target node's home)", err)
	}
	fmt.Fprintf(g.env.Stdout, "setup: registering %d patients through %s\n", f.accounts, in.Name())
	gen, setup, err := bench.PrepareMedchain(ctx, bench.PrepareOptions{
		API: nodes[0], Client: hc, Intake: in, Observer: obs, Keys: keys, Accounts: f.accounts,
		Mix: mix, AuditEvents: f.auditEvents, EPCISEvents: f.epcisEvents, Lanes: f.lanes, Batch: f.batch, Progress: quietOr(f, g),
		// An open loop's registrations, built ahead with 5 % to spare (a
		// closed loop's count is not known: it builds them as it goes, as
		// a long run does past Prebuild's bound).
		Registrations: int(f.rate * (f.warmup + f.duration).Seconds() * mix.Share(bench.KindRegister) * 1.05),
	})
	if err != nil {
		return bench.Target{}, nil, cleanup, err
	}
	fmt.Fprintf(g.env.Stdout, "setup: done in %.1fs; accounts per role %v\n", setup.Seconds, setup.Classes)
	t := bench.Target{
		Name: "medchain", Generator: gen, Intake: in, Observer: obs,
		Mempool: bench.MetricsMempool(nodes[0], hc), InProcess: dev != nil,
	}
	return t, setup, cleanup, nil
}

func quietOr(f benchFlags, g *globals) io.Writer {
	if f.quiet {
		return nil
	}
	return g.env.Stdout
}

func kvTarget(g *globals, f benchFlags, params *bench.Params) (bench.Target, []func(), error) {
	var cleanup []func()
	params.Target, params.TxBytes, params.KVApp, params.KVIndexer = f.baseline, f.txBytes, f.kvApp, f.kvIndexer
	if f.kvIndexer != "kv" && f.kvIndexer != "null" {
		return bench.Target{}, nil, fmt.Errorf("--kv-indexer %q: want kv or null", f.kvIndexer)
	}
	if f.kvApp != "persistent" && f.kvApp != "memory" {
		return bench.Target{}, nil, fmt.Errorf("--kv-app %q: want persistent or memory", f.kvApp)
	}
	gen := bench.NewKV(f.txBytes, f.lanes)
	if f.rpc != "" {
		if f.baseline != baselineRPC {
			return bench.Target{}, nil, errors.New("--rpc drives an external kvstore node: only with --baseline " + baselineRPC)
		}
		hc := bench.NewHTTPClient(f.lanes)
		rpc := strings.TrimRight(f.rpc, "/")
		params.Nodes = []string{rpc}
		return bench.Target{
			Name: f.baseline, Generator: gen,
			Intake:   &bench.RPCIntake{Nodes: []string{rpc}, Client: hc},
			Observer: &bench.RPCObserver{Base: rpc, Client: hc},
			Mempool:  rpcMempool(rpc, hc),
		}, nil, nil
	}
	dir, err := os.MkdirTemp("", "medchain-kvstore-")
	if err != nil {
		return bench.Target{}, nil, err
	}
	cleanup = append(cleanup, func() { os.RemoveAll(dir) })
	cfg, cp := nodeBaseConfig(g, f)
	params.TimeoutCommit = time.Duration(cfg.Consensus.TimeoutCommit).String()
	lg := slog.New(slog.NewTextHandler(g.env.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	n, err := kvbaseline.Start(kvbaseline.Options{
		Home: filepath.Join(dir, "kvstore"), Config: cfg, ConsensusParams: cp, Memory: f.kvApp == "memory", NoIndex: f.kvIndexer == "null", Metrics: true, Logger: lg,
	})
	if err != nil {
		return bench.Target{}, cleanup, err
	}
	cleanup = append(cleanup, func() { _ = n.Stop() })
	t := bench.Target{
		Name: f.baseline, Generator: gen, InProcess: true,
		Mempool: func(context.Context) (int, bool) { return n.MempoolSize(), true },
	}
	if f.baseline == baselineRPC {
		hc := bench.NewHTTPClient(f.lanes)
		params.Nodes = []string{n.RPCURL()}
		t.Intake = &bench.RPCIntake{Nodes: []string{n.RPCURL()}, Client: hc}
		t.Observer = &bench.RPCObserver{Base: n.RPCURL(), Client: hc}
	} else {
		t.Intake = &bench.FuncIntake{Label: "inproc", Max: txbatch.MaxTxs, Fn: n.SubmitBatch}
		t.Observer = &bench.BusObserver{Bus: n.EventBus(), HeightNow: n.Height}
	}
	// Wait for the first block, so that the run starts on a live chain.
	deadline := time.Now().Add(30 * time.Second)
	for n.Height() < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	return t, cleanup, nil
}

func splitURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// rpcMempool reads the mempool size from CometBFT's /num_unconfirmed_txs.
func rpcMempool(rpc string, hc *http.Client) func(ctx context.Context) (int, bool) {
	return func(ctx context.Context) (int, bool) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rpc+"/num_unconfirmed_txs?limit=1", nil)
		if err != nil {
			return 0, false
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var r struct {
			Result struct {
				Total string `json:"total"`
			} `json:"result"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return 0, false
		}
		n, err := strconv.Atoi(r.Result.Total)
		return n, err == nil
	}
}

func newBenchCompareCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "compare RESULTS.json...",
		Short: "Set bench results side by side; medchain's rate as a ratio to each baseline's",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var reps []*bench.Report
			for _, p := range args {
				r, err := bench.ReadReport(p)
				if err != nil {
					return err
				}
				reps = append(reps, r)
			}
			bench.Compare(g.env.Stdout, reps, args)
			return nil
		},
	}
}

func newBenchKVNodeCmd(g *globals) *cobra.Command {
	var listen, kvApp, kvIndexer string
	var timeoutCommit time.Duration
	cmd := &cobra.Command{
		Use:   "kvstore-node",
		Short: "Run the CometBFT kvstore baseline node alone, for a bench in another process",
		Long: `kvstore-node runs CometBFT's kvstore example application with the consensus and
mempool settings of --home's node (or the defaults) until Ctrl-C, so that
"medchain bench --baseline kvstore-rpc --rpc URL --node-pid PID" can load it from a
separate process, as it loads a medchain node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			dir, err := os.MkdirTemp("", "medchain-kvstore-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			cfg, cp := nodeBaseConfig(g, benchFlags{timeoutCommit: timeoutCommit})
			lg := slog.New(slog.NewTextHandler(g.env.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			n, err := kvbaseline.Start(kvbaseline.Options{
				Home: filepath.Join(dir, "kvstore"), Config: cfg, ConsensusParams: cp, Memory: kvApp == "memory", NoIndex: kvIndexer == "null",
				RPCListen: listen, Metrics: true, Logger: lg,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "kvstore node running: JSON-RPC %s  pid %d  timeout_commit %s  (Ctrl-C to stop)\n",
				n.RPCURL(), os.Getpid(), time.Duration(cfg.Consensus.TimeoutCommit))
			<-ctx.Done()
			return n.Stop()
		},
	}
	cmd.Flags().StringVar(&listen, "rpc-listen", "127.0.0.1:26757", "JSON-RPC listen address")
	cmd.Flags().StringVar(&kvApp, "kv-app", "persistent", "persistent (goleveldb) or memory")
	cmd.Flags().StringVar(&kvIndexer, "kv-indexer", "kv", "transaction indexer: kv (CometBFT's) or null")
	cmd.Flags().DurationVar(&timeoutCommit, "timeout-commit", 0, "block interval (default: --home's config, else 1s)")
	return cmd
}

func newBenchStateCmd(g *globals) *cobra.Command {
	var o bench.StateOptions
	var out, cpuProfile string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Build a state of many patients and records through real transactions; measure its memory and disk",
		Long: `state builds, in the new or empty folder --home, the state of --patients patients
by executing signed transactions through the application, FinalizeBlock then
Commit into the on-disk state tree as a node does (without CometBFT): for each
patient accounts/register_patient, --records-per-patient records/add (600 bytes,
one wrapped key: the patient's), then a consent/grant of read and write to one of
100 practitioners. --block transactions per block. At --checkpoints evenly spaced
patient counts it records the state folder's size, the Go heap in use after a
collection, and the process's resident and peak resident memory.

It then closes the state and reopens it as a restarted node does, and runs a
workload on it for --serve-duration: half consent checks (x/consent MayRead, on
the committed state, one goroutine), half blocks of --serve-block records/add
(checked by CheckTx, then FinalizeBlock and Commit), measuring memory meanwhile.
--serve-only runs only that workload, on a state an earlier run built (run it in
a fresh process to measure a restarted node).

The summary ends with a linear extrapolation of disk and memory to 10,000,000
records, labelled as such. --out writes everything as JSON.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("home") {
				return errors.New("--home: give the folder of the state (new or empty; with --serve-only, an earlier run's)")
			}
			ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Home = g.home
			if !quiet {
				o.Progress = g.env.Stdout
			}
			if cpuProfile != "" {
				stopProfile, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stopProfile()
			}
			machine := bench.CollectMachine()
			rep, err := bench.RunState(ctx, o)
			if rep == nil {
				return err
			}
			// A workload that failed after a long build still reports the build.
			machine.LoadEnd = bench.LoadAvg()
			rep.Tool, rep.Date, rep.Command, rep.Machine = "medchain bench state", time.Now().UTC(), os.Args, machine
			rep.Summary(g.env.Stdout)
			return errors.Join(err, writeResults(g, out, rep.WriteJSON))
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.Patients, "patients", 100_000, "patients to register")
	fl.IntVar(&o.RecordsPerPatient, "records-per-patient", 10, "records/add per patient")
	fl.IntVar(&o.Block, "block", 5000, "transactions per block while building")
	fl.IntVar(&o.Checkpoints, "checkpoints", 10, "measurements while building, at evenly spaced patient counts")
	fl.DurationVar(&o.ServeDuration, "serve-duration", 60*time.Second, "workload on the reopened state (0: none)")
	fl.IntVar(&o.ServeBlock, "serve-block", 1000, "records/add per block of the workload")
	fl.BoolVar(&o.ServeOnly, "serve-only", false, "do not build: run the workload on the state an earlier run built in --home")
	fl.BoolVar(&o.NoTreeCheckpoint, "no-tree-checkpoint", false, "open the state with tree checkpoints off (deleting any): the tree is rebuilt from the stored keys")
	fl.Int64Var(&o.BlockCacheBytes, "block-cache-bytes", 0, "Pebble's block cache of the state (0: 256 MiB; a node sizes it from the machine, state.block_cache_bytes)")
	fl.Int64Var(&o.ReadCacheBytes, "read-cache-bytes", 0, "the state's read cache, as the node's state.read_cache_bytes (0: 128 MiB; -1: off)")
	fl.StringVar(&o.HeapProfile, "memprofile", "", "write a heap profile at the end (of the workload, else of the build)")
	fl.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run")
	fl.StringVar(&out, "out", "", "write the results as JSON to this file")
	fl.BoolVar(&quiet, "quiet", false, "no progress lines")
	return cmd
}

// startCPUProfile profiles this process's CPU into path until the returned
// function is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
