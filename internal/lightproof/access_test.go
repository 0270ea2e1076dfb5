package lightproof_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/lightproof"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/records"
)

func key(name string) *crypto.PrivKey { return smtest.Key("access-test", name) }
func addr(name string) crypto.Address { return key(name).Address() }

var blockTime = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func rid(b byte) consent.RecordID {
	var id consent.RecordID
	id[0], id[15] = b, b
	return id
}

// The records of the fixture: alice's allergy, psychiatric note and lab
// result, and an erased one.
var (
	allergy = rid(1)
	psych   = rid(2)
	lab     = rid(3)
	erased  = rid(4)
)

// fixture is a committed state built by real messages: alice narrowed her
// emergency custody at hospital A to allergies, gave lab B's techB her
// observations and gina guardianship; doctorA of A opened an emergency.
type fixture struct {
	tree *merkle.Tree
	snap *merkle.Snapshot
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tr := merkle.NewMemTree()
	t.Cleanup(func() { tr.Close() })
	reg := params.NewRegistry(consent.ParamDefs...)
	routes := map[string]sm.Route{}
	for _, m := range []sm.Module{accounts.Module{}, &consent.Module{Params: reg}, records.Module{}} {
		for _, rt := range m.Routes() {
			routes[rt.Type] = rt
		}
	}
	ctx := func(signer string) sm.Context {
		c := sm.Context{ChainID: "test", Height: 1, Time: blockTime, Store: tr, Events: &sm.Events{}, Valset: &sm.ValidatorUpdates{}}
		if signer != "" {
			c.Signer, c.Key = addr(signer), key(signer).PubKey()
		}
		return c
	}
	member := func(name, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "member", Org: org, Role: role}
	}
	patient := func(name string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "patient"}
	}
	raw, err := json.Marshal(accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: "org-a", Name: "Hospital A", Type: "hospital", EncKey: key("org-a").EncKey()},
			{ID: "org-b", Name: "Lab B", Type: "lab", EncKey: key("org-b").EncKey()},
		},
		Accounts: []accounts.GenesisAccount{
			member("doctorA", "org-a", accounts.RolePractitioner), member("techB", "org-b", accounts.RolePractitioner),
			member("adminA", "org-a", accounts.RoleAdmin),
			patient("alice"), patient("gina"), patient("bob"),
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
			t.Fatalf("%s by %s: %v", msg.Type(), signer, err)
		}
	}
	alice := addr("alice")
	run("alice", &accounts.MsgSetGuardian{Guardian: addr("gina")})
	run("alice", &consent.MsgGrant{Patient: alice, Grantee: consent.Org("org-a"), Actions: consent.ActRead,
		Purpose: consent.PurposeEmergency, Types: []string{"AllergyIntolerance"}})
	run("alice", &consent.MsgGrant{Patient: alice, Grantee: consent.Account(addr("techB")), Actions: consent.ActRead,
		Purpose: consent.PurposeTreatment, Types: []string{"Observation"}})
	add := func(id consent.RecordID, typ string, holders ...consent.Party) {
		m := &records.MsgAdd{ID: id, Patient: alice, ResourceType: typ, ContentHash: [32]byte{id[0], 1}, Size: 10}
		for _, p := range holders {
			m.Keys = append(m.Keys, records.WrappedKey{Recipient: p})
		}
		slices.SortFunc(m.Keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
		run("alice", m)
	}
	owners := []consent.Party{consent.Account(alice), consent.Account(addr("gina"))}
	add(allergy, "AllergyIntolerance", append(owners, consent.Org("org-a"))...)
	add(psych, "DocumentReference", owners...)
	add(lab, "Observation", append(owners, consent.Account(addr("techB")))...)
	add(erased, "Observation", append(owners, consent.Account(addr("techB")))...)
	run("alice", &records.MsgErase{ID: erased})
	run("doctorA", &consent.MsgOpenEmergency{Patient: alice, Reason: "unable_to_consent"})
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	snap, err := tr.Snapshot(tr.Version())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{tree: tr, snap: snap}
}

// backend serves the fixture's one committed state.
type backend struct{ f *fixture }

var errUnused = errors.New("not used by these tests")

func (b backend) Status(context.Context) (*api.Status, error)                 { return nil, errUnused }
func (b backend) Submit(context.Context, []byte, bool) (*api.TxResult, error) { return nil, errUnused }
func (b backend) State(h int64) (*merkle.Snapshot, error) {
	if h != 0 && h != b.f.snap.Version() {
		return nil, merkle.ErrNoVersion
	}
	return b.f.snap, nil
}
func (b backend) Params() *params.Registry                          { return params.NewRegistry(consent.ParamDefs...) }
func (b backend) Block(context.Context, int64) (*api.Block, error)  { return nil, errUnused }
func (b backend) Tx(context.Context, []byte) (*api.TxResult, error) { return nil, errUnused }
func (b backend) BlockTime(int64) (time.Time, error)                { return blockTime, nil }
func (b backend) TxsBySigner(context.Context, string, int, int) ([]*api.TxResult, int, error) {
	return nil, 0, errUnused
}

// access asks the API's access endpoint, with proofs, in a request signed
// by the records' owner alice (the endpoint answers only the reader itself
// or the patient's side).
func (f *fixture) access(t *testing.T, id consent.RecordID, reader string) *api.AccessView {
	t.Helper()
	srv := api.New(backend{f}, api.Options{ChainID: "test", Registry: prometheus.NewRegistry(), Gatherer: prometheus.NewRegistry()})
	req := httptest.NewRequest(http.MethodGet, "/v1/records/"+hex.EncodeToString(id[:])+"/access?prove=true&reader="+addr(reader).String(), nil)
	if err := reqsig.Sign(req, key("alice"), "test", time.Now(), time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	rr := httptest.NewRecorder()
	srv.ServeHTTP(rr, req)
	if rr.Code != http.StatusOK {
		t.Fatalf("access: %d %s", rr.Code, rr.Body)
	}
	var v api.AccessView
	if err := json.Unmarshal(rr.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// Every read path that asks the chain decides through consent.MayRead; the
// API's access check is one: a narrowed custody refuses, under an open
// emergency, what it does not cover.
func TestAccessEndpointHonoursCustodyScope(t *testing.T) {
	f := newFixture(t)
	if v := f.access(t, allergy, "doctorA"); !v.Allowed || v.Basis != string(consent.BasisEmergency) || v.EmergencyID != 1 {
		t.Fatalf("allergy under the emergency: %+v", v)
	}
	v := f.access(t, psych, "doctorA")
	if v.Allowed || v.Codespace != consent.Codespace || v.Code != consent.ErrOutsideCustody.Code {
		t.Fatalf("psychiatric note under an allergy-only custody: allowed %v, %s/%d %s", v.Allowed, v.Codespace, v.Code, v.Reason)
	}
}

// A proven access answer verifies end to end against the app hash and the
// block time; each basis proves what it rests on.
func TestCheckAccessVerifiesProvenAnswers(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		id      consent.RecordID
		reader  string
		allowed bool
		basis   consent.Basis
		minKeys int // proven keys besides the record
	}{
		{"patient", lab, "alice", true, consent.BasisPatient, 1},
		{"guardian", psych, "gina", true, consent.BasisGuardian, 3},
		{"consent", lab, "techB", true, consent.BasisConsent, 3},
		{"emergency within custody", allergy, "doctorA", true, consent.BasisEmergency, 4},
		{"erased record", erased, "techB", false, "", 2},
		{"unknown reader", lab, "stranger", false, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := f.access(t, tt.id, tt.reader)
			if v.Allowed != tt.allowed || consent.Basis(v.Basis) != tt.basis {
				t.Fatalf("answer %+v", v)
			}
			if len(v.Grounds) < tt.minKeys {
				t.Fatalf("%d grounds proven, want at least %d", len(v.Grounds), tt.minKeys)
			}
			c, err := lightproof.CheckAccess(f.snap.Hash(), blockTime, v)
			if err != nil {
				t.Fatalf("CheckAccess: %v", err)
			}
			if c.Allowed != tt.allowed || c.Patient != addr("alice") {
				t.Fatalf("check %+v", c)
			}
		})
	}
	t.Run("a refusal for want of consent is not provable", func(t *testing.T) {
		v := f.access(t, psych, "doctorA")
		if _, err := lightproof.CheckAccess(f.snap.Hash(), blockTime, v); !errors.Is(err, lightproof.ErrRefusalUnproven) {
			t.Fatalf("err = %v", err)
		}
	})
}

// Tampering with any ground of a proven answer fails the check.
func TestCheckAccessRefusesTampering(t *testing.T) {
	f := newFixture(t)
	fresh := map[string]func() *api.AccessView{
		"emergency": func() *api.AccessView { return f.access(t, allergy, "doctorA") },
		"guardian":  func() *api.AccessView { return f.access(t, psych, "gina") },
		"consent":   func() *api.AccessView { return f.access(t, lab, "techB") },
	}
	// Drop or alter each ground of each answer in turn.
	for _, name := range []string{"consent", "emergency", "guardian"} {
		n := len(fresh[name]().Grounds)
		for i := range n {
			t.Run(name+"/drop ground "+strconv.Itoa(i), func(t *testing.T) {
				v := fresh[name]()
				k := v.Grounds[i].Key
				v.Grounds = slices.Delete(v.Grounds, i, i+1)
				for _, p := range []**api.Proof{&v.RecordProof, &v.ConsentProof} {
					if *p != nil && (*p).Key == k {
						*p = nil
					}
				}
				if _, err := lightproof.CheckAccess(f.snap.Hash(), blockTime, v); err == nil {
					t.Fatalf("an answer missing the ground %s verified", k)
				}
			})
			t.Run(name+"/alter ground "+strconv.Itoa(i), func(t *testing.T) {
				v := fresh[name]()
				if !v.Grounds[i].Exists {
					v.Grounds[i].Exists, v.Grounds[i].Value = true, []byte{1}
				} else {
					v.Grounds[i].Value = append(slices.Clone(v.Grounds[i].Value), 0)
				}
				if _, err := lightproof.CheckAccess(f.snap.Hash(), blockTime, v); err == nil {
					t.Fatal("an answer with an altered ground verified")
				}
			})
		}
	}
	edits := []struct {
		name string
		base string
		edit func(v *api.AccessView)
	}{
		{"another basis", "consent", func(v *api.AccessView) { v.Basis = string(consent.BasisOrg) }},
		{"another consent id", "consent", func(v *api.AccessView) { v.ConsentID = 1 }},
		{"another emergency id", "emergency", func(v *api.AccessView) { v.EmergencyID = 2 }},
		{"another reader", "consent", func(v *api.AccessView) { v.Reader = addr("doctorA").String() }},
		{"another record", "emergency", func(v *api.AccessView) { v.Record = hex.EncodeToString(psych[:]) }},
		{"another key recipient", "emergency", func(v *api.AccessView) { v.Recipient = api.PartyView{Kind: "org", Org: "org-b"} }},
		{"refusal turned into an allowance", "", func(v *api.AccessView) {
			*v = *f.access(t, psych, "doctorA")
			v.Allowed, v.Basis, v.ConsentID, v.EmergencyID, v.Recipient = true, string(consent.BasisEmergency), 1, 1, api.PartyView{Kind: "org", Org: "org-a"}
		}},
		{"later block time (after the emergency)", "emergency", func(v *api.AccessView) { v.BlockTime = v.BlockTime.Add(30 * 24 * time.Hour) }},
		{"no record proof", "consent", func(v *api.AccessView) { v.RecordProof = nil }},
		{"a proof of another height", "consent", func(v *api.AccessView) { v.Grounds[0].Height++ }},
		{"a proof of an index key", "consent", func(v *api.AccessView) { v.Grounds[0].Key = "a2" + v.Grounds[0].Key[2:] }},
	}
	for _, tt := range edits {
		t.Run(tt.name, func(t *testing.T) {
			v := &api.AccessView{}
			if tt.base != "" {
				v = fresh[tt.base]()
			}
			tt.edit(v)
			bt := blockTime
			if tt.name == "later block time (after the emergency)" {
				bt = v.BlockTime // the header agrees; the emergency has expired then
			}
			if _, err := lightproof.CheckAccess(f.snap.Hash(), bt, v); err == nil {
				t.Fatal("a tampered answer verified")
			}
		})
	}
	t.Run("a header of another time", func(t *testing.T) {
		if _, err := lightproof.CheckAccess(f.snap.Hash(), blockTime.Add(time.Second), fresh["consent"]()); err == nil {
			t.Fatal("verified against a header of another time")
		}
	})
	t.Run("another app hash", func(t *testing.T) {
		if _, err := lightproof.CheckAccess(bytes.Repeat([]byte{7}, 32), blockTime, fresh["consent"]()); err == nil {
			t.Fatal("verified against another app hash")
		}
	})
}
