package staking

import (
	"testing"
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm/smtest"
)

func TestRevenuePerDayAndPerBlock(t *testing.T) {
	e := newEnv(t)
	e.ok("alice", &MsgDelegate{Validator: valKey("valA"), Amount: 10_000})
	e.block(e.commit("valA", "valB")) // valA now 20, valB 10
	for i := 0; i < 3; i++ {
		e.fund(3000, 0)
		e.block(e.commit("valA", "valB"))
	}
	e.now = e.now.Add(24 * time.Hour)
	e.fund(3000, 0)
	e.block(e.commit("valA"))

	days := RevenueByDay(e.kv, orgA)
	if len(days) != 2 {
		t.Fatalf("days %+v", days)
	}
	// 3 blocks of 2000 (20 of 30 power), then 3000 alone; commission 5%.
	if d := days[0]; d.Blocks != 3 || d.Rewards != 6000 || d.Commission != 300 {
		t.Fatalf("day 1 %+v", d)
	}
	if d := days[1]; d.Blocks != 1 || d.Rewards != 3000 || d.Commission != 150 || d.Day != e.now.Unix()/86400 {
		t.Fatalf("day 2 %+v", d)
	}
	blocks := RevenueByBlock(e.kv, orgA)
	if len(blocks) != 4 || blocks[3].Height != e.height || blocks[3].Rewards != 3000 {
		t.Fatalf("blocks %+v", blocks)
	}
	if days := RevenueByDay(e.kv, orgB); len(days) != 1 || days[0].Rewards != 3000 {
		t.Fatalf("org B %+v", days)
	}
}

func TestRevenueBlockHistoryIsPruned(t *testing.T) {
	e := newEnv(t)
	if err := e.reg.Set(e.kv, ParamRevenueBlocks, 3); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		e.fund(100, 0)
		e.block(e.commit("valA", "valB"))
	}
	blocks := RevenueByBlock(e.kv, orgA)
	if len(blocks) != 3 || blocks[0].Height != e.height-2 {
		t.Fatalf("kept %+v", blocks)
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range []interface{ Encode(*codec.Writer) }{
		&MsgDelegate{Validator: valKey("valA"), Amount: 5},
		&MsgSetCommission{Validator: valKey("valA"), RateBps: 5},
		&MsgUnjail{Validator: valKey("valA")},
	} {
		f.Add(codec.Marshal(m))
	}
	routes := New(nil).Routes()
	f.Fuzz(func(t *testing.T, b []byte) { smtest.FuzzRoutes(t, routes, b) })
}
