package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/blob"
	"github.com/medchain/medchain/internal/gateway"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/records"
)

func key(name string) *crypto.PrivKey { return smtest.Key("gateway-test", name) }
func addr(name string) crypto.Address { return key(name).Address() }

var blockTime = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

const chainID = "gateway-test"

// Ciphertexts of alice's records (their content does not matter here).
var (
	allergyBlob = []byte("ciphertext of an AllergyIntolerance")
	psychBlob   = []byte("ciphertext of a psychiatric note")
)

type state struct{ snap *merkle.Snapshot }

func (s state) Latest() (*merkle.Snapshot, time.Time, error) { return s.snap, blockTime, nil }

type chain struct{}

func (chain) ChainID() string { return chainID }
func (chain) SubmitAsync(context.Context, []byte) (uint32, string, string, error) {
	return 0, "", "", nil
}
func (chain) Sequence(crypto.Address) uint64 { return 0 }

// newGateway commits a state built by real messages (alice narrowed her
// emergency custody at hospital A to allergies; doctorA opened an emergency;
// alice's allergy and psychiatric note are registered), lets stray write
// straight into the store before the commit, and returns hospital A's
// gateway over it with both blobs stored.
func newGateway(t *testing.T, blobs blob.Store, stray func(kv store.KV)) *gateway.Server {
	t.Helper()
	tr := merkle.NewMemTree()
	t.Cleanup(func() { tr.Close() })
	routes := map[string]sm.Route{}
	for _, m := range []sm.Module{accounts.Module{}, &consent.Module{Params: params.NewRegistry(consent.ParamDefs...)}, records.Module{}} {
		for _, rt := range m.Routes() {
			routes[rt.Type] = rt
		}
	}
	ctx := func(signer string) sm.Context {
		c := sm.Context{ChainID: chainID, Height: 1, Time: blockTime, Store: tr, Events: &sm.Events{}, Valset: &sm.ValidatorUpdates{}}
		if signer != "" {
			c.Signer, c.Key = addr(signer), key(signer).PubKey()
		}
		return c
	}
	acct := func(name, kind, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: kind, Org: org, Role: role}
	}
	raw, err := json.Marshal(accounts.Genesis{
		Orgs: []accounts.GenesisOrg{{ID: "org-a", Name: "Hospital A", Type: "hospital", EncKey: key("gwA").EncKey()}},
		Accounts: []accounts.GenesisAccount{
			acct("doctorA", "member", "org-a", accounts.RolePractitioner), acct("gwA", "member", "org-a", accounts.RoleGateway),
			acct("alice", "patient", "", ""),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (accounts.Module{}).InitGenesis(ctx(""), raw); err != nil {
		t.Fatal(err)
	}
	run := func(signer string, msg sm.Msg) {
		t.Helper()
		if err := smtest.Exec(routes[msg.Type()], ctx(signer), msg); err != nil {
			t.Fatalf("%s: %v", msg.Type(), err)
		}
	}
	alice := addr("alice")
	run("alice", &consent.MsgGrant{Patient: alice, Grantee: consent.Org("org-a"), Actions: consent.ActRead,
		Purpose: consent.PurposeEmergency, Types: []string{"AllergyIntolerance"}})
	add := func(id byte, typ string, data []byte, holders ...consent.Party) {
		m := &records.MsgAdd{ID: consent.RecordID{id}, Patient: alice, ResourceType: typ, ContentHash: blob.Sum(data), Size: uint64(len(data))}
		for _, p := range holders {
			m.Keys = append(m.Keys, records.WrappedKey{Recipient: p})
		}
		slices.SortFunc(m.Keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
		run("alice", m)
		if _, err := blobs.Put(context.Background(), data); err != nil {
			t.Fatal(err)
		}
	}
	add(1, "AllergyIntolerance", allergyBlob, consent.Account(alice), consent.Org("org-a"))
	add(2, "DocumentReference", psychBlob, consent.Account(alice))
	run("doctorA", &consent.MsgOpenEmergency{Patient: alice, Reason: "unable_to_consent"})
	if stray != nil {
		stray(tr)
	}
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	snap, err := tr.Snapshot(tr.Version())
	if err != nil {
		t.Fatal(err)
	}
	lg := slog.New(slog.DiscardHandler)
	now := func() time.Time { return blockTime }
	box, err := gateway.OpenOutbox(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	auditor, err := gateway.NewAuditor(key("gwA"), chain{}, box, lg, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	return &gateway.Server{
		Key: key("gwA"), ChainID: chainID, Blobs: blobs, State: state{snap},
		Auditor:  auditor,
		Verifier: &reqsig.Verifier{ChainID: chainID, Now: now},
		HTTP:     http.DefaultClient, Log: lg, MaxBlob: 1 << 20, Now: now,
	}
}

// get asks the gateway for a blob as doctorA and returns the status and the
// error code of a refusal.
func get(t *testing.T, g *gateway.Server, h blob.Hash) (int, string, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/v1/blobs/"+blob.HashString(h), nil)
	req.SetPathValue("hash", blob.HashString(h))
	if err := reqsig.Sign(req, key("doctorA"), chainID, blockTime, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	rr := httptest.NewRecorder()
	g.GetBlob(rr, req)
	var e struct {
		Code      uint32 `json:"code"`
		Codespace string `json:"codespace"`
	}
	if rr.Code != http.StatusOK {
		_ = json.Unmarshal(rr.Body.Bytes(), &e)
	}
	return rr.Code, fmt.Sprintf("%s/%d", e.Codespace, e.Code), rr.Body.Bytes()
}

func TestGetBlobHonoursCustodyScope(t *testing.T) {
	g := newGateway(t, blob.NewMemory(nil), nil)
	if code, _, body := get(t, g, blob.Sum(allergyBlob)); code != http.StatusOK || !bytes.Equal(body, allergyBlob) {
		t.Fatalf("allergy under the emergency: %d %s", code, body)
	}
	code, why, _ := get(t, g, blob.Sum(psychBlob))
	if code != http.StatusForbidden || why != "consent/22" {
		t.Fatalf("psychiatric note under an allergy-only custody: %d %s", code, why)
	}
}

// A stray hash → record entry maps the psychiatric note's ciphertext to the
// allergy record doctorA may read: the gateway serves nothing.
func TestGetBlobStrayHashIndex(t *testing.T) {
	g := newGateway(t, blob.NewMemory(nil), func(kv store.KV) {
		h := blob.Sum(psychBlob)
		kv.Set(append([]byte{sm.PrefixRecordByHash}, h[:]...), append(make([]byte, 0, 20), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1))
	})
	if code, _, body := get(t, g, blob.Sum(psychBlob)); code == http.StatusOK || bytes.Contains(body, psychBlob) {
		t.Fatalf("served the psychiatric note through a stray index entry: %d", code)
	}
}

// liar is a blob store that returns other bytes than those asked for.
type liar struct{ *blob.Memory }

func (l liar) Get(ctx context.Context, h blob.Hash) ([]byte, error) {
	if h == blob.Sum(allergyBlob) {
		return l.Memory.Get(ctx, blob.Sum(psychBlob))
	}
	return l.Memory.Get(ctx, h)
}

func TestGetBlobChecksContentHash(t *testing.T) {
	g := newGateway(t, liar{blob.NewMemory(nil)}, nil)
	if code, _, body := get(t, g, blob.Sum(allergyBlob)); code == http.StatusOK || bytes.Contains(body, psychBlob) {
		t.Fatalf("served bytes that do not hash to the key: %d", code)
	}
}

// The key endpoint decides the same way: no re-wrapped key for a record the
// narrowed custody does not cover.
func TestRecordKeyHonoursCustodyScope(t *testing.T) {
	g := newGateway(t, blob.NewMemory(nil), nil)
	id := "02000000000000000000000000000000" // the psychiatric note
	req := httptest.NewRequest(http.MethodGet, "/v1/records/"+id+"/key", nil)
	req.SetPathValue("id", id)
	if err := reqsig.Sign(req, key("doctorA"), chainID, blockTime, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	rr := httptest.NewRecorder()
	g.RecordKey(rr, req)
	var e struct {
		Code      uint32 `json:"code"`
		Codespace string `json:"codespace"`
	}
	_ = json.Unmarshal(rr.Body.Bytes(), &e)
	if rr.Code != http.StatusForbidden || e.Codespace != consent.Codespace || e.Code != consent.ErrOutsideCustody.Code {
		t.Fatalf("key of the psychiatric note under an allergy-only custody: %d %s", rr.Code, rr.Body)
	}
}
