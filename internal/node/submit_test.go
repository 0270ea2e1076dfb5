package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/ports"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// startOne starts a single-validator node in this process, with a mempool
// of mempoolSize transactions.
func startOne(t *testing.T, mempoolSize int) *Node {
	t.Helper()
	home := filepath.Join(t.TempDir(), "node")
	base := config.Default()
	base.LogLevel = "error"
	base.Consensus.TimeoutCommit = config.Duration(50 * time.Millisecond)
	base.Consensus.TimeoutPropose = config.Duration(500 * time.Millisecond)
	if _, err := devnet.Write(devnet.Options{ChainID: "submit-test", Validators: 1, Homes: []string{home}, Base: base, Light: true,
		P2PBase: 1, RPCBase: 2, APIBase: 3}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := ports.Addrs(3)
	if err != nil {
		t.Fatal(err)
	}
	cfg.P2P.Listen, cfg.RPC.Listen, cfg.API.Listen = addrs[0], addrs[1], addrs[2]
	cfg.Mempool.Size = mempoolSize
	n, err := New(home, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return n
}

// register is a self-registration of a new patient: valid on any chain
// state, from an account that does not exist yet.
func register(name string) []byte {
	s := sha256.Sum256([]byte("submit-test/sign/" + name))
	e := sha256.Sum256([]byte("submit-test/enc/" + name))
	k, err := crypto.KeyFromSeeds(s[:], e[:])
	if err != nil {
		panic(err)
	}
	return sm.SignTx(k, "submit-test", 0, 0, &accounts.MsgRegisterPatient{EncKey: k.EncKey()})
}

func hashOf(tx []byte) string { return fmt.Sprintf("%X", sha256.Sum256(tx)) }

// committed waits until the node's transaction index has tx.
func committed(t *testing.T, n *Node, tx []byte) *api.TxResult {
	t.Helper()
	h := sha256.Sum256(tx)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := n.Tx(context.Background(), h[:]); err == nil {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("transaction %X not committed", h)
	return nil
}

// What a caller of Node.Submit sees: a committed result with its hash, an
// accepted one without waiting, codes (not errors) for transactions the
// node refuses, ErrDuplicate for a resubmission and a timeout error when
// the commit wait ends first.
func TestSubmit(t *testing.T) {
	n := startOne(t, 1000)
	ctx := context.Background()

	tx := register("alice")
	res, err := n.Submit(ctx, tx, true)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Committed || res.Code != 0 || res.Hash != hashOf(tx) || res.Height < 1 || res.Type == "" {
		t.Fatalf("committed submit: %+v", res)
	}
	if _, err := n.Submit(ctx, tx, true); !errors.Is(err, api.ErrDuplicate) {
		t.Fatalf("resubmission: %v, want api.ErrDuplicate", err)
	}

	tx2 := register("bob")
	res, err = n.Submit(ctx, tx2, false)
	if err != nil || res.Committed || res.Code != 0 || res.Hash != hashOf(tx2) {
		t.Fatalf("submit without waiting: %+v, %v", res, err)
	}
	if r := committed(t, n, tx2); r.Code != 0 || r.Height < 1 {
		t.Fatalf("then committed: %+v", r)
	}

	for _, tc := range []struct {
		name  string
		tx    []byte
		space string
		code  uint32
		log   string
	}{
		{"garbage", []byte("not a transaction"), sm.Codespace, sm.ErrTxDecode.Code, ""},
		{"a bundle", sm.EncodeBundle([][]byte{register("carol")}), sm.Codespace, sm.ErrTxDecode.Code, "POST /v1/txs/batch"},
		{"another chain", sm.SignTx(mustKey("dave"), "other-chain", 0, 0, &accounts.MsgRegisterPatient{EncKey: mustKey("dave").EncKey()}), sm.Codespace, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for try := range 2 { // refused transactions are not remembered as submitted
				res, err := n.Submit(ctx, tc.tx, true)
				if err != nil {
					t.Fatalf("try %d: error %v, want a code", try, err)
				}
				if res.Committed || res.Code == 0 || res.Codespace != tc.space || (tc.code != 0 && res.Code != tc.code) ||
					res.Hash != hashOf(tc.tx) || !strings.Contains(res.Log, tc.log) {
					t.Fatalf("try %d: %+v, want %s/%d", try, res, tc.space, tc.code)
				}
			}
		})
	}

	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond)
	if _, err := n.Submit(short, register("erin"), true); !errors.Is(err, api.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired wait: %v, want a timeout", err)
	}
}

func mustKey(name string) *crypto.PrivKey {
	s := sha256.Sum256([]byte("submit-test/sign/" + name))
	e := sha256.Sum256([]byte("submit-test/enc/" + name))
	k, err := crypto.KeyFromSeeds(s[:], e[:])
	if err != nil {
		panic(err)
	}
	return k
}

// What a caller of Node.SubmitBatch sees, item by item and in order:
// accepted transactions (which then commit under their own hashes),
// CheckTx's codes, duplicates within the batch and across calls, and busy
// once the mempool has no room.
func TestSubmitBatch(t *testing.T) {
	n := startOne(t, 4)
	ctx := context.Background()
	a, b, earlier := register("a"), register("b"), register("earlier")
	if _, err := n.Submit(ctx, earlier, true); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); n.app.PendingTxs() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the mempool's update after the commit
	}
	c, d, e := register("c"), register("d"), register("e")
	batch := [][]byte{a, b, a, []byte("garbage"), earlier, c, d, e}
	items, err := n.SubmitBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		space string
		code  uint32
		log   string
	}{
		{"", 0, ""},
		{"", 0, ""},
		{api.Codespace, api.ErrDuplicate.Code, "repeated in this batch"},
		{sm.Codespace, sm.ErrTxDecode.Code, ""},
		{api.Codespace, api.ErrDuplicate.Code, "already submitted"},
		{"", 0, ""},
		// Room is counted before CheckTx: a, b, the garbage and c fill
		// the mempool's four slots.
		{api.Codespace, api.ErrBusy.Code, "mempool is full"},
		{api.Codespace, api.ErrBusy.Code, "mempool is full"},
	}
	if len(items) != len(batch) {
		t.Fatalf("%d items for %d transactions", len(items), len(batch))
	}
	for i, it := range items {
		w := want[i]
		if it.Hash != hashOf(batch[i]) || it.Code != w.code || it.Codespace != w.space || !strings.Contains(it.Log, w.log) {
			t.Errorf("item %d: %+v, want %s/%d %q", i, it, w.space, w.code, w.log)
		}
	}
	for _, tx := range [][]byte{a, b, c} {
		if r := committed(t, n, tx); r.Code != 0 || r.Hash != hashOf(tx) {
			t.Fatalf("committed %+v", r)
		}
	}
	// Busy items were not submitted: sent again, they go in.
	items, err = n.SubmitBatch(ctx, [][]byte{d, e, a})
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Code != 0 || items[1].Code != 0 || items[2].Code != api.ErrDuplicate.Code || items[2].Codespace != api.Codespace {
		t.Fatalf("after the commit: %+v", items)
	}
	committed(t, n, d)
	committed(t, n, e)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := n.SubmitBatch(cancelled, [][]byte{register("f")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled batch: %v", err)
	}
}

// A committed block served from its stored header and the transaction
// index (Block) is the block served from the whole stored block
// (storedBlock): heights with bundles, single transactions, failures and
// none, and the latest.
func TestCommittedBlockFromHeader(t *testing.T) {
	n := startOne(t, 100)
	ctx := context.Background()
	var last []byte
	for i := range 3 {
		batch := [][]byte{register(fmt.Sprintf("h%d-a", i)), register(fmt.Sprintf("h%d-b", i)), register(fmt.Sprintf("h%d-a", i-1))}
		if _, err := n.SubmitBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		last = register(fmt.Sprintf("single-%d", i))
		if _, err := n.Submit(ctx, last, true); err != nil {
			t.Fatal(err)
		}
	}
	top := committed(t, n, last).Height
	txs := 0
	for h := int64(1); h <= top; h++ {
		got, err := n.Block(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		want, err := n.storedBlock(ctx, &h)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Fatalf("height %d:\nfrom the header %+v\nfrom the block  %+v", h, got, want)
		}
		txs += got.NumTxs
	}
	if txs < 9 {
		t.Fatalf("%d transactions in blocks 1..%d, want the 9 or more submitted", txs, top)
	}
	latest, err := n.Block(ctx, 0)
	if err != nil || latest.Height < top {
		t.Fatalf("the latest block: %+v %v", latest, err)
	}
}
