package cli_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/cli"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/records"
)

// stateHome writes, under a new home, a committed state built by real
// messages of every module that keeps index entries; edit may then write
// straight into the store before a second commit.
func stateHome(t *testing.T, edit func(kv store.KV)) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(config.DataDir(home), 0o700); err != nil {
		t.Fatal(err)
	}
	tr, err := merkle.OpenTree(config.DataDir(home))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	k := func(name string) *crypto.PrivKey { return smtest.Key("state-check", name) }
	a := func(name string) crypto.Address { return k(name).Address() }
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	routes := map[string]sm.Route{}
	for _, m := range []sm.Module{accounts.Module{}, &consent.Module{Params: params.NewRegistry(consent.ParamDefs...)}, records.Module{}, audit.Module{}} {
		for _, rt := range m.Routes() {
			routes[rt.Type] = rt
		}
	}
	ctx := func(signer string) sm.Context {
		c := sm.Context{ChainID: "state-check", Height: 1, Time: now, Store: tr, Events: &sm.Events{}, Valset: &sm.ValidatorUpdates{}}
		if signer != "" {
			c.Signer, c.Key = a(signer), k(signer).PubKey()
		}
		return c
	}
	acct := func(name, kind, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: k(name).PubKey(), EncKey: k(name).EncKey(), Kind: kind, Org: org, Role: role}
	}
	raw, _ := json.Marshal(accounts.Genesis{
		Orgs: []accounts.GenesisOrg{{ID: "org-a", Name: "Hospital A", Type: "hospital", EncKey: k("org-a").EncKey()}},
		Accounts: []accounts.GenesisAccount{
			acct("doctor", "member", "org-a", accounts.RolePractitioner), acct("gw", "member", "org-a", accounts.RoleGateway),
			acct("alice", "patient", "", ""),
		},
	})
	if err := (accounts.Module{}).InitGenesis(ctx(""), raw); err != nil {
		t.Fatal(err)
	}
	run := func(signer string, msg sm.Msg) {
		t.Helper()
		if err := smtest.Exec(routes[msg.Type()], ctx(signer), msg); err != nil {
			t.Fatalf("%s: %v", msg.Type(), err)
		}
	}
	alice := a("alice")
	run("alice", &consent.MsgGrant{Patient: alice, Grantee: consent.Org("org-a"), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
	run("alice", &consent.MsgGrant{Patient: alice, Grantee: consent.Account(a("doctor")), Actions: consent.ActWrite, Purpose: consent.PurposeTreatment})
	keys := []records.WrappedKey{{Recipient: consent.Account(alice)}, {Recipient: consent.Org("org-a")}}
	run("doctor", &records.MsgAdd{ID: consent.RecordID{1}, Patient: alice, ResourceType: "Observation", ContentHash: [32]byte{1}, Size: 1, Keys: keys})
	run("doctor", &records.MsgAdd{ID: consent.RecordID{1}, Patient: alice, ResourceType: "Observation", ContentHash: [32]byte{2}, Size: 1, Keys: keys})
	run("doctor", &consent.MsgOpenEmergency{Patient: alice, Reason: "life_threatening"})
	// An attributed event (x/audit): an id and the doctor's signed GET of
	// the record's key.
	rec := consent.RecordID{1}
	proof := &audit.Proof{Kind: audit.ProofRequest, Target: "/v1/records/" + hex.EncodeToString(rec[:]) + "/key", Expires: now.Unix() + 60, Nonce: [audit.NonceSize]byte{1}}
	copy(proof.Sig[:], k("doctor").Sign(audit.RequestSignBytes("state-check", proof.Target, proof.Expires, proof.Nonce)))
	run("gw", &audit.MsgLog{Events: []audit.Event{{ID: [audit.IDSize]byte{1}, Patient: alice, Accessor: a("doctor"), Record: consent.RecordID{1}, Version: 2, Time: now.Unix(), Served: true, Proof: proof}}})
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(tr)
		if _, _, err := tr.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

func stateCheck(home string) (int, string) {
	var out, errb bytes.Buffer
	e := cli.Env{Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errb}
	code := cli.Execute(e, []string{"--home", home, "state", "check"})
	return code, out.String() + errb.String()
}

func TestStateCheck(t *testing.T) {
	t.Run("a sound state", func(t *testing.T) {
		code, out := stateCheck(stateHome(t, nil))
		if code != 0 || !strings.Contains(out, "index entries match") || !strings.Contains(out, "10 index entries derived from proven keys, 10 stored") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("a stray entry", func(t *testing.T) {
		stray := append(append([]byte{sm.PrefixConsentByPatient}, make([]byte, 20)...), 1, 0, 0, 0, 0, 0, 0, 0, 9)
		code, out := stateCheck(stateHome(t, func(kv store.KV) { kv.Set(stray, []byte{1}) }))
		if code == 0 || !strings.Contains(out, "stray") || !strings.Contains(out, "index entries differ") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("a missing and a changed entry", func(t *testing.T) {
		code, out := stateCheck(stateHome(t, func(kv store.KV) {
			var gone, changed []byte
			kv.Iterate([]byte{sm.PrefixRecordByHash}, []byte{sm.PrefixRecordByHash + 1}, func(k, _ []byte) bool {
				if gone == nil {
					gone = bytes.Clone(k)
				} else {
					changed = bytes.Clone(k)
				}
				return true
			})
			kv.Delete(gone)
			kv.Set(changed, make([]byte, 20))
		}))
		if code == 0 || !strings.Contains(out, "missing") || !strings.Contains(out, "differs") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("no state", func(t *testing.T) {
		if code, out := stateCheck(t.TempDir()); code == 0 || !strings.Contains(out, "no state database") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}
