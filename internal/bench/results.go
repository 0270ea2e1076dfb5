package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Results are what one run measured.
type Results struct {
	Target        string    `json:"target"`
	Intake        string    `json:"intake"`
	WindowStart   time.Time `json:"window_start"`
	WindowSeconds float64   `json:"window_seconds"`
	DrainSeconds  float64   `json:"drain_seconds"`
	Interrupted   bool      `json:"interrupted,omitempty"`

	// CommittedTPS counts transactions of this run in blocks seen during
	// the window, per second of the window: the headline number.
	CommittedTPS      float64 `json:"committed_tps"`
	CommittedInWindow int64   `json:"committed_in_window"`
	// Latency is submit-to-commit of the transactions due in the window.
	Latency Latency `json:"latency"`

	Sent            int64            `json:"sent"`     // submissions, retries included
	Accepted        int64            `json:"accepted"` // entered the mempool
	Rejected        int64            `json:"rejected"` // CheckTx code ≠ 0
	RejectedByCode  map[string]int64 `json:"rejected_by_code"`
	RejectedSamples []string         `json:"rejected_samples,omitempty"`
	BusyResponses   int64            `json:"busy_responses"` // mempool full: sent again after a pause
	Errors          int64            `json:"errors"`         // transport failures
	ErrorSamples    []string         `json:"error_samples,omitempty"`
	Dropped         int64            `json:"dropped"` // open loop: slots missed because every lane was busy
	Starved         int64            `json:"starved"` // no account could send the chosen kind
	Unsent          int64            `json:"unsent"`  // still busy when the window closed
	Committed       int64            `json:"committed"`
	Failed          int64            `json:"failed"` // committed with code ≠ 0
	FailedByCode    map[string]int64 `json:"failed_by_code"`
	FailedSamples   []string         `json:"failed_samples,omitempty"`
	Uncommitted     int64            `json:"uncommitted"` // accepted, not seen committed by the end of the drain
	ForeignTxs      int64            `json:"foreign_txs"` // in blocks, not sent by this run

	ByType     map[string]*TypeStats `json:"by_type"`
	Blocks     BlockStats            `json:"blocks"`
	MempoolMax int                   `json:"mempool_max"`
	CPU        CPU                   `json:"cpu"`
}

// TypeStats break a run down by message type.
type TypeStats struct {
	Sent              int64    `json:"sent"`
	Accepted          int64    `json:"accepted"`
	Rejected          int64    `json:"rejected"`
	Committed         int64    `json:"committed"`
	CommittedInWindow int64    `json:"committed_in_window"`
	Failed            int64    `json:"failed"`
	Latency           *Latency `json:"latency,omitempty"`
}

// BlockStats describe the blocks seen during the window.
type BlockStats struct {
	Count          int     `json:"count"`
	MeanTxs        float64 `json:"mean_txs"`
	MaxTxs         int     `json:"max_txs"`
	MeanBytes      float64 `json:"mean_tx_bytes,omitempty"`
	MeanIntervalMs float64 `json:"mean_interval_ms"`
}

// Machine describes where a run happened.
type Machine struct {
	CPUModel  string     `json:"cpu_model"`
	Cores     int        `json:"cores"` // logical CPUs the Go runtime sees
	MemBytes  uint64     `json:"mem_bytes,omitempty"`
	GoVersion string     `json:"go_version"`
	OS        string     `json:"os"`
	Arch      string     `json:"arch"`
	LoadStart [3]float64 `json:"load_avg_start"`
	LoadEnd   [3]float64 `json:"load_avg_end"`
}

// Report is the JSON document `medchain bench --out` writes.
type Report struct {
	Tool    string    `json:"tool"`
	Date    time.Time `json:"date"`
	Command []string  `json:"command"`
	Machine Machine   `json:"machine"`
	Params  Params    `json:"params"`
	Setup   *Setup    `json:"setup,omitempty"`
	Results *Results  `json:"results"`
	Profile string    `json:"cpu_profile,omitempty"`
	// Baselines are the baseline runs a medchain run was compared with
	// (the strongest first).
	Baselines []*Report `json:"baselines,omitempty"`
}

// Params are the parameters of a run.
type Params struct {
	Target        string   `json:"target"` // "medchain" or a baseline
	Nodes         []string `json:"nodes,omitempty"`
	Intake        string   `json:"intake"`
	Rate          float64  `json:"rate"` // 0: closed loop
	Outstanding   int      `json:"outstanding,omitempty"`
	Duration      string   `json:"duration"`
	Warmup        string   `json:"warmup"`
	Accounts      int      `json:"accounts,omitempty"`
	Mix           string   `json:"mix,omitempty"`
	AuditEvents   int      `json:"audit_events,omitempty"`
	Lanes         int      `json:"lanes"`
	Batch         int      `json:"batch"`
	TxBytes       int      `json:"tx_bytes,omitempty"` // baselines
	TimeoutCommit string   `json:"timeout_commit,omitempty"`
	InProcessNode bool     `json:"in_process_node,omitempty"`
	KVApp         string   `json:"kv_app,omitempty"`
	KVIndexer     string   `json:"kv_indexer,omitempty"`
}

// Setup describes the preparation before the load.
type Setup struct {
	Accounts int            `json:"accounts"`
	Seconds  float64        `json:"seconds"`
	Classes  map[string]int `json:"classes"` // accounts per role in the mix
}

// CollectMachine reads the machine description (Linux /proc; elsewhere
// what the Go runtime knows).
func CollectMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, LoadStart: LoadAvg()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseUint(f[1], 10, 64); err == nil {
					m.MemBytes = kb << 10
				}
			}
		}
	}
	return m
}

// LoadAvg reads the 1, 5 and 15 minute load averages (zeros when unknown).
func LoadAvg() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		out[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return out
}

// WriteJSON writes the report, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Results == nil {
		return nil, fmt.Errorf("%s: no results", path)
	}
	return &r, nil
}

// Summary prints the headline numbers of a run.
func (r *Report) Summary(w io.Writer) {
	res := r.Results
	fmt.Fprintf(w, "\n%s via %s: %.0f committed tx/s over %.0fs (%d txs)", res.Target, res.Intake, res.CommittedTPS, res.WindowSeconds, res.CommittedInWindow)
	if res.Interrupted {
		fmt.Fprint(w, " [interrupted]")
	}
	fmt.Fprintln(w)
	l := res.Latency
	fmt.Fprintf(w, "  latency ms: p50 %.0f  p95 %.0f  p99 %.0f  max %.0f  (mean %.0f, %d txs)\n", l.P50, l.P95, l.P99, l.Max, l.Mean, l.Count)
	fmt.Fprintf(w, "  accepted %d  rejected %d %v  failed %d %v  uncommitted %d  busy responses %d  errors %d  dropped %d  starved %d\n",
		res.Accepted, res.Rejected, res.RejectedByCode, res.Failed, res.FailedByCode, res.Uncommitted, res.BusyResponses, res.Errors, res.Dropped, res.Starved)
	b := res.Blocks
	fmt.Fprintf(w, "  blocks: %d in window, %.0f txs mean, %d max, %.0f ms apart; mempool max %d\n", b.Count, b.MeanTxs, b.MaxTxs, b.MeanIntervalMs, res.MempoolMax)
	c := res.CPU
	if c.InProcess {
		fmt.Fprintf(w, "  CPU (node and load generator in one process): %.2f cores = %.0f%% of %d\n", c.ProcessCores, 100*c.ProcessShare, r.Machine.Cores)
	} else {
		fmt.Fprintf(w, "  CPU: load generator %.2f cores = %.0f%% of %d", c.ProcessCores, 100*c.ProcessShare, r.Machine.Cores)
		if c.NodeKnown {
			fmt.Fprintf(w, "; node %.2f cores = %.0f%%", c.NodeCores, 100*c.NodeShare)
		}
		fmt.Fprintln(w)
	}
	if len(res.ByType) > 1 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  type\tcommitted\tin window\tfailed\trejected\tp50 ms\tp99 ms")
		for _, t := range slices.Sorted(maps.Keys(res.ByType)) {
			s := res.ByType[t]
			var p50, p99 float64
			if s.Latency != nil {
				p50, p99 = s.Latency.P50, s.Latency.P99
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%.0f\t%.0f\n", t, s.Committed, s.CommittedInWindow, s.Failed, s.Rejected, p50, p99)
		}
		tw.Flush()
	}
	for _, s := range res.RejectedSamples {
		fmt.Fprintln(w, "  rejected:", s)
	}
	for _, s := range res.FailedSamples {
		fmt.Fprintln(w, "  failed:", s)
	}
	for _, s := range res.ErrorSamples {
		fmt.Fprintln(w, "  error:", s)
	}
}

// Compare prints the reports side by side, each medchain rate as a ratio to
// each baseline's.
func Compare(w io.Writer, reports []*Report, names []string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\ttarget\tintake\ttx/s\tp50 ms\tp99 ms\tmax ms\trejected\tfailed\tgen CPU\t")
	for i, r := range reports {
		res := r.Results
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%d\t%.0f%%\t\n", names[i], res.Target, res.Intake, res.CommittedTPS,
			res.Latency.P50, res.Latency.P99, res.Latency.Max, res.Rejected, res.Failed, 100*res.CPU.ProcessShare)
	}
	tw.Flush()
	var meds, bases []int
	for i, r := range reports {
		if r.Params.Target == "medchain" {
			meds = append(meds, i)
		} else {
			bases = append(bases, i)
		}
	}
	if len(meds) == 0 || len(bases) == 0 {
		return
	}
	fmt.Fprintln(w)
	slices.SortStableFunc(bases, func(a, b int) int { return baselineRank(reports[a]) - baselineRank(reports[b]) })
	for _, m := range meds {
		for _, b := range bases {
			br := reports[b].Results.CommittedTPS
			if br == 0 {
				continue
			}
			fmt.Fprintf(w, "%s / %s, %s = %.3f× (%.0f / %.0f tx/s)\n", names[m], names[b], Baseline(reports[b]), reports[m].Results.CommittedTPS/br,
				reports[m].Results.CommittedTPS, br)
		}
	}
}
