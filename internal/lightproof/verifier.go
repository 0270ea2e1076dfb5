package lightproof

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/crypto/tmhash"
	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	lightdb "github.com/cometbft/cometbft/light/store/db"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/medchain/medchain/internal/api"
)

// DefaultTrustPeriod is the trusting period when TrustRoot.Period is zero.
// CometBFT ties the period to the unbonding period of staked validators;
// medchain's validators are organizations admitted by governance, with no
// bond, so the period only bounds how long a past validator set's signatures
// are accepted from a root. A year lets trust on first use from height 1 work
// for a year-old chain; shorten it with an explicit, recent root.
const DefaultTrustPeriod = 365 * 24 * time.Hour

// DefaultMaxWait bounds how long Verify waits for the block whose header
// carries the proof's app hash, and NewVerifier for the root block.
const DefaultMaxWait = 30 * time.Second

// TrustRoot is where the light client's trust starts: a header height and
// hash believed out of band. The zero TrustRoot means trust on first use of
// the witness's header at height 1 (see the package documentation).
type TrustRoot struct {
	Height int64
	Hash   []byte        // header hash (32 bytes)
	Period time.Duration // trusting period; DefaultTrustPeriod when zero
}

// TOFU reports whether r asks for trust on first use.
func (r TrustRoot) TOFU() bool { return r.Height == 0 && len(r.Hash) == 0 }

func (r TrustRoot) validate() error {
	switch {
	case r.Period < 0:
		return errors.New("negative trusting period")
	case r.TOFU():
		return nil
	case r.Height <= 0:
		return errors.New("trust root: a hash needs a height of at least 1")
	case len(r.Hash) != tmhash.Size:
		return fmt.Errorf("trust root: header hash must be %d bytes, got %d", tmhash.Size, len(r.Hash))
	}
	return nil
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithClock sets the light client's clock (header expiry, clock drift).
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithMaxWait sets how long to wait for a block to be committed.
func WithMaxWait(d time.Duration) Option { return func(v *Verifier) { v.maxWait = d } }

// Verifier checks proofs against headers verified by a CometBFT light client
// that talks to one witness node. It is safe for concurrent use.
type Verifier struct {
	chainID string
	witness string
	root    TrustRoot // resolved: Height and Hash set
	tofu    bool
	now     func() time.Time
	maxWait time.Duration
	rpc     *rpchttp.HTTP

	mu sync.Mutex // serializes the light client and its store
	lc *light.Client
}

// Result is what a successful Verify checked.
type Result struct {
	Height       int64  // state height of the proof
	Exists       bool   // membership (true) or absence (false) was proven
	HeaderHeight int64  // Height+1: the header carrying the app hash
	HeaderHash   []byte // hash of that header, verified by the light client
	HeaderTime   time.Time
	AppHash      []byte // the app hash the proof was checked against
	Witness      string // CometBFT RPC the header came from
	// WitnessNodeID is the node id the witness reported while Verify waited
	// for the block; unauthenticated, it only helps notice a witness that is
	// the very node that served the proof.
	WitnessNodeID string
}

// NewVerifier starts a light client for chainID against the CometBFT RPC at
// witnessRPC (e.g. http://127.0.0.1:26667), which should belong to a node
// other than the one serving proofs. It fetches and verifies the root header.
func NewVerifier(ctx context.Context, chainID, witnessRPC string, trust TrustRoot, opts ...Option) (*Verifier, error) {
	if chainID == "" {
		return nil, errors.New("no chain id")
	}
	if err := trust.validate(); err != nil {
		return nil, err
	}
	if trust.Period == 0 {
		trust.Period = DefaultTrustPeriod
	}
	remote := witnessRPC
	if !strings.Contains(remote, "://") {
		remote = "http://" + remote
	}
	v := &Verifier{chainID: chainID, witness: remote, tofu: trust.TOFU(), now: time.Now, maxWait: DefaultMaxWait}
	for _, o := range opts {
		o(v)
	}
	var err error
	if v.rpc, err = rpchttp.New(remote, "/websocket"); err != nil {
		return nil, fmt.Errorf("witness %s: %w", remote, err)
	}
	// The light client insists on a witness; see the package documentation.
	primary, err1 := lighthttp.New(chainID, remote)
	second, err2 := lighthttp.New(chainID, remote)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("witness %s: %w", remote, err)
	}
	if v.tofu {
		trust.Height = 1
	}
	if _, err := v.waitHeight(ctx, trust.Height); err != nil {
		return nil, err
	}
	if v.tofu {
		lb, err := primary.LightBlock(ctx, trust.Height)
		if err != nil {
			return nil, fmt.Errorf("trust on first use: header 1 from witness %s: %w", remote, err)
		}
		trust.Hash = lb.Hash()
	}
	v.root = trust
	v.lc, err = light.NewClient(ctx, chainID,
		light.TrustOptions{Period: trust.Period, Height: trust.Height, Hash: trust.Hash},
		primary, []provider.Provider{second},
		lightdb.New(dbm.NewMemDB(), ""),
		light.SkippingVerification(light.DefaultTrustLevel),
	)
	if err != nil {
		return nil, fmt.Errorf("trust root %d/%X at witness %s: %w", trust.Height, trust.Hash, remote, err)
	}
	// The light client would refuse an expired root only at the first
	// verification; say so now, and why.
	rootBlock, err := v.lc.TrustedLightBlock(trust.Height)
	if err != nil {
		return nil, fmt.Errorf("trust root %d: %w", trust.Height, err)
	}
	if light.HeaderExpired(rootBlock.SignedHeader, trust.Period, v.now()) {
		return nil, fmt.Errorf("%w: block %d of %s is older than the trusting period %s; use a more recent trust root or a longer period",
			ErrRootExpired, trust.Height, rootBlock.Time.UTC().Format(time.RFC3339), trust.Period)
	}
	return v, nil
}

// ErrRootExpired: the trust root is older than the trusting period.
var ErrRootExpired = errors.New("trust root expired")

// Root returns the trust root in use (for trust on first use, the witness's
// header 1) and whether it was trusted on first use.
func (v *Verifier) Root() (TrustRoot, bool) { return v.root, v.tofu }

// Witness is the CometBFT RPC URL the headers come from.
func (v *Verifier) Witness() string { return v.witness }

// Verify waits (bounded by ctx and the maximum wait) for the witness to commit
// block p.Height+1, verifies that header with the light client, and checks p
// for key against its app hash with VerifyAgainstHeader (see it for
// wantValue).
func (v *Verifier) Verify(ctx context.Context, p *api.Proof, key, wantValue []byte) (*Result, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: no proof", ErrMalformed)
	}
	if p.Height < 1 {
		return nil, fmt.Errorf("%w: height %d", ErrMalformed, p.Height)
	}
	target := p.Height + 1
	nodeID, err := v.waitHeight(ctx, target)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	lb, err := v.lc.VerifyLightBlockAtHeight(ctx, target, v.now())
	v.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("light client: header %d from %s: %w", target, v.witness, err)
	}
	if lb.Height != target {
		return nil, fmt.Errorf("light client returned header %d, want %d", lb.Height, target)
	}
	if err := VerifyAgainstHeader(lb.AppHash, p, key, wantValue); err != nil {
		return nil, fmt.Errorf("state %d against header %d (%X) from %s: %w", p.Height, target, lb.Hash(), v.witness, err)
	}
	return &Result{
		Height: p.Height, Exists: p.Exists, HeaderHeight: lb.Height, HeaderHash: lb.Hash(),
		HeaderTime: lb.Time, AppHash: lb.AppHash, Witness: v.witness, WitnessNodeID: nodeID,
	}, nil
}

// waitHeight polls the witness until it has committed block h, and returns
// the node id it reports.
func (v *Verifier) waitHeight(ctx context.Context, h int64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, v.maxWait)
	defer cancel()
	var last int64
	var lastErr error
	for {
		st, err := v.rpc.Status(ctx)
		if err == nil {
			last, lastErr = st.SyncInfo.LatestBlockHeight, nil
			if last >= h {
				return string(st.NodeInfo.ID()), nil
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return "", fmt.Errorf("witness %s: waiting for block %d: %w", v.witness, h, lastErr)
			}
			return "", fmt.Errorf("witness %s is at block %d; block %d did not appear: %w", v.witness, last, h, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
