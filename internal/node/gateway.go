package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	mempl "github.com/cometbft/cometbft/mempool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/blob"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/gateway"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
)

// GatewayPassphraseEnv names the environment variable holding the gateway
// key's passphrase; it takes precedence over gateway.passphrase_file.
const GatewayPassphraseEnv = "MEDCHAIN_GATEWAY_PASSPHRASE"

// S3SecretEnv names the environment variable holding the S3 secret key.
const S3SecretEnv = "MEDCHAIN_S3_SECRET_KEY"

func loadGatewayKey(home string, cfg config.Config) (*crypto.PrivKey, error) {
	return loadKey(home, cfg, "gateway", cfg.Gateway.Key)
}

// loadSupplyKey loads the EPCIS capture key (supply.capture_key), nil
// when none is configured.
func loadSupplyKey(home string, cfg config.Config) (*crypto.PrivKey, error) {
	if cfg.Supply.CaptureKey == "" {
		return nil, nil
	}
	return loadKey(home, cfg, "supply capture", cfg.Supply.CaptureKey)
}

// loadKey loads a key of the node's keystore with the gateway passphrase.
func loadKey(home string, cfg config.Config, what, name string) (*crypto.PrivKey, error) {
	pass := os.Getenv(GatewayPassphraseEnv)
	if pass == "" && cfg.Gateway.PassphraseFile != "" {
		p := cfg.Gateway.PassphraseFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(home, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("gateway passphrase file: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	if pass == "" {
		return nil, fmt.Errorf("%s key %q: set %s or gateway.passphrase_file", what, name, GatewayPassphraseEnv)
	}
	k, err := keystore.Open(config.KeysDir(home)).Load(name, pass)
	if err != nil {
		return nil, fmt.Errorf("%s key %q: %w", what, name, err)
	}
	return k, nil
}

// openBlobs opens the configured blob store behind the in-memory cache
// (blobs.cache_bytes).
func openBlobs(home string, cfg config.Config) (blob.Store, error) {
	s, err := openBlobStore(home, cfg)
	if err != nil {
		return nil, err
	}
	return blob.NewCached(s, cfg.Blobs.CacheBytes), nil
}

func openBlobStore(home string, cfg config.Config) (blob.Store, error) {
	if s3 := cfg.Blobs.S3; s3 != nil {
		return blob.NewS3(blob.S3Config{
			Endpoint: s3.Endpoint, Region: s3.Region, Bucket: s3.Bucket, Prefix: s3.Prefix,
			AccessKey: s3.AccessKey, SecretKey: os.Getenv(S3SecretEnv), UseTLS: s3.UseTLS,
		}, blob.WithMaxSize(cfg.Blobs.MaxBytes))
	}
	dir := cfg.Blobs.Dir
	if dir == "" {
		dir = filepath.Join("data", "blobs")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(home, dir)
	}
	return blob.NewLocal(dir, blob.WithMaxSize(cfg.Blobs.MaxBytes))
}

// OutboxDir is where a node keeps the access events its gateway served
// until the chain has them (docs/operations.md: back it up with the node).
func OutboxDir(home string) string { return filepath.Join(config.DataDir(home), "audit-outbox") }

// setupGateway builds the gateway when the configuration names a key.
func (n *Node) setupGateway() error {
	if n.cfg.Gateway.Key == "" {
		return nil
	}
	key, err := loadGatewayKey(n.home, n.cfg)
	if err != nil {
		return err
	}
	blobs, err := openBlobs(n.home, n.cfg)
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	box, err := gateway.OpenOutbox(OutboxDir(n.home), 0)
	if err != nil {
		return err
	}
	n.auditor, err = gateway.NewAuditor(key, n, box, n.log.With("module", "audit"), 250*time.Millisecond)
	if err != nil {
		_ = box.Close()
		return fmt.Errorf("audit outbox: %w", err)
	}
	n.outbox = box
	n.gateway = &gateway.Server{
		Key: key, ChainID: n.genesis.ChainID, Blobs: blobs, State: n, Auditor: n.auditor,
		Verifier: n.verifier,
		Peers:    n.cfg.Blobs.Peers, HTTP: n.peerHTTP,
		Log: n.log.With("module", "gateway"), MaxBlob: n.cfg.Blobs.MaxBytes,
		Now: n.clock(),
	}
	return nil
}

// runGateway starts the auditor and the janitor until ctx ends.
func (n *Node) runGateway(ctx context.Context) {
	if n.gateway == nil {
		return
	}
	n.bg.Add(2)
	go func() { defer n.bg.Done(); n.auditor.Run(ctx) }()
	go func() {
		defer n.bg.Done()
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := n.gateway.Janitor(ctx, time.Hour); err != nil {
					n.log.Warn("blob janitor", "err", err)
				}
			}
		}
	}()
}

// Latest implements gateway.State.
func (n *Node) Latest() (*merkle.Snapshot, time.Time, error) {
	snap := n.app.Committed()
	if snap == nil {
		return nil, time.Time{}, errors.New("no committed state yet")
	}
	t := n.app.CommittedTime()
	if t.IsZero() {
		if meta := n.cmt.BlockStore().LoadBlockMeta(snap.Version()); meta != nil {
			t = meta.Header.Time
		}
	}
	return snap, t, nil
}

// ChainID implements gateway.Chain.
func (n *Node) ChainID() string { return n.genesis.ChainID }

// Sequence implements gateway.Chain.
func (n *Node) Sequence(a crypto.Address) uint64 {
	if snap := n.app.Committed(); snap != nil {
		if acct := accounts.GetAccount(snap, a); acct != nil {
			return acct.Sequence
		}
	}
	return 0
}

// SubmitAsync implements gateway.Chain.
func (n *Node) SubmitAsync(ctx context.Context, tx []byte) (uint32, string, string, error) {
	resCh := make(chan *abci.ResponseCheckTx, 1)
	if err := n.cmt.Mempool().CheckTx(tx, func(r *abci.ResponseCheckTx) { resCh <- r }, mempl.TxInfo{}); err != nil {
		return 0, "", "", err
	}
	select {
	case r := <-resCh:
		return r.Code, r.Codespace, r.Log, nil
	case <-ctx.Done():
		return 0, "", "", ctx.Err()
	}
}

// auditResults hands the auditor the results of a committed block.
func auditResults(results []app.TxResult) []gateway.TxResult {
	out := make([]gateway.TxResult, len(results))
	for i, r := range results {
		out[i] = gateway.TxResult{Hash: r.Hash, Code: r.Code, Codespace: r.Codespace, Log: r.Log, Events: r.Events}
	}
	return out
}

// registerAuditMetrics exports the auditor's counters (first node of a
// process only, as CometBFT's own metrics).
func (n *Node) registerAuditMetrics() {
	if n.auditor == nil {
		return
	}
	gauge := func(name, help string, f func(gateway.AuditStats) float64) {
		_ = prometheus.DefaultRegisterer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "medchain", Subsystem: "audit", Name: name, Help: help,
		}, func() float64 { return f(n.auditor.Stats()) }))
	}
	counter := func(name, help string, f func(gateway.AuditStats) uint64) {
		_ = prometheus.DefaultRegisterer.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "medchain", Subsystem: "audit", Name: name, Help: help,
		}, func() float64 { return float64(f(n.auditor.Stats())) }))
	}
	gauge("outbox_pending", "Access events in the outbox not yet confirmed on chain.", func(s gateway.AuditStats) float64 { return float64(s.Pending) })
	gauge("outbox_inflight", "Access events in audit/log transactions awaiting a block.", func(s gateway.AuditStats) float64 { return float64(s.InFlight) })
	gauge("outbox_dead", "Access events the chain refused, kept in the outbox's dead letters.", func(s gateway.AuditStats) float64 { return float64(s.Dead) })
	counter("events_logged_total", "Access events confirmed on chain.", func(s gateway.AuditStats) uint64 { return s.Logged })
	counter("events_late_total", "Access events the chain logged more than an hour after the access.", func(s gateway.AuditStats) uint64 { return s.Late })
	counter("events_refused_total", "Access events the chain refused for good.", func(s gateway.AuditStats) uint64 { return s.Refused })
	counter("retries_total", "audit/log transactions sent again after a failure or a stale mempool.", func(s gateway.AuditStats) uint64 { return s.Retries })
}

// registerBlobCacheMetrics exports the gateway's ciphertext cache counters
// (first node of a process only).
func (n *Node) registerBlobCacheMetrics() {
	if n.gateway == nil {
		return
	}
	c, ok := n.gateway.Blobs.(*blob.Cached)
	if !ok {
		return
	}
	reg := func(m prometheus.Collector) { _ = prometheus.DefaultRegisterer.Register(m) }
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "medchain", Subsystem: "blob_cache", Name: name, Help: help}
	}
	reg(prometheus.NewCounterFunc(prometheus.CounterOpts(opts("hits_total", "Ciphertext reads served from memory.")),
		func() float64 { return float64(c.Stats().Hits) }))
	reg(prometheus.NewCounterFunc(prometheus.CounterOpts(opts("misses_total", "Ciphertext reads that went to the blob store.")),
		func() float64 { return float64(c.Stats().Misses) }))
	reg(prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("bytes", "Ciphertext bytes held in memory.")),
		func() float64 { return float64(c.Stats().Bytes) }))
}

// erasedHashes collects the ciphertext hashes of records erased in a block.
func erasedHashes(results []app.TxResult) []blob.Hash {
	var out []blob.Hash
	for _, r := range results {
		if r.Code != 0 {
			continue
		}
		for _, e := range r.Events {
			if e.Type != "record_erased" {
				continue
			}
			for _, a := range e.Attrs {
				if a.Key != "content_hash" {
					continue
				}
				if b, err := hex.DecodeString(a.Value); err == nil && len(b) == 32 {
					var h blob.Hash
					copy(h[:], b)
					out = append(out, h)
				}
			}
		}
	}
	return out
}
