package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/internal/testnet"
	"github.com/medchain/medchain/x/consent"
)

// TestAuditSurvivesSIGKILL: reads a development node served, then the node
// killed (SIGKILL) before its auditor could send them: after the restart
// every served read is in the patient's trail, once.
func TestAuditSurvivesSIGKILL(t *testing.T) {
	needNetwork(t)
	node := testnet.StartDev(t, testnet.DevOptions{TimeoutCommit: 100 * time.Millisecond})
	ctx := within(t, 4*time.Minute)
	c := node.Client()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keystore.Open(config.KeysDir(node.Home)).Load("patient1", devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	patient := key.Address()
	var recs []api.RecordView
	err = testnet.Poll(ctx, 100*time.Millisecond, func() error {
		recs, err = c.As(key, st.ChainID).Records(ctx, patient) // patient data: a signed read
		if err != nil || len(recs) < 5 {
			return fmt.Errorf("demo records of patient1: %d, %v", len(recs), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	trail := func() ([]api.EventView, error) { return patientTrail(ctx, node.API(), st.ChainID, key) }
	// Whatever the demo reads have logged, once on chain.
	var before []api.EventView
	err = testnet.Poll(ctx, 200*time.Millisecond, func() error {
		a, err := trail()
		if err != nil {
			return err
		}
		time.Sleep(time.Second)
		b, err := trail()
		if err != nil || len(a) != len(b) {
			return fmt.Errorf("trail still growing: %d, then %d (%v)", len(a), len(b), err)
		}
		before = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Serve reads, then kill at once: the auditor sends every 250 ms and a
	// block takes about 100 ms, so most of them are still in the outbox.
	const reads = 30
	for i := range reads {
		id, err := parseRecordID(recs[i%len(recs)].ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadRecord(ctx, key, st.ChainID, id, 0); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	node.Kill()
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	if err := node.WaitReady(ctx); err != nil {
		t.Fatalf("restart after SIGKILL: %v", err)
	}
	if b, err := os.ReadFile(node.Log); err == nil {
		// How many the kill caught in the outbox (timing decides).
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "sending events kept from before") {
				t.Logf("after the restart: %s", line)
			}
		}
	}
	var after []api.EventView
	err = testnet.Poll(within(t, time.Minute), 200*time.Millisecond, func() error {
		after, err = trail()
		if err != nil {
			return err
		}
		if got := len(after) - len(before); got < reads {
			return fmt.Errorf("%d of %d served reads on chain", got, reads)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(after) - len(before); got != reads {
		t.Fatalf("%d events for %d reads: %+v", got, reads, after[len(before):])
	}
	for _, e := range after[len(before):] {
		if !e.Served || e.Accessor != patient.String() {
			t.Fatalf("event %+v is not patient1's served read", e)
		}
	}
}

func parseRecordID(s string) (consent.RecordID, error) {
	var id consent.RecordID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("record id %q", s)
	}
	copy(id[:], b)
	return id, nil
}

// patientTrail is the patient's trail, asked with a request the patient signs.
func patientTrail(ctx context.Context, base, chainID string, key *crypto.PrivKey) ([]api.EventView, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/patients/"+key.Address().String()+"/audit", nil)
	if err != nil {
		return nil, err
	}
	if err := reqsig.Sign(req, key, chainID, time.Now(), time.Minute, nil); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("audit trail: %s", resp.Status)
	}
	var out struct {
		Events []api.EventView `json:"events"`
	}
	return out.Events, json.NewDecoder(resp.Body).Decode(&out)
}
