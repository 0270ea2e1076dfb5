package api

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/medchain/medchain/internal/txbatch"
	"github.com/medchain/medchain/sm"
)

// MaxBatchBodyBytes bounds the body of POST /v1/txs/batch.
const MaxBatchBodyBytes = txbatch.MaxBodyBytes

// BatchSubmitter is implemented by a Backend that accepts many transactions
// in one call (the node). Without it, POST /v1/txs/batch answers 501.
type BatchSubmitter interface {
	// SubmitBatch hands the transactions to the mempool in order, without
	// waiting for a block, and returns one result per transaction. Once the
	// mempool is full, that transaction and every later one get ErrBusy's
	// code and are not submitted: the client sends them again, in order.
	SubmitBatch(ctx context.Context, txs [][]byte) ([]BatchItem, error)
}

// BatchItem is the outcome of one transaction of a batch: code 0 means the
// mempool accepted it. Codespace "api" marks the node's own refusals:
// ErrBusy (not submitted, send again) and ErrDuplicate (already submitted).
type BatchItem struct {
	Hash      string `json:"hash"`
	Code      uint32 `json:"code"`
	Codespace string `json:"codespace,omitempty"`
	Log       string `json:"log,omitempty"`
}

// BatchResult is the response of POST /v1/txs/batch.
type BatchResult struct {
	Accepted int         `json:"accepted"`
	Rejected int         `json:"rejected"` // by CheckTx, or duplicates
	Busy     int         `json:"busy"`     // not submitted: the mempool was full
	Results  []BatchItem `json:"results"`  // in request order
}

// IsBusy reports whether a batch item was not submitted because the mempool
// was full.
func (it BatchItem) IsBusy() bool { return it.Codespace == Codespace && it.Code == ErrBusy.Code }

// submitBatch serves POST /v1/txs/batch: a txbatch body (transactions, each
// preceded by its uvarint length) enters the mempool in order through
// CheckTx; the response lists each transaction's outcome. It never waits for
// a block: clients follow commits through GET /v1/blocks/{height}.
func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request) {
	bs, ok := s.b.(BatchSubmitter)
	if !ok {
		writeErr(w, http.StatusNotImplemented, sm.Wrapf(ErrUnavail, "this node does not accept batches"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeErr(w, http.StatusRequestEntityTooLarge, sm.Wrapf(ErrTooLarge, "limit %d bytes", mbe.Limit))
			return
		}
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "read body: %v", err))
		return
	}
	txs, err := txbatch.Decode(body, sm.MaxTxBytes)
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	items, err := bs.SubmitBatch(r.Context(), txs)
	if err != nil {
		s.txs.WithLabelValues("error").Add(float64(len(txs)))
		backendErr(w, err)
		return
	}
	res := BatchResult{Results: items}
	for _, it := range items {
		switch {
		case it.Code == 0:
			res.Accepted++
		case it.IsBusy():
			res.Busy++
		default:
			res.Rejected++
		}
	}
	s.txs.WithLabelValues("accepted").Add(float64(res.Accepted))
	s.txs.WithLabelValues("rejected").Add(float64(res.Rejected))
	s.txs.WithLabelValues("busy").Add(float64(res.Busy))
	writeJSON(w, http.StatusOK, res)
}
