package chaos

import (
	"strings"
	"testing"
	"time"
)

func TestNftScript(t *testing.T) {
	ips := []string{"10.77.0.10", "10.77.0.11", "10.77.0.12"}
	tests := []struct {
		name    string
		rules   []Rule
		want    []string // lines the script must hold
		wantErr bool
	}{
		{name: "healthy network: an empty chain", want: []string{"delete table bridge chaos", "policy accept;"}},
		{name: "cut link drops everything one way", rules: []Rule{{From: 0, To: 2, Percent: 100}},
			want: []string{"ip saddr 10.77.0.10 ip daddr 10.77.0.12 drop"}},
		{name: "loss drops a random share", rules: []Rule{{From: 1, To: 0, Percent: 40}},
			want: []string{"ip saddr 10.77.0.11 ip daddr 10.77.0.10 numgen random mod 100 < 40 drop"}},
		{name: "unknown node", rules: []Rule{{From: 0, To: 3, Percent: 100}}, wantErr: true},
		{name: "to itself", rules: []Rule{{From: 1, To: 1, Percent: 100}}, wantErr: true},
		{name: "no loss is not a rule", rules: []Rule{{From: 0, To: 1, Percent: 0}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := nftScript(ips, tc.rules)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("script lacks %q:\n%s", w, got)
				}
			}
			if err == nil && strings.Count(got, "drop\n") != len(tc.rules) {
				t.Errorf("%d drop rules for %d rules:\n%s", strings.Count(got, "drop\n"), len(tc.rules), got)
			}
		})
	}
}

func TestReportVerdict(t *testing.T) {
	ok := Check{Name: CheckNoFork, OK: true, Detail: "blocks identical"}
	bad := Check{Name: CheckAcked, OK: false, Detail: "node2: tx missing"}
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	r := &Report{Validators: 4, Seconds: 60, Final: []Check{ok},
		Faults: []FaultReport{{Kind: FaultPause, Target: "node1", Start: at, Healed: at.Add(10 * time.Second), Checks: []Check{ok}}}}
	if !r.Passed() || len(r.Failures()) != 0 {
		t.Fatalf("a run whose checks all passed: passed %v, failures %v", r.Passed(), r.Failures())
	}
	r.Faults = append(r.Faults, FaultReport{Kind: FaultKill, Target: "node2", Start: at, Healed: at, Checks: []Check{ok, bad}})
	if r.Passed() {
		t.Fatal("a run with a failed check passed")
	}
	if f := r.Failures(); len(f) != 1 || !strings.Contains(f[0], "fault 2 (kill node2): acknowledged: node2: tx missing") {
		t.Fatalf("failures %q", f)
	}
	var b strings.Builder
	r.WriteSummary(&b)
	for _, w := range []string{"FAILED", "FAILED acknowledged", "pause", "node1"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, b.String())
		}
	}
	if (&Report{}).Passed() {
		t.Error("a run without final checks passed")
	}
	if (FaultReport{}).Passed() {
		t.Error("a fault without checks passed")
	}
}
