package mint_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/mint"
)

// TestProvisionIsExactOverManyBlocks: with the supply held fixed, the
// provisions of N blocks, carry passed along, add up to exactly
// floor(N·supply·bps / (10000·blocks_per_year)): nothing is lost to
// rounding and nothing is rounded up, to the smallest unit.
func TestProvisionIsExactOverManyBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 13))
	for range 50 {
		supply := rng.Uint64N(1<<62) + 1
		bps := rng.Uint64N(10_001)
		bpy := rng.Uint64N(10_000_000) + 1
		const n = 5000
		var carry, total uint64
		for range n {
			var p uint64
			p, carry = mint.Provision(supply, bps, bpy, carry)
			total += p
		}
		want := new(big.Int).SetUint64(supply)
		want.Mul(want, big.NewInt(n))
		want.Mul(want, new(big.Int).SetUint64(bps))
		want.Quo(want, new(big.Int).Mul(big.NewInt(10_000), new(big.Int).SetUint64(bpy)))
		if !want.IsUint64() || want.Uint64() != total {
			t.Fatalf("supply %d bps %d bpy %d: minted %d over %d blocks, exact %s", supply, bps, bpy, total, n, want)
		}
	}
	if p, c := mint.Provision(1_000_000, 700, 1000, 0); p != 70 || c != 0 {
		t.Fatalf("1e6 at 7%% over 1000 blocks: %d carry %d", p, c)
	}
	if p, c := mint.Provision(1_000, 1, 6_311_520, 0); p != 0 || c != 1000 {
		t.Fatalf("a provision under one unit is carried: %d carry %d", p, c)
	}
	if p, _ := mint.Provision(1_000, 0, 1, 99); p != 0 {
		t.Fatalf("rate 0 mints %d", p)
	}
}

func TestProvisionPoolIsStakings(t *testing.T) {
	if mint.ProvisionPool != bank.ModuleAddress("mint", "provision") {
		t.Fatal("provision pool address changed")
	}
}
