package trials_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/trials"
)

func datum(i int) trials.Datum {
	return trials.Datum{Participant: smtest.Key(ns, "p").Address(), RecordHash: [32]byte{byte(i), byte(i >> 8), 7}, Collected: int64(1_700_000_000 + i)}
}

// TestCRFTreeIsRFC6962: the batch root equals the tree head of an
// independent RFC 6962 implementation (transparency-dev/merkle's compact
// ranges) for every size up to 70, and every leaf's audit path verifies
// with the library's verifier, while a changed leaf, index or path does not.
func TestCRFTreeIsRFC6962(t *testing.T) {
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	for n := 1; n <= 70; n++ {
		var leaves [][]byte
		cr := rf.NewEmptyRange(0)
		for i := range n {
			lh := trials.LeafHash(trialID, datum(i))
			leaves = append(leaves, lh)
			if err := cr.Append(lh, nil); err != nil {
				t.Fatal(err)
			}
		}
		want, err := cr.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		root := trials.Root(leaves)
		if !bytes.Equal(root[:], want) {
			t.Fatalf("size %d: root %x, want %x", n, root, want)
		}
		for i := range n {
			p, err := trials.InclusionProof(leaves, i)
			if err != nil {
				t.Fatal(err)
			}
			if err := trials.VerifyInclusion(leaves[i], uint64(i), uint64(n), p, root); err != nil {
				t.Fatalf("size %d leaf %d: %v", n, i, err)
			}
			if n > 1 {
				if err := trials.VerifyInclusion(leaves[(i+1)%n], uint64(i), uint64(n), p, root); !errors.Is(err, trials.ErrNotIncluded) {
					t.Fatalf("size %d leaf %d: another leaf verified: %v", n, i, err)
				}
			}
		}
	}
}

// TestLeafEncoding pins the leaf layout (docs/trials.md) and shows that it
// binds trial, participant, record hash and collection time.
func TestLeafEncoding(t *testing.T) {
	d := trials.Datum{Participant: crypto.Address{1, 2, 3}, RecordHash: [32]byte{9}, Collected: 258}
	b := trials.LeafData(trialID, d)
	want := append([]byte("medchain/trial-crf/v1\x00NCT01234567"), d.Participant[:]...)
	want = append(want, d.RecordHash[:]...)
	want = append(want, 0, 0, 0, 0, 0, 0, 1, 2)
	if !bytes.Equal(b, want) {
		t.Fatalf("leaf %x\nwant %x", b, want)
	}
	base := trials.LeafHash(trialID, d)
	for name, other := range map[string][]byte{
		"trial":       trials.LeafHash("NCT01234568", d),
		"participant": trials.LeafHash(trialID, trials.Datum{Participant: crypto.Address{1, 2, 4}, RecordHash: d.RecordHash, Collected: d.Collected}),
		"record":      trials.LeafHash(trialID, trials.Datum{Participant: d.Participant, RecordHash: [32]byte{8}, Collected: d.Collected}),
		"collected":   trials.LeafHash(trialID, trials.Datum{Participant: d.Participant, RecordHash: d.RecordHash, Collected: 259}),
	} {
		if bytes.Equal(base, other) {
			t.Errorf("changing the %s does not change the leaf hash", name)
		}
	}
	if _, err := trials.InclusionProof([][]byte{base}, 1); err == nil {
		t.Fatal("a proof of a leaf beyond the tree")
	}
}

func benchLeaves(n int) [][]byte {
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = trials.LeafHash(trialID, datum(i))
	}
	return leaves
}

// BenchmarkRoot10k: the root of a batch of 10,000 data (what `trial
// anchor` computes before it signs).
func BenchmarkRoot10k(b *testing.B) {
	leaves := benchLeaves(10_000)
	b.ResetTimer()
	for range b.N {
		trials.Root(leaves)
	}
}

// BenchmarkVerifyInclusion10k: checking one datum's audit path in a batch
// of 10,000 (what `verify --inclusion` does besides the light client).
func BenchmarkVerifyInclusion10k(b *testing.B) {
	leaves := benchLeaves(10_000)
	root := trials.Root(leaves)
	p, err := trials.InclusionProof(leaves, 4321)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := trials.VerifyInclusion(leaves[4321], 4321, 10_000, p, root); err != nil {
			b.Fatal(err)
		}
	}
}
