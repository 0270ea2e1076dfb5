package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/rpc/client/local"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/fhir"
	"github.com/medchain/medchain/internal/gateway"
	"github.com/medchain/medchain/internal/portal"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm/exec"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
)

// Node is a running medchain node.
type Node struct {
	home    string
	cfg     config.Config
	log     *slog.Logger
	tree    *merkle.Tree
	app     *app.App
	cmt     *nm.Node
	rpc     *local.Local
	commits *commits
	seen    *seenSet // recently accepted transaction hashes
	// submitMu makes the API's mempool submissions one at a time. CometBFT's
	// mempool checks for room before CheckTx and again after it, under a
	// shared lock: two submissions racing for the last slot can both pass
	// the first check, and the loser is dropped while its CheckTx answer
	// still says OK. The application runs CheckTx one at a time anyway.
	submitMu sync.Mutex
	single   coalescer // Submit's transactions, gathered into batches (coalesce.go)
	api      *http.Server
	apiLn    net.Listener
	genesis  *cmttypes.GenesisDoc

	// verifier authenticates signed requests for the API and the gateway:
	// one replay cache, one per-key rate limit.
	verifier *reqsig.Verifier
	peerHTTP *http.Client // the gateway's and FHIR's client to peers

	gateway *gateway.Server // nil when the node has no gateway key
	fhir    *fhir.Server    // nil without a gateway
	auditor *gateway.Auditor
	outbox  *gateway.Outbox // the auditor's: closed after it stops
	bg      sync.WaitGroup
	stopBg  context.CancelFunc

	// stopping is set once Stop begins: CometBFT's errors caused by the
	// stop are then logged at info (logger.go).
	stopping atomic.Bool

	upgrades app.Upgrades
	haltExit func(code int)
	halted   chan struct{} // closed at an upgrade halt
	haltOnce sync.Once

	clockOffset time.Duration // test-only wall-clock skew (clockskew.go)
	failOnce    sync.Once     // consensus failure exit (failure.go)

	dbMu  sync.Mutex
	cmtDB map[string]dbm.DB // CometBFT's databases by id (blockstore, state, evidence), for backups
	admin *http.Server      // the backup socket (admin.go)

	compact *compactor // reclaims pruned blocks' space (pruning.go)
}

// dbProvider opens CometBFT's databases as CometBFT does, keeping their
// handles for backups.
func (n *Node) dbProvider(ctx *cmtcfg.DBContext) (dbm.DB, error) {
	db, err := cmtcfg.DefaultDBProvider(ctx)
	if err == nil {
		n.dbMu.Lock()
		if n.cmtDB == nil {
			n.cmtDB = map[string]dbm.DB{}
		}
		n.cmtDB[ctx.ID] = db
		n.dbMu.Unlock()
	}
	return db, err
}

// New assembles a node from its home; nothing listens until Start.
func New(home string, cfg config.Config, lg *slog.Logger, opts ...Option) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if !config.Exists(home) {
		return nil, fmt.Errorf("%s has no genesis: run `medchain dev --home %s` or `medchain testnet` first", home, home)
	}
	gen, err := cmttypes.GenesisDocFromFile(config.GenesisPath(home))
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	if err := checkStateFormat(config.DataDir(home)); err != nil {
		return nil, err
	}
	blockCache := StateBlockCache(cfg.State.BlockCacheBytes)
	readCache := cfg.State.ReadCacheBytes
	if readCache == 0 {
		readCache = merkle.DefaultReadCacheBytes
	}
	lg.Info("state database", "block_cache_bytes", blockCache, "read_cache_bytes", readCache)
	tree, err := merkle.OpenTreeWith(config.DataDir(home), merkle.Options{Logger: lg.With("module", "state"), BlockCacheBytes: blockCache, ReadCacheBytes: readCache})
	if errors.Is(err, merkle.ErrStateFormat) {
		if info, ierr := merkle.ReadInfo(config.DataDir(home)); ierr == nil && info.Format == 2 {
			return nil, fmt.Errorf("%w: state format 2 (medchain before the index digest); stop every validator "+
				"at the same height and run `medchain state migrate --home %s` (docs/operations.md)", err, home)
		}
		return nil, fmt.Errorf("%w: its blocks carry app hashes this version cannot reproduce; start a new "+
			"network (for a development network: a new --home, or remove this one)", err)
	}
	if err != nil {
		return nil, err
	}
	n := &Node{home: home, cfg: cfg, log: lg, tree: tree, commits: newCommits(), genesis: gen,
		seen: newSeenSet(cfg.Mempool.CacheSize), upgrades: app.Registered, halted: make(chan struct{})}
	n.single.submit = n.SubmitBatch
	for _, o := range opts {
		o(n)
	}
	n.app = app.New(tree, app.Options{Logger: lg.With("module", "app"), OnCommit: n.onCommit,
		Upgrades: n.upgrades, OnHalt: n.onUpgradeHalt, Execution: execution(cfg.Execution),
		Snapshots: app.SnapshotOptions{Dir: filepath.Join(config.DataDir(home), "snapshots"),
			Interval: cfg.StateSync.SnapshotInterval, Keep: cfg.StateSync.SnapshotKeep},
		Pruning: pruningPolicy(cfg, gen)})
	n.compact = &compactor{keep: cfg.Pruning.KeepRecent}
	n.app.SetChainID(gen.ChainID)
	n.verifier = &reqsig.Verifier{
		ChainID: gen.ChainID,
		Authorize: api.SignerCheck(func() (store.Reader, int64, error) {
			if snap := n.app.Committed(); snap != nil {
				t := n.app.CommittedTime()
				if t.IsZero() { // restarted, no block committed by this process yet
					var err error
					if t, err = n.BlockTime(snap.Version()); err != nil {
						return nil, 0, err
					}
				}
				return snap, t.Unix(), nil
			}
			return nil, 0, errors.New("no committed state yet")
		}),
		Admit: apiRateLimit(cfg).KeyLimiter(),
		Now:   n.clock(),
	}
	if n.peerHTTP, err = PeerClient(home, cfg.Blobs.PeerTLS); err != nil {
		tree.Close()
		return nil, err
	}

	if err := n.setupGateway(); err != nil {
		tree.Close()
		return nil, err
	}
	closeAll := func() {
		if n.outbox != nil {
			_ = n.outbox.Close()
		}
		tree.Close()
	}

	cc := cfg.CometBFT(home)
	if err := cc.ValidateBasic(); err != nil {
		closeAll()
		return nil, fmt.Errorf("cometbft config: %w", err)
	}
	var pv cmttypes.PrivValidator = privval.LoadFilePV(cc.PrivValidatorKeyFile(), cc.PrivValidatorStateFile())
	if n.clockOffset != 0 {
		n.log.Warn("test-only clock offset: this node's wall clock is skewed", "env", ClockOffsetEnv, "offset", n.clockOffset.String())
		pv = skewedPV{PrivValidator: pv, d: n.clockOffset}
		if cc.Consensus.BlockTimeTolerance, err = n.blockTimeTolerance(cc.Consensus.BlockTimeTolerance); err != nil {
			closeAll()
			return nil, err
		}
	}
	nodeKey, err := p2p.LoadNodeKey(cc.NodeKeyFile())
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("node key: %w", err)
	}
	cmt, err := nm.NewNode(cc, pv, nodeKey,
		// One mutex per ABCI connection, not one for all: CheckTx runs
		// beside FinalizeBlock and Commit (the app guards its own state).
		// Its consensus calls put the consensus routine on a thread of
		// its own at a raised priority (priority.go).
		proxy.NewConnSyncLocalClientCreator(consensusApp{App: n.app,
			prio: newConsensusPriority(cfg.Execution.ConsensusNice, lg.With("module", "node"))}),
		nm.DefaultGenesisDocProviderFunc(cc),
		n.dbProvider,
		metricsProvider(cc),
		cmtLogger{l: lg.With("module", "cometbft"), stopping: &n.stopping, failed: n.onConsensusFailure},
	)
	if err != nil {
		closeAll()
		if h := n.app.Halted(); h != nil { // CometBFT's replay of the upgrade block
			return nil, h
		}
		return nil, fmt.Errorf("start cometbft: %w", err)
	}
	n.cmt = cmt
	// CometBFT holds its mempool's lock from before Commit to the end of
	// the commit's rechecks; the app's Stage holds it too.
	n.app.Mempool().Bind(cmt.Mempool())
	n.rpc = local.New(cmt)
	return n, nil
}

// Start begins consensus and serves the API.
func (n *Node) Start() error {
	if err := n.cmt.Start(); err != nil {
		return fmt.Errorf("start cometbft: %w", err)
	}
	tlsCfg, err := ServerTLS(n.home, n.cfg.API.TLS)
	if err != nil {
		_ = n.cmt.Stop()
		return err
	}
	ln, err := net.Listen("tcp", n.cfg.API.Listen)
	if err != nil {
		_ = n.cmt.Stop()
		return fmt.Errorf("api listen %s: %w", n.cfg.API.Listen, err)
	}
	n.apiLn = ln
	opts := api.Options{
		Logger:           n.log.With("module", "api"),
		MaxBodyBytes:     n.cfg.API.MaxBodyBytes,
		CommitWait:       time.Duration(n.cfg.API.CommitWait),
		MaxBlobBytes:     n.cfg.Blobs.MaxBytes,
		ChainID:          n.genesis.ChainID,
		Verifier:         n.verifier,
		RateLimit:        apiRateLimit(n.cfg),
		PeerCertRequired: n.cfg.API.TLS.ClientCAFile != "",
		Portal:           portal.Handler(),
	}
	if n.gateway != nil {
		opts.Gateway = n.gateway
		opts.FHIR = n.fhirHandler()
	}
	if opts.SupplyKey, err = loadSupplyKey(n.home, n.cfg); err != nil {
		_ = ln.Close()
		_ = n.cmt.Stop()
		return err
	}
	h := api.New(n, opts)
	// CometBFT's cometbft_mempool_size counts a bundle once. The first
	// node of a process registers (as with CometBFT's own metrics).
	_ = prometheus.DefaultRegisterer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "medchain", Subsystem: "mempool", Name: "txs",
		Help: "Transactions in the mempool, each transaction of a bundle counted.",
	}, func() float64 { return float64(n.app.PendingTxs()) }))
	bgCtx, cancel := context.WithCancel(context.Background())
	n.stopBg = cancel
	n.runGateway(bgCtx)
	n.registerAuditMetrics()
	n.registerBlobCacheMetrics()
	n.api = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       time.Duration(n.cfg.API.ReadTimeout),
		WriteTimeout:      time.Duration(n.cfg.API.WriteTimeout),
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         tlsCfg,
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	go func() {
		serve := n.api.Serve
		if tlsCfg != nil {
			serve = func(l net.Listener) error { return n.api.ServeTLS(l, "", "") }
		}
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("api server stopped", "err", err)
		}
	}()
	n.serveAdmin()
	if addr := os.Getenv("MEDCHAIN_PPROF"); addr != "" {
		n.servePprof(addr)
	}
	n.log.Info("node started", "chain_id", n.genesis.ChainID, "api", scheme+"://"+ln.Addr().String(),
		"rpc", n.cfg.RPC.Listen, "p2p", n.cfg.P2P.Listen, "node_id", string(n.cmt.NodeInfo().ID()))
	return nil
}

// Stop shuts the API down, then consensus, then the state database.
func (n *Node) Stop() error {
	n.stopping.Store(true)
	var errs []error
	if n.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, n.api.Shutdown(ctx))
		cancel()
	}
	if n.admin != nil {
		_ = n.admin.Close()
		_ = os.Remove(AdminSocket(n.home))
	}
	if n.stopBg != nil {
		n.stopBg()
		n.bg.Wait()
	}
	if n.outbox != nil {
		errs = append(errs, n.outbox.Close()) // what it holds is sent after the next start
	}
	if n.fhir != nil {
		n.fhir.Close() // forget tokens, wipe delegated keys
	}
	n.single.close()    // a request that gave up may have left its transaction queued
	n.compact.wg.Wait() // a compaction uses CometBFT's databases
	if n.cmt.IsRunning() {
		errs = append(errs, n.cmt.Stop())
		n.cmt.Wait()
	}
	n.app.WaitSnapshots()   // an export reads the tree
	n.app.Mempool().Close() // so do CometBFT's rechecks, which its Stop does not wait for
	errs = append(errs, n.tree.Close())
	return errors.Join(errs...)
}

// onCommit runs after each block is durably committed.
func (n *Node) onCommit(height int64, results []app.TxResult) {
	n.commits.committed(height, results)
	if n.cmt != nil { // nil during the start-up handshake's replay
		n.maybeCompact(n.cmt.BlockStore().Base())
	}
	if n.auditor != nil {
		n.auditor.Committed(height, auditResults(results))
	}
	if n.gateway != nil {
		if hs := erasedHashes(results); len(hs) > 0 {
			go n.gateway.Erased(context.Background(), hs)
		}
	}
}

// apiRateLimit maps the configuration onto the API's rate limits; the
// exempt prefixes were checked by config.Validate.
func apiRateLimit(cfg config.Config) api.RateLimit {
	rl := cfg.API.RateLimit
	exempt, _ := rl.Prefixes()
	return api.RateLimit{PerAddress: rl.PerAddress, PerAddressBurst: rl.PerAddressBurst, PerKey: rl.PerKey,
		PerKeyBurst: rl.PerKeyBurst, MaxTracked: rl.MaxTracked, Exempt: exempt}
}

// APIAddr is the address the API listens on (after Start).
func (n *Node) APIAddr() string {
	if n.apiLn == nil {
		return ""
	}
	return n.apiLn.Addr().String()
}

// App returns the ABCI application.
func (n *Node) App() *app.App { return n.app }

// cometMetricsOnce guards CometBFT's Prometheus metrics: they register on the
// process-wide default registry and panic when registered twice, so only the
// first node of a process (the only one outside tests) gets them; later ones
// get no-op metrics.
var cometMetricsOnce sync.Once

func metricsProvider(cc *cmtcfg.Config) nm.MetricsProvider {
	first := false
	cometMetricsOnce.Do(func() { first = true })
	if first {
		return nm.DefaultMetricsProvider(cc.Instrumentation)
	}
	off := *cc.Instrumentation
	off.Prometheus = false
	return nm.DefaultMetricsProvider(&off)
}

// checkStateFormat refuses a home whose state an earlier medchain wrote with
// the IAVL store: its blocks carry app hashes this version cannot reproduce,
// so CometBFT's replay would stop with an app hash mismatch.
func checkStateFormat(dataDir string) error {
	_, errOld := os.Stat(filepath.Join(dataDir, "application.db"))
	_, errNew := os.Stat(filepath.Join(dataDir, merkle.DBName))
	if errOld == nil && errors.Is(errNew, os.ErrNotExist) {
		return fmt.Errorf("%s holds state written by an earlier medchain (IAVL, data/application.db) "+
			"whose app hashes this version cannot reproduce; start a new network (for a development "+
			"network: a new --home, or remove this one)", dataDir)
	}
	return nil
}

// servePprof serves Go's profiler (net/http/pprof) on addr, for operators
// diagnosing a slow node: MEDCHAIN_PPROF=127.0.0.1:6060. It serves nothing
// else; keep it on loopback.
func (n *Node) servePprof(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil {
			n.log.Error("pprof server stopped", "addr", addr, "err", err)
		}
	}()
	n.log.Info("serving Go's profiler", "addr", addr)
}

// execution is the core's setting for the node's execution configuration.
func execution(e config.Execution) exec.Execution {
	if e.Mode != config.ExecParallel {
		return exec.Serial
	}
	return exec.Parallel(e.Workers)
}
