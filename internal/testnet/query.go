package testnet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/config"
)

// Poll calls fn every interval until it returns nil or ctx ends; then it
// returns fn's last error.
func Poll(ctx context.Context, interval time.Duration, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %v)", err, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// WaitHeight waits until every node reports a height of at least h.
func WaitHeight(ctx context.Context, h int64, nodes ...*Node) error {
	for _, n := range nodes {
		err := Poll(ctx, 100*time.Millisecond, func() error {
			got, err := n.Height(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
			if got < h {
				return fmt.Errorf("%s at height %d, waiting for %d", n.Name, got, h)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// MaxHeight is the highest height any of the nodes reports.
func MaxHeight(ctx context.Context, nodes ...*Node) (int64, error) {
	var top int64
	for _, n := range nodes {
		h, err := n.Height(ctx)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", n.Name, err)
		}
		top = max(top, h)
	}
	return top, nil
}

// SameBlocks checks that the nodes hold identical blocks (hash and app hash)
// at every height in [from, to].
func SameBlocks(ctx context.Context, from, to int64, nodes ...*Node) error {
	for h := from; h <= to; h++ {
		var want, wantApp, first string
		for _, n := range nodes {
			b, err := n.Block(ctx, h)
			if err != nil {
				return fmt.Errorf("%s block %d: %w", n.Name, h, err)
			}
			if want == "" {
				want, wantApp, first = b.Hash, b.AppHash, n.Name
				continue
			}
			if b.Hash != want || b.AppHash != wantApp {
				return fmt.Errorf("fork at height %d: %s has block %s (app hash %s), %s has %s (app hash %s)",
					h, first, want, wantApp, n.Name, b.Hash, b.AppHash)
			}
		}
	}
	return nil
}

// StateRoot is the root hash of the node's application state at height h,
// computed from the node's proof for key. Unlike a block header's app hash,
// which every node copies from the block, it shows what the node's own state
// is.
func (n *Node) StateRoot(ctx context.Context, h int64, key []byte) ([]byte, error) {
	p, err := n.api.Proof(ctx, key, h)
	if err != nil {
		return nil, fmt.Errorf("%s proof at %d: %w", n.Name, h, err)
	}
	if p.Height != h {
		return nil, fmt.Errorf("%s: asked for the state at %d, got %d", n.Name, h, p.Height)
	}
	var cp ics23.CommitmentProof
	if err := cp.Unmarshal(p.Proof); err != nil {
		return nil, fmt.Errorf("%s proof at %d: %w", n.Name, h, err)
	}
	root, err := cp.Calculate()
	if err != nil {
		return nil, fmt.Errorf("%s proof at %d: %w", n.Name, h, err)
	}
	return root, nil
}

// Commit is the commit of one block as CometBFT's RPC reports it.
type Commit struct {
	Height    int64
	Canonical bool // from the next block; otherwise the node's own latest
	// Signers are the addresses (upper-case hex) of the validators whose
	// precommit for the block is in the commit.
	Signers []string
	// Validators is the number of validators at that height.
	Validators int
}

// Signed reports whether the validator with address addr signed the commit.
func (c *Commit) Signed(addr string) bool {
	for _, s := range c.Signers {
		if strings.EqualFold(s, addr) {
			return true
		}
	}
	return false
}

// Commit fetches the commit of block h from the node's CometBFT RPC.
func (n *Node) Commit(ctx context.Context, h int64) (*Commit, error) {
	var res struct {
		SignedHeader struct {
			Commit struct {
				Height     string `json:"height"`
				Signatures []struct {
					Flag    int    `json:"block_id_flag"`
					Address string `json:"validator_address"`
				} `json:"signatures"`
			} `json:"commit"`
		} `json:"signed_header"`
		Canonical bool `json:"canonical"`
	}
	if err := n.rpcGet(ctx, "/commit?height="+strconv.FormatInt(h, 10), &res); err != nil {
		return nil, err
	}
	c := &Commit{Canonical: res.Canonical, Validators: len(res.SignedHeader.Commit.Signatures)}
	c.Height, _ = strconv.ParseInt(res.SignedHeader.Commit.Height, 10, 64)
	for _, s := range res.SignedHeader.Commit.Signatures {
		if s.Flag == blockIDFlagCommit {
			c.Signers = append(c.Signers, s.Address)
		}
	}
	return c, nil
}

// blockIDFlagCommit marks a precommit for the committed block.
const blockIDFlagCommit = 2

// rpcGet calls the node's CometBFT JSON-RPC over HTTP GET and decodes the
// result.
func (n *Node) rpcGet(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.RPC()+path, nil)
	if err != nil {
		return err
	}
	resp, err := n.api.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s rpc: %w", n.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
			Data    string `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s rpc %s: %w", n.Name, path, err)
	}
	if env.Error != nil {
		return fmt.Errorf("%s rpc %s: %s %s", n.Name, path, env.Error.Message, env.Error.Data)
	}
	return json.Unmarshal(env.Result, out)
}

// Validator is a node's consensus key, from its priv_validator_key.json.
type Validator struct {
	Address string // upper-case hex, as CometBFT shows it
	PubKey  crypto.PubKey
}

// ValidatorKey reads the node's consensus key from its home.
func (n *Node) ValidatorKey() (Validator, error) {
	b, err := os.ReadFile(config.PrivValKeyPath(n.Home))
	if err != nil {
		return Validator{}, err
	}
	var f struct {
		Address string `json:"address"`
		PubKey  struct {
			Value string `json:"value"`
		} `json:"pub_key"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return Validator{}, fmt.Errorf("%s: %w", config.PrivValKeyPath(n.Home), err)
	}
	raw, err := base64.StdEncoding.DecodeString(f.PubKey.Value)
	if err != nil || len(raw) != len(crypto.PubKey{}) {
		return Validator{}, fmt.Errorf("%s: pub_key.value is not base64 of %d bytes", config.PrivValKeyPath(n.Home), len(crypto.PubKey{}))
	}
	v := Validator{Address: strings.ToUpper(f.Address)}
	copy(v.PubKey[:], raw)
	return v, nil
}

// RoundState summarizes where the node's consensus stands, from CometBFT's
// /consensus_state: height/round/step, the proposal it holds, and for each
// round the prevotes and precommits it has. It returns the error's text if
// the node does not answer.
func (n *Node) RoundState(ctx context.Context) string {
	var out struct {
		RoundState struct {
			HRS           string `json:"height/round/step"`
			ProposalBlock string `json:"proposal_block_hash"`
			LockedBlock   string `json:"locked_block_hash"`
			ValidBlock    string `json:"valid_block_hash"`
			HeightVoteSet []struct {
				Round      int    `json:"round"`
				Prevotes   string `json:"prevotes_bit_array"`
				Precommits string `json:"precommits_bit_array"`
			} `json:"height_vote_set"`
		} `json:"round_state"`
	}
	if err := n.rpcGet(ctx, "/consensus_state", &out); err != nil {
		return err.Error()
	}
	rs := out.RoundState
	short := func(h string) string {
		if len(h) > 8 {
			return h[:8]
		}
		if h == "" {
			return "-"
		}
		return h
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s proposal=%s locked=%s valid=%s", rs.HRS, short(rs.ProposalBlock), short(rs.LockedBlock), short(rs.ValidBlock))
	for _, v := range rs.HeightVoteSet {
		if v.Prevotes == "" && v.Precommits == "" {
			continue
		}
		fmt.Fprintf(&b, "; round %d prevotes %s precommits %s", v.Round, v.Prevotes, v.Precommits)
	}
	return b.String()
}
