package exec_test

import (
	"testing"
	"time"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/exec"
	"github.com/medchain/medchain/store/merkle"
)

// hookModule records the block hooks it sees, in state and as events.
type hookModule struct{ name string }

func (m hookModule) Name() string       { return m.name }
func (m hookModule) Routes() []sm.Route { return nil }

func (m hookModule) BeginBlock(ctx sm.Context, info sm.BlockInfo) {
	ctx.Store.Set([]byte{0x60, 'b'}, append([]byte(m.name), info.Proposer[0]))
	ctx.Events.Emit("begin", sm.Attr{Key: "module", Value: m.name})
	for _, v := range info.LastCommit {
		if !v.Signed {
			ctx.Events.Emit("missed", sm.Attr{Key: "validator", Value: string(rune('a' + v.Validator[0]))})
		}
	}
	for _, mb := range info.Misbehavior {
		ctx.Events.Emit("evidence", sm.Attr{Key: "height", Value: string(rune('0' + mb.Height))})
	}
}

func (m hookModule) EndBlock(ctx sm.Context) {
	// End sees what Begin wrote in the same block.
	if ctx.Store.Get([]byte{0x60, 'b'}) != nil {
		ctx.Store.Set([]byte{0x60, 'e'}, []byte(m.name))
	}
	ctx.Events.Emit("end", sm.Attr{Key: "module", Value: m.name})
}

func TestBlockHooksRunAroundTransactionsInModuleOrder(t *testing.T) {
	core := exec.New(sm.NewRouter(hookModule{"one"}, hookModule{"two"}), exec.SignerPays(nil))
	tree := merkle.NewMemTree()
	info := sm.BlockInfo{
		Proposer:    sm.ConsAddress{7},
		LastCommit:  []sm.VoteInfo{{Validator: sm.ConsAddress{0}, Power: 10, Signed: true}, {Validator: sm.ConsAddress{1}, Power: 10}},
		Misbehavior: []sm.Misbehavior{{Kind: sm.MisbehaviorDuplicateVote, Validator: sm.ConsAddress{1}, Height: 4}},
	}
	res := core.DeliverBlock(tree, exec.BlockContext{ChainID: "c", Height: 5, Time: time.Unix(100, 0), Info: info}, nil, exec.SerialVerifier{})
	var got []string
	for _, e := range res.Events {
		got = append(got, e.Type+":"+e.Attrs[0].Value)
	}
	want := []string{"begin:one", "missed:b", "evidence:4", "begin:two", "missed:b", "evidence:4", "end:one", "end:two"}
	if len(got) != len(want) {
		t.Fatalf("block events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("block events %v, want %v", got, want)
		}
	}
	if v := tree.Get([]byte{0x60, 'b'}); string(v) != "two\x07" {
		t.Fatalf("begin write %q", v)
	}
	if v := tree.Get([]byte{0x60, 'e'}); string(v) != "two" {
		t.Fatalf("end write %q", v)
	}
	if len(res.AppHash) == 0 {
		t.Fatal("no app hash")
	}
}

// eventModule is an EventEndBlocker: it records the events it was shown.
type eventModule struct{ seen *[]string }

func (eventModule) Name() string       { return "watcher" }
func (eventModule) Routes() []sm.Route { return nil }
func (m eventModule) EndBlockEvents(ctx sm.Context, events []sm.Event) {
	for _, e := range events {
		*m.seen = append(*m.seen, e.Type+":"+e.Attrs[0].Value)
	}
	ctx.Events.Emit("watched", sm.Attr{Key: "n", Value: string(rune('0' + len(events)))})
}

// TestEventEndBlockerSeesTheBlockSoFar: an EventEndBlocker is shown the
// BeginBlock events and those of the EndBlock hooks before it, in order
// (no transactions here), and its own events are not among them.
func TestEventEndBlockerSeesTheBlockSoFar(t *testing.T) {
	var seen []string
	core := exec.New(sm.NewRouter(hookModule{"one"}, eventModule{&seen}, hookModule{"two"}), exec.SignerPays(nil))
	res := core.DeliverBlock(merkle.NewMemTree(), exec.BlockContext{ChainID: "c", Height: 5, Time: time.Unix(100, 0)}, nil, exec.SerialVerifier{})
	want := []string{"begin:one", "begin:two", "end:one"}
	if len(seen) != len(want) || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] {
		t.Fatalf("shown %v, want %v", seen, want)
	}
	var got []string
	for _, e := range res.Events {
		got = append(got, e.Type)
	}
	if len(got) != 5 || got[3] != "watched" || got[4] != "end" {
		t.Fatalf("block events %v", got)
	}
}
