package app_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store/merkle"
)

// recordingLock is a sync.Locker that counts its use and can be held from
// outside, as CometBFT holds its mempool lock over Commit and the rechecks.
type recordingLock struct {
	mu    sync.Mutex
	locks int
}

func (l *recordingLock) Lock()   { l.mu.Lock(); l.locks++ }
func (l *recordingLock) Unlock() { l.mu.Unlock() }

// TestMempoolStageTakesBoundLock: Stage runs under the lock the node bound
// (CometBFT's mempool), so it waits while a commit's rechecks hold it; the
// node takes no lock around it.
func TestMempoolStageTakesBoundLock(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t)
	mp := h.App.Mempool()
	l := &recordingLock{}
	mp.Bind(l)
	tx := h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2))

	l.mu.Lock() // a commit and its rechecks in progress
	done := make(chan error, 1)
	go func() {
		_, _, errs, err := mp.Stage(mp.Prepare([][]byte{tx}), sm.PackBytes)
		if err == nil {
			err = errs[0]
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Stage ran while the mempool lock was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	l.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if l.locks != 1 {
		t.Fatalf("the bound lock was taken %d times, want 1", l.locks)
	}
	if n := mp.PendingTxs(); n != 0 {
		t.Fatalf("PendingTxs = %d before the bundle reached CheckTx", n)
	}
}

// TestMempoolPrepareOnce: Prepare decodes, hashes and verifies each
// transaction once; Stage of its result reports what Prepare found (an
// undecodable transaction's decoding error, a bad signature) without a
// second look, and a subset keeps each transaction's own result.
func TestMempoolPrepareOnce(t *testing.T) {
	h := apptest.New(t)
	h.DeliverOK(t)
	mp := h.App.Mempool()
	good := h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2))
	bad := h.Sign(k(apptest.Patient2), guardianMsg(apptest.Patient1))
	bad[len(bad)-1] ^= 1
	junk := []byte{sm.TxFormatV1, 0xff}
	in := mp.Prepare([][]byte{junk, good, bad})
	if hs := in.Hashes(); len(hs) != 3 || hs[1] != sm.TxHash(good) {
		t.Fatalf("Hashes = %x", hs)
	}
	_, sizes, errs, err := mp.Stage(in.Subset([]int{2, 1, 0}), sm.PackBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errs[0], sm.ErrBadSignature) || errs[1] != nil || !errors.Is(errs[2], sm.ErrTxDecode) {
		t.Fatalf("errs = %v", errs)
	}
	if len(sizes) != 1 || sizes[0] != 1 {
		t.Fatalf("sizes = %v, want one bundle of the good transaction", sizes)
	}
}

// TestMempoolCloseStopsChecks: checks running while the node closes its
// state finish first, and later ones (CometBFT's rechecks run on a goroutine
// its Stop does not wait for) are refused without reading the closed
// database, instead of panicking with "pebble: closed".
func TestMempoolCloseStopsChecks(t *testing.T) {
	tree, err := merkle.OpenTree(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := apptest.NewWithConfig(t, apptest.Config{Tree: tree})
	h.DeliverOK(t)
	mp := h.App.Mempool()
	tx := h.Sign(k(apptest.Patient1), guardianMsg(apptest.Patient2))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				h.Check(t, tx) // panics if it reads a closed database
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	mp.Close()
	if err := h.Tree.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	r := h.Check(t, tx)
	if r.Code != sm.ErrInternal.Code || r.Codespace != sm.ErrInternal.Codespace || !strings.Contains(r.Log, "stopping") {
		t.Fatalf("CheckTx after Close: %d %s %q", r.Code, r.Codespace, r.Log)
	}
	if _, _, _, err := mp.Stage(mp.Prepare([][]byte{tx}), sm.PackBytes); err == nil || !strings.Contains(err.Error(), "stopping") {
		t.Fatalf("Stage after Close: %v", err)
	}
}
