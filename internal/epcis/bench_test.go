package epcis

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParse measures parsing, validation and hashing of a capture
// document of 100 commissioning events of 1 and of 10 units each.
func BenchmarkParse(b *testing.B) {
	for _, units := range []int{1, 10} {
		b.Run(fmt.Sprintf("units=%d", units), func(b *testing.B) { benchParse(b, units) })
	}
}

func benchParse(b *testing.B, units int) {
	ev := `{"type":"ObjectEvent","eventTime":"2026-03-01T09:00:00.000+01:00","eventTimeZoneOffset":"+01:00","action":"ADD","bizStep":"commissioning","disposition":"active","readPoint":{"id":"urn:epc:id:sgln:0614141.00001.0"},"bizLocation":{"id":"urn:epc:id:sgln:0614141.00001.0"},"epcList":[%s],"ilmd":{"cbvmda:lotNumber":"L1","cbvmda:itemExpirationDate":"2027-12-31"}}`
	var events []string
	for i := 0; i < 100; i++ {
		var epcs []string
		for j := 0; j < units; j++ {
			epcs = append(epcs, fmt.Sprintf(`"urn:epc:id:sgtin:0614141.012345.S%d"`, i*units+j))
		}
		events = append(events, fmt.Sprintf(ev, strings.Join(epcs, ",")))
	}
	doc := []byte(`{"@context":"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld","type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-03-01T08:00:00Z","epcisBody":{"eventList":[` + strings.Join(events, ",") + `]}}`)
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs, err := Parse(doc)
		if err != nil || len(evs) != 100 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}
