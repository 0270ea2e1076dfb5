package exec_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/app/apptest/scenario"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/exec"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
)

// TestScenarios runs the scenario files in testdata against the core alone:
// no CometBFT, no ABCI, an in-memory tree. `go test ./sm/exec -rewrite`
// regenerates their expected output; app's TestScenariosThroughApp checks
// the ABCI application produces the same.
func TestScenarios(t *testing.T) {
	scenario.Run(t, "testdata", func(t *testing.T) scenario.Driver {
		core, _ := app.NewCore()
		return &coreDriver{core: core, tree: merkle.NewMemTree(), pending: pending{}}
	})
}

type coreDriver struct {
	core    *exec.Core
	tree    *merkle.Tree
	pending pending
}

type pending map[crypto.Address]uint64

func (p pending) Next(a crypto.Address) (uint64, bool) { s, ok := p[a]; return s, ok }

type verifyAll struct{}

func (verifyAll) CheckSig(_ [32]byte, tx *sm.Tx) bool {
	it := exec.SigItem(tx)
	return crypto.Verify(it.Pub, it.Msg, it.Sig)
}

func (d *coreDriver) Init(t *testing.T) []byte {
	state, _, err := apptest.Genesis(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Through JSON, as the genesis document carries it.
	raw, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	var gs exec.Genesis
	if err := json.Unmarshal(raw, &gs); err != nil {
		t.Fatal(err)
	}
	if err := d.core.InitGenesis(d.tree, exec.BlockContext{ChainID: apptest.ChainID, Height: 1, Time: apptest.GenesisTime}, gs); err != nil {
		t.Fatal(err)
	}
	return d.tree.WorkingHash()
}

func (d *coreDriver) Block(t *testing.T, height int64, at time.Time, txs [][]byte) scenario.Block {
	res := d.core.DeliverBlock(d.tree, exec.BlockContext{ChainID: apptest.ChainID, Height: height, Time: at}, txs, exec.SerialVerifier{})
	if _, _, err := d.tree.Commit(); err != nil {
		t.Fatal(err)
	}
	clear(d.pending)
	b := scenario.Block{AppHash: res.AppHash, Bundles: map[int]scenario.Result{}, Valset: res.Valset}
	for _, r := range res.Txs {
		b.Txs = append(b.Txs, scenario.Result{Code: r.Code, Codespace: r.Codespace, Log: r.Log, Events: r.Events})
	}
	for i, o := range res.Outer {
		if o.Err != nil {
			code, space, log := sm.ABCIInfo(o.Err)
			b.Bundles[i] = scenario.Result{Code: code, Codespace: space, Log: log}
		}
	}
	return b
}

func (d *coreDriver) Check(t *testing.T, raw []byte) scenario.Result {
	res := func(err error) scenario.Result {
		code, space, log := sm.ABCIInfo(err)
		return scenario.Result{Code: code, Codespace: space, Log: log}
	}
	tx, err := sm.DecodeTx(raw)
	if err != nil {
		return res(err)
	}
	rt, err := d.core.Stateless(apptest.ChainID, tx)
	if err != nil {
		return res(err)
	}
	r := d.core.CheckTx(d.State(), d.pending, tx, sm.TxHash(raw), rt, verifyAll{}, exec.CheckOptions{})
	if r.Err == nil && !r.Held {
		d.pending[tx.Signer()] = r.Next
	}
	return res(r.Err)
}

func (d *coreDriver) State() store.Reader {
	if v := d.tree.Version(); v > 0 {
		s, err := d.tree.Snapshot(v)
		if err == nil {
			return s
		}
	}
	return d.tree
}
