package lightproof

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/node"
	"github.com/medchain/medchain/internal/ports"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// network is two validators running in this process on 127.0.0.1.
type network struct {
	chainID  string
	accounts []devnet.AccountInfo
	api      [2]*client.Client
	rpc      [2]string // CometBFT RPC URLs
	homes    [2]string
}

// freePorts reserves n distinct free TCP ports on 127.0.0.1, below the
// ephemeral range.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ps, err := ports.Free(n)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func startNetwork(t *testing.T) *network {
	t.Helper()
	homes := []string{tempHome(t), tempHome(t)}
	base := config.Default()
	base.LogLevel = "error"
	base.Consensus.TimeoutCommit = config.Duration(100 * time.Millisecond)
	base.Consensus.TimeoutPropose = config.Duration(500 * time.Millisecond)
	res, err := devnet.Write(devnet.Options{
		ChainID: "lightproof-test", Validators: 2, Homes: homes, Base: base, Light: true,
		// Placeholder ports: the real ones, freshly reserved, are set below.
		P2PBase: 1, RPCBase: 2, APIBase: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 6) // per node: p2p, rpc, api
	p2p := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[3*i]) }
	nw := &network{chainID: res.ChainID, accounts: res.Accounts, homes: [2]string(homes)}
	lg := slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelError}))
	for i, home := range homes {
		cfg, err := config.Load(home)
		if err != nil {
			t.Fatal(err)
		}
		other := 1 - i
		cfg.P2P.Listen = p2p(i)
		cfg.P2P.PersistentPeers = res.NodeIDs[other] + "@" + p2p(other)
		cfg.RPC.Listen = fmt.Sprintf("127.0.0.1:%d", ports[3*i+1])
		cfg.API.Listen = fmt.Sprintf("127.0.0.1:%d", ports[3*i+2])
		n, err := node.New(home, cfg, lg)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := n.Stop(); err != nil {
				t.Errorf("stop node %d: %v", i, err)
			}
		})
		nw.api[i] = client.New("http://" + n.APIAddr())
		nw.rpc[i] = "http://" + cfg.RPC.Listen
	}
	return nw
}

// testWriter sends node logs (errors only) to the test log until the test
// ends: CometBFT's peer dialing may still log after its node has stopped.
type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func newTestWriter(t *testing.T) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() { // registered first, so it runs after the nodes stop
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(b)))
	}
	return len(b), nil
}

func (nw *network) account(t *testing.T, name string) crypto.Address {
	t.Helper()
	for _, a := range nw.accounts {
		if a.Name == name {
			return a.Address
		}
	}
	t.Fatalf("no development account %q", name)
	return crypto.Address{}
}

// A proof served by node0 is checked against headers that a light client
// verified from node1.
func TestVerifyWithLightClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-validator network")
	}
	nw := startNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := nw.api[0].WaitHeight(ctx, 2); err != nil {
		t.Fatal(err)
	}

	v, err := NewVerifier(ctx, nw.chainID, nw.rpc[1], TrustRoot{}, WithMaxWait(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if root, tofu := v.Root(); !tofu || root.Height != 1 || len(root.Hash) != 32 {
		t.Fatalf("root %+v, tofu %v: want trust on first use of header 1", root, tofu)
	}

	doctor := accounts.AccountKey(nw.account(t, "doctor1"))
	present, err := nw.api[0].Proof(ctx, doctor, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !present.Exists {
		t.Fatal("doctor1's account is missing")
	}
	stranger, err := crypto.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	missing := accounts.AccountKey(stranger.Address())
	absent, err := nw.api[0].Proof(ctx, missing, 0)
	if err != nil {
		t.Fatal(err)
	}
	if absent.Exists {
		t.Fatal("a fresh address has an account")
	}
	// Index keys are outside the Merkle tree: asking for their proof is a
	// client error, not a proof that could not verify.
	var ce *client.Error
	if _, err := nw.api[0].Proof(ctx, []byte{sm.PrefixRecordByPatient, 1, 2}, 0); !errors.As(err, &ce) || ce.Status != http.StatusBadRequest {
		t.Fatalf("proof of an index key: %v, want 400", err)
	}

	t.Run("membership", func(t *testing.T) {
		res, err := v.Verify(ctx, present, doctor, present.Value)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Exists || res.Height != present.Height || res.HeaderHeight != present.Height+1 ||
			res.Witness != nw.rpc[1] || len(res.AppHash) != 32 || len(res.HeaderHash) != 32 {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("non-membership", func(t *testing.T) {
		res, err := v.Verify(ctx, absent, missing, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Exists {
			t.Fatal("result says the key exists")
		}
	})
	t.Run("tampered proof bytes", func(t *testing.T) {
		p := *present
		p.Proof = bytes.Clone(p.Proof)
		p.Proof[len(p.Proof)-5] ^= 0x40
		if _, err := v.Verify(ctx, &p, doctor, nil); err == nil {
			t.Fatal("a tampered proof verifies")
		}
	})
	t.Run("altered value", func(t *testing.T) {
		p := *present
		p.Value = bytes.Clone(p.Value)
		p.Value[len(p.Value)-1] ^= 0x01 // the balance
		if _, err := v.Verify(ctx, &p, doctor, nil); !errors.Is(err, ErrNotProven) {
			t.Fatalf("want ErrNotProven, got %v", err)
		}
	})

	// The state changes in a later block: a patient registers.
	patient, err := crypto.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := nw.api[0].Send(ctx, patient, &accounts.MsgRegisterPatient{EncKey: patient.EncKey()})
	if err != nil {
		t.Fatal(err)
	}
	if tx.Height <= present.Height {
		t.Fatalf("registration in block %d, not after the proof's height %d", tx.Height, present.Height)
	}

	t.Run("proof claimed at another height", func(t *testing.T) {
		p := *present
		p.Height = tx.Height // built for an earlier state
		if _, err := v.Verify(ctx, &p, doctor, nil); !errors.Is(err, ErrNotProven) {
			t.Fatalf("want ErrNotProven, got %v", err)
		}
	})
	t.Run("absence claimed after the key appeared", func(t *testing.T) {
		key := accounts.AccountKey(patient.Address())
		before, err := nw.api[0].Proof(ctx, key, tx.Height-1)
		if err != nil {
			t.Fatal(err)
		}
		if before.Exists {
			t.Fatal("the patient exists before registering")
		}
		if _, err := v.Verify(ctx, before, key, nil); err != nil {
			t.Fatalf("absence at height %d: %v", before.Height, err)
		}
		before.Height = tx.Height
		if _, err := v.Verify(ctx, before, key, nil); !errors.Is(err, ErrNotProven) {
			t.Fatalf("want ErrNotProven, got %v", err)
		}
		after, err := nw.api[0].Proof(ctx, key, tx.Height)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, after, key, nil); err != nil || !after.Exists {
			t.Fatalf("membership after registering: exists %v, %v", after.Exists, err)
		}
	})
	t.Run("another key", func(t *testing.T) {
		if _, err := v.Verify(ctx, present, missing, nil); !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("want ErrKeyMismatch, got %v", err)
		}
	})
}

// An explicit root is honoured, and a wrong one is refused.
func TestVerifierTrustRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-validator network")
	}
	nw := startNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := nw.api[1].WaitHeight(ctx, 4); err != nil {
		t.Fatal(err)
	}
	var b api.Block
	if err := nw.api[1].Get(ctx, "/v1/blocks/3", &b); err != nil {
		t.Fatal(err)
	}
	hash, err := hex.DecodeString(b.Hash)
	if err != nil {
		t.Fatal(err)
	}

	wrong := bytes.Clone(hash)
	wrong[0] ^= 1
	if _, err := NewVerifier(ctx, nw.chainID, nw.rpc[1], TrustRoot{Height: 3, Hash: wrong}); err == nil {
		t.Fatal("a wrong root hash is accepted")
	}
	if _, err := NewVerifier(ctx, "other-chain", nw.rpc[1], TrustRoot{Height: 3, Hash: hash}); err == nil {
		t.Fatal("a witness of another chain is accepted")
	}
	if _, err := NewVerifier(ctx, nw.chainID, nw.rpc[1], TrustRoot{Height: 3}); err == nil {
		t.Fatal("a root without a hash is accepted")
	}
	if _, err := NewVerifier(ctx, nw.chainID, nw.rpc[1], TrustRoot{Height: 3, Hash: hash}, WithClock(func() time.Time {
		return time.Now().Add(DefaultTrustPeriod)
	})); !errors.Is(err, ErrRootExpired) {
		t.Fatalf("want ErrRootExpired for a root older than the trusting period, got %v", err)
	}

	v, err := NewVerifier(ctx, nw.chainID, nw.rpc[1], TrustRoot{Height: 3, Hash: hash})
	if err != nil {
		t.Fatal(err)
	}
	if root, tofu := v.Root(); tofu || root.Height != 3 {
		t.Fatalf("root %+v, tofu %v", root, tofu)
	}
	key := accounts.AccountKey(nw.account(t, "patient1"))
	// Header 2, before the root, is verified backwards by hashes; the
	// latest header forwards by signatures.
	for _, h := range []int64{0, 1} {
		p, err := nw.api[0].Proof(ctx, key, h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, p, key, nil); err != nil {
			t.Fatalf("proof at height %d: %v", p.Height, err)
		}
	}
}

// tempHome is t.TempDir for a node home, removed with retries: CometBFT may
// still write its address book for a moment after the node stopped, which
// makes t.TempDir's cleanup fail with "directory not empty".
func tempHome(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lightproof-node-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // registered before the node's Stop, so it runs after it
		var err error
		for i := 0; i < 20; i++ {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("remove %s: %v", dir, err)
	})
	return dir
}
