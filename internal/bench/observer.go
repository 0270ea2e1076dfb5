package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// pollInterval is how often an observer asks for a block that is not there
// yet; it bounds the error of measured latencies.
const pollInterval = 20 * time.Millisecond

// follow polls the application's committed height and fetches each new
// block once the application has committed it (so its results exist). A
// block's Seen time is when the poll that first showed it committed
// started: it was not committed one poll before.
func follow(ctx context.Context, from int64, out chan<- *Block,
	committed func(ctx context.Context) (int64, error), fetch func(ctx context.Context, h int64) (*Block, error)) error {
	failures := 0
	retry := func(err error) error {
		failures++
		if failures > 100 {
			return err
		}
		return nil
	}
	for h := from; ; {
		start := time.Now()
		top, err := committed(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if err := retry(fmt.Errorf("committed height: %w", err)); err != nil {
				return err
			}
		}
		for ; err == nil && h <= top; h++ {
			b, ferr := fetch(ctx, h)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if ferr != nil {
				if err := retry(fmt.Errorf("block %d: %w", h, ferr)); err != nil {
					return err
				}
				break
			}
			failures = 0
			b.Seen = start
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		select {
		case <-time.After(pollInterval - time.Since(start)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func getJSON(ctx context.Context, c *http.Client, url string, out any) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, fmt.Errorf("GET %s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}

// APIObserver follows blocks through medchain's API: the height of the
// application's committed state from GET /v1/validators (small, and read
// without taking the application's lock), then each new block from GET
// /v1/blocks/{height}. CometBFT stores a block before executing it, so
// neither /v1/status nor the block itself tells that it is committed.
type APIObserver struct {
	Base   string
	Client *http.Client
}

// Height is the application's committed height.
func (o *APIObserver) Height(ctx context.Context) (int64, error) {
	var st struct {
		Height int64 `json:"height"`
	}
	status, err := getJSON(ctx, o.Client, o.Base+"/v1/validators", &st)
	if status == http.StatusNotFound {
		return 0, nil // nothing committed yet
	}
	return st.Height, err
}

func (o *APIObserver) Follow(ctx context.Context, from int64, out chan<- *Block) error {
	return follow(ctx, from, out, o.Height, o.block)
}

type apiBlock struct {
	Height int64     `json:"height"`
	Time   time.Time `json:"time"`
	Txs    []struct {
		Hash      string `json:"hash"`
		Committed bool   `json:"committed"`
		Code      uint32 `json:"code"`
		Codespace string `json:"codespace"`
		Log       string `json:"log"`
		Events    []struct {
			Type  string            `json:"type"`
			Attrs map[string]string `json:"attributes"`
		} `json:"events"`
	} `json:"txs"`
}

func (o *APIObserver) block(ctx context.Context, h int64) (*Block, error) {
	var ab apiBlock
	if _, err := getJSON(ctx, o.Client, o.Base+"/v1/blocks/"+strconv.FormatInt(h, 10), &ab); err != nil {
		return nil, err
	}
	b := &Block{Height: ab.Height, Time: ab.Time, Txs: make([]BlockTx, len(ab.Txs))}
	for i, t := range ab.Txs {
		if !t.Committed {
			return nil, fmt.Errorf("block %d: committed, but its results are missing", h)
		}
		bt := &b.Txs[i]
		if _, err := hex.Decode(bt.Hash[:], []byte(t.Hash)); err != nil || len(t.Hash) != 64 {
			return nil, fmt.Errorf("block %d: tx hash %q", h, t.Hash)
		}
		bt.Code, bt.Codespace, bt.Log = t.Code, t.Codespace, t.Log
		for _, e := range t.Events {
			bt.Events = append(bt.Events, Event{Type: e.Type, Attrs: e.Attrs})
		}
	}
	return b, nil
}

// RPCObserver follows blocks through CometBFT's JSON-RPC: the
// application's committed height from /abci_info, then /block and
// /block_results of each new block.
type RPCObserver struct {
	Base   string // e.g. http://127.0.0.1:26657
	Client *http.Client
	Events bool // decode the transactions' events (medchain's grants need them)
}

// Height is the application's committed height.
func (o *RPCObserver) Height(ctx context.Context) (int64, error) {
	var st struct {
		Result struct {
			Response struct {
				Height string `json:"last_block_height"`
			} `json:"response"`
		} `json:"result"`
	}
	if _, err := getJSON(ctx, o.Client, o.Base+"/abci_info", &st); err != nil {
		return 0, err
	}
	if st.Result.Response.Height == "" {
		return 0, nil
	}
	return strconv.ParseInt(st.Result.Response.Height, 10, 64)
}

func (o *RPCObserver) Follow(ctx context.Context, from int64, out chan<- *Block) error {
	return follow(ctx, from, out, o.Height, o.block)
}

type rpcError struct {
	Message string `json:"message"`
	Data    string `json:"data"`
}

func (e *rpcError) Error() string { return e.Message + ": " + e.Data }

func (o *RPCObserver) block(ctx context.Context, h int64) (*Block, error) {
	hs := strconv.FormatInt(h, 10)
	var blk struct {
		Result *struct {
			Block struct {
				Header struct {
					Time time.Time `json:"time"`
				} `json:"header"`
				Data struct {
					Txs []string `json:"txs"`
				} `json:"data"`
			} `json:"block"`
		} `json:"result"`
		Error *rpcError `json:"error"`
	}
	if _, err := getJSON(ctx, o.Client, o.Base+"/block?height="+hs, &blk); err != nil {
		return nil, err
	}
	if blk.Error != nil || blk.Result == nil {
		return nil, fmt.Errorf("block: %v", blk.Error)
	}
	var br struct {
		Result *struct {
			TxsResults []struct {
				Code      uint32 `json:"code"`
				Codespace string `json:"codespace"`
				Log       string `json:"log"`
				Events    []struct {
					Type  string `json:"type"`
					Attrs []struct {
						Key   string `json:"key"`
						Value string `json:"value"`
					} `json:"attributes"`
				} `json:"events"`
			} `json:"txs_results"`
		} `json:"result"`
		Error *rpcError `json:"error"`
	}
	if _, err := getJSON(ctx, o.Client, o.Base+"/block_results?height="+hs, &br); err != nil {
		return nil, err
	}
	if br.Error != nil || br.Result == nil {
		return nil, fmt.Errorf("block_results: %v", br.Error)
	}
	txs := blk.Result.Block.Data.Txs
	if len(br.Result.TxsResults) != len(txs) {
		return nil, fmt.Errorf("block %d: %d txs, %d results", h, len(txs), len(br.Result.TxsResults))
	}
	b := &Block{Height: h, Time: blk.Result.Block.Header.Time, Txs: make([]BlockTx, len(txs))}
	for i, t := range txs {
		raw, err := base64.StdEncoding.DecodeString(t)
		if err != nil {
			return nil, fmt.Errorf("block %d tx %d: %w", h, i, err)
		}
		b.NumBytes += len(raw)
		r := br.Result.TxsResults[i]
		bt := BlockTx{Hash: sha256.Sum256(raw), Code: r.Code, Codespace: r.Codespace, Log: r.Log}
		for _, e := range r.Events {
			if !o.Events {
				break
			}
			ev := Event{Type: e.Type, Attrs: make(map[string]string, len(e.Attrs))}
			for _, a := range e.Attrs {
				ev.Attrs[a.Key] = a.Value
			}
			bt.Events = append(bt.Events, ev)
		}
		b.Txs[i] = bt
	}
	return b, nil
}
