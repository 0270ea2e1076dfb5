//go:build linux

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/medchain/medchain/x/accounts"
)

// Run starts a fresh 4-validator network in o.Dir, runs the workload, and
// injects faults one at a time, checking the network after each; then it
// stops the workload, checks everything once more and returns the report.
// An error means the run itself could not go on (a network that would not
// start); failed checks are in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	if len(o.Kinds) == 0 {
		o.Kinds = FaultKinds
	}
	if o.FaultMin == 0 {
		o.FaultMin = 10 * time.Second
	}
	if o.FaultMax < o.FaultMin {
		o.FaultMax = o.FaultMin
	}
	if o.Workers == 0 {
		o.Workers = 3
	}
	if o.CatchUp == 0 {
		o.CatchUp = 90 * time.Second
	}
	for _, k := range append(slices.Clone(o.Schedule), o.Kinds...) {
		if !slices.Contains(FaultKinds, k) {
			return nil, fmt.Errorf("chaos: unknown fault kind %q", k)
		}
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x63686173))
	rep := &Report{Started: time.Now().UTC(), Seed: o.Seed, Validators: 4, Dir: o.Dir}

	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	cl, err := StartCluster(startCtx, ClusterOptions{Dir: o.Dir, Binary: o.Binary, Validators: 4, DiskNode: 3})
	cancel()
	if err != nil {
		if cl != nil {
			_ = cl.Close()
		}
		return nil, fmt.Errorf("start the network: %w", err)
	}
	defer cl.Close()
	logf("network of %d validators up in %s (namespaces %s-*)", len(cl.Nodes), o.Dir, cl.Net.prefix)
	wl, err := NewWorkload(ctx, cl, o.Workers)
	if err != nil {
		return nil, err
	}
	v := &verifier{cl: cl, ledger: wl.Ledger(), probeAddr: accounts.AccountKey(wl.doctor.Address())}
	rep.StartHeight = cl.MaxHeight(ctx)

	wctx, stopWork := context.WithCancel(ctx)
	workDone := make(chan struct{})
	go func() { defer close(workDone); wl.Run(wctx) }()
	defer func() { stopWork(); <-workDone }()

	// Some load before the first fault.
	pause(ctx, 3*time.Second)
	end := time.Now().Add(o.Duration)
	for i := 0; ctx.Err() == nil; i++ {
		var kind string
		if len(o.Schedule) > 0 {
			if i >= len(o.Schedule) {
				break
			}
			kind = o.Schedule[i]
		} else {
			if !time.Now().Before(end) {
				break
			}
			kind = o.Kinds[rng.IntN(len(o.Kinds))]
		}
		length := o.FaultMin + time.Duration(rng.Int64N(int64(o.FaultMax-o.FaultMin)+1))
		fr := runFault(ctx, cl, v, kind, length, rng, o.CatchUp, logf)
		rep.Faults = append(rep.Faults, fr)
		if !fr.Passed() {
			logf("FAULT %d (%s) FAILED CHECKS", i+1, kind)
		}
		pause(ctx, o.Settle)
	}

	stopWork()
	<-workDone
	logf("workload stopped; final checks")
	final, top := v.verify(ctx, o.CatchUp)
	// Once more, every transaction acknowledged during the whole run: none
	// may have gone missing since its own check.
	all, _ := wl.Ledger().Snapshot()
	allErr := v.acked(ctx, all)
	c := Check{Name: CheckAckedAll, OK: allErr == nil, Detail: fmt.Sprintf("all %d transactions acknowledged during the run present on every node", len(all))}
	if allErr != nil {
		c.Detail = allErr.Error()
	}
	rep.Final = append(final, c)
	rep.EndHeight = top
	acks, accesses := wl.Ledger().Snapshot()
	attempts, errs, failed := wl.Ledger().Counts()
	rep.Txs = TxCounts{Acknowledged: len(acks), Accesses: len(accesses), Attempts: attempts, Errors: errs, ByOp: map[string]int{},
		LastErrors: wl.Ledger().LastErrors()}
	for _, a := range acks {
		rep.Txs.ByOp[a.Op]++
	}
	rep.Txs.CommittedFailures = len(failed)
	if len(failed) > 10 {
		failed = failed[:10]
	}
	rep.Txs.FailureSamples = failed
	rep.Ended = time.Now().UTC()
	rep.Seconds = rep.Ended.Sub(rep.Started).Seconds()
	return rep, nil
}

// runFault injects one fault, keeps it for length while the workload runs,
// heals it and checks the network.
func runFault(ctx context.Context, cl *Cluster, v *verifier, kind string, length time.Duration, rng *rand.Rand,
	catchUp time.Duration, logf func(string, ...any)) FaultReport {
	fr := FaultReport{Kind: kind, Start: time.Now().UTC()}
	fr.HeightBefore = cl.MaxHeight(ctx)
	acksBefore, _ := v.ledger.Snapshot()
	f, err := inject(ctx, cl, kind, rng, length)
	if err != nil {
		fr.End = time.Now().UTC()
		fr.Checks = []Check{{Name: "inject", OK: false, Detail: err.Error()}}
		logf("%s: could not inject: %v", kind, err)
		return fr
	}
	fr.Detail = f.detail
	if f.target >= 0 {
		fr.Target = fmt.Sprintf("node%d", f.target)
	}
	// The height once the fault is in place (nft and signals take a moment
	// on a loaded machine, while blocks go on).
	inPlace := cl.MaxHeight(ctx)
	logf("inject %s for %v: %s", kind, length.Round(time.Second), f.detail)
	pause(ctx, length)
	fr.HeightDuring = cl.MaxHeight(ctx)
	obs, err := f.heal(ctx)
	fr.Observed = obs
	fr.Healed = time.Now().UTC()
	logf("healed %s: %s", kind, obs)
	if err != nil {
		fr.Checks = append(fr.Checks, Check{Name: "heal", OK: false, Detail: err.Error()})
	}
	checks, top := v.verify(ctx, catchUp)
	fr.Checks = append(fr.Checks, checks...)
	if kind == FaultSplit {
		// Neither half has two thirds of the votes: at most a block whose
		// precommits were already on the wire commits.
		c := Check{Name: CheckHalted, OK: fr.HeightDuring-inPlace <= 1,
			Detail: fmt.Sprintf("height %d once split, %d at the heal", inPlace, fr.HeightDuring)}
		if !c.OK {
			c.Detail = "the chain went on without a quorum: " + c.Detail
		}
		fr.Checks = append(fr.Checks, c)
	}
	if kind == FaultSkew && f.target >= 0 {
		// Blocks made while the clock was skewed: their times stay real.
		err := v.blockTimes(ctx, cl.Nodes[(f.target+1)%len(cl.Nodes)], fr.HeightBefore+1, fr.HeightDuring,
			fr.Start.Add(-5*time.Second), fr.Healed.Add(5*time.Second))
		c := Check{Name: CheckTimes, OK: err == nil, Detail: fmt.Sprintf("blocks %d..%d have times within the fault's real time", fr.HeightBefore+1, fr.HeightDuring)}
		if err != nil {
			c.Detail = err.Error()
		}
		fr.Checks = append(fr.Checks, c)
	}
	fr.End = time.Now().UTC()
	fr.HeightAfter = top
	acksAfter, _ := v.ledger.Snapshot()
	fr.AckedDuring = len(acksAfter) - len(acksBefore)
	for _, c := range fr.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		logf("  %s %s: %s", mark, c.Name, c.Detail)
	}
	return fr
}
