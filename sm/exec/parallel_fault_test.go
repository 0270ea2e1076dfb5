package exec_test

import (
	"encoding/json"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/exec"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
)

// faulty is a state whose reads of one key fail once armed: a broken
// disk under one transaction of the block.
type faulty struct {
	*merkle.Tree
	armed bool
	bad   string
}

var errDisk = errors.New("disk gone")

func (f *faulty) Get(key []byte) []byte {
	if f.armed && string(key) == f.bad {
		panic(store.Fault{Err: errDisk})
	}
	return f.Tree.Get(key)
}

// TestParallelStoreFault: a store fault while transactions run in
// parallel reaches DeliverBlock's caller as the same panic as serially
// (the adapter turns it into an error), not a crash in a worker, and the
// workers are gone when it does.
func TestParallelStoreFault(t *testing.T) {
	for _, e := range []exec.Execution{exec.Serial, {Workers: 2, MinTxs: 1}} {
		core, _ := app.NewCore()
		core.SetExecution(e)
		st := &faulty{Tree: merkle.NewMemTree()}
		gs, _, err := apptest.Genesis(nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(gs)
		var g exec.Genesis
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatal(err)
		}
		if err := core.InitGenesis(st, exec.BlockContext{ChainID: apptest.ChainID, Height: 1, Time: apptest.GenesisTime}, g); err != nil {
			t.Fatal(err)
		}
		var txs [][]byte
		for i := range 40 {
			k := apptest.Key("fault-" + string(rune('a'+i)))
			txs = append(txs, sm.SignTx(k, apptest.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: k.EncKey()}))
			if i == 25 {
				st.bad = string(accounts.AccountKey(k.Address()))
			}
		}
		before := runtime.NumGoroutine()
		st.armed = true
		func() {
			defer func() {
				f, ok := recover().(store.Fault)
				if !ok || !errors.Is(f, errDisk) {
					t.Fatalf("%+v: recovered %v, want the store fault", e, f)
				}
			}()
			core.DeliverBlock(st, exec.BlockContext{ChainID: apptest.ChainID, Height: 2, Time: apptest.GenesisTime.Add(time.Second)}, txs, verified{})
			t.Fatalf("%+v: DeliverBlock returned over a broken store", e)
		}()
		// A worker that called wg.Done may still be exiting: give it time.
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Fatalf("%+v: %d goroutines after the fault, %d before", e, n, before)
		}
	}
}
