package bench

import (
	"bytes"
	"strings"
	"testing"
)

func report(target, indexer string, inProcess bool, tps float64) *Report {
	return &Report{
		Params:  Params{Target: target, KVIndexer: indexer},
		Results: &Results{Target: target, CommittedTPS: tps, CPU: CPU{InProcess: inProcess}},
	}
}

// The comparison names each baseline by how it was fed and reports the
// ratio to the strongest one first, whatever order the runs come in.
func TestComparisonStrongestFirst(t *testing.T) {
	med := report("medchain", "", false, 12033)
	bases := []*Report{
		report("kvstore-inproc", "null", true, 20000),
		report("kvstore-rpc", "kv", true, 9196),
		report("kvstore-rpc", "null", false, 13708),
	}
	var out bytes.Buffer
	Comparison(&out, med, bases...)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"medchain / kvstore (JSON-RPC, separate load generator, indexer off) = 0.878× (12033 / 13708 tx/s)",
		"medchain / kvstore (JSON-RPC, load generator in its process, indexer on) = 1.309× (12033 / 9196 tx/s)",
		"medchain / kvstore (mempool directly, load generator in its process, indexer off) = 0.602× (12033 / 20000 tx/s)",
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], w)
		}
	}

	out.Reset()
	Compare(&out, []*Report{med, bases[0], bases[2]}, []string{"med.json", "inproc.json", "rpc.json"})
	_, ratios, _ := strings.Cut(out.String(), "\n\n")
	if !strings.HasPrefix(ratios, "med.json / rpc.json, kvstore (JSON-RPC, separate load generator, indexer off) = 0.878×") {
		t.Errorf("bench compare does not put the strongest baseline first:\n%s", out.String())
	}
}
