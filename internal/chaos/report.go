package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a chaos run did and found.
type Report struct {
	Started     time.Time     `json:"started"`
	Ended       time.Time     `json:"ended"`
	Seconds     float64       `json:"seconds"`
	Seed        int64         `json:"seed"`
	Validators  int           `json:"validators"`
	Dir         string        `json:"dir"`
	StartHeight int64         `json:"start_height"`
	EndHeight   int64         `json:"end_height"`
	Faults      []FaultReport `json:"faults"`
	// Final are the checks after the workload stopped.
	Final []Check  `json:"final_checks"`
	Txs   TxCounts `json:"txs"`
}

// TxCounts count the workload's operations.
type TxCounts struct {
	Acknowledged int            `json:"acknowledged"` // transactions reported committed with code 0
	ByOp         map[string]int `json:"acknowledged_by_op"`
	Accesses     int            `json:"served_reads"` // record reads served (each must be in the trail)
	Attempts     map[string]int `json:"attempts"`
	Errors       map[string]int `json:"errors"` // not acknowledged: refused, timed out, node down
	// LastErrors is the last error of each operation.
	LastErrors map[string]string `json:"last_errors,omitempty"`
	// CommittedFailures are transactions committed with a failure code (a
	// sequence taken meanwhile by a copy sent to another node, say).
	CommittedFailures int      `json:"committed_failures"`
	FailureSamples    []string `json:"failure_samples,omitempty"`
}

// FaultReport is one injected fault and the checks after it.
type FaultReport struct {
	Kind         string    `json:"kind"`
	Target       string    `json:"target,omitempty"`
	Detail       string    `json:"detail"`
	Start        time.Time `json:"start"`
	Healed       time.Time `json:"healed"`
	End          time.Time `json:"end"` // checks done
	HeightBefore int64     `json:"height_before"`
	HeightDuring int64     `json:"height_at_heal"`
	HeightAfter  int64     `json:"height_after"`
	AckedDuring  int       `json:"acknowledged_during"`
	Observed     string    `json:"observed"`
	Checks       []Check   `json:"checks"`
}

// Passed reports whether every check after the fault passed.
func (f FaultReport) Passed() bool {
	return len(f.Checks) > 0 && !slices.ContainsFunc(f.Checks, func(c Check) bool { return !c.OK })
}

// Passed reports whether every fault's checks and the final checks passed.
func (r *Report) Passed() bool {
	for _, f := range r.Faults {
		if !f.Passed() {
			return false
		}
	}
	return len(r.Final) > 0 && !slices.ContainsFunc(r.Final, func(c Check) bool { return !c.OK })
}

// Failures lists every failed check, as "fault N kind: check: detail".
func (r *Report) Failures() []string {
	var out []string
	for i, f := range r.Faults {
		for _, c := range f.Checks {
			if !c.OK {
				out = append(out, fmt.Sprintf("fault %d (%s %s): %s: %s", i+1, f.Kind, f.Target, c.Name, c.Detail))
			}
		}
	}
	for _, c := range r.Final {
		if !c.OK {
			out = append(out, fmt.Sprintf("final: %s: %s", c.Name, c.Detail))
		}
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteSummary writes a human summary.
func (r *Report) WriteSummary(w io.Writer) {
	verdict := "PASSED"
	if !r.Passed() {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "medchain chaos: %s — %d faults in %s on %d validators (seed %d)\n",
		verdict, len(r.Faults), (time.Duration(r.Seconds) * time.Second).String(), r.Validators, r.Seed)
	fmt.Fprintf(w, "heights %d → %d; %d transactions acknowledged, %d reads served; %d committed with a failure code\n",
		r.StartHeight, r.EndHeight, r.Txs.Acknowledged, r.Txs.Accesses, r.Txs.CommittedFailures)
	var ops []string
	for op, n := range r.Txs.Attempts {
		ops = append(ops, fmt.Sprintf("%s %d/%d", op, n-r.Txs.Errors[op], n))
	}
	slices.Sort(ops)
	fmt.Fprintf(w, "operations (succeeded/attempted): %s\n\n", strings.Join(ops, ", "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tat\tkind\ttarget\tlasted\theights\tacked\tchecks\tobserved")
	for i, f := range r.Faults {
		res := "ok"
		if !f.Passed() {
			var bad []string
			for _, c := range f.Checks {
				if !c.OK {
					bad = append(bad, c.Name)
				}
			}
			res = "FAILED " + strings.Join(bad, ",")
		}
		obs := f.Observed // in full in the JSON
		if len(obs) > 100 {
			obs = obs[:97] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d→%d→%d\t%d\t%s\t%s\n", i+1, f.Start.Format("15:04:05"), f.Kind, f.Target,
			f.Healed.Sub(f.Start).Round(time.Second), f.HeightBefore, f.HeightDuring, f.HeightAfter, f.AckedDuring, res, obs)
	}
	tw.Flush()
	if len(r.Txs.LastErrors) > 0 {
		fmt.Fprintln(w, "\nlast error of each operation (expected under faults: nodes down, cut off or halted):")
		for _, op := range slices.Sorted(maps.Keys(r.Txs.LastErrors)) {
			fmt.Fprintf(w, "  %s: %s\n", op, r.Txs.LastErrors[op])
		}
	}
	if fails := r.Failures(); len(fails) > 0 {
		fmt.Fprintln(w, "\nfailed checks:")
		for _, f := range fails {
			fmt.Fprintln(w, "  "+f)
		}
	}
}
