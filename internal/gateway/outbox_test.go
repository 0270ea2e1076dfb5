package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/audit"
)

// fakeChain is an in-memory chain for the auditor: a mempool that checks
// sequences, blocks committed on demand, and an audit trail that judges
// events as the state machine does for ids (a resent event is a duplicate)
// and for a refusal list.
type fakeChain struct {
	mu        sync.Mutex
	committed uint64 // the gateway's committed sequence
	next      uint64 // the mempool's next sequence
	mempool   [][]byte
	height    int64
	logged    map[[audit.IDSize]byte]int // event id → times logged
	refuse    map[[audit.IDSize]byte]*sm.Error
	failCheck bool
}

func newFakeChain() *fakeChain {
	return &fakeChain{logged: map[[audit.IDSize]byte]int{}, refuse: map[[audit.IDSize]byte]*sm.Error{}}
}

func (c *fakeChain) ChainID() string { return "fake" }

func (c *fakeChain) Sequence(crypto.Address) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.committed
}

func (c *fakeChain) SubmitAsync(_ context.Context, raw []byte) (uint32, string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failCheck {
		return 0, "", "", errors.New("mempool is full")
	}
	tx, err := sm.DecodeTx(raw)
	if err != nil {
		return 1, "tx", err.Error(), nil
	}
	if tx.Body.Sequence != c.next {
		return sm.ErrBadSequence.Code, sm.Codespace, fmt.Sprintf("got %d, want %d", tx.Body.Sequence, c.next), nil
	}
	c.next++
	c.mempool = append(c.mempool, raw)
	return 0, "", "", nil
}

// restart empties the mempool, as a node restart does.
func (c *fakeChain) restart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mempool, c.next = nil, c.committed
}

// commit puts the mempool in a block; the results go to a when it is not nil.
func (c *fakeChain) commit(t *testing.T, a *Auditor) {
	t.Helper()
	c.mu.Lock()
	var results []TxResult
	for _, raw := range c.mempool {
		tx, err := sm.DecodeTx(raw)
		if err != nil {
			t.Fatal(err)
		}
		m, err := logRoute.Decode(tx.Body.Msg)
		if err != nil {
			t.Fatal(err)
		}
		ev := &sm.Events{}
		logged := 0
		for i, e := range m.(*audit.MsgLog).Events {
			var why *sm.Error
			switch {
			case c.logged[e.ID] > 0:
				why = audit.ErrDuplicate
			case c.refuse[e.ID] != nil:
				why = c.refuse[e.ID]
			}
			if why != nil {
				ev.Emit(audit.EventRejected, sm.Attr{Key: "index", Value: strconv.Itoa(i)},
					sm.Attr{Key: "code", Value: fmt.Sprintf("%s/%d", why.Codespace, why.Code)}, sm.Attr{Key: "log", Value: why.Desc})
				continue
			}
			c.logged[e.ID]++
			logged++
		}
		ev.Emit(audit.EventLogged, sm.Attr{Key: "count", Value: strconv.Itoa(logged)})
		results = append(results, TxResult{Hash: sm.TxHash(raw), Events: ev.List()})
		c.committed++
	}
	c.mempool = nil
	c.next = c.committed
	c.height++
	h := c.height
	c.mu.Unlock()
	if a != nil {
		a.Committed(h, results)
	}
}

func (c *fakeChain) count(id [audit.IDSize]byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logged[id]
}

func testEvent(i int) audit.Event {
	e := audit.Event{Patient: crypto.Address{1}, Accessor: crypto.Address{2}, Version: 1, Time: int64(1_700_000_000 + i), Served: true,
		Proof: &audit.Proof{Kind: audit.ProofRequest, Target: "/v1/records/x/key", Expires: int64(1_700_000_060 + i)}}
	e.ID[0], e.ID[1], e.ID[2] = 0xaa, byte(i>>8), byte(i)
	return e
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestAuditor(t *testing.T, dir string, chain Chain, clk *clock) (*Auditor, *Outbox) {
	t.Helper()
	box, err := OpenOutbox(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, err := crypto.KeyFromSeeds(make([]byte, 32), make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuditor(key, chain, box, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a.now = clk.now
	return a, box
}

// settleAll steps and commits until the outbox is empty.
func settleAll(t *testing.T, a *Auditor, c *fakeChain, clk *clock) {
	t.Helper()
	for range 200 {
		a.Step(context.Background())
		c.commit(t, a)
		a.Step(context.Background())
		if a.Pending() == 0 {
			return
		}
		clk.add(time.Minute) // past any backoff
	}
	t.Fatalf("%d events still pending", a.Pending())
}

// TestAuditorHaltedChainLosesNothing: events reported while the chain is
// halted for hours, through a node restart that empties the mempool and a
// crash that loses a block's results, all reach the chain exactly once.
func TestAuditorHaltedChainLosesNothing(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c := newFakeChain()
	a, box := newTestAuditor(t, dir, c, clk)
	const n = 3000
	for i := range n {
		if err := a.Report(testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Halted: transactions are accepted into the mempool, no block comes.
	for range 10 {
		a.Step(context.Background())
		clk.add(30 * time.Minute)
	}
	if a.Pending() != n {
		t.Fatalf("%d pending while halted, want %d", a.Pending(), n)
	}
	if s := a.Stats(); s.InFlight == 0 || s.InFlight > maxInFlight*audit.MaxEvents {
		t.Fatalf("in flight %d", s.InFlight)
	}
	// The node restarts: the mempool is gone, the outbox is not.
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	c.restart()
	a, box = newTestAuditor(t, dir, c, clk)
	if a.Pending() != n {
		t.Fatalf("%d pending after restart, want %d", a.Pending(), n)
	}
	// One block commits but its results never reach the auditor (a crash
	// between the commit and the outbox's removal).
	a.Step(context.Background())
	c.commit(t, nil)
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	c.restart()
	a, box = newTestAuditor(t, dir, c, clk)
	defer box.Close()
	settleAll(t, a, c, clk)
	for i := range n {
		if got := c.count(testEvent(i).ID); got != 1 {
			t.Fatalf("event %d logged %d times", i, got)
		}
	}
	if s := a.Stats(); s.Pending != 0 || s.Dead != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestAuditorRetriesRefusedTransactions: a CheckTx failure keeps the events
// and backs off; a stale transaction (never in a block) is sent again.
func TestAuditorRetriesRefusedTransactions(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c := newFakeChain()
	a, box := newTestAuditor(t, t.TempDir(), c, clk)
	defer box.Close()
	for i := range 10 {
		if err := a.Report(testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	c.failCheck = true
	a.Step(context.Background())
	if s := a.Stats(); s.InFlight != 0 || s.Pending != 10 || s.Retries != 1 {
		t.Fatalf("after a refused submission: %+v", s)
	}
	c.failCheck = false
	a.Step(context.Background()) // backing off: nothing sent
	if s := a.Stats(); s.InFlight != 0 {
		t.Fatalf("sent while backing off: %+v", s)
	}
	clk.add(time.Second)
	a.Step(context.Background())
	if s := a.Stats(); s.InFlight != 10 {
		t.Fatalf("not sent after the backoff: %+v", s)
	}
	// The transaction leaves the mempool; blocks go on without it.
	c.restart()
	for range staleBlocks {
		c.commit(t, a)
	}
	a.Step(context.Background())
	clk.add(time.Minute)
	settleAll(t, a, c, clk)
	for i := range 10 {
		if c.count(testEvent(i).ID) != 1 {
			t.Fatalf("event %d not logged once", i)
		}
	}
}

// TestAuditorDeadLetters: an event the chain refuses for good leaves the
// queue but stays in the outbox with its reason; one ahead of the chain's
// time is sent again later.
func TestAuditorDeadLetters(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c := newFakeChain()
	a, box := newTestAuditor(t, t.TempDir(), c, clk)
	defer box.Close()
	for i := range 3 {
		if err := a.Report(testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	c.refuse[testEvent(1).ID] = audit.ErrNotAttributable
	c.refuse[testEvent(2).ID] = audit.ErrClockSkew
	a.Step(context.Background())
	c.commit(t, a)
	a.Step(context.Background())
	if s := a.Stats(); s.Pending != 1 || s.Dead != 1 || s.Refused != 1 || s.Logged != 1 {
		t.Fatalf("stats %+v", s)
	}
	dead, err := box.DeadLetters()
	if err != nil || len(dead) != 1 || dead[0].Event.ID != testEvent(1).ID || dead[0].Reason == "" {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
	delete(c.refuse, testEvent(2).ID)
	a.Step(context.Background())
	if s := a.Stats(); s.InFlight != 0 {
		t.Fatalf("an event ahead of the chain sent again at once: %+v", s)
	}
	clk.add(retryAhead)
	settleAll(t, a, c, clk)
	if c.count(testEvent(2).ID) != 1 {
		t.Fatal("the deferred event was not logged")
	}
}

// TestOutboxAppend: invalid events and a full outbox write nothing, and the
// caller learns it (the read is then refused).
func TestOutboxAppend(t *testing.T) {
	box, err := OpenOutbox(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	bad := testEvent(0)
	bad.Proof = nil
	if _, err := box.Append([]audit.Event{testEvent(0), bad}); err == nil {
		t.Fatal("an event without proof was accepted")
	}
	noID := testEvent(1)
	noID.ID = [audit.IDSize]byte{}
	nums, err := box.Append([]audit.Event{testEvent(0), noID})
	if err != nil || len(nums) != 2 {
		t.Fatal(nums, err)
	}
	got, err := box.Get(nums[1])
	if err != nil || got.ID == ([audit.IDSize]byte{}) {
		t.Fatalf("no id assigned: %+v, %v", got, err)
	}
	if _, err := box.Append([]audit.Event{testEvent(2), testEvent(3)}); !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("over the limit: %v", err)
	}
	if p, _ := box.Counts(); p != 2 {
		t.Fatalf("%d pending", p)
	}
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := box.Append([]audit.Event{testEvent(4)}); err == nil {
		t.Fatal("append after close")
	}
}

// TestOutboxRecentCopies: the in-memory copies of unconfirmed entries that
// the auditor reads are exactly what the database holds, are bounded, and
// go when their entries are removed or buried; entries beyond the bound and
// entries from before a restart are read from the database.
func TestOutboxRecentCopies(t *testing.T) {
	dir := t.TempDir()
	box, err := OpenOutbox(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	one := len(codec.Marshal(&audit.MsgLog{Events: []audit.Event{testEvent(0)}}))
	box.recentMax = 5 * one // five of the ten appended below
	var nums []uint64
	for i := range 10 {
		n, err := box.Append([]audit.Event{testEvent(i)})
		if err != nil {
			t.Fatal(err)
		}
		nums = append(nums, n...)
	}
	if len(box.recent) != 5 || box.recentBytes != 5*one {
		t.Fatalf("%d copies, %d bytes; want 5 of %d bytes", len(box.recent), box.recentBytes, one)
	}
	check := func(box *Outbox, want map[uint64]int) {
		t.Helper()
		for _, n := range nums {
			e, size, err := box.entry(n)
			i, pending := want[n]
			if !pending {
				if err == nil {
					t.Fatalf("entry %d removed, still read: %x", n, e.ID)
				}
				continue
			}
			v, closer, dberr := box.db.Get(entryKey(prefixPending, n))
			if err != nil || dberr != nil {
				t.Fatalf("entry %d: %v, %v", n, err, dberr)
			}
			if size != len(v) || e.ID != testEvent(i).ID || !bytes.Equal(codec.Marshal(&audit.MsgLog{Events: []audit.Event{e}}), v) {
				closer.Close()
				t.Fatalf("entry %d: read %x (%d bytes), the database holds %d bytes", n, e.ID, size, len(v))
			}
			closer.Close()
		}
	}
	want := map[uint64]int{}
	for i, n := range nums {
		want[n] = i
	}
	check(box, want)
	// Confirmed: two held in memory, two not; buried: one held in memory.
	if err := box.Remove([]uint64{nums[0], nums[3], nums[6], nums[9]}); err != nil {
		t.Fatal(err)
	}
	if err := box.Bury(nums[1], "refused"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint64{nums[0], nums[3], nums[6], nums[9], nums[1]} {
		delete(want, n)
	}
	check(box, want)
	if len(box.recent) != 2 || box.recentBytes != 2*one {
		t.Fatalf("%d copies, %d bytes after removals; want 2", len(box.recent), box.recentBytes)
	}
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	box, err = OpenOutbox(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	if len(box.recent) != 0 {
		t.Fatalf("%d copies after a restart", len(box.recent))
	}
	check(box, want)
}

// TestOutboxConcurrentAppendsAreDurable appends from many readers at once,
// with the outbox closed while they run: every append that returned numbers
// is on disk after reopening, under those numbers, and nothing else is;
// every other append failed. Concurrent appends share synced batches (the
// writer's groups), so this checks that a group loses none of its members.
func TestOutboxConcurrentAppendsAreDurable(t *testing.T) {
	dir := t.TempDir()
	box, err := OpenOutbox(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	const readers, each = 32, 40
	var (
		mu      sync.Mutex
		written = map[uint64][audit.IDSize]byte{}
		failed  int
		wg      sync.WaitGroup
		started = make(chan struct{}, readers*each)
	)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				var evs []audit.Event
				for k := range j%3 + 1 {
					evs = append(evs, testEvent((r*each+j)*3+k))
				}
				started <- struct{}{}
				nums, err := box.Append(evs)
				mu.Lock()
				if err != nil {
					failed++
				} else {
					for i, n := range nums {
						if _, dup := written[n]; dup {
							t.Errorf("number %d given twice", n)
						}
						written[n] = evs[i].ID
					}
				}
				mu.Unlock()
			}
		}()
	}
	for range readers * each / 2 {
		<-started
	}
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(written) == 0 || failed == 0 {
		t.Fatalf("%d events written, %d appends failed: the close did not fall among the appends", len(written), failed)
	}
	box, err = OpenOutbox(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	pending, err := box.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != len(written) {
		t.Fatalf("%d entries after reopening, %d appended", len(pending), len(written))
	}
	for _, n := range pending {
		e, err := box.Get(n)
		if err != nil {
			t.Fatal(err)
		}
		if id, ok := written[n]; !ok || e.ID != id {
			t.Fatalf("entry %d holds event %x; appended %x (%v)", n, e.ID, id, ok)
		}
	}
}

// BenchmarkOutboxAppend measures a read's wait for its event to be on disk:
// one reader at a time, and many at once sharing fsyncs.
func BenchmarkOutboxAppend(b *testing.B) {
	for _, par := range []int{1, 64} {
		b.Run(fmt.Sprintf("readers=%d", par), func(b *testing.B) {
			box, err := OpenOutbox(b.TempDir(), 1<<30)
			if err != nil {
				b.Fatal(err)
			}
			defer box.Close()
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e := testEvent(0)
					e.ID = [audit.IDSize]byte{}
					if _, err := box.Append([]audit.Event{e}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
