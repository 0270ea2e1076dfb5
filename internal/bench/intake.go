package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/txbatch"
)

// NewHTTPClient returns a keep-alive client sized for conns concurrent
// requests per node.
func NewHTTPClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: conns + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// laneNode spreads lanes over nodes: a lane (and so each account) always
// uses the same node, so one signer's transactions stay in order.
func laneNode(nodes []string, lane int) string { return nodes[lane%len(nodes)] }

// HTTPIntake posts one transaction per request to POST /v1/txs?wait=false.
type HTTPIntake struct {
	Nodes  []string // API base URLs
	Client *http.Client
}

func (h *HTTPIntake) Name() string  { return "http" }
func (h *HTTPIntake) MaxBatch() int { return 1 }

func (h *HTTPIntake) Submit(ctx context.Context, lane int, txs []*Tx) ([]Outcome, error) {
	out := make([]Outcome, len(txs))
	for i, tx := range txs {
		o, err := h.one(ctx, laneNode(h.Nodes, lane), tx.Raw)
		if err != nil {
			return nil, err
		}
		out[i] = o
	}
	return out, nil
}

func (h *HTTPIntake) one(ctx context.Context, node string, raw []byte) (Outcome, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, node+"/v1/txs?wait=false", bytes.NewReader(raw))
	if err != nil {
		return Outcome{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := h.Client.Do(req)
	if err != nil {
		return Outcome{}, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted:
		_, _ = io.Copy(io.Discard, resp.Body)
		return Outcome{}, nil
	case http.StatusConflict:
		_, _ = io.Copy(io.Discard, resp.Body)
		return Outcome{Dup: true}, nil
	case http.StatusServiceUnavailable:
		_, _ = io.Copy(io.Discard, resp.Body)
		return Outcome{Busy: true}, nil
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return Outcome{}, err
		}
		var r struct {
			Hash      string `json:"hash"`
			Code      uint32 `json:"code"`
			Codespace string `json:"codespace"`
			Log       string `json:"log"`
			Message   string `json:"message"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Code == 0 {
			return Outcome{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		}
		if r.Log == "" {
			r.Log = r.Message
		}
		return Outcome{Code: r.Code, Codespace: r.Codespace, Log: r.Log}, nil
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return Outcome{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
}

// BatchIntake posts many transactions per request to POST /v1/txs/batch.
type BatchIntake struct {
	Nodes  []string
	Client *http.Client
}

func (b *BatchIntake) Name() string  { return "batch" }
func (b *BatchIntake) MaxBatch() int { return txbatch.MaxTxs }

func (b *BatchIntake) Submit(ctx context.Context, lane int, txs []*Tx) ([]Outcome, error) {
	body := make([]byte, 0, 64*1024)
	for _, tx := range txs {
		body = txbatch.Append(body, tx.Raw)
	}
	node := laneNode(b.Nodes, lane)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, node+"/v1/txs/batch", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := b.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%s has no POST /v1/txs/batch (route not registered?): %s", node, strings.TrimSpace(string(raw)))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("batch: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	var res api.BatchResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("batch response: %w", err)
	}
	if len(res.Results) != len(txs) {
		return nil, fmt.Errorf("batch response: %d results for %d txs", len(res.Results), len(txs))
	}
	return BatchOutcomes(res.Results), nil
}

// BatchOutcomes converts the node's batch answer.
func BatchOutcomes(items []api.BatchItem) []Outcome {
	out := make([]Outcome, len(items))
	for i, it := range items {
		switch {
		case it.IsBusy():
			out[i].Busy = true
		case it.Codespace == api.Codespace && it.Code == api.ErrDuplicate.Code:
			out[i].Dup = true
		default:
			out[i] = Outcome{Code: it.Code, Codespace: it.Codespace, Log: it.Log}
		}
	}
	return out
}

// FuncIntake submits through a function in this process (a node's
// SubmitBatch): no HTTP, no encoding.
type FuncIntake struct {
	Label string
	Max   int
	Fn    func(ctx context.Context, txs [][]byte) ([]api.BatchItem, error)
}

func (f *FuncIntake) Name() string  { return f.Label }
func (f *FuncIntake) MaxBatch() int { return f.Max }

func (f *FuncIntake) Submit(ctx context.Context, _ int, txs []*Tx) ([]Outcome, error) {
	raws := make([][]byte, len(txs))
	for i, tx := range txs {
		raws[i] = tx.Raw
	}
	items, err := f.Fn(ctx, raws)
	if err != nil {
		return nil, err
	}
	return BatchOutcomes(items), nil
}

// RPCIntake sends one transaction per request through CometBFT's JSON-RPC
// broadcast_tx_async, as CometBFT's clients do.
type RPCIntake struct {
	Nodes  []string // CometBFT RPC base URLs
	Client *http.Client
}

func (r *RPCIntake) Name() string  { return "jsonrpc-broadcast_tx_async" }
func (r *RPCIntake) MaxBatch() int { return 1 }

func (r *RPCIntake) Submit(ctx context.Context, lane int, txs []*Tx) ([]Outcome, error) {
	out := make([]Outcome, len(txs))
	for i, tx := range txs {
		o, err := r.one(ctx, laneNode(r.Nodes, lane), tx.Raw)
		if err != nil {
			return nil, err
		}
		out[i] = o
	}
	return out, nil
}

func (r *RPCIntake) one(ctx context.Context, node string, raw []byte) (Outcome, error) {
	body := make([]byte, 0, 96+base64.StdEncoding.EncodedLen(len(raw)))
	body = append(body, `{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_async","params":{"tx":"`...)
	body = base64.StdEncoding.AppendEncode(body, raw)
	body = append(body, `"}}`...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, node, bytes.NewReader(body))
	if err != nil {
		return Outcome{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.Client.Do(req)
	if err != nil {
		return Outcome{}, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Outcome{}, err
	}
	var res struct {
		Result *struct {
			Code      uint32 `json:"code"`
			Codespace string `json:"codespace"`
			Log       string `json:"log"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
			Data    string `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rb, &res); err != nil {
		return Outcome{}, fmt.Errorf("rpc HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(rb)))
	}
	switch {
	case res.Error != nil && strings.Contains(res.Error.Data, "mempool is full"):
		return Outcome{Busy: true}, nil
	case res.Error != nil && strings.Contains(res.Error.Data, "already exists in cache"):
		return Outcome{Dup: true}, nil
	case res.Error != nil:
		return Outcome{Code: 1, Codespace: "rpc", Log: res.Error.Message + ": " + res.Error.Data}, nil
	case res.Result == nil:
		return Outcome{}, fmt.Errorf("rpc: no result: %s", strings.TrimSpace(string(rb)))
	}
	return Outcome{Code: res.Result.Code, Codespace: res.Result.Codespace, Log: res.Result.Log}, nil
}

// MetricsMempool reads the number of transactions in a node's mempool from
// its /metrics: medchain_mempool_txs, else (kvstore) cometbft_mempool_size.
func MetricsMempool(base string, c *http.Client) func(ctx context.Context) (int, bool) {
	return func(ctx context.Context) (int, bool) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
		if err != nil {
			return 0, false
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		if err != nil {
			return 0, false
		}
		if n, ok := parseGauge(string(b), "medchain_mempool_txs"); ok {
			return n, true // counts each transaction of a bundle
		}
		return parseGauge(string(b), "cometbft_mempool_size")
	}
}

// parseGauge finds an unlabelled-or-labelled gauge in Prometheus text.
func parseGauge(text, name string) (int, bool) {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			return int(v), true
		}
	}
	return 0, false
}
