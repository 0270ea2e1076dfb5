// Package client is a Go client of medchain's HTTP API: it reads state and
// builds, signs and submits transactions. The CLI and tests use it.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/internal/txbatch"
	"github.com/medchain/medchain/sm"
)

// Client talks to one node's API.
type Client struct {
	Base string // e.g. http://127.0.0.1:8080
	HTTP *http.Client
	// Key, when set, signs every GET (internal/reqsig): reads of patient
	// data (records, consents, the audit trail, emergencies) need it.
	Key *crypto.PrivKey
	// ChainID is the chain the signatures are for; empty: asked of the node
	// (GET /v1/status) at the first signed read.
	ChainID string
}

// As returns a copy of c that signs its reads with key for chainID (empty:
// asked of the node).
func (c *Client) As(key *crypto.PrivKey, chainID string) *Client {
	cp := *c
	cp.Key, cp.ChainID = key, chainID
	return &cp
}

// New returns a client for the API at base.
func New(base string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: 90 * time.Second}}
}

// Error is an error response of the API.
type Error struct {
	Status int
	// RetryAfter is the wait a 429 or 503 answer asked for (Retry-After).
	RetryAfter time.Duration
	api.ErrorBody
}

func (e *Error) Error() string {
	if e.Codespace == "" {
		return e.Message
	}
	return fmt.Sprintf("%s (code %d/%s, HTTP %d)", e.Message, e.Code, e.Codespace, e.Status)
}

// TxError is a transaction that was rejected or failed.
type TxError struct{ Result *api.TxResult }

func (e *TxError) Error() string {
	r := e.Result
	stage := "rejected"
	if r.Committed {
		stage = fmt.Sprintf("failed in block %d", r.Height)
	}
	return fmt.Sprintf("transaction %s: %s (code %d/%s)", stage, r.Log, r.Code, r.Codespace)
}

// Get decodes the JSON at path into out.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
		if err != nil {
			return err
		}
		if c.Key != nil {
			if c.ChainID == "" {
				st, err := c.Status(ctx)
				if err != nil {
					return err
				}
				c.ChainID = st.ChainID
			}
			if err := reqsig.Sign(req, c.Key, c.ChainID, time.Now(), requestTTL, nil); err != nil {
				return err
			}
		}
		err = c.do(req, out)
		// A read refused by the node's rate limit (HTTP 429) is tried
		// again after the wait the node asks for: a client reading many
		// records (a session over hundreds of them) paces itself instead
		// of failing. Reads only; a few times, each wait at most 10 s.
		var e *Error
		if attempt >= maxRateRetries || !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
			return err
		}
		wait := min(max(e.RetryAfter, 100*time.Millisecond), 10*time.Second)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// maxRateRetries is how many times Get retries a read refused with 429.
const maxRateRetries = 8

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("node %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return c.errorOf(resp, body)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return c.notMedchain(resp, body)
	}
	return nil
}

// errorOf turns an error response into an *Error: the API's JSON error body,
// or, when the body is not JSON, an error saying that the server does not
// answer as a medchain node does.
func (c *Client) errorOf(resp *http.Response, body []byte) error {
	e := &Error{Status: resp.StatusCode}
	if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs >= 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	if json.Unmarshal(body, &e.ErrorBody) == nil && e.Message != "" {
		return e
	}
	if !json.Valid(body) {
		return c.notMedchain(resp, body)
	}
	// JSON that is not an error body (a 410's record metadata): passed on
	// as it came, for the caller to decode.
	e.Message = string(bytes.TrimSpace(body))
	return e
}

// notMedchain is the error for an answer that is not medchain's API JSON:
// the server at Base is probably not a medchain node (or --node has a wrong
// path or port). It quotes the start of the body, as text.
func (c *Client) notMedchain(resp *http.Response, body []byte) error {
	snippet := strings.Join(strings.Fields(string(body)), " ")
	if len(snippet) > 120 {
		snippet = snippet[:120] + "…"
	}
	if snippet == "" {
		snippet = "an empty body"
	} else {
		snippet = fmt.Sprintf("%q", snippet)
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "no content type"
	}
	return &Error{Status: resp.StatusCode, ErrorBody: api.ErrorBody{Message: fmt.Sprintf(
		"%s %s does not answer as a medchain node's API (HTTP %d, %s, %s): check --node (e.g. http://127.0.0.1:8080)",
		resp.Request.Method, resp.Request.URL.Redacted(), resp.StatusCode, ct, snippet)}}
}

// Status returns the node status (never signed: it is public, and it is
// where a signing client learns the chain id).
func (c *Client) Status(ctx context.Context) (*api.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	var s api.Status
	return &s, c.do(req, &s)
}

// Account returns an account, or an *Error with status 404.
func (c *Client) Account(ctx context.Context, addr crypto.Address) (*api.AccountView, error) {
	var a api.AccountView
	return &a, c.Get(ctx, "/v1/accounts/"+addr.String(), &a)
}

// IsNotFound reports whether err is an API 404: a medchain error body, not
// the 404 page of a server that is not a medchain node.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound && e.Codespace != ""
}

// IsForbidden reports whether err is the node's refusal of a signed request
// whose signer has no grounds for it (HTTP 403 with an error code).
func IsForbidden(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusForbidden && e.Codespace != ""
}

// Sequence returns the sequence the account's next transaction must carry
// (0 for an address without an account), counting its transactions still
// waiting in the node's mempool: a command sent while an earlier one of the
// same account is pending takes the sequence after it.
func (c *Client) Sequence(ctx context.Context, addr crypto.Address) (uint64, error) {
	a, err := c.Account(ctx, addr)
	if IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return max(a.Sequence, a.NextSequence), nil
}

// IsSequenceRace reports whether err is a transaction refused before any
// block for a wrong sequence (tx/6): another transaction of the same key
// took the sequence first.
func IsSequenceRace(err error) bool {
	var te *TxError
	return errors.As(err, &te) && !te.Result.Committed &&
		te.Result.Codespace == sm.Codespace && te.Result.Code == sm.ErrBadSequence.Code
}

// isDuplicate reports whether err is the node's api/6: these very bytes
// were submitted already. For a transaction signed just now that means
// another command signed the same message with the same sequence (Ed25519
// signatures are deterministic): the same race as tx/6.
func isDuplicate(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Codespace == api.Codespace && e.Code == api.ErrDuplicate.Code
}

// SubmitSigned signs msg with s's next sequence and submits it, waiting for
// its block with wait. When the node refuses it for a wrong sequence, or as
// a duplicate (another transaction of the same key, sent meanwhile from
// elsewhere, took the sequence), it asks the node for the next sequence
// again and retries once.
func (c *Client) SubmitSigned(ctx context.Context, s *Signer, msg sm.Msg, wait bool) (*api.TxResult, error) {
	res, err := c.SubmitRaw(ctx, s.Sign(msg), wait)
	if !IsSequenceRace(err) && !isDuplicate(err) {
		return res, err
	}
	seq, serr := c.Sequence(ctx, s.Key.Address())
	if serr != nil {
		return res, err
	}
	s.Seq = seq
	return c.SubmitRaw(ctx, s.Sign(msg), wait)
}

// SubmitRaw posts an encoded transaction. With wait it returns the committed
// result. A rejected or failed transaction returns a *TxError with the result.
func (c *Client) SubmitRaw(ctx context.Context, tx []byte, wait bool) (*api.TxResult, error) {
	u := c.Base + "/v1/txs"
	if !wait {
		u += "?wait=false"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(tx))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	var res api.TxResult
	if json.Unmarshal(body, &res) != nil || res.Hash == "" {
		return nil, c.errorOf(resp, body)
	}
	if res.Code != 0 {
		return &res, &TxError{Result: &res}
	}
	return &res, nil
}

// SubmitBatch posts transactions in one POST /v1/txs/batch body and returns
// the node's answer for each, in order. It does not wait for commits.
func (c *Client) SubmitBatch(ctx context.Context, txs [][]byte) (*api.BatchResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/v1/txs/batch", bytes.NewReader(txbatch.Encode(txs)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	var res api.BatchResult
	if err := c.do(req, &res); err != nil {
		return nil, err
	}
	if len(res.Results) != len(txs) {
		return nil, fmt.Errorf("node %s answered %d results for %d transactions", c.Base, len(res.Results), len(txs))
	}
	return &res, nil
}

// Signer signs transactions for one key, tracking its sequence.
type Signer struct {
	Key     *crypto.PrivKey
	ChainID string
	Seq     uint64
	Fee     uint64
	// FeePayer, when set, pays the fee under a fee allowance (x/fees).
	FeePayer crypto.Address
}

// NewSigner fetches the chain id and the key's sequence from the node.
func (c *Client) NewSigner(ctx context.Context, key *crypto.PrivKey) (*Signer, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	seq, err := c.Sequence(ctx, key.Address())
	if err != nil {
		return nil, err
	}
	return &Signer{Key: key, ChainID: st.ChainID, Seq: seq}, nil
}

// Sign encodes and signs msg with the next sequence and advances it.
func (s *Signer) Sign(msg sm.Msg) []byte {
	tx := sm.SignTxPaidBy(s.Key, s.ChainID, s.Seq, s.Fee, s.FeePayer, msg)
	s.Seq++
	return tx
}

// Send signs msg with key at its next sequence, submits it and waits for
// its block (retrying a sequence race once).
func (c *Client) Send(ctx context.Context, key *crypto.PrivKey, msg sm.Msg) (*api.TxResult, error) {
	s, err := c.NewSigner(ctx, key)
	if err != nil {
		return nil, err
	}
	return c.SubmitSigned(ctx, s, msg, true)
}

// Proof fetches a proof for a raw state key at height (0: latest).
func (c *Client) Proof(ctx context.Context, key []byte, height int64) (*api.Proof, error) {
	q := url.Values{"key": {hex.EncodeToString(key)}}
	if height > 0 {
		q.Set("height", fmt.Sprint(height))
	}
	var p api.Proof
	return &p, c.Get(ctx, "/v1/proof?"+q.Encode(), &p)
}

// WaitHeight waits until the node reports a height of at least h.
func (c *Client) WaitHeight(ctx context.Context, h int64) (*api.Status, error) {
	for {
		st, err := c.Status(ctx)
		if err == nil && st.Height >= h {
			return st, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("waiting for height %d: %w", h, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
