package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/x/supply"
)

// BenchmarkSupplyCapture: blocks of supply/capture transactions through the
// whole application (decode, signature, custody rules, the Merkle tree and
// commit), each transaction carrying 50 events with an event document of
// about 500 bytes: commissioning of new serials, then their shipping. Reports
// events per second of wall time (signing is outside the timer).
func BenchmarkSupplyCapture(b *testing.B) {
	const txsPerBlock, eventsPerTx = 20, 50
	h := apptest.NewWithConfig(b, apptest.Supply())
	h.SupplyMasterData(b)
	maker := apptest.Key(apptest.ManufacturerAdmin)
	doc := make([]byte, 500)
	for i := range doc {
		doc[i] = 'x'
	}
	doc[0], doc[len(doc)-1] = '{', '}'
	n := 0
	event := func(step string, serials []string) supply.CaptureEvent {
		n++
		e := supply.CaptureEvent{Hash: fmt.Sprintf("ni:///sha-256;%064x?ver=CBV2.0", n), Type: supply.ObjectEvent, BizStep: step,
			EventTime: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli() + int64(n), EPCs: serials, JSON: doc, BizLocation: apptest.GLNManufacturer}
		if step == "commissioning" {
			e.Action, e.Lot, e.Expiry = supply.ActionAdd, "L1", "271231"
		} else {
			e.Action, e.DestParty = supply.ActionObserve, apptest.GLNDistributor
		}
		return e
	}
	var events int
	var elapsed, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var txs [][]byte
		for t := 0; t < txsPerBlock; t++ {
			m := &supply.MsgCapture{}
			for e := 0; e < eventsPerTx/2; e++ {
				key := fmt.Sprintf("(01)%s(21)B%d-%d-%d", apptest.SupplyGTIN, i, t, e)
				m.Events = append(m.Events, event("commissioning", []string{key}), event("shipping", []string{key}))
			}
			txs = append(txs, h.Sign(maker, m))
		}
		start, cpu0 := time.Now(), processCPU()
		b.StartTimer()
		h.DeliverOK(b, txs...)
		b.StopTimer()
		elapsed += time.Since(start)
		cpu += processCPU() - cpu0
		events += txsPerBlock * eventsPerTx
	}
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	// CPU per event does not depend on what else the machine runs.
	b.ReportMetric(float64(cpu.Microseconds())/float64(events), "cpu-µs/event")
}
