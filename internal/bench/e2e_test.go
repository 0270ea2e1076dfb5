package bench

import (
	"context"
	"encoding/json"
	"github.com/medchain/medchain/x/accounts"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/kvbaseline"
	"github.com/medchain/medchain/internal/txbatch"
)

// TestBatchIntake checks the client side of POST /v1/txs/batch against a
// fake node: the body it sends and how it reads each transaction's outcome.
func TestBatchIntake(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/txs/batch" {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		txs, err := txbatch.Decode(body, 1<<16)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res := api.BatchResult{}
		for _, tx := range txs {
			var it api.BatchItem
			switch string(tx) {
			case "bad":
				it.Code, it.Codespace = 7, "records"
			case "dup":
				it.Code, it.Codespace = api.ErrDuplicate.Code, api.Codespace
			case "busy":
				it.Code, it.Codespace = api.ErrBusy.Code, api.Codespace
			}
			res.Results = append(res.Results, it)
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	defer srv.Close()
	in := &BatchIntake{Nodes: []string{srv.URL}, Client: srv.Client()}
	var txs []*Tx
	for _, s := range []string{"ok", "bad", "dup", "busy"} {
		txs = append(txs, newTx([]byte(s), "t", nil))
	}
	outs, err := in.Submit(context.Background(), 0, txs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Outcome{{}, {Code: 7, Codespace: "records"}, {Dup: true}, {Busy: true}}
	for i := range want {
		if outs[i] != want[i] {
			t.Errorf("tx %d: %+v, want %+v", i, outs[i], want[i])
		}
	}
}

// TestEndToEnd loads an in-process development node for a few seconds
// through each intake it serves, and CometBFT's kvstore in process: both
// must commit, and medchain must commit every transaction it accepted
// without a failure.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nodes")
	}
	dir := t.TempDir()
	dev, err := StartDevNode(dir, "", DevConfig(200*time.Millisecond), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := NewHTTPClient(8)
	obs := &APIObserver{Base: dev.API(), Client: hc}
	keys, err := LoadDevKeys(dev.Home)
	if err != nil {
		t.Fatal(err)
	}
	mix, _ := ParseMix(DefaultMix)
	intakes := []Intake{
		&HTTPIntake{Nodes: []string{dev.API()}, Client: hc},
		&FuncIntake{Label: "inproc", Max: 200, Fn: dev.SubmitBatch},
	}
	if batchRouteServed(t, dev.API()) {
		intakes = append(intakes, &BatchIntake{Nodes: []string{dev.API()}, Client: hc})
	} else {
		t.Log("POST /v1/txs/batch is not registered: the batch intake is not tested end to end")
	}
	for _, in := range intakes {
		t.Run(in.Name(), func(t *testing.T) {
			gen, setup, err := PrepareMedchain(ctx, PrepareOptions{
				API: dev.API(), Client: hc, Intake: in, Observer: obs, Keys: keys, Accounts: 60,
				Mix: mix, Lanes: 4, Batch: 50,
			})
			if err != nil {
				t.Fatal(err)
			}
			if setup.Accounts != 60 {
				t.Fatalf("setup %+v", setup)
			}
			res, err := Run(ctx, Target{Name: "medchain", Generator: gen, Intake: in, Observer: obs, InProcess: true},
				Config{Rate: 300, Duration: 2 * time.Second, Warmup: 500 * time.Millisecond, Drain: 10 * time.Second, Lanes: 4, Batch: 50})
			if err != nil {
				t.Fatal(err)
			}
			if res.CommittedInWindow == 0 || res.Latency.Count == 0 {
				t.Fatalf("nothing committed: %+v", res)
			}
			if res.Failed != 0 || res.Rejected != 0 || res.Errors != 0 || res.Uncommitted != 0 {
				t.Fatalf("failed %v rejected %v errors %v uncommitted %d: %v %v %v",
					res.FailedByCode, res.RejectedByCode, res.Errors, res.Uncommitted, res.FailedSamples, res.RejectedSamples, res.ErrorSamples)
			}
			for _, typ := range []string{"records/add", "consent/grant", "audit/log", "telemed/book", "telemed/cancel"} {
				if res.ByType[typ] == nil || res.ByType[typ].Committed == 0 {
					t.Errorf("no %s committed", typ)
				}
			}
		})
	}

	t.Run("kvstore-inproc", func(t *testing.T) {
		cfg := DevConfig(200 * time.Millisecond)
		n, err := kvbaseline.Start(kvbaseline.Options{Home: filepath.Join(dir, "kv"), Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Stop()
		for n.Height() < 1 && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		res, err := Run(ctx, Target{
			Name: "kvstore-inproc", Generator: NewKV(250, 2), InProcess: true,
			Intake:   &FuncIntake{Label: "inproc", Max: 500, Fn: n.SubmitBatch},
			Observer: &BusObserver{Bus: n.EventBus(), HeightNow: n.Height},
		}, Config{Rate: 1000, Duration: time.Second, Warmup: 200 * time.Millisecond, Lanes: 2, Batch: 100})
		if err != nil {
			t.Fatal(err)
		}
		if res.CommittedInWindow == 0 || res.Failed != 0 || res.Uncommitted != 0 {
			t.Fatalf("committed %d failed %d uncommitted %d", res.CommittedInWindow, res.Failed, res.Uncommitted)
		}
	})
}

// batchRouteServed reports whether the node serves POST /v1/txs/batch
// (an empty body is a bad request there, and a 404 where it is not
// registered).
func batchRouteServed(t *testing.T, base string) bool {
	resp, err := http.Post(base+"/v1/txs/batch", "application/octet-stream", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode != http.StatusNotFound
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// TestSetupRespectsRegistrationCap: against a chain that lets only 15
// patients register themselves per block, the setup of 60 accounts
// spreads its registrations over blocks instead of failing.
func TestSetupRespectsRegistrationCap(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	dev, err := StartDevNodeParams(t.TempDir(), "", DevConfig(200*time.Millisecond), nil, map[string]uint64{accounts.ParamMaxSelfRegistrations: 15})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := NewHTTPClient(8)
	keys, err := LoadDevKeys(dev.Home)
	if err != nil {
		t.Fatal(err)
	}
	mix, _ := ParseMix(DefaultMix)
	_, setup, err := PrepareMedchain(ctx, PrepareOptions{
		API: dev.API(), Client: hc, Intake: &FuncIntake{Label: "inproc", Max: 200, Fn: dev.SubmitBatch},
		Observer: &APIObserver{Base: dev.API(), Client: hc}, Keys: keys, Accounts: 60, Mix: mix, Lanes: 4, Batch: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	if setup.Accounts != 60 {
		t.Fatalf("setup %+v", setup)
	}
}
