package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	mempl "github.com/cometbft/cometbft/mempool"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/fhir"
	"github.com/medchain/medchain/internal/linkkey"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/fees"
)

var _ fhir.Chain = (*Node)(nil)

// fhirHandler builds the FHIR interface of a node with a gateway; nil
// without one (it needs the organization's key).
func (n *Node) fhirHandler() http.Handler {
	if n.gateway == nil {
		return nil
	}
	// The organization's patient-link key (x/links), when this home has
	// one: imports resolve Patient.identifier through the links.
	lk, err := linkkey.LoadIfExists(linkkey.Path(n.home))
	if err != nil {
		n.log.Error("patient-link key not loaded: linked identifiers and conditional FHIR interactions are refused", "err", err)
	}
	n.fhir = fhir.New(fhir.Config{
		Links:     lk,
		TokenFile: filepath.Join(config.DataDir(n.home), "fhir-tokens.bin"),
		Key:       n.gateway.Key, Chain: n, Blobs: n.gateway.Blobs, Auditor: n.auditor,
		MinFee: func(kv store.Reader) uint64 { return fees.Keeper{Params: n.app.Params()}.MaxMinFee(kv) },
		Peers:  n.cfg.Blobs.Peers, HTTP: n.peerHTTP,
		Log:        n.log.With("module", "fhir"),
		CommitWait: time.Duration(n.cfg.API.CommitWait),
	})
	return n.fhir
}

// Broadcast implements fhir.Chain: every transaction's commit is awaited
// from before it enters the mempool, so none can be missed.
func (n *Node) Broadcast(ctx context.Context, txs [][]byte) ([]fhir.TxOutcome, func(context.Context) ([]fhir.TxOutcome, error), error) {
	type waiter struct {
		ch     chan app.TxResult
		cancel func()
	}
	var waiters []waiter
	release := func() {
		for _, w := range waiters {
			w.cancel()
		}
	}
	var checked []fhir.TxOutcome
	mp := n.cmt.Mempool()
	for _, tx := range txs {
		h := sha256.Sum256(tx)
		ch, cancel := n.commits.wait(h)
		out := fhir.TxOutcome{Hash: h}
		resCh := make(chan *abci.ResponseCheckTx, 1)
		err := mp.CheckTx(tx, func(r *abci.ResponseCheckTx) { resCh <- r }, mempl.TxInfo{})
		if err != nil {
			cancel()
			var full mempl.ErrMempoolIsFull
			if errors.Is(err, mempl.ErrTxInCache) || errors.As(err, &full) {
				out.Code, out.Codespace, out.Log = 1, "mempool", err.Error()
				checked = append(checked, out)
				break
			}
			release()
			return nil, nil, fmt.Errorf("check tx: %w", err)
		}
		select {
		case r := <-resCh:
			out.Code, out.Codespace, out.Log = r.Code, r.Codespace, r.Log
		case <-ctx.Done():
			cancel()
			release()
			return nil, nil, ctx.Err()
		}
		checked = append(checked, out)
		if out.Code != abci.CodeTypeOK {
			cancel()
			break
		}
		waiters = append(waiters, waiter{ch, cancel})
	}
	wait := func(ctx context.Context) ([]fhir.TxOutcome, error) {
		defer release()
		out := make([]fhir.TxOutcome, 0, len(waiters))
		for i, w := range waiters {
			select {
			case r := <-w.ch:
				out = append(out, fhir.TxOutcome{Hash: r.Hash, Code: r.Code, Codespace: r.Codespace, Log: r.Log, Height: r.Height})
			case <-ctx.Done():
				return out, fmt.Errorf("transaction %d of %d not committed yet: %w", i+1, len(waiters), ctx.Err())
			}
		}
		return out, nil
	}
	return checked, wait, nil
}
