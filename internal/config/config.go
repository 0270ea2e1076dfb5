// Package config is a node's configuration: one JSON file per home
// (config/medchain.json) with documented defaults, validated before use, and
// the mapping onto CometBFT's configuration. Flags override file values.
package config

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/medchain/medchain/sm"
)

// Default listen addresses: loopback only, so a development node is never
// reachable from the network unless the operator says so.
const (
	DefaultAPI  = "127.0.0.1:8080"
	DefaultRPC  = "127.0.0.1:26657"
	DefaultP2P  = "127.0.0.1:26656"
	DefaultHome = ".medchain" // under the user's home directory
)

// Duration is a time.Duration written as a Go duration string ("1s").
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Config is a node's configuration.
type Config struct {
	Moniker  string `json:"moniker"`
	LogLevel string `json:"log_level"` // debug, info, warn, error
	LogJSON  bool   `json:"log_json"`

	API struct {
		Listen       string   `json:"listen"`
		MaxBodyBytes int64    `json:"max_body_bytes"`
		ReadTimeout  Duration `json:"read_timeout"`
		WriteTimeout Duration `json:"write_timeout"`
		CommitWait   Duration `json:"commit_wait"` // how long a submit waits for its block
		// TLS serves the API and FHIR over HTTPS when a certificate is given.
		TLS TLS `json:"tls"`
		// RateLimit bounds requests per client address and per signing key.
		RateLimit RateLimit `json:"rate_limit"`
	} `json:"api"`

	RPC struct {
		Listen string `json:"listen"` // CometBFT JSON-RPC
	} `json:"rpc"`

	P2P struct {
		Listen          string `json:"listen"`
		External        string `json:"external,omitempty"` // address advertised to peers
		PersistentPeers string `json:"persistent_peers,omitempty"`
		AllowLoopback   bool   `json:"allow_loopback"` // needed for networks on one machine
		// PEX turns on CometBFT's peer exchange. Off by default: a permissioned
		// network lists its peers, and nodes should not gossip addresses.
		PEX bool `json:"pex"`
	} `json:"p2p"`

	Consensus struct {
		TimeoutPropose    Duration `json:"timeout_propose"`
		TimeoutPrevote    Duration `json:"timeout_prevote"`
		TimeoutPrecommit  Duration `json:"timeout_precommit"`
		TimeoutCommit     Duration `json:"timeout_commit"`
		CreateEmptyBlocks bool     `json:"create_empty_blocks"`
	} `json:"consensus"`

	// Gateway is the organization's service account this node acts as: it
	// reports served reads to the audit trail and opens keys wrapped to the
	// organization. Key is a key name in HOME/keys; the passphrase comes from
	// $MEDCHAIN_GATEWAY_PASSPHRASE, else from PassphraseFile (relative to
	// HOME). Without a key the node serves no blobs.
	Gateway struct {
		Key            string `json:"key,omitempty"`
		PassphraseFile string `json:"passphrase_file,omitempty"`
	} `json:"gateway"`

	// Supply configures the EPCIS 2.0 capture binding (docs/supply.md):
	// CaptureKey is a key name in HOME/keys of a member account of the
	// organization this node serves; it signs the supply/capture
	// transactions of POST /epcis/capture. Its passphrase comes as the
	// gateway key's. Without it the node answers EPCIS queries but captures
	// nothing over the binding.
	Supply struct {
		CaptureKey string `json:"capture_key,omitempty"`
	} `json:"supply"`

	// Blobs is where ciphertext is kept and which peers to fetch it from.
	Blobs struct {
		Dir      string `json:"dir,omitempty"` // default data/blobs (relative to HOME)
		MaxBytes int64  `json:"max_bytes"`     // largest blob accepted
		// CacheBytes is how much ciphertext the gateway keeps in memory
		// for repeated reads (blob.Cached); 0 or less turns the cache off.
		CacheBytes int64    `json:"cache_bytes"`
		Peers      []string `json:"peers,omitempty"` // API URLs of other nodes
		S3         *S3      `json:"s3,omitempty"`    // S3-compatible backend instead of Dir
		// PeerTLS is how this node's gateway connects to Peers over https:
		// the CA to trust and the client certificate to present (mutual TLS).
		PeerTLS PeerTLS `json:"peer_tls"`
	} `json:"blobs"`

	// State is the state database's (Pebble's) memory.
	State struct {
		// BlockCacheBytes is the database's block cache, kept outside Go's
		// heap; 0 sizes it from the machine (a sixteenth of its memory or
		// of the cgroup's limit, between 256 MiB and 2 GiB).
		BlockCacheBytes int64 `json:"block_cache_bytes"`
		// ReadCacheBytes is the state's read cache of latest committed
		// values (merkle.Options.ReadCacheBytes), in Go's heap, with a
		// quarter again for small listings (a patient's consents); 0 is
		// the default, 128 MiB.
		ReadCacheBytes int64 `json:"read_cache_bytes"`
	} `json:"state"`

	Mempool struct {
		Size      int   `json:"size"`
		MaxBytes  int64 `json:"max_txs_bytes"`
		CacheSize int   `json:"cache_size"`
	} `json:"mempool"`

	// StateSync: the snapshots this node offers to nodes joining by state
	// sync, and joining that way itself (docs/operations.md).
	StateSync StateSync `json:"state_sync"`

	// Execution is how this node executes a block's transactions:
	// "serial", or "parallel" on Workers goroutines (0: one per core). Either gives the same results and app hash: nodes of one
	// network may differ (docs/performance.md, "Parallel execution").
	Execution Execution `json:"execution"`

	// Pruning: how many of the latest blocks the node keeps (KeepRecent 0,
	// the default: every block, an archive node). Never fewer than the
	// evidence window and the oldest state sync snapshot need
	// (docs/operations.md, pruning).
	Pruning struct {
		KeepRecent int64 `json:"keep_recent"`
	} `json:"pruning"`
}

// Execution modes.
const (
	ExecSerial   = "serial"
	ExecParallel = "parallel"
)

// DefaultExecMode is the execution mode of a new configuration.
const DefaultExecMode = ExecSerial

// Execution chooses serial or parallel block execution.
//
// ConsensusNice is the nice value (-20 to 0) of the thread CometBFT's
// consensus routine gets to itself (internal/node, priority.go): with it,
// and a spare P, the routine that executes and commits blocks waits for no
// other work. 0 leaves the routine as any goroutine. Raising a priority
// needs CAP_SYS_NICE or an RLIMIT_NICE that allows it; without either the
// node logs so and runs as with 0.
type Execution struct {
	Mode          string `json:"mode"`
	Workers       int    `json:"workers"`
	ConsensusNice int    `json:"consensus_nice"`
}

// DefaultConsensusNice is the consensus routine's nice value in a new
// configuration.
const DefaultConsensusNice = -10

func (e Execution) validate() error {
	if e.Mode != ExecSerial && e.Mode != ExecParallel {
		return fmt.Errorf("execution.mode %q: want %q or %q", e.Mode, ExecSerial, ExecParallel)
	}
	if e.Workers < 0 || e.Workers > 256 {
		return fmt.Errorf("execution.workers %d: want 0 (one per core) to 256", e.Workers)
	}
	if e.ConsensusNice < -20 || e.ConsensusNice > 0 {
		return fmt.Errorf("execution.consensus_nice %d: want -20 (highest priority) to 0 (off)", e.ConsensusNice)
	}
	return nil
}

// StateSync configures state sync. SnapshotInterval > 0 makes the node
// write a snapshot of its state every that many heights (under
// data/snapshots, the last SnapshotKeep kept) and offer them to peers.
// Enable makes a new node join from a peer's snapshot instead of replaying
// every block: CometBFT's light client verifies the snapshot's app hash
// from TrustHeight and TrustHash (a block hash the operator got from a
// node they trust) through at least two RPCServers.
type StateSync struct {
	SnapshotInterval int64    `json:"snapshot_interval"`
	SnapshotKeep     int      `json:"snapshot_keep"`
	Enable           bool     `json:"enable"`
	RPCServers       []string `json:"rpc_servers,omitempty"`
	TrustHeight      int64    `json:"trust_height,omitempty"`
	TrustHash        string   `json:"trust_hash,omitempty"`
	TrustPeriod      Duration `json:"trust_period,omitempty"`
	DiscoveryTime    Duration `json:"discovery_time,omitempty"` // how long to gather snapshots (at least 5s; default 15s)
}

func (s StateSync) validate() error {
	var errs []error
	if s.SnapshotInterval < 0 || s.SnapshotKeep < 0 {
		errs = append(errs, errors.New("state_sync.snapshot_interval and snapshot_keep must not be negative"))
	}
	if s.Enable {
		if len(s.RPCServers) < 2 {
			errs = append(errs, errors.New("state_sync.rpc_servers: at least two (they may name the same node)"))
		}
		if s.TrustHeight <= 0 {
			errs = append(errs, errors.New("state_sync.trust_height must be positive"))
		}
		if b, err := hex.DecodeString(s.TrustHash); err != nil || len(b) != 32 {
			errs = append(errs, errors.New("state_sync.trust_hash: want a block hash, 64 hex digits"))
		}
		if s.TrustPeriod <= 0 {
			errs = append(errs, errors.New("state_sync.trust_period must be positive (less than the unbonding time)"))
		}
	}
	if s.DiscoveryTime != 0 && s.DiscoveryTime < Duration(5*time.Second) {
		errs = append(errs, errors.New("state_sync.discovery_time: at least 5s"))
	}
	return errors.Join(errs...)
}

// TLS is the API listener's TLS. Paths are relative to HOME unless absolute.
// With CertFile and KeyFile the node serves HTTPS only (TLS 1.2 or later).
// With ClientCAFile, client certificates are verified against it:
// ClientAuth "verify_if_given" (the default then) asks for one and refuses
// a bad one, and a blob request forwarded by another node must come with a
// verified one; "require" refuses every connection without one (a listener
// only nodes talk to).
type TLS struct {
	CertFile     string `json:"cert_file,omitempty"`
	KeyFile      string `json:"key_file,omitempty"`
	ClientCAFile string `json:"client_ca_file,omitempty"`
	ClientAuth   string `json:"client_auth,omitempty"` // "", "verify_if_given", "require"
}

// Enabled reports whether the API is served over TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// PeerTLS is the gateway's TLS client configuration for fetching blobs
// from peers: CAFile (empty: the system roots) and, for mutual TLS, a
// client certificate. Paths are relative to HOME unless absolute.
type PeerTLS struct {
	CAFile   string `json:"ca_file,omitempty"`
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
}

// RateLimit configures the API's per-address and per-key token buckets
// (requests per second and bucket sizes); a rate of 0 turns a limit off.
// Exempt lists client address prefixes (CIDR) never limited; by default
// loopback, where `medchain dev`, testnets and a local reverse proxy
// connect from (a proxy on loopback must then limit on its own).
type RateLimit struct {
	PerAddress      float64  `json:"per_address"`
	PerAddressBurst int      `json:"per_address_burst"`
	PerKey          float64  `json:"per_key"`
	PerKeyBurst     int      `json:"per_key_burst"`
	MaxTracked      int      `json:"max_tracked"`
	Exempt          []string `json:"exempt"`
}

// S3 configures an S3-compatible blob backend. The secret key comes from
// $MEDCHAIN_S3_SECRET_KEY, never from the file.
type S3 struct {
	Endpoint  string `json:"endpoint"`
	Region    string `json:"region,omitempty"`
	Bucket    string `json:"bucket"`
	Prefix    string `json:"prefix,omitempty"`
	AccessKey string `json:"access_key"`
	UseTLS    bool   `json:"use_tls"`
}

// MinKeepRecent is the smallest pruning.keep_recent (app.MinKeepRecent).
const MinKeepRecent = 10

// Default returns the documented defaults.
func Default() Config {
	var c Config
	c.Moniker = "medchain"
	c.LogLevel = "info"
	c.API.Listen = DefaultAPI
	c.API.MaxBodyBytes = 1 << 20
	c.API.ReadTimeout = Duration(15 * time.Second)
	c.API.WriteTimeout = Duration(60 * time.Second)
	c.API.CommitWait = Duration(30 * time.Second)
	c.API.RateLimit = RateLimit{PerAddress: 100, PerAddressBurst: 200, PerKey: 50, PerKeyBurst: 100,
		MaxTracked: 100_000, Exempt: []string{"127.0.0.0/8", "::1/128"}}
	c.RPC.Listen = DefaultRPC
	c.P2P.Listen = DefaultP2P
	c.P2P.AllowLoopback = true
	c.Consensus.TimeoutPropose = Duration(3 * time.Second)
	c.Consensus.TimeoutPrevote = Duration(1 * time.Second)
	c.Consensus.TimeoutPrecommit = Duration(1 * time.Second)
	c.Consensus.TimeoutCommit = Duration(1 * time.Second)
	c.Consensus.CreateEmptyBlocks = true
	c.Blobs.MaxBytes = 64 << 20
	c.Blobs.CacheBytes = DefaultBlobCacheBytes
	c.Mempool.Size = 50_000
	c.Mempool.MaxBytes = 1 << 30
	c.Mempool.CacheSize = 100_000
	c.Execution.Mode = DefaultExecMode
	c.Execution.ConsensusNice = DefaultConsensusNice
	return c
}

// DefaultBlobCacheBytes is the gateway's default in-memory ciphertext
// cache: 64 MiB, some tens of thousands of typical FHIR resources.
const DefaultBlobCacheBytes = 64 << 20

// Validate checks the configuration and returns every problem found.
func (c Config) Validate() error {
	var errs []error
	checkAddr := func(name, a string) {
		if _, _, err := net.SplitHostPort(strings.TrimPrefix(a, "tcp://")); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", name, a))
		}
	}
	cacheSize := func(name string, v int64, zero string) {
		if v < 0 || (v > 0 && v < 8<<20) {
			errs = append(errs, fmt.Errorf("%s: %d is below 8 MiB (0 %s)", name, v, zero))
		}
	}
	cacheSize("state.block_cache_bytes", c.State.BlockCacheBytes, "sizes it from the machine")
	cacheSize("state.read_cache_bytes", c.State.ReadCacheBytes, "is the default, 128 MiB")
	checkAddr("api.listen", c.API.Listen)
	checkAddr("rpc.listen", c.RPC.Listen)
	checkAddr("p2p.listen", c.P2P.Listen)
	if c.API.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("api.max_body_bytes must be at least 1024"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.Consensus.TimeoutCommit < 0 || c.Consensus.TimeoutPropose <= 0 {
		errs = append(errs, errors.New("consensus timeouts must be positive"))
	}
	if c.Mempool.Size <= 0 {
		errs = append(errs, errors.New("mempool.size must be positive"))
	}
	if k := c.Pruning.KeepRecent; k < 0 || k > 0 && k < MinKeepRecent {
		errs = append(errs, fmt.Errorf("pruning.keep_recent: 0 (keep every block) or at least %d", MinKeepRecent))
	}
	errs = append(errs, c.API.TLS.validate(), c.API.RateLimit.validate(), c.Blobs.PeerTLS.validate(), c.StateSync.validate(), c.Execution.validate())
	return errors.Join(errs...)
}

func (t TLS) validate() error {
	var errs []error
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("api.tls: cert_file and key_file go together"))
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		errs = append(errs, errors.New("api.tls.client_ca_file needs cert_file and key_file: client certificates are checked only over TLS"))
	}
	switch t.ClientAuth {
	case "", "verify_if_given", "require":
	default:
		errs = append(errs, fmt.Errorf("api.tls.client_auth %q: want verify_if_given or require", t.ClientAuth))
	}
	if t.ClientAuth != "" && t.ClientCAFile == "" {
		errs = append(errs, errors.New("api.tls.client_auth needs client_ca_file"))
	}
	return errors.Join(errs...)
}

func (p PeerTLS) validate() error {
	if (p.CertFile == "") != (p.KeyFile == "") {
		return errors.New("blobs.peer_tls: cert_file and key_file go together")
	}
	return nil
}

// Prefixes parses Exempt.
func (r RateLimit) Prefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(r.Exempt))
	for _, e := range r.Exempt {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("api.rate_limit.exempt: %q is not a CIDR prefix", e)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (r RateLimit) validate() error {
	var errs []error
	if r.PerAddress < 0 || r.PerKey < 0 {
		errs = append(errs, errors.New("api.rate_limit: rates must not be negative (0 turns a limit off)"))
	}
	if r.PerAddress > 0 && r.PerAddressBurst < 1 || r.PerKey > 0 && r.PerKeyBurst < 1 {
		errs = append(errs, errors.New("api.rate_limit: a burst must be at least 1"))
	}
	if r.MaxTracked < 0 {
		errs = append(errs, errors.New("api.rate_limit.max_tracked must not be negative"))
	}
	if _, err := r.Prefixes(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Paths of a node home.
func FilePath(home string) string    { return filepath.Join(home, "config", "medchain.json") }
func GenesisPath(home string) string { return filepath.Join(home, "config", "genesis.json") }
func KeysDir(home string) string     { return filepath.Join(home, "keys") }
func NodeKeyPath(home string) string { return filepath.Join(home, "config", "node_key.json") }
func PrivValKeyPath(home string) string {
	return filepath.Join(home, "config", "priv_validator_key.json")
}
func PrivValStatePath(home string) string {
	return filepath.Join(home, "data", "priv_validator_state.json")
}
func DataDir(home string) string { return filepath.Join(home, "data") }

// Load reads home's configuration over the defaults. Unknown fields are errors.
func Load(home string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(FilePath(home))
	if err != nil {
		return c, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w", FilePath(home), err)
	}
	return c, c.Validate()
}

// Save writes the configuration to home.
func Save(home string, c Config) error {
	if err := os.MkdirAll(filepath.Dir(FilePath(home)), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(FilePath(home), append(b, '\n'), 0o600)
}

// Exists reports whether home has been initialized.
func Exists(home string) bool {
	_, err := os.Stat(GenesisPath(home))
	return err == nil
}

func tcp(a string) string {
	if strings.Contains(a, "://") {
		return a
	}
	return "tcp://" + a
}

// CometBFT maps the configuration onto CometBFT's for the node at home.
func (c Config) CometBFT(home string) *cmtcfg.Config {
	cc := cmtcfg.DefaultConfig()
	cc.SetRoot(home)
	cc.Moniker = c.Moniker
	cc.Genesis = filepath.Join("config", "genesis.json")
	cc.NodeKey = filepath.Join("config", "node_key.json")
	cc.PrivValidatorKey = filepath.Join("config", "priv_validator_key.json")
	cc.PrivValidatorState = filepath.Join("data", "priv_validator_state.json")
	cc.RPC.ListenAddress = tcp(c.RPC.Listen)
	cc.RPC.CORSAllowedOrigins = nil
	cc.P2P.ListenAddress = tcp(c.P2P.Listen)
	cc.P2P.ExternalAddress = c.P2P.External
	cc.P2P.PersistentPeers = c.P2P.PersistentPeers
	cc.P2P.AddrBookStrict = !c.P2P.AllowLoopback
	cc.P2P.AllowDuplicateIP = c.P2P.AllowLoopback
	cc.P2P.PexReactor = c.P2P.PEX
	cc.Consensus.TimeoutPropose = time.Duration(c.Consensus.TimeoutPropose)
	cc.Consensus.TimeoutPrevote = time.Duration(c.Consensus.TimeoutPrevote)
	cc.Consensus.TimeoutPrecommit = time.Duration(c.Consensus.TimeoutPrecommit)
	cc.Consensus.TimeoutCommit = time.Duration(c.Consensus.TimeoutCommit)
	cc.Consensus.CreateEmptyBlocks = c.Consensus.CreateEmptyBlocks
	cc.Mempool.Size = c.Mempool.Size
	cc.Mempool.MaxTxsBytes = c.Mempool.MaxBytes
	cc.Mempool.CacheSize = c.Mempool.CacheSize
	cc.Mempool.MaxTxBytes = sm.MaxBundleBytes // a bundle; each transaction in it is at most sm.MaxTxBytes
	cc.Instrumentation.Prometheus = true      // served on the API's /metrics
	cc.Instrumentation.PrometheusListenAddr = ""
	cc.Instrumentation.Namespace = "cometbft"
	// medchain indexes transactions itself, with the state (app/txindex.go):
	// CometBFT's indexer sees a bundle as one transaction.
	cc.TxIndex.Indexer = "null"
	if ss := c.StateSync; ss.Enable {
		cc.StateSync.Enable = true
		cc.StateSync.RPCServers = ss.RPCServers
		cc.StateSync.TrustHeight = ss.TrustHeight
		cc.StateSync.TrustHash = ss.TrustHash
		cc.StateSync.TrustPeriod = time.Duration(ss.TrustPeriod)
		if ss.DiscoveryTime > 0 {
			cc.StateSync.DiscoveryTime = time.Duration(ss.DiscoveryTime)
		}
	}
	return cc
}
