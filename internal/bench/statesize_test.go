package bench

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

func TestStateCounts(t *testing.T) {
	for _, c := range []struct {
		txs                    int64
		patients, recs, grants int64
	}{
		{0, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 1, 0}, {4, 0, 3, 0}, {5, 1, 3, 1}, {7, 1, 4, 1}, {15, 3, 9, 3},
	} {
		p, r, g := stateCounts(c.txs, 3)
		if p != c.patients || r != c.recs || g != c.grants {
			t.Errorf("stateCounts(%d, 3) = %d, %d, %d; want %d, %d, %d", c.txs, p, r, g, c.patients, c.recs, c.grants)
		}
	}
}

func TestStateBuildAndReopen(t *testing.T) {
	const patients, k = 300, 3
	dir := filepath.Join(t.TempDir(), "state")
	ctx := context.Background()
	rep, err := RunState(ctx, StateOptions{
		Home: dir, Patients: patients, RecordsPerPatient: k, Block: 200, Checkpoints: 3,
		ServeDuration: time.Second, ServeBlock: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Build
	if len(b.Checkpoints) != 3 || b.Txs != patients*(k+2) {
		t.Fatalf("%d checkpoints, %d txs", len(b.Checkpoints), b.Txs)
	}
	last := b.Checkpoints[2]
	if last.Patients != patients || last.Records != patients*k || last.Consents != patients {
		t.Errorf("last checkpoint: %+v", last)
	}
	linux := runtime.GOOS == "linux"
	for _, c := range b.Checkpoints {
		if c.DiskBytes <= 0 || c.Tree.Keys < int(c.Records) || c.Mem.HeapInuse == 0 || c.Mem.HeapAlloc == 0 || linux && (c.Mem.RSS == 0 || c.Mem.PeakRSS < c.Mem.RSS) {
			t.Errorf("checkpoint measured nothing: %+v", c)
		}
	}
	s := rep.Serve
	if s == nil || s.Checks == 0 || s.Allowed == 0 || s.Allowed == s.Checks || s.Txs == 0 || s.ExecMsPerTx <= 0 {
		t.Fatalf("workload: %+v", s)
	}
	if s.MemEnd.HeapInuse == 0 || s.MaxHeapInuse == 0 || linux && (s.MaxRSS == 0 || s.MemEnd.PeakRSS == 0) {
		t.Errorf("workload memory: %+v", s)
	}
	if len(rep.Extrapolation) == 0 || rep.Extrapolation[0].Metric != "disk_bytes" || rep.Extrapolation[0].Value <= 0 {
		t.Errorf("extrapolation: %+v", rep.Extrapolation)
	}
	var sum strings.Builder
	rep.Summary(&sum)
	if !strings.Contains(sum.String(), "EXTRAPOLATION") {
		t.Errorf("summary without the extrapolation:\n%s", sum.String())
	}

	checkBuiltState(t, dir, patients, k)

	if _, err := RunState(ctx, StateOptions{Home: dir, Patients: 1, RecordsPerPatient: 1, Block: 1}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("building into a used folder: %v", err)
	}
}

// checkBuiltState reopens the state and finds patients' records and consents.
func checkBuiltState(t *testing.T, dir string, patients, k int) {
	t.Helper()
	tree, err := merkle.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	snap, err := tree.Snapshot(tree.Version())
	if err != nil {
		t.Fatal(err)
	}
	g := newStateGen(stateChainID, k, 1)
	for _, i := range []int{0, patients / 2, patients - 1} {
		addr := statePatientKey(i).Address()
		if a := accounts.GetAccount(snap, addr); a == nil || a.Kind != accounts.KindPatient || a.Sequence < uint64(k+2) {
			t.Errorf("patient %d: account %+v", i, a)
		}
		for j := range k {
			id, typ := stateRecordID(i, j)
			rec := records.GetRecord(snap, id)
			if rec == nil || rec.Patient != addr || rec.Type != typ || rec.Version != 1 {
				t.Errorf("patient %d record %d: %+v", i, j, rec)
				continue
			}
			if keys := records.Keys(snap, id, 1); len(keys) != 1 || keys[0].Recipient != consent.Account(addr) {
				t.Errorf("patient %d record %d: keys %+v", i, j, keys)
			}
		}
		if n := len(records.ByPatient(snap, addr)); n < k {
			t.Errorf("patient %d: %d records listed", i, n)
		}
		cs := consent.ByPatient(snap, addr)
		if len(cs) != 1 || cs[0].Grantee != consent.Account(g.practitionerOf(i)) {
			t.Errorf("patient %d: consents %+v", i, cs)
		}
	}
}
