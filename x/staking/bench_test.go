package staking

import (
	"testing"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/bank"
)

// BenchmarkBlockHooks measures staking's work per block as a node does it
// (BeginBlock: collection, division, downtime; EndBlock: maturity, power
// reconciliation, over a block cache on the Merkle tree, written and
// committed), with two validators that both signed, rewards to divide and
// 200 delegations, which cost nothing per block.
func BenchmarkBlockHooks(b *testing.B) { benchBlocks(b, true) }

// BenchmarkBlockBaseline is BenchmarkBlockHooks without the hooks: the
// mint, cache write and commit alone.
func BenchmarkBlockBaseline(b *testing.B) { benchBlocks(b, false) }

func benchBlocks(b *testing.B, hooks bool) {
	e := newEnv(&testing.T{})
	for i := 0; i < 200; i++ {
		e.ok([]string{"alice", "bob", "carol"}[i%3], &MsgDelegate{Validator: valKey([]string{"valA", "valB"}[i%2]), Amount: 1000 + uint64(i)})
	}
	info := e.commit("valA", "valB")
	tree := merkle.NewMemTree()
	e.kv.Iterate(nil, nil, func(k, v []byte) bool { tree.Set(k, v); return true })
	if _, _, err := tree.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cache := store.NewCache(tree)
		if err := bank.Mint(cache, ProvisionPool, 123_457); err != nil {
			b.Fatal(err)
		}
		e.height++
		ctx := sm.Context{ChainID: "test", Height: e.height, Time: e.now, Store: cache, Events: &sm.Events{}, Valset: &sm.ValidatorUpdates{}}
		if hooks {
			e.mod.BeginBlock(ctx, info)
			e.mod.EndBlock(ctx)
		}
		cache.Write()
		if _, _, err := tree.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
