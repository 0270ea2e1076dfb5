package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/chaos"
)

// NewChaosCmd builds `medchain chaos`: a random schedule of faults against
// a fresh local 4-validator network, with a report.
func NewChaosCmd(g *globals) *cobra.Command {
	var (
		o                  chaos.Options
		short, keep        bool
		out, report, kinds string
	)
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Run a schedule of faults against a fresh local 4-validator network and report",
		Long: `chaos starts a fresh network of 4 validators (this binary, one process each, each
in its own Linux network namespace), runs a workload of every kind of signed
transaction, and injects faults one at a time for --duration: partitions, a
2|2 split, one-way packet loss, SIGSTOP pauses, SIGKILLs, a full disk and a
skewed clock. After each fault it checks that every node catches up, that no
node forked, that the app hashes agree, that every acknowledged transaction is
on every node and every served read is in the audit trail.

--short injects each fault kind once, for a few seconds (about 3 minutes).
Needs root, iproute2 and nftables. Writes the report as JSON (--report) and a
summary on stdout; exits 1 when a check failed. See docs/operations.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := chaos.Probe(); err != nil {
				return err
			}
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			o.Binary = bin
			if kinds != "" {
				o.Kinds = strings.Split(kinds, ",")
			}
			if short {
				o.Schedule = chaos.FaultKinds
				if kinds != "" {
					o.Schedule = o.Kinds
				}
				o.FaultMin, o.FaultMax = 6*time.Second, 6*time.Second
			}
			if out == "" {
				if out, err = os.MkdirTemp("", "medchain-chaos-"); err != nil {
					return err
				}
			} else if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			o.Dir = filepath.Join(out, "network")
			if report == "" {
				report = filepath.Join(out, "chaos-report.json")
			}
			o.Log = g.env.Stderr
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := chaos.Run(ctx, o)
			if err != nil {
				return err
			}
			f, err := os.Create(report)
			if err != nil {
				return err
			}
			if err := rep.WriteJSON(f); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			rep.WriteSummary(g.env.Stdout)
			fmt.Fprintf(g.env.Stdout, "\nreport: %s\n", report)
			if !keep {
				_ = os.RemoveAll(o.Dir)
			} else {
				fmt.Fprintf(g.env.Stdout, "homes and node logs: %s\n", o.Dir)
			}
			if !rep.Passed() {
				return fmt.Errorf("%d checks failed", len(rep.Failures()))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", 10*time.Minute, "how long to inject faults")
	f.BoolVar(&short, "short", false, "inject each fault kind once, for 6 s each, instead of a random schedule")
	f.StringVar(&kinds, "faults", "", "fault kinds to draw from, comma-separated (default all: "+strings.Join(chaos.FaultKinds, ",")+")")
	f.DurationVar(&o.FaultMin, "fault-min", 10*time.Second, "shortest fault")
	f.DurationVar(&o.FaultMax, "fault-max", 40*time.Second, "longest fault")
	f.DurationVar(&o.Settle, "settle", 5*time.Second, "pause between a fault's checks and the next fault")
	f.Int64Var(&o.Seed, "seed", 0, "seed of the schedule (0: from the clock; the report records it)")
	f.IntVar(&o.Workers, "workers", 3, "workload workers (1 to 3)")
	f.StringVar(&out, "out", "", "folder for the network and the report (default a new temporary folder)")
	f.StringVar(&report, "report", "", "JSON report file (default OUT/chaos-report.json)")
	f.BoolVar(&keep, "keep", false, "keep the nodes' homes and logs under OUT/network")
	return cmd
}
