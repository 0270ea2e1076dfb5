package supply_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/supply"
)

// countingReader counts the keys a query reads.
type countingReader struct {
	store.Reader
	reads int
}

func (c *countingReader) Get(k []byte) []byte { c.reads++; return c.Reader.Get(k) }
func (c *countingReader) Iterate(start, end []byte, fn func(k, v []byte) bool) {
	c.Reader.Iterate(start, end, func(k, v []byte) bool { c.reads++; return fn(k, v) })
}

func sscc(n int) string { return "(00)" + withCheck(fmt.Sprintf("00614141%09d", n)) }

// TestFindEvents: every plan of the EPCIS query index answers exactly what
// a scan of every event answers, page by page, and reads in proportion to
// its answer.
func TestFindEvents(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(7, 7))
	const units = 120
	locOf := map[uint64]string{} // seq → bizLocation GLN
	seq := uint64(0)
	dispositions := []string{"active", "in_progress", "damaged", ""}
	base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	capture := func(evs ...supply.CaptureEvent) {
		t.Helper()
		e.OK(mA, &supply.MsgCapture{Events: evs})
		for _, c := range evs {
			seq++
			locOf[seq] = c.BizLocation
		}
		e.Now = e.Now.Add(time.Duration(rng.IntN(3)) * time.Second)
	}
	for i := range units {
		c := e.ev("commissioning", supply.ObjectEvent, supply.ActionAdd, sscc(i))
		c.Disposition = dispositions[rng.IntN(3)]
		c.EventTime = base + int64(rng.IntN(1_000_000))
		if rng.IntN(2) == 0 {
			c.BizLocation = glnM
		}
		capture(c)
	}
	for range 200 {
		var evs []supply.CaptureEvent
		for range 1 + rng.IntN(3) {
			c := e.ev("inspecting", supply.ObjectEvent, supply.ActionObserve, sscc(rng.IntN(units)))
			c.Disposition = dispositions[rng.IntN(4)]
			c.EventTime = base + int64(rng.IntN(1_000_000))
			if rng.IntN(3) == 0 {
				c.BizLocation = glnM
			}
			if rng.IntN(5) == 0 {
				c.Type, c.Action, c.BizStep = supply.TransactionEvent, supply.ActionAdd, "shipping"
			}
			evs = append(evs, c)
		}
		capture(evs...)
	}
	total := seq
	if supply.NextSeq(e.KV) != total+1 {
		t.Fatalf("next seq %d, captured %d", supply.NextSeq(e.KV), total)
	}
	i64 := func(v int64) *int64 { return &v }
	rec := t0.Unix() + 100
	cases := []struct {
		name string
		f    supply.EventFilter
		plan string
	}{
		{"one unit", supply.EventFilter{Units: []string{sscc(5)}}, supply.PlanUnits},
		{"two units and a step", supply.EventFilter{Units: []string{sscc(9), sscc(77), sscc(9)}, BizSteps: []string{"inspecting"}}, supply.PlanUnits},
		{"an unknown unit", supply.EventFilter{Units: []string{sscc(999)}}, supply.PlanUnits},
		{"location", supply.EventFilter{Locations: []string{glnM}}, supply.PlanLocation},
		{"location and disposition", supply.EventFilter{Locations: []string{glnM, glnD}, Dispositions: []string{"damaged"}}, supply.PlanLocation},
		{"event time", supply.EventFilter{GEEventTime: i64(base + 200_000), LTEventTime: i64(base + 260_000)}, supply.PlanEventTime},
		{"event time from", supply.EventFilter{GEEventTime: i64(base + 990_000), Types: []string{supply.ObjectEvent}}, supply.PlanEventTime},
		{"event time before", supply.EventFilter{LTEventTime: i64(base + 5_000)}, supply.PlanEventTime},
		{"biz step", supply.EventFilter{BizSteps: []string{"commissioning"}}, supply.PlanBizStep},
		{"biz steps", supply.EventFilter{BizSteps: []string{"shipping", "commissioning"}, Actions: []string{supply.ActionAdd}}, supply.PlanBizStep},
		{"disposition", supply.EventFilter{Dispositions: []string{"in_progress", "damaged"}}, supply.PlanDisp},
		{"record time", supply.EventFilter{GERecordTime: i64(rec), LTRecordTime: i64(rec + 60)}, supply.PlanRecordTime},
		{"record time from", supply.EventFilter{GERecordTime: i64(rec + 150)}, supply.PlanRecordTime},
		{"all", supply.EventFilter{}, supply.PlanScan},
		{"action", supply.EventFilter{Actions: []string{supply.ActionObserve}}, supply.PlanScan},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if p := supply.Plan(tc.f); p != tc.plan {
				t.Fatalf("plan %s, want %s", p, tc.plan)
			}
			// What a scan of every event answers.
			var want []*supply.StoredEvent
			supply.Events(e.KV, 0, func(ev *supply.StoredEvent) bool {
				if tc.f.Admits(ev) && (len(tc.f.Locations) == 0 || slices.Contains(tc.f.Locations, locOf[ev.Seq])) {
					want = append(want, ev)
				}
				return true
			})
			if tc.plan == supply.PlanEventTime {
				sort.SliceStable(want, func(i, j int) bool { return want[i].EventTime < want[j].EventTime })
			}
			// Page by page, 7 at a time, from each page's cursor.
			var got []*supply.StoredEvent
			var after supply.Cursor
			reads := 0
			for page := 0; ; page++ {
				kv := &countingReader{Reader: e.KV}
				var n int
				var last supply.Cursor
				more := false
				err := supply.FindEvents(kv, tc.f, after, func(ev *supply.StoredEvent, at supply.Cursor) bool {
					if n == 7 {
						more = true
						return false
					}
					if tc.plan == supply.PlanEventTime && (at.Time != ev.EventTime || at.Seq != ev.Seq) || tc.plan != supply.PlanEventTime && at != (supply.Cursor{Seq: ev.Seq}) {
						t.Fatalf("cursor %+v for event %d at %d", at, ev.Seq, ev.EventTime)
					}
					got = append(got, ev)
					n++
					last = at
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
				reads += kv.reads
				if !more {
					break
				}
				after = last
				if page > 200 {
					t.Fatal("no end")
				}
			}
			t.Logf("%d of %d events, %d reads", len(want), total, reads)
			if len(got) != len(want) {
				t.Fatalf("%d events, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].Seq != want[i].Seq {
					t.Fatalf("event %d: seq %d, want %d", i, got[i].Seq, want[i].Seq)
				}
			}
			// The cost follows the answer: an indexed plan reads a few keys
			// per event it lists, never every event.
			switch tc.plan {
			case supply.PlanScan:
			case supply.PlanUnits, supply.PlanLocation, supply.PlanEventTime, supply.PlanBizStep, supply.PlanDisp, supply.PlanRecordTime:
				listed := len(want)
				if tc.plan == supply.PlanUnits {
					listed = 0 // the provenance also lists events on the unit's container
					for _, u := range tc.f.Units {
						if x := supply.GetUnit(e.KV, u); x != nil {
							listed += int(x.Events)
						}
					}
				}
				if tc.plan == supply.PlanLocation || tc.plan == supply.PlanBizStep || tc.plan == supply.PlanDisp || tc.plan == supply.PlanEventTime {
					listed = countIndexed(e.KV, tc.f, locOf)
				}
				pages := len(want)/7 + 1
				if limit := 4*listed + 40*pages + 40; reads > limit {
					t.Fatalf("%d reads for %d listed events (%d answered, %d captured), want at most %d", reads, listed, len(want), total, limit)
				}
			}
		})
	}
	// A cursor of another plan's order is refused.
	if err := supply.FindEvents(e.KV, supply.EventFilter{GEEventTime: i64(base)}, supply.Cursor{Seq: 3}, func(*supply.StoredEvent, supply.Cursor) bool { return true }); err != supply.ErrCursor {
		t.Fatalf("a capture-order cursor for an event-time query: %v", err)
	}
	if err := supply.FindEvents(e.KV, supply.EventFilter{}, supply.Cursor{Time: base, Seq: 3}, func(*supply.StoredEvent, supply.Cursor) bool { return true }); err != supply.ErrCursor {
		t.Fatalf("an event-time cursor for a scan: %v", err)
	}
}

// countIndexed is how many events the plan's index lists for f (each
// value's entries), whatever the rest of f says.
func countIndexed(kv store.Reader, f supply.EventFilter, locOf map[uint64]string) int {
	n := 0
	plan := supply.Plan(f)
	supply.Events(kv, 0, func(ev *supply.StoredEvent) bool {
		switch {
		case plan == supply.PlanLocation && slices.Contains(f.Locations, locOf[ev.Seq]),
			plan == supply.PlanEventTime && (f.GEEventTime == nil || ev.EventTime >= *f.GEEventTime) && (f.LTEventTime == nil || ev.EventTime < *f.LTEventTime),
			plan == supply.PlanBizStep && slices.Contains(f.BizSteps, ev.BizStep),
			plan == supply.PlanDisp && slices.Contains(f.Dispositions, ev.Disposition):
			n++
		}
		return true
	})
	return n
}
