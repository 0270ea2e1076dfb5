package supply

import (
	"encoding/binary"
	"errors"
	"iter"
	"math"
	"slices"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

// The EPCIS query index (PrefixSupplyEventIdx, an index key: derived from
// the captured events, kept out of the Merkle tree). Each captured event is
// listed under its bizStep, its disposition and its bizLocation's GLN
// (tag ‖ value ‖ 0x00 ‖ seq) and its event time (tag 't' ‖ unix ms ‖ seq),
// so that a query's cost follows the size of its answer, not the number
// of events captured. Events naming a unit are found through the unit's
// provenance (PrefixSupplyUnitLog), events by record time through the
// capture order (PrefixSupplyEventSeq): neither needs an index of its own.
const (
	IndexBizStep     byte = 'b'
	IndexDisposition byte = 'd'
	IndexBizLocation byte = 'l'
	indexEventTime   byte = 't'
)

func eventIndexPrefix(tag byte, value string) []byte {
	k := make([]byte, 0, 3+len(value)+8)
	k = append(k, sm.PrefixSupplyEventIdx, tag)
	k = append(k, value...)
	return append(k, 0)
}

func eventIndexKey(tag byte, value string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(eventIndexPrefix(tag, value), seq)
}

func eventTimeKey(ms int64, seq uint64) []byte {
	k := make([]byte, 0, 18)
	k = append(k, sm.PrefixSupplyEventIdx, indexEventTime)
	k = binary.BigEndian.AppendUint64(k, uint64(max(ms, 0)))
	return binary.BigEndian.AppendUint64(k, seq)
}

// indexEvent lists a captured event in the query index.
func indexEvent(kv store.KV, e *CaptureEvent, seq uint64) {
	one := []byte{1}
	kv.Set(eventIndexKey(IndexBizStep, e.BizStep, seq), one)
	if e.Disposition != "" {
		kv.Set(eventIndexKey(IndexDisposition, e.Disposition, seq), one)
	}
	if e.BizLocation != "" {
		kv.Set(eventIndexKey(IndexBizLocation, e.BizLocation, seq), one)
	}
	kv.Set(eventTimeKey(e.EventTime, seq), one)
}

// EventBySeq returns the event captured with sequence seq, or nil.
func EventBySeq(kv store.Reader, seq uint64) *StoredEvent {
	h := kv.Get(eventSeqKey(seq))
	if h == nil {
		return nil
	}
	return GetEvent(kv, string(h))
}

// NextSeq is the sequence the next captured event will get (1 when none
// was captured).
func NextSeq(kv store.Reader) uint64 {
	if b := kv.Get(seqKey); b != nil {
		if v, err := readUint(b); err == nil && v > 0 {
			return v
		}
	}
	return 1
}

// EventFilter is what FindEvents can narrow a query by. Empty lists and nil
// bounds match anything.
type EventFilter struct {
	Units        []string // unit keys the event names (in its EPCs or as parent)
	Types        []string
	Actions      []string
	BizSteps     []string
	Dispositions []string
	Locations    []string // bizLocation GLNs
	GEEventTime  *int64   // unix ms
	LTEventTime  *int64
	GERecordTime *int64 // unix s (the block time)
	LTRecordTime *int64
}

// Cursor is a position in FindEvents' order: the sequence of the last
// event served and, for a plan ordered by event time, its event time.
type Cursor struct {
	Time int64 // unix ms; 0 for plans in capture order
	Seq  uint64
}

// Plans of FindEvents, in the order they are preferred.
const (
	PlanUnits      = "units"        // the provenance of each unit named
	PlanLocation   = "biz_location" // the bizLocation index
	PlanEventTime  = "event_time"   // the event-time index, ordered by event time
	PlanBizStep    = "biz_step"
	PlanDisp       = "disposition"
	PlanRecordTime = "record_time" // a range of the capture order
	PlanScan       = "scan"        // every event in capture order
)

// ErrCursor: a page token that is not a position of the query's plan.
var ErrCursor = errors.New("supply: the cursor does not belong to this query")

// Plan names the index FindEvents reads for f.
func Plan(f EventFilter) string {
	switch {
	case len(f.Units) > 0:
		return PlanUnits
	case len(f.Locations) > 0:
		return PlanLocation
	case f.GEEventTime != nil || f.LTEventTime != nil:
		return PlanEventTime
	case len(f.BizSteps) > 0:
		return PlanBizStep
	case len(f.Dispositions) > 0:
		return PlanDisp
	case f.GERecordTime != nil || f.LTRecordTime != nil:
		return PlanRecordTime
	}
	return PlanScan
}

// Admits reports whether e passes every part of f its stored form can
// answer (all but Locations).
func (f *EventFilter) Admits(e *StoredEvent) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	if !in(f.Types, e.Type) || !in(f.Actions, e.Action) || !in(f.BizSteps, e.BizStep) || !in(f.Dispositions, e.Disposition) {
		return false
	}
	if len(f.Units) > 0 && !slices.Contains(f.Units, e.Parent) && !slices.ContainsFunc(e.EPCs, func(k string) bool { return slices.Contains(f.Units, k) }) {
		return false
	}
	switch {
	case f.GEEventTime != nil && e.EventTime < *f.GEEventTime, f.LTEventTime != nil && e.EventTime >= *f.LTEventTime,
		f.GERecordTime != nil && e.Time < *f.GERecordTime, f.LTRecordTime != nil && e.Time >= *f.LTRecordTime:
		return false
	}
	return true
}

// FindEvents calls fn with the captured events that pass f.Admits (and, for
// the location plan, whose bizLocation is one of f.Locations), strictly
// after the cursor, until fn returns false. Events come in capture order,
// except under PlanEventTime, in (event time, capture) order. The cost is
// that of the events the plan's index lists, not of every event: the caller
// applies the rest of its query to what fn receives.
func FindEvents(kv store.Reader, f EventFilter, after Cursor, fn func(e *StoredEvent, at Cursor) bool) error {
	plan := Plan(f)
	if (plan == PlanEventTime) != (after.Time != 0) && after != (Cursor{}) {
		return ErrCursor
	}
	if plan == PlanEventTime {
		findByTime(kv, f, after, fn)
		return nil
	}
	var sources []iter.Seq[uint64]
	switch plan {
	case PlanUnits:
		for _, u := range uniq(f.Units) {
			sources = append(sources, unitSeqs(kv, u, after.Seq))
		}
	case PlanLocation:
		for _, g := range uniq(f.Locations) {
			sources = append(sources, indexedSeqs(kv, IndexBizLocation, g, after.Seq))
		}
	case PlanBizStep:
		for _, v := range uniq(f.BizSteps) {
			sources = append(sources, indexedSeqs(kv, IndexBizStep, v, after.Seq))
		}
	case PlanDisp:
		for _, v := range uniq(f.Dispositions) {
			sources = append(sources, indexedSeqs(kv, IndexDisposition, v, after.Seq))
		}
	default:
		lo, hi := uint64(1), NextSeq(kv)
		if plan == PlanRecordTime {
			lo, hi = recordSeqRange(kv, f.GERecordTime, f.LTRecordTime, hi)
		}
		sources = append(sources, seqRange(kv, max(lo, after.Seq+1), hi))
	}
	for seq := range mergeSeqs(sources) {
		e := EventBySeq(kv, seq)
		if e == nil || !f.Admits(e) {
			continue
		}
		if !fn(e, Cursor{Seq: seq}) {
			return nil
		}
	}
	return nil
}

func uniq(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}

// indexedSeqs lists the sequences under tag and value after the given one.
func indexedSeqs(kv store.Reader, tag byte, value string, after uint64) iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		if after == math.MaxUint64 {
			return
		}
		p := eventIndexPrefix(tag, value)
		kv.Iterate(eventIndexKey(tag, value, after+1), store.PrefixEnd(p), func(k, _ []byte) bool {
			if len(k) != len(p)+8 {
				return true
			}
			return yield(binary.BigEndian.Uint64(k[len(p):]))
		})
	}
}

// unitSeqs lists the sequences of the events in a unit's provenance after
// the given one (provenance is in capture order).
func unitSeqs(kv store.Reader, unit string, after uint64) iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		u := GetUnit(kv, unit)
		if u == nil {
			return
		}
		for n := uint64(0); n < u.Events; n++ {
			h := kv.Get(UnitLogKey(u.Key, n))
			if h == nil {
				continue
			}
			e := GetEvent(kv, string(h))
			if e == nil || e.Seq <= after {
				continue
			}
			if !yield(e.Seq) {
				return
			}
		}
	}
}

// seqRange lists the sequences lo … hi-1 that name an event.
func seqRange(kv store.Reader, lo, hi uint64) iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		if lo >= hi {
			return
		}
		kv.Iterate(eventSeqKey(lo), eventSeqKey(hi), func(k, _ []byte) bool {
			return yield(binary.BigEndian.Uint64(k[1:]))
		})
	}
}

// recordSeqRange is the range of sequences [lo, hi) whose record time (the
// block time, which never decreases with the sequence) is within the
// bounds: two binary searches over the capture order.
func recordSeqRange(kv store.Reader, ge, lt *int64, next uint64) (uint64, uint64) {
	// first returns the smallest seq in [1, next) whose time is >= t.
	first := func(t int64) uint64 {
		lo, hi := uint64(1), next
		for lo < hi {
			mid := lo + (hi-lo)/2
			e := EventBySeq(kv, mid)
			if e == nil || e.Time >= t { // a missing entry cannot happen; stop low
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		return lo
	}
	lo, hi := uint64(1), next
	if ge != nil {
		lo = first(*ge)
	}
	if lt != nil {
		hi = first(*lt)
	}
	return lo, hi
}

// mergeSeqs merges ascending sequence streams into one, without repeats.
func mergeSeqs(sources []iter.Seq[uint64]) iter.Seq[uint64] {
	if len(sources) == 1 {
		return sources[0]
	}
	return func(yield func(uint64) bool) {
		type head struct {
			next func() (uint64, bool)
			stop func()
			v    uint64
			ok   bool
		}
		heads := make([]*head, 0, len(sources))
		for _, s := range sources {
			next, stop := iter.Pull(s)
			h := &head{next: next, stop: stop}
			h.v, h.ok = next()
			heads = append(heads, h)
		}
		defer func() {
			for _, h := range heads {
				h.stop()
			}
		}()
		for {
			var min *head
			for _, h := range heads {
				if h.ok && (min == nil || h.v < min.v) {
					min = h
				}
			}
			if min == nil {
				return
			}
			v := min.v
			if !yield(v) {
				return
			}
			for _, h := range heads {
				for h.ok && h.v <= v {
					h.v, h.ok = h.next()
				}
			}
		}
	}
}

// findByTime walks the event-time index over the query's event-time range.
func findByTime(kv store.Reader, f EventFilter, after Cursor, fn func(e *StoredEvent, at Cursor) bool) {
	start := eventTimeKey(0, 0)
	if f.GEEventTime != nil {
		start = eventTimeKey(*f.GEEventTime, 0)
	}
	if after.Time != 0 {
		if after.Seq == math.MaxUint64 {
			start = eventTimeKey(after.Time+1, 0)
		} else if k := eventTimeKey(after.Time, after.Seq+1); string(k) > string(start) {
			start = k
		}
	}
	end := store.PrefixEnd([]byte{sm.PrefixSupplyEventIdx, indexEventTime})
	if f.LTEventTime != nil {
		end = eventTimeKey(*f.LTEventTime, 0)
	}
	if string(start) >= string(end) {
		return
	}
	kv.Iterate(start, end, func(k, _ []byte) bool {
		if len(k) != 18 {
			return true
		}
		at := Cursor{Time: int64(binary.BigEndian.Uint64(k[2:])), Seq: binary.BigEndian.Uint64(k[10:])}
		e := EventBySeq(kv, at.Seq)
		if e == nil || !f.Admits(e) {
			return true
		}
		return fn(e, at)
	})
}
