package api

import (
	"context"
	"errors"
	"time"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/params"
)

// Backend is what the API needs from a node. The node implements it; tests
// may use a fake.
type Backend interface {
	Status(ctx context.Context) (*Status, error)
	// Submit hands a transaction to the mempool. With wait it returns once the
	// transaction is in a committed block (or ctx ends).
	Submit(ctx context.Context, tx []byte, wait bool) (*TxResult, error)
	// State returns committed state at height (0: latest).
	State(height int64) (*merkle.Snapshot, error)
	Params() *params.Registry
	Block(ctx context.Context, height int64) (*Block, error)
	Tx(ctx context.Context, hash []byte) (*TxResult, error)
	TxsBySigner(ctx context.Context, signer string, page, perPage int) ([]*TxResult, int, error)
	// BlockTime is the time of block height: the time at which the state of
	// that height is judged (consent expiry, emergency access).
	BlockTime(height int64) (time.Time, error)
}

// ErrNotFound is returned by a Backend for a missing block or transaction.
var ErrNotFound = errors.New("not found")

// Status is GET /v1/status.
type Status struct {
	ChainID         string    `json:"chain_id"`
	Height          int64     `json:"height"`
	AppHash         string    `json:"app_hash"`
	LatestBlockHash string    `json:"latest_block_hash"`
	LatestBlockTime time.Time `json:"latest_block_time"`
	CatchingUp      bool      `json:"catching_up"`
	NodeID          string    `json:"node_id"`
	Moniker         string    `json:"moniker"`
	Validator       string    `json:"validator_address"`
	VotingPower     int64     `json:"voting_power"`
	Peers           int       `json:"peers"`
	Version         string    `json:"version"`
}

// Event is a transaction event.
type Event struct {
	Type  string            `json:"type"`
	Attrs map[string]string `json:"attributes"`
}

// TxResult is a submitted or committed transaction.
type TxResult struct {
	Hash      string  `json:"hash"`
	Committed bool    `json:"committed"`
	Height    int64   `json:"height,omitempty"`
	Index     int     `json:"index,omitempty"`
	Code      uint32  `json:"code"`
	Codespace string  `json:"codespace,omitempty"`
	Log       string  `json:"log,omitempty"`
	Type      string  `json:"type,omitempty"`
	Signer    string  `json:"signer,omitempty"`
	Sequence  uint64  `json:"sequence"`
	Events    []Event `json:"events,omitempty"`
	// Redacted: the events and log of this patient-scoped transaction were
	// left out of a public answer (docs/api.md, Authentication).
	Redacted bool `json:"redacted,omitempty"`
}

// Block is GET /v1/blocks/{height}.
type Block struct {
	Height   int64      `json:"height"`
	Hash     string     `json:"hash"`
	Time     time.Time  `json:"time"`
	Proposer string     `json:"proposer"`
	AppHash  string     `json:"app_hash"` // state after the previous block
	NumTxs   int        `json:"num_txs"`
	Txs      []TxResult `json:"txs"`
}

// EventsFrom converts state-machine events.
func EventsFrom(evs []sm.Event) []Event {
	out := make([]Event, len(evs))
	for i, e := range evs {
		m := make(map[string]string, len(e.Attrs))
		for _, a := range e.Attrs {
			m[a.Key] = a.Value
		}
		out[i] = Event{Type: e.Type, Attrs: m}
	}
	return out
}
