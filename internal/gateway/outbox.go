package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/x/audit"
)

// ErrOutboxFull is returned by Outbox.Append when the outbox holds its
// maximum of unconfirmed events (the chain has not taken any for long): the
// access must then be refused, since it could not be recorded.
var ErrOutboxFull = errors.New("audit outbox full: the chain has not confirmed access events for too long")

// errClosed is returned by Append after Close.
var errClosed = errors.New("audit outbox closed")

// Key prefixes of the outbox database.
const (
	prefixPending byte = 'p' // 'p' ‖ number (8 bytes, big-endian) → entry
	prefixDead    byte = 'd' // 'd' ‖ number → entry ‖ reason: refused by the chain, kept for the operator
)

// DefaultMaxPending bounds the unconfirmed events of an outbox: about 300
// MB of disk at most, some days of a busy hospital's reads.
const DefaultMaxPending = 1 << 20

// Outbox keeps access events on disk, written and fsync'ed before Append
// returns, until the chain has them. Entries are numbered in the order they
// were appended; each is one event with its proof, in the encoding of a
// one-event audit/log message.
//
// Concurrent appends share one synced batch, and so one fsync (group
// commit, by the writer goroutine): see BenchmarkOutboxAppend.
type Outbox struct {
	db  *pebble.DB
	max int

	life    sync.RWMutex // held shared while writing, exclusively to close
	mu      sync.Mutex
	closed  bool
	next    uint64
	pending int
	dead    int

	// recent holds the values of the entries this process appended and
	// the chain has not confirmed yet, up to recentMax bytes
	// (defaultRecentMax), so that the auditor builds its transactions
	// without reading them back from
	// Pebble (where they may already sit in sstables behind the
	// tombstones of confirmed ones). The database stays the record:
	// entries from before a restart, or appended while recent was full,
	// are read from it.
	recent      map[uint64][]byte
	recentBytes int
	recentMax   int

	// appends go to the writer, which commits those waiting together in
	// one synced batch (group commit): see writer.
	appends chan *appendReq
	stopped chan struct{}
}

// appendReq is one Append's entries on their way to the writer.
type appendReq struct {
	first uint64
	vals  [][]byte
	done  chan error
}

// maxGroup bounds the appends the writer commits in one batch.
const maxGroup = 1024

// defaultRecentMax bounds the bytes of Outbox.recent: some 100,000 events, tens of
// seconds of a busy node's reads; more wait for the chain only when it
// stalls, and are then read from the database.
const defaultRecentMax = 32 << 20

// OpenOutbox opens (or creates) the outbox in dir; maxPending ≤ 0 means
// DefaultMaxPending.
func OpenOutbox(dir string, maxPending int) (*Outbox, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("audit outbox %s: %w", dir, err)
	}
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	o := &Outbox{db: db, max: maxPending, next: 1, recent: map[uint64][]byte{}, recentMax: defaultRecentMax, appends: make(chan *appendReq, maxGroup), stopped: make(chan struct{})}
	for _, p := range []byte{prefixPending, prefixDead} {
		err := o.scan(p, func(n uint64, _ []byte) bool {
			if n >= o.next {
				o.next = n + 1
			}
			if p == prefixPending {
				o.pending++
			} else {
				o.dead++
			}
			return true
		})
		if err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	go o.writer()
	return o, nil
}

// writer commits appends: it takes one, then every other already waiting
// (up to maxGroup), writes them in one batch and syncs it once, and answers
// each. Readers arriving while a sync runs wait for the next one, as with
// Pebble's own commit pipeline, but one batch per group goes through it
// instead of one per reader.
func (o *Outbox) writer() {
	defer close(o.stopped)
	group := make([]*appendReq, 0, maxGroup)
	for r := range o.appends {
		group = append(group[:0], r)
	more:
		for len(group) < maxGroup {
			select {
			case r, ok := <-o.appends:
				if !ok {
					break more
				}
				group = append(group, r)
			default:
				break more
			}
		}
		b := o.db.NewBatch()
		for _, r := range group {
			for i, v := range r.vals {
				_ = b.Set(entryKey(prefixPending, r.first+uint64(i)), v, nil)
			}
		}
		err := commitSynced(b)
		for _, r := range group {
			r.done <- err
		}
	}
}

func entryKey(prefix byte, n uint64) []byte { return binary.BigEndian.AppendUint64([]byte{prefix}, n) }

// scan calls fn with each entry under prefix, in order, until it returns false.
func (o *Outbox) scan(prefix byte, fn func(n uint64, v []byte) bool) error {
	it, err := o.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 9 {
			continue
		}
		if !fn(binary.BigEndian.Uint64(k[1:]), it.Value()) {
			break
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// Append validates the events, gives each without an id a random one, and
// writes them durably. It returns their entry numbers. No event is written
// when one is invalid or the outbox is full.
func (o *Outbox) Append(evs []audit.Event) ([]uint64, error) {
	vals := make([][]byte, len(evs))
	for i := range evs {
		e := evs[i]
		if e.ID == ([audit.IDSize]byte{}) {
			if _, err := rand.Read(e.ID[:]); err != nil {
				return nil, err
			}
		}
		if err := e.ValidateReport(); err != nil {
			return nil, fmt.Errorf("access event: %w", err)
		}
		vals[i] = codec.Marshal(&audit.MsgLog{Events: []audit.Event{e}})
	}
	o.life.RLock()
	defer o.life.RUnlock()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil, errClosed
	}
	if o.pending+len(evs) > o.max {
		o.mu.Unlock()
		return nil, ErrOutboxFull
	}
	first := o.next
	o.next += uint64(len(evs))
	o.pending += len(evs)
	o.mu.Unlock()

	nums := make([]uint64, len(evs))
	for i := range vals {
		nums[i] = first + uint64(i)
	}
	r := &appendReq{first: first, vals: vals, done: make(chan error, 1)}
	o.appends <- r
	err := <-r.done
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.pending -= len(evs)
		return nil, fmt.Errorf("audit outbox write: %w", err)
	}
	for i, v := range vals {
		if o.recentBytes+len(v) > o.recentMax {
			break
		}
		o.recent[nums[i]] = v
		o.recentBytes += len(v)
	}
	return nums, nil
}

// forget drops entries from recent. The caller holds o.mu.
func (o *Outbox) forget(nums ...uint64) {
	for _, n := range nums {
		if v, ok := o.recent[n]; ok {
			delete(o.recent, n)
			o.recentBytes -= len(v)
		}
	}
}

// commitSynced commits and closes b. A panic in Pebble's commit (its
// logger's Fatalf panics) becomes the group's error: the appends are
// refused, as they were when each reader committed its own batch and the
// HTTP server recovered the panic, instead of the writer's goroutine taking
// the node down.
func commitSynced(b *pebble.Batch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pebble panicked: %v", r)
		}
	}()
	defer b.Close()
	return b.Commit(pebble.Sync)
}

// Get returns a pending entry's event (with its proof).
func (o *Outbox) Get(n uint64) (audit.Event, error) {
	e, _, err := o.entry(n)
	return e, err
}

// entry returns a pending entry's event and the size of its encoding (a
// one-event audit/log message).
func (o *Outbox) entry(n uint64) (audit.Event, int, error) {
	o.mu.Lock()
	v, ok := o.recent[n]
	o.mu.Unlock()
	if !ok {
		got, closer, err := o.db.Get(entryKey(prefixPending, n))
		if err != nil {
			return audit.Event{}, 0, fmt.Errorf("audit outbox entry %d: %w", n, err)
		}
		defer closer.Close()
		v = got
	}
	e, err := decodeEntry(v)
	return e, len(v), err
}

func decodeEntry(v []byte) (audit.Event, error) {
	m, err := logRoute.Decode(v)
	if err != nil {
		return audit.Event{}, err
	}
	evs := m.(*audit.MsgLog).Events
	if len(evs) != 1 {
		return audit.Event{}, fmt.Errorf("audit outbox entry holds %d events", len(evs))
	}
	return evs[0], nil
}

var logRoute = (audit.Module{}).Routes()[0]

// Pending lists the numbers of the pending entries, in order.
func (o *Outbox) Pending() ([]uint64, error) {
	var out []uint64
	err := o.scan(prefixPending, func(n uint64, _ []byte) bool { out = append(out, n); return true })
	return out, err
}

// Remove deletes entries the chain has. The deletion is not synced: an
// entry that comes back after a crash is sent again and answered
// "already logged" (audit.ErrDuplicate).
func (o *Outbox) Remove(nums []uint64) error {
	if len(nums) == 0 {
		return nil
	}
	b := o.db.NewBatch()
	for _, n := range nums {
		_ = b.Delete(entryKey(prefixPending, n), nil)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	o.mu.Lock()
	o.pending -= len(nums)
	o.forget(nums...)
	o.mu.Unlock()
	return nil
}

// Bury moves an entry the chain refused for good to the dead letters, with
// the chain's reason, for the operator to inspect (DeadLetters).
func (o *Outbox) Bury(n uint64, reason string) error {
	v, closer, err := o.db.Get(entryKey(prefixPending, n))
	if err != nil {
		return err
	}
	w := codec.NewWriter(len(v) + len(reason) + 8)
	w.Blob(v)
	w.String(reason)
	closer.Close()
	b := o.db.NewBatch()
	_ = b.Set(entryKey(prefixDead, n), w.Bytes(), nil)
	_ = b.Delete(entryKey(prefixPending, n), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	o.mu.Lock()
	o.pending--
	o.dead++
	o.forget(n)
	o.mu.Unlock()
	return nil
}

// DeadLetter is an event the chain refused, with its reason.
type DeadLetter struct {
	Number uint64
	Event  audit.Event
	Reason string
}

// DeadLetters lists the events the chain refused.
func (o *Outbox) DeadLetters() ([]DeadLetter, error) {
	var out []DeadLetter
	var bad error
	err := o.scan(prefixDead, func(n uint64, v []byte) bool {
		r := codec.NewReader(v)
		entry := r.Blob("entry", 1<<20)
		reason := r.String("reason", 1<<10)
		if err := r.Done(); err != nil {
			bad = err
			return false
		}
		e, err := decodeEntry(entry)
		if err != nil {
			bad = err
			return false
		}
		out = append(out, DeadLetter{Number: n, Event: e, Reason: reason})
		return true
	})
	return out, errors.Join(err, bad)
}

// Counts reports the pending and dead entries.
func (o *Outbox) Counts() (pending, dead int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending, o.dead
}

// Close closes the database; later appends fail.
func (o *Outbox) Close() error {
	o.life.Lock()
	defer o.life.Unlock()
	o.mu.Lock()
	closed := o.closed
	o.closed = true
	o.mu.Unlock()
	if closed {
		return nil
	}
	// No Append is under way (life is held): the writer has answered all.
	close(o.appends)
	<-o.stopped
	return o.db.Close()
}

// quietLogger keeps Pebble's informational lines out of the node's log.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("audit outbox: "+format, args...))
}

// Checkpoint writes a consistent copy of the outbox's database to the new
// directory dst (a backup of the node).
func (o *Outbox) Checkpoint(dst string) error { return o.db.Checkpoint(dst, pebble.WithFlushedWAL()) }

// CheckpointOutbox is Checkpoint of the outbox in dir, which no process may
// hold open.
func CheckpointOutbox(dir, dst string) error {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}, ErrorIfNotExists: true})
	if err != nil {
		return fmt.Errorf("audit outbox %s: %w", dir, err)
	}
	err = db.Checkpoint(dst, pebble.WithFlushedWAL())
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}
