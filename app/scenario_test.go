package app_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/app/apptest/scenario"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
)

// TestScenariosThroughApp runs the core's scenario files
// (sm/exec/testdata) through the ABCI application: the same codes, events,
// validator updates and app hashes at every height as the core alone.
// Its expected output is the files' and it never rewrites them.
func TestScenariosThroughApp(t *testing.T) {
	scenario.Run(t, "../sm/exec/testdata", func(t *testing.T) scenario.Driver {
		tree := merkle.NewMemTree()
		d := &appDriver{tree: tree}
		d.app = app.New(tree, app.Options{OnCommit: func(_ int64, rs []app.TxResult) { d.results = rs }})
		return d
	})
}

type appDriver struct {
	tree    *merkle.Tree
	app     *app.App
	results []app.TxResult
}

func (d *appDriver) Init(t *testing.T) []byte {
	state, vals, err := apptest.Genesis(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := d.app.InitChain(context.Background(), &abci.RequestInitChain{
		Time: apptest.GenesisTime, ChainId: apptest.ChainID, InitialHeight: 1, Validators: vals, AppStateBytes: raw,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.AppHash
}

func (d *appDriver) Block(t *testing.T, height int64, at time.Time, txs [][]byte) scenario.Block {
	ctx := context.Background()
	resp, err := d.app.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: txs, Height: height, Time: at})
	if err != nil {
		t.Fatal(err)
	}
	d.results = nil
	if _, err := d.app.Commit(ctx, &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	b := scenario.Block{AppHash: resp.AppHash, Bundles: map[int]scenario.Result{}}
	for _, r := range d.results {
		b.Txs = append(b.Txs, scenario.Result{Code: r.Code, Codespace: r.Codespace, Log: r.Log, Events: r.Events})
	}
	for i, raw := range txs {
		if r := resp.TxResults[i]; sm.IsBundle(raw) && len(r.Data) == 0 {
			b.Bundles[i] = scenario.Result{Code: r.Code, Codespace: r.Codespace, Log: r.Log}
		}
	}
	for _, u := range resp.ValidatorUpdates {
		var pub crypto.PubKey
		copy(pub[:], u.PubKey.GetEd25519())
		b.Valset = append(b.Valset, sm.ValidatorUpdate{PubKey: pub, Power: u.Power})
	}
	return b
}

func (d *appDriver) Check(t *testing.T, tx []byte) scenario.Result {
	r, err := d.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
	if err != nil {
		t.Fatal(err)
	}
	return scenario.Result{Code: r.Code, Codespace: r.Codespace, Log: r.Log}
}

func (d *appDriver) State() store.Reader {
	if s := d.app.Committed(); s != nil {
		return s
	}
	return d.tree
}
