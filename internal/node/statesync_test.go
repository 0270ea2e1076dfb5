package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
)

// A second node joins a running network by state sync: it restores a
// snapshot the first node took (verified by the light client against a
// trusted block hash) instead of replaying from block 1, then follows the
// chain with the same app hashes.
func TestStateSyncJoin(t *testing.T) {
	dir := t.TempDir()
	homes := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}
	base := config.Default()
	base.LogLevel = "error"
	base.Consensus.TimeoutCommit = config.Duration(100 * time.Millisecond)
	base.Consensus.TimeoutPropose = config.Duration(500 * time.Millisecond)
	if _, err := devnet.Write(devnet.Options{ChainID: "statesync-test", Validators: 1, Homes: homes, Base: base, Light: true,
		P2PBase: 1, RPCBase: 2, APIBase: 3}); err != nil {
		t.Fatal(err)
	}
	lg := slog.New(slog.DiscardHandler)
	cfgA, err := config.Load(homes[0])
	if err != nil {
		t.Fatal(err)
	}
	freeListen(t, &cfgA)
	cfgA.StateSync.SnapshotInterval = 10
	cfgA.StateSync.SnapshotKeep = 20 // none pruned while b fetches
	a, err := New(homes[0], cfgA, lg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	waitHeight(t, a, 23)
	a.App().WaitSnapshots()
	list, err := a.App().ListSnapshots(context.Background(), &abci.RequestListSnapshots{})
	if err != nil || len(list.Snapshots) == 0 {
		t.Fatalf("node a offers no snapshot: %v", err)
	}
	snapHeight := int64(list.Snapshots[len(list.Snapshots)-1].Height)

	cfgB, err := config.Load(homes[1])
	if err != nil {
		t.Fatal(err)
	}
	freeListen(t, &cfgB)
	cfgB.P2P.PersistentPeers = fmt.Sprintf("%s@%s", a.cmt.NodeInfo().ID(), cfgA.P2P.Listen)
	rpc := "http://" + cfgA.RPC.Listen
	meta := a.cmt.BlockStore().LoadBlockMeta(3)
	cfgB.StateSync = config.StateSync{Enable: true, RPCServers: []string{rpc, rpc}, TrustHeight: 3,
		TrustHash: meta.BlockID.Hash.String(), TrustPeriod: config.Duration(24 * time.Hour), DiscoveryTime: config.Duration(5 * time.Second)}
	b, err := New(homes[1], cfgB, lg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	// Past the snapshot, through block sync and consensus: the block store
	// starts after the snapshot's height.
	var first, target int64
	deadline := time.Now().Add(60 * time.Second)
	for {
		if first = b.cmt.BlockStore().Base(); first > 0 {
			target = first + 5
			if s := b.App().Committed(); s != nil && s.Version() >= target {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b did not follow the chain after state sync (block store base %d)", first)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if first <= snapHeight {
		t.Fatalf("node b's block store starts at %d: it did not join from a snapshot (a offered %d already)", first, snapHeight)
	}
	// The state b computed itself, after the snapshot, is a's.
	v := b.App().Committed().Version()
	sa, errA := a.App().SnapshotAt(v)
	sb, errB := b.App().SnapshotAt(v)
	if errA != nil || errB != nil || !bytes.Equal(sa.Hash(), sb.Hash()) {
		t.Fatalf("height %d: app hashes differ (%v %v)", v, errA, errB)
	}
}
