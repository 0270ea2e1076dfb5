//go:build linux

package chaos

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/testnet"
)

func TestMain(m *testing.M) { testnet.Main(m) }

// needChaos skips unless real networks may run and namespaces work here.
func needChaos(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real 4-validator network; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("chaos tests need root (CAP_NET_ADMIN for network namespaces, CAP_SYS_ADMIN for the tmpfs)")
	}
	if err := Probe(); err != nil {
		t.Skipf("chaos tests skipped: %v", err)
	}
}

// TestFaultsShort injects each fault kind once, for a few seconds, into a
// 4-validator network of real processes under a workload of every kind of
// transaction, and checks after each: every node catches up, no fork, the
// same state, every acknowledged transaction present, every served read in
// the trail. MEDCHAIN_CHAOS_DURATION (e.g. 10m) runs a random schedule that
// long instead.
func TestFaultsShort(t *testing.T) {
	needChaos(t)
	o := Options{
		Dir: t.TempDir(), Binary: testnet.Binary(t),
		Schedule: FaultKinds, FaultMin: 6 * time.Second, FaultMax: 6 * time.Second,
		CatchUp: 60 * time.Second, Log: testWriter{t},
	}
	timeout := 6 * time.Minute
	if f := os.Getenv("MEDCHAIN_CHAOS_FAULTS"); f != "" { // e.g. disk,skew: only these
		o.Schedule = strings.Split(f, ",")
	}
	if d := os.Getenv("MEDCHAIN_CHAOS_DIR"); d != "" { // keep the homes and logs there
		o.Dir = d
	}
	if d := os.Getenv("MEDCHAIN_CHAOS_DURATION"); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatalf("MEDCHAIN_CHAOS_DURATION: %v", err)
		}
		o.Schedule, o.Duration, o.FaultMin, o.FaultMax, o.Settle = nil, dur, 10*time.Second, 40*time.Second, 5*time.Second
		timeout = dur + 10*time.Minute
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var sum strings.Builder
	rep.WriteSummary(&sum)
	t.Log("\n" + sum.String())
	for _, f := range rep.Failures() {
		t.Error(f)
	}
	if o.Schedule != nil && len(rep.Faults) != len(o.Schedule) {
		t.Errorf("%d faults injected, want %d", len(rep.Faults), len(o.Schedule))
	}
	if rep.Txs.Acknowledged == 0 || rep.Txs.Accesses == 0 {
		t.Errorf("the workload got nothing through: %+v", rep.Txs)
	}
	for _, op := range []string{OpRegister, OpRecord, OpGrant, OpSetGuardian, OpRevokeGuardian, OpRevoke, OpBook, OpCancel, OpSend} {
		if rep.Txs.ByOp[op] == 0 {
			t.Errorf("no %s transaction acknowledged during the run", op)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
