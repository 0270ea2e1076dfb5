package fhir_test

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/bench"
	"github.com/medchain/medchain/x/consent"
)

// benchReaders is the number of concurrent readers of BenchmarkFHIRRead:
// 16 by default, where a read's latency (its audit event's fsync) bounds
// the rate; more (-fhir.readers 256) show the rate the node's CPU allows.
var benchReaders = flag.Int("fhir.readers", 16, "concurrent readers of BenchmarkFHIRRead")

// devTimeoutCommit is the block interval of the tests' development node:
// 100 ms keeps the tests that wait for commits short; benchmarks run with
// `medchain dev`'s 300 ms (-fhir.timeout-commit 300ms).
var devTimeoutCommit = flag.Duration("fhir.timeout-commit", 100*time.Millisecond, "block interval of the tests' development node")

// BenchmarkFHIRRead measures consent-checked reads through /fhir on an
// in-process development node: each GET /fhir/Observation/{id} decides
// consent from the latest state, opens the data key (HPKE), reads and
// decrypts the ciphertext (AES-256-GCM), renders the resource and reports
// the read to the audit trail, whose batches the node commits meanwhile.
// Clients and node share the machine.
//
// It reports reads/s and the process's CPU per read (user and system:
// clients, node and the audit transactions' execution together, so less
// noisy than the rate on a shared machine).
//
//	go test ./internal/fhir -run '^$' -bench FHIRRead -benchtime 20000x -fhir.timeout-commit 300ms [-fhir.readers 256]
func BenchmarkFHIRRead(b *testing.B) {
	const records = 200
	me := newPatient(b, "bench")
	ptok := token(b, me, "patient/*.read patient/*.write")
	p := addr(b, me).String()
	// Consents first: the keys of the records written next are wrapped for
	// the grantees at once.
	grant(b, me, consent.MsgGrant{Grantee: consent.Account(addr(b, "doctor2")), Actions: consent.ActRead, Types: []string{"Observation"}})
	grant(b, me, consent.MsgGrant{Grantee: consent.Org("dev-hospital"), Actions: consent.ActRead, Types: []string{"Observation"}})
	var entries []string
	for i := range records {
		entries = append(entries, fmt.Sprintf(`{"fullUrl":"urn:uuid:%d","resource":%s,"request":{"method":"POST","url":"Observation"}}`, i,
			observationJSON("Patient/"+p, "2339-0", "Glucose", fmt.Sprintf("2023-01-%02dT08:00:00Z", i%28+1), fmt.Sprint(80+i%50))))
	}
	r := want(b, do(b, http.MethodPost, "/fhir", ptok, `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`), http.StatusOK)
	var ids []string
	for _, e := range r.json(b)["entry"].([]any) {
		loc := e.(map[string]any)["response"].(map[string]any)["location"].(string)
		ids = append(ids, strings.Split(loc, "/")[1])
	}

	readers := []struct {
		name string
		tok  string
	}{
		{"practitioner-consent", token(b, "doctor2", "user/*.read", func(o *loginOpts) { o.TTL = 2 * time.Hour })},
		{"org-consent-no-delegation", token(b, "doctor1", "user/*.read", noDelegation)},
		{"patient", token(b, me, "patient/*.read")},
	}
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	base := devNode(b)
	trailBefore := trailLength(b, ptok, p)
	var served atomic.Int64
	for _, rd := range readers {
		b.Run(rd.name, func(b *testing.B) {
			var next, failed atomic.Int64
			// 16 readers in flight, whatever GOMAXPROCS is (RunParallel
			// starts parallelism × GOMAXPROCS goroutines).
			b.SetParallelism(max(1, *benchReaders/runtime.GOMAXPROCS(0)))
			cpu0 := bench.ProcessCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := ids[next.Add(1)%int64(len(ids))]
					req, _ := http.NewRequest(http.MethodGet, base+"/fhir/Observation/"+id, nil)
					req.Header.Set("Authorization", "Bearer "+rd.tok)
					resp, err := client.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						failed.Add(1)
					} else {
						served.Add(1)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
			b.ReportMetric(float64((bench.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/read")
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d reads failed", n, b.N)
			}
		})
	}
	// Every served read reaches the trail on chain.
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := trailLength(b, ptok, p) - trailBefore
		if got >= int(served.Load()) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d reads served, %d in the trail", served.Load(), got)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The patient pages through the trail those reads left: the first page
	// of 50, newest first, with the total.
	b.Run("trail-first-page", func(b *testing.B) {
		events := 0
		for b.Loop() {
			r := want(b, do(b, http.MethodGet, "/fhir/AuditEvent?patient=Patient/"+p+"&_sort=-date&_count=50", ptok, nil), http.StatusOK).json(b)
			events = int(r["total"].(float64))
			if n := len(r["entry"].([]any)); n != 50 {
				b.Fatalf("%d entries on the first page", n)
			}
		}
		b.ReportMetric(float64(events), "events")
	})
}

func trailLength(b *testing.B, tok, patient string) int {
	r := want(b, do(b, http.MethodGet, "/fhir/AuditEvent?patient=Patient/"+patient+"&_count=0", tok, nil), http.StatusOK)
	return int(r.json(b)["total"].(float64))
}
