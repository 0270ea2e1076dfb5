package crypto_test

import (
	"fmt"
	"testing"

	"github.com/medchain/medchain/crypto"
)

func benchItems(b *testing.B, n int) []crypto.SigItem {
	b.Helper()
	items := make([]crypto.SigItem, n)
	for i := range items {
		k, err := crypto.GenerateKey(nil)
		if err != nil {
			b.Fatal(err)
		}
		msg := []byte(fmt.Sprintf("medchain/tx/v1 benchmark body %d of about three hundred bytes ........................................................................................................................................................................................................................", i))
		items[i] = crypto.SigItem{Pub: k.PubKey(), Msg: msg, Sig: k.Sign(msg)}
	}
	return items
}

// BenchmarkSign is one Ed25519 signature (the load generator's cost).
func BenchmarkSign(b *testing.B) {
	k, err := crypto.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	msg := benchItems(b, 1)[0].Msg
	for b.Loop() {
		k.Sign(msg)
	}
}

// BenchmarkVerify is one ZIP-215 Ed25519 verification.
func BenchmarkVerify(b *testing.B) {
	it := benchItems(b, 1)[0]
	for b.Loop() {
		if !crypto.Verify(it.Pub, it.Msg, it.Sig) {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkBatchVerify verifies batches of 64 and 1024 signatures;
// ns/sig is the cost per signature.
func BenchmarkBatchVerify(b *testing.B) {
	for _, n := range []int{64, 1024} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			items := benchItems(b, n)
			b.ResetTimer()
			for b.Loop() {
				for i, ok := range crypto.BatchVerify(items) {
					if !ok {
						b.Fatalf("signature %d invalid", i)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
		})
	}
}

// BenchmarkBatchVerifyFresh is BenchmarkBatchVerify/64 with keys never
// seen before: twice as many signers as crypto.ExpandedKeys, taken in turn,
// so that every key's expansion misses the cache.
func BenchmarkBatchVerifyFresh(b *testing.B) {
	const n = 64
	items := benchItems(b, 2*crypto.ExpandedKeys)
	b.ResetTimer()
	next := 0
	for b.Loop() {
		batch := items[next : next+n]
		next = (next + n) % len(items)
		for i, ok := range crypto.BatchVerify(batch) {
			if !ok {
				b.Fatalf("signature %d invalid", i)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
}
