package chaos

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
)

// Check is the outcome of one verification after a fault.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// The checks, by name.
const (
	CheckCaughtUp = "caught_up"        // every node, the faulty one included, reaches the others' height
	CheckNoFork   = "no_fork"          // the same block hash and app hash at every height on every node
	CheckAppHash  = "app_hash"         // each node's own state proves against the block's app hash
	CheckAcked    = "acknowledged"     // every acknowledged transaction is on every node, at its height, code 0
	CheckAckedAll = "acknowledged_all" // at the end: every transaction acknowledged during the run, on every node
	CheckTrail    = "access_trail"     // every served read is in its patient's audit trail
	CheckHalted   = "halted"           // a split without a quorum on either side commits nothing
	CheckTimes    = "block_times"      // block times stay near real time (a skewed clock does not drag them)
)

// errPruned means a node no longer keeps proofs of the height asked.
var errPruned = errors.New("height no longer provable")

// verifier remembers what was checked already, so that each round checks
// the new heights, acknowledgements and accesses.
type verifier struct {
	cl        *Cluster
	ledger    *Ledger
	height    int64 // blocks up to here were compared
	acks      int   // acknowledgements checked
	accesses  int   // accesses checked
	probeAddr []byte
}

// nodeTimeout bounds a single request during checks.
const nodeTimeout = 10 * time.Second

// verify runs every check on the healed network. catchUp bounds how long
// the nodes get to reach a common height.
func (v *verifier) verify(ctx context.Context, catchUp time.Duration) ([]Check, int64) {
	var out []Check
	add := func(name string, err error, ok string) {
		c := Check{Name: name, OK: err == nil, Detail: ok}
		if err != nil {
			c.Detail = err.Error()
		}
		out = append(out, c)
	}
	// Acknowledged before now: the nodes must all catch up past them.
	acks, accesses := v.ledger.Snapshot()
	top := v.cl.MaxHeight(ctx)
	for _, a := range acks[v.acks:] {
		top = max(top, a.Height)
	}
	target := top + 2
	cctx, cancel := context.WithTimeout(ctx, catchUp)
	start := time.Now()
	err := v.cl.WaitHeight(cctx, target, v.cl.Nodes...)
	cancel()
	add(CheckCaughtUp, err, fmt.Sprintf("all %d nodes at height %d or above %.1fs after healing", len(v.cl.Nodes), target, time.Since(start).Seconds()))
	if err != nil {
		// Without a common height the other checks would only repeat it.
		return out, top
	}
	h := target - 1 // block h+1 carries the app hash of state h
	err = v.sameBlocks(ctx, v.height+1, target)
	add(CheckNoFork, err, fmt.Sprintf("blocks %d..%d identical on every node", v.height+1, target))
	if err == nil {
		v.height = target
	}
	// Nodes keep proofs for their last few heights only: take a height all
	// of them have just committed, again if one of them has moved on too
	// far meanwhile (a node still catching up lags the others), until the
	// laggard is within the proof window.
	var stateErr error
	for end := time.Now().Add(catchUp); time.Now().Before(end); {
		if low, err := v.lowestHeight(ctx); err == nil && low > 1 {
			h = low - 1
		}
		if stateErr = v.sameState(ctx, h); stateErr == nil || !errors.Is(stateErr, errPruned) {
			break
		}
		pause(ctx, 300*time.Millisecond)
	}
	add(CheckAppHash, stateErr, fmt.Sprintf("every node's state at height %d proves against block %d's app hash", h, h+1))
	newAcks := acks[v.acks:]
	err = v.acked(ctx, newAcks)
	add(CheckAcked, err, fmt.Sprintf("%d acknowledged transactions present on every node", len(newAcks)))
	if err == nil {
		v.acks = len(acks)
	}
	newAcc := accesses[v.accesses:]
	err = v.trail(ctx, newAcc, catchUp)
	add(CheckTrail, err, fmt.Sprintf("%d served reads in their patients' trails", len(newAcc)))
	if err == nil {
		v.accesses = len(accesses)
	}
	return out, target
}

// lowestHeight is the lowest height the nodes report.
func (v *verifier) lowestHeight(ctx context.Context) (int64, error) {
	low := int64(-1)
	for _, n := range v.cl.Nodes {
		h, err := n.Height(ctx)
		if err != nil {
			return 0, err
		}
		if low < 0 || h < low {
			low = h
		}
	}
	return low, nil
}

func (v *verifier) block(ctx context.Context, n *Node, h int64) (*api.Block, error) {
	ctx, cancel := context.WithTimeout(ctx, nodeTimeout)
	defer cancel()
	var b api.Block
	if err := n.Client.Get(ctx, fmt.Sprintf("/v1/blocks/%d", h), &b); err != nil {
		return nil, fmt.Errorf("%s block %d: %w", n.Name, h, err)
	}
	return &b, nil
}

// sameBlocks compares the block hash and app hash of every height in
// [from, to] across the nodes.
func (v *verifier) sameBlocks(ctx context.Context, from, to int64) error {
	for h := from; h <= to; h++ {
		var first *api.Block
		for _, n := range v.cl.Nodes {
			b, err := v.block(ctx, n, h)
			if err != nil {
				return err
			}
			if first == nil {
				first = b
				continue
			}
			if b.Hash != first.Hash || b.AppHash != first.AppHash {
				return fmt.Errorf("fork at height %d: %s has block %s (app hash %s), %s has %s (app hash %s)",
					h, v.cl.Nodes[0].Name, first.Hash, first.AppHash, n.Name, b.Hash, b.AppHash)
			}
		}
	}
	return nil
}

// sameState checks each node's own state root at h (from a proof it
// serves) against the app hash in block h+1.
func (v *verifier) sameState(ctx context.Context, h int64) error {
	b, err := v.block(ctx, v.cl.Nodes[0], h+1)
	if err != nil {
		return err
	}
	want, err := hex.DecodeString(b.AppHash)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range v.cl.Nodes {
		pctx, cancel := context.WithTimeout(ctx, nodeTimeout)
		p, err := n.Client.Proof(pctx, v.probeAddr, h)
		cancel()
		if client.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("%s proof at %d: %w (%v)", n.Name, h, errPruned, err))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s proof at %d: %w", n.Name, h, err))
			continue
		}
		var cp ics23.CommitmentProof
		if err := cp.Unmarshal(p.Proof); err != nil {
			errs = append(errs, fmt.Errorf("%s proof: %w", n.Name, err))
			continue
		}
		root, err := cp.Calculate()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s proof: %w", n.Name, err))
			continue
		}
		if p.Height != h || !bytes.Equal(root, want) {
			errs = append(errs, fmt.Errorf("%s: state at height %d has root %X, block %d says %X", n.Name, p.Height, root, h+1, want))
		}
	}
	return errors.Join(errs...)
}

// acked checks that every node holds each acknowledged transaction at the
// height the acknowledging node reported, with code 0.
func (v *verifier) acked(ctx context.Context, acks []Ack) error {
	var errs []string
	for _, a := range acks {
		for _, n := range v.cl.Nodes {
			gctx, cancel := context.WithTimeout(ctx, nodeTimeout)
			var got api.TxResult
			err := n.Client.Get(gctx, "/v1/txs/"+a.Hash, &got)
			cancel()
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("%s: %s tx %s (acknowledged by %s at height %d): %v", n.Name, a.Op, a.Hash, a.Node, a.Height, err))
			case got.Height != a.Height || got.Code != 0:
				errs = append(errs, fmt.Sprintf("%s: %s tx %s at height %d code %d; %s acknowledged it at height %d",
					n.Name, a.Op, a.Hash, got.Height, got.Code, a.Node, a.Height))
			}
		}
		if len(errs) >= 10 {
			break
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// trail checks that each served read appears, served, in its patient's
// trail on every node. Nodes send their audit events in the background, so
// it waits up to wait for them.
func (v *verifier) trail(ctx context.Context, accesses []Access, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for _, a := range accesses {
		for _, n := range v.cl.Nodes {
			var last error
			for {
				last = v.inTrail(ctx, n, a)
				if last == nil || time.Now().After(deadline) || ctx.Err() != nil {
					break
				}
				pause(ctx, 250*time.Millisecond)
			}
			if last != nil {
				return last
			}
		}
	}
	return nil
}

func (v *verifier) inTrail(ctx context.Context, n *Node, a Access) error {
	ctx, cancel := context.WithTimeout(ctx, nodeTimeout)
	defer cancel()
	var out struct {
		Events []api.EventView `json:"events"`
	}
	patient := a.Patient.Address()
	if err := n.Client.As(a.Patient, v.cl.ChainID).Get(ctx, "/v1/patients/"+patient.String()+"/audit", &out); err != nil {
		return fmt.Errorf("%s: trail of %s: %w", n.Name, patient, err)
	}
	rec := hex.EncodeToString(a.Record[:])
	for _, e := range out.Events {
		if e.Served && e.Accessor == a.Accessor.String() && strings.EqualFold(e.Record, rec) {
			return nil
		}
	}
	return fmt.Errorf("%s: the read of record %s by %s, served by %s, is not in patient %s's trail (%d events)",
		n.Name, rec, a.Accessor, a.Node, patient, len(out.Events))
}

// blockTimes checks that the blocks in [from, to] have times in [lo, hi]:
// a block's time is the median of the validators' vote times, which one
// skewed clock must not drag away from real time.
func (v *verifier) blockTimes(ctx context.Context, n *Node, from, to int64, lo, hi time.Time) error {
	for h := max(from, 2); h <= to; h++ {
		b, err := v.block(ctx, n, h)
		if err != nil {
			return err
		}
		if b.Time.Before(lo) || b.Time.After(hi) {
			return fmt.Errorf("block %d has time %s, outside the fault's real time %s to %s",
				h, b.Time.UTC().Format(time.RFC3339Nano), lo.UTC().Format(time.RFC3339), hi.UTC().Format(time.RFC3339))
		}
	}
	return nil
}
