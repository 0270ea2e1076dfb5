package sm_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/medchain/medchain/sm"
)

// PackBundles keeps the order, the bundle limits and the total limit, and
// what it packs decodes back to the same transactions.
func TestPackBundles(t *testing.T) {
	var txs [][]byte
	for i := range 50 {
		txs = append(txs, bytes.Repeat([]byte{byte(i)}, 90+i)) // 2-byte lengths from 128 on
	}
	for _, c := range []struct {
		maxBundle int
		maxTotal  int64
	}{{1000, 0}, {300, 0}, {1 << 30, 0}, {1000, 2500}, {300, 100}} {
		name := fmt.Sprintf("bundles ≤ %d, total ≤ %d", c.maxBundle, c.maxTotal)
		bundles, sizes := sm.PackBundles(txs, c.maxBundle, c.maxTotal)
		var got [][]byte
		var total int64
		for i, b := range bundles {
			limit := c.maxBundle
			if limit > sm.MaxBundleBytes {
				limit = sm.MaxBundleBytes
			}
			if len(b) > limit {
				t.Fatalf("%s: bundle %d is %d bytes", name, i, len(b))
			}
			inner, err := sm.DecodeBundle(b)
			if err != nil || len(inner) != sizes[i] {
				t.Fatalf("%s: bundle %d: %d transactions, sizes says %d, %v", name, i, len(inner), sizes[i], err)
			}
			got = append(got, inner...)
			total += sm.BlockBytes(b)
		}
		if c.maxTotal > 0 && total > c.maxTotal {
			t.Fatalf("%s: %d bytes in all", name, total)
		}
		if c.maxTotal == 0 && len(got) != len(txs) {
			t.Fatalf("%s: %d of %d packed", name, len(got), len(txs))
		}
		for i := range got {
			if !bytes.Equal(got[i], txs[i]) {
				t.Fatalf("%s: transaction %d out of order", name, i)
			}
		}
		// With a total limit, the next transaction would not have fit.
		if c.maxTotal > 0 && len(got) < len(txs) {
			more, _ := sm.PackBundles(txs[:len(got)+1], c.maxBundle, 0)
			n := int64(0)
			for _, b := range more {
				n += sm.BlockBytes(b)
			}
			if n <= c.maxTotal {
				t.Fatalf("%s: stopped at %d though %d more bytes fit", name, len(got), c.maxTotal-total)
			}
		}
	}
}
