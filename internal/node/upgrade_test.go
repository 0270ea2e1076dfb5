package node

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/internal/ports"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/gov"
)

// devHome writes a single-validator development home with fast blocks on
// free loopback ports and returns it with its configuration.
func devHome(t *testing.T, chainID string) (string, config.Config) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "node")
	base := config.Default()
	base.LogLevel = "error"
	base.Consensus.TimeoutCommit = config.Duration(50 * time.Millisecond)
	base.Consensus.TimeoutPropose = config.Duration(500 * time.Millisecond)
	if _, err := devnet.Write(devnet.Options{ChainID: chainID, Validators: 1, Homes: []string{home}, Base: base, Light: true,
		P2PBase: 1, RPCBase: 2, APIBase: 3}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := ports.Addrs(3)
	if err != nil {
		t.Fatal(err)
	}
	cfg.P2P.Listen, cfg.RPC.Listen, cfg.API.Listen = addrs[0], addrs[1], addrs[2]
	return home, cfg
}

// waitHeight waits until the node has committed height h.
func waitHeight(t *testing.T, n *Node, h int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if s := n.App().Committed(); s != nil && s.Version() >= h {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("height %d not reached", h)
}

// An upgrade on a real node: the governance proposal passes, the node
// without a migration stops before the plan's height and refuses to start
// again (CometBFT's replay of the block hits the same halt); started with
// the migration registered, it executes that block with the migration and
// goes on.
func TestUpgradeHaltsAndResumes(t *testing.T) {
	const chainID = "upgrade-test"
	home, cfg := devHome(t, chainID)
	lg := slog.New(slog.DiscardHandler)
	n, err := New(home, cfg, lg, WithUpgrades(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = n.Stop()
		}
	}()
	waitHeight(t, n, 2)
	ks := keystore.Open(config.KeysDir(home))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	submit := func(name string, msg sm.Msg, wait bool) {
		t.Helper()
		key, err := ks.Load(name, devnet.DevPassphrase)
		if err != nil {
			t.Fatal(err)
		}
		res, err := n.Submit(ctx, sm.SignTx(key, chainID, n.Sequence(key.Address()), 0, msg), wait)
		if err != nil || res.Code != 0 {
			t.Fatalf("%s: %v %+v", name, err, res)
		}
	}
	plan := gov.Plan{Name: "v2", Height: n.App().Committed().Version() + 25, Info: "test release"}
	submit("hospital-admin", &gov.MsgPropose{Action: gov.Action{Kind: gov.KindUpgrade, Upgrade: plan}}, true)
	// Two thirds of the development organizations approve: the proposer's
	// and as many more admins as needed.
	var admins []string
	for _, a := range devnet.Accounts {
		if a.Role == accounts.RoleAdmin && a.Name != "hospital-admin" {
			admins = append(admins, a.Name)
		}
	}
	voters := admins[:(2*len(devnet.Orgs)+2)/3-1]
	for i, admin := range voters {
		submit(admin, &gov.MsgVote{ProposalID: 1, Approve: true}, i == len(voters)-1)
	}
	if p := gov.PendingUpgrade(n.App().Committed()); p == nil || *p != plan {
		pr := gov.GetProposal(n.App().Committed(), 1)
		t.Fatalf("pending plan %+v after the votes (proposal %s %s, height %d)", p, pr.Status, pr.Result, n.App().Committed().Version())
	}

	select {
	case <-n.Halted():
	case <-ctx.Done():
		t.Fatal("the node did not stop at the upgrade height")
	}
	if h := n.HaltReason(); h == nil || h.Plan != plan || !errors.Is(h, app.ErrUpgradeNeeded) {
		t.Fatalf("halt reason %v", h)
	}
	if v := n.App().Committed().Version(); v != plan.Height-1 {
		t.Fatalf("state at %d after the halt, want %d (nothing of the upgrade height)", v, plan.Height-1)
	}
	var info upgradeInfo
	if b, err := os.ReadFile(filepath.Join(config.DataDir(home), UpgradeInfoFile)); err != nil || json.Unmarshal(b, &info) != nil || info.Name != "v2" || info.Height != plan.Height {
		t.Fatalf("upgrade info: %s %v", info.Name, err)
	}
	stopped = true
	if err := n.Stop(); err != nil {
		t.Fatalf("stop after the halt: %v", err)
	}

	// The old binary again: CometBFT replays the stored block, the app
	// refuses it. (On a copy of the home: CometBFT leaves its databases
	// open when its start fails, which only a process exit releases.)
	again := filepath.Join(t.TempDir(), "again")
	if err := copyTree(home, again); err != nil {
		t.Fatal(err)
	}
	if _, err := New(again, cfg, lg, WithUpgrades(nil)); !errors.Is(err, app.ErrUpgradeNeeded) {
		t.Fatalf("old binary restarted: %v, want an upgrade halt", err)
	}

	// The new binary migrates at the plan's height and goes on.
	migrated := app.Upgrades{"v2": func(kv store.KV, _ int64) error {
		_, reg := app.NewCore()
		return reg.Set(kv, gov.ParamVotingPeriod, 3600)
	}}
	n2, err := New(home, cfg, lg, WithUpgrades(migrated))
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.Start(); err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	waitHeight(t, n2, plan.Height+3)
	snap := n2.App().Committed()
	if h, ok := gov.UpgradeApplied(snap, "v2"); !ok || h != plan.Height {
		t.Fatalf("upgrade applied at %d %v, want %d", h, ok, plan.Height)
	}
	if got := n2.App().Params().Get(snap, gov.ParamVotingPeriod); got != 3600 {
		t.Fatalf("voting period %d, want the migration's 3600", got)
	}
}

// copyTree copies a directory tree of regular files.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	})
}
