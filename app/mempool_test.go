package app_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/sm"
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
