package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/testnet"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
)

// TestDevNodeCrashSafety: a development node killed (SIGKILL) several times
// while transactions stream in keeps every transaction it reported
// committed, at the reported height, with its effects on accounts; and a
// copy of its home without the application state replays every block from
// the block store to the same state, height by height.
func TestDevNodeCrashSafety(t *testing.T) {
	needNetwork(t)
	node := testnet.StartDev(t, testnet.DevOptions{TimeoutCommit: 100 * time.Millisecond})
	ctx := within(t, 3*time.Minute)

	log := newTxLog()
	streamCtx, stopStream := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			streamTxs(streamCtx, node.Client(), log)
		}()
	}
	stop := func() { stopStream(); wg.Wait() }
	t.Cleanup(stop)

	const rounds = 5
	for round := 1; round <= rounds; round++ {
		// Let some transactions commit, then kill: in odd rounds the moment
		// the API reports a commit, when the node is still finishing the
		// block; in even rounds at a random point of a block.
		want := log.len() + 20
		err := testnet.Poll(within(t, time.Minute), 20*time.Millisecond, func() error {
			if n := log.len(); n < want {
				return fmt.Errorf("round %d: %d transactions committed, waiting for %d", round, n, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if round%2 == 1 {
			select {
			case <-log.added:
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		} else {
			time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
		}
		node.Kill()
		before := log.maxHeight()
		if err := node.Start(); err != nil {
			t.Fatal(err)
		}
		if err := node.WaitReady(ctx); err != nil {
			t.Fatalf("round %d: restart after SIGKILL: %v", round, err)
		}
		if err := testnet.WaitHeight(within(t, 30*time.Second), before+2, node); err != nil {
			t.Fatalf("round %d: the chain did not continue after the restart: %v", round, err)
		}
		seen := log.snapshot()
		if err := checkCommitted(ctx, node, seen); err != nil {
			t.Fatalf("round %d, after restart: %v", round, err)
		}
		t.Logf("round %d: killed after height %d; all %d committed transactions present after restart", round, before, len(seen))
	}
	stop()
	if errs := log.failures(); len(errs) > 0 {
		t.Errorf("transactions committed with a failure code: %v", errors.Join(errs...))
	}
	all := log.snapshot()
	if err := checkCommitted(ctx, node, all); err != nil {
		t.Fatal(err)
	}

	// Record the original's app hashes, then stop it cleanly and replay a
	// copy of its home from the block store alone.
	top, err := node.Height(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := testnet.WaitHeight(ctx, top+1, node); err != nil {
		t.Fatal(err)
	}
	// The state at the top height proves against the app hash in the next
	// header. (Older heights are no longer provable: the node keeps proofs
	// for its last merkle.ProvableVersions heights.)
	key := accounts.AccountKey(all[0].patient)
	b, err := node.Block(ctx, top+1)
	if err != nil {
		t.Fatal(err)
	}
	want, err := hex.DecodeString(b.AppHash)
	if err != nil {
		t.Fatal(err)
	}
	root, err := node.StateRoot(ctx, top, key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root, want) {
		t.Fatalf("original node: state at height %d has root %X, block %d says %X", top, root, top+1, want)
	}
	if err := node.Stop(30 * time.Second); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	replayHome := filepath.Join(t.TempDir(), "replay")
	if err := testnet.CopyDir(node.Home, replayHome); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(config.DataDir(replayHome), merkle.DBName)); err != nil {
		t.Fatal(err)
	}
	// Replaying, CometBFT compares the app hash the application computes
	// for every height with the one the next stored block carries, and
	// stops the node on the first difference: a replica that starts and
	// goes on has reproduced every height's state.
	replica := testnet.StartHome(t, "replica", replayHome, "--log-level", "debug")
	if err := testnet.WaitHeight(ctx, top+2, replica); err != nil {
		t.Fatal(err)
	}
	if err := checkCommitted(ctx, replica, all); err != nil {
		t.Error(err)
	}
	logText, err := os.ReadFile(replica.Log)
	if err != nil {
		t.Fatal(err)
	}
	if handshake := replayLine(logText); !strings.Contains(handshake, "appHeight=0") {
		t.Errorf("the replica's log shows no replay from app height 0 (%q); the test did not exercise a full replay", handshake)
	}
	t.Logf("%d transactions up to height %d; the replayed state matches every block's app hash", len(all), top)
}

// replayLine is CometBFT's log line that starts the handshake replay.
func replayLine(log []byte) string {
	for line := range strings.Lines(string(log)) {
		if strings.Contains(line, "ABCI Replay Blocks") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// loggedTx is a transaction the API reported committed with code 0.
type loggedTx struct {
	res      *api.TxResult
	patient  crypto.Address  // the signer, a patient
	key      *crypto.PrivKey // the patient's key: a patient's guardians are shown to a read the patient signs
	guardian *crypto.Address // set for set_guardian
}

// txLog records what the node reported committed; safe for concurrent use.
type txLog struct {
	added  chan struct{} // receives after each add, if someone is waiting
	mu     sync.Mutex
	txs    []loggedTx
	failed []error
}

func newTxLog() *txLog { return &txLog{added: make(chan struct{})} }

func (l *txLog) add(tx loggedTx) {
	l.mu.Lock()
	l.txs = append(l.txs, tx)
	l.mu.Unlock()
	select {
	case l.added <- struct{}{}:
	default:
	}
}

// maxHeight is the highest height of a logged transaction.
func (l *txLog) maxHeight() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var h int64
	for _, tx := range l.txs {
		h = max(h, tx.res.Height)
	}
	return h
}

func (l *txLog) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed = append(l.failed, err)
}

func (l *txLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.txs)
}

func (l *txLog) snapshot() []loggedTx {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.txs)
}

func (l *txLog) failures() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.failed)
}

// streamTxs registers patients with fresh keys until ctx ends, and has each
// new patient name the previous one its guardian. It logs what the node
// reports committed; errors from a node that is down are expected and
// ignored, but a committed transaction that failed is logged as a failure.
func streamTxs(ctx context.Context, c *client.Client, log *txLog) {
	var prev *crypto.Address
	for ctx.Err() == nil {
		opCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		key, res, err := registerPatient(opCtx, c)
		if err != nil {
			cancel()
			noteFailure(log, err)
			pause(ctx, 50*time.Millisecond)
			continue
		}
		addr := key.Address()
		log.add(loggedTx{res: res, patient: addr, key: key})
		if prev != nil {
			res, err := c.Send(opCtx, key, &accounts.MsgSetGuardian{Guardian: *prev})
			if err == nil {
				err = committedOK(res)
			}
			if err == nil {
				log.add(loggedTx{res: res, patient: addr, key: key, guardian: prev})
			} else {
				noteFailure(log, err)
			}
		}
		cancel()
		prev = &addr
	}
}

// noteFailure logs a transaction that committed with a failure code; a
// transaction that never committed (node down) is not a failure.
func noteFailure(log *txLog, err error) {
	var te *client.TxError
	if errors.As(err, &te) && te.Result.Committed {
		log.fail(err)
	}
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// checkCommitted checks that node n holds every logged transaction at its
// reported height with code 0, and shows its effect on the accounts.
func checkCommitted(ctx context.Context, n *testnet.Node, txs []loggedTx) error {
	var errs []error
	for _, tx := range txs {
		if err := checkTxOn(ctx, n, tx.res); err != nil {
			errs = append(errs, err)
			continue
		}
		a, err := n.Client().As(tx.key, "").Account(ctx, tx.patient)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: account %s: %w", n.Name, tx.patient, err))
		case a.Kind != "patient":
			errs = append(errs, fmt.Errorf("%s: account %s is %q, want a patient", n.Name, tx.patient, a.Kind))
		case tx.guardian != nil && !slices.Contains(a.Guardians, tx.guardian.String()):
			errs = append(errs, fmt.Errorf("%s: patient %s has guardians %v, missing %s set at height %d",
				n.Name, tx.patient, a.Guardians, tx.guardian, tx.res.Height))
		}
		if len(errs) >= 10 {
			errs = append(errs, errors.New("(more not checked)"))
			break
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d committed transactions checked wrong: %w", len(errs), len(txs), errors.Join(errs...))
	}
	return nil
}
