package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/testnet"
	"github.com/medchain/medchain/x/accounts"
)

func TestMain(m *testing.M) { testnet.Main(m) }

// needNetwork skips tests that start real networks under -short.
func needNetwork(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real node processes; skipped with -short")
	}
}

// within returns a context that ends after d or with the test.
func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// registerPatient registers a new patient with a fresh key through c and
// waits for its block. It is safe to call from any goroutine.
func registerPatient(ctx context.Context, c *client.Client) (*crypto.PrivKey, *api.TxResult, error) {
	key, err := crypto.GenerateKey(nil)
	if err != nil {
		return nil, nil, err
	}
	res, err := c.Send(ctx, key, &accounts.MsgRegisterPatient{EncKey: key.EncKey()})
	if err != nil {
		return key, res, err
	}
	return key, res, committedOK(res)
}

// committedOK checks that a submit result is a successful commit.
func committedOK(res *api.TxResult) error {
	switch {
	case res == nil:
		return errors.New("no result")
	case !res.Committed || res.Height < 1:
		return fmt.Errorf("transaction %s not reported committed", res.Hash)
	case res.Code != 0:
		return fmt.Errorf("transaction %s failed: %s", res.Hash, res.Log)
	}
	return nil
}

// mustRegister registers a patient through node n or fails the test.
func mustRegister(t *testing.T, ctx context.Context, n *testnet.Node) (*crypto.PrivKey, *api.TxResult) {
	t.Helper()
	key, res, err := registerPatient(ctx, n.Client())
	if err != nil {
		t.Fatalf("register a patient through %s: %v", n.Name, err)
	}
	return key, res
}

// checkTxOn checks that node n knows the committed transaction res with the
// height and code the API reported when it committed.
func checkTxOn(ctx context.Context, n *testnet.Node, res *api.TxResult) error {
	var got api.TxResult
	if err := n.Client().Get(ctx, "/v1/txs/"+res.Hash, &got); err != nil {
		return fmt.Errorf("%s: GET /v1/txs/%s: %w", n.Name, res.Hash, err)
	}
	if !strings.EqualFold(got.Hash, res.Hash) || got.Height != res.Height || got.Code != 0 {
		return fmt.Errorf("%s: transaction %s is at height %d with code %d; at commit the API reported height %d code %d",
			n.Name, res.Hash, got.Height, got.Code, res.Height, res.Code)
	}
	return nil
}

// checkPatientOn checks that node n shows addr as a patient account.
func checkPatientOn(ctx context.Context, n *testnet.Node, addr crypto.Address) error {
	a, err := n.Client().Account(ctx, addr)
	if err != nil {
		return fmt.Errorf("%s: account %s: %w", n.Name, addr, err)
	}
	if a.Kind != "patient" || a.Address != addr.String() {
		return fmt.Errorf("%s: account %s is %q, want a patient", n.Name, addr, a.Kind)
	}
	return nil
}
