package records_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/records"
)

func key(name string) *crypto.PrivKey { return smtest.Key("records-test", name) }

func addr(name string) crypto.Address { return key(name).Address() }

const (
	orgA = "org-a" // hospital, with a gateway key
	orgB = "org-b" // lab, with a gateway key
)

// Accounts: gina is alice's guardian.
const (
	alice   = "alice"
	bob     = "bob"
	gina    = "gina"
	adminA  = "adminA"
	doctorA = "doctorA"
	techB   = "techB"
)

var blockTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct{ *smtest.Env }

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{smtest.NewEnv(t, "records-test", blockTime, accounts.Module{}, &consent.Module{Params: params.NewRegistry(consent.ParamDefs...)}, records.Module{})}
	member := func(name, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "member", Org: org, Role: role}
	}
	patient := func(name string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "patient"}
	}
	e.Genesis(accounts.Module{}, accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: orgA, Name: "Hospital A", Type: "hospital", EncKey: key("org:" + orgA).EncKey()},
			{ID: orgB, Name: "Lab B", Type: "lab", EncKey: key("org:" + orgB).EncKey()},
		},
		Accounts: []accounts.GenesisAccount{
			member(adminA, orgA, accounts.RoleAdmin), member(doctorA, orgA, accounts.RolePractitioner),
			member(techB, orgB, accounts.RolePractitioner),
			patient(alice), patient(bob), patient(gina),
		},
	})
	e.OK(alice, &accounts.MsgSetGuardian{Guardian: addr(gina)})
	e.Events = &sm.Events{}
	return e
}

func (e *env) grant(patient string, g consent.Party, actions uint8, types ...string) {
	e.T.Helper()
	e.OK(patient, &consent.MsgGrant{Patient: addr(patient), Grantee: g, Actions: actions, Types: types, Purpose: consent.PurposeTreatment})
}

func wantErr(t testing.TB, got error, want *sm.Error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("unexpected error: %v", got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("error = %v, want %s/%d %q", got, want.Codespace, want.Code, want.Desc)
	}
}

func rid(b byte) consent.RecordID {
	var id consent.RecordID
	for i := range id {
		id[i] = b
	}
	return id
}

func hash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// wk is a placeholder wrapped key: this package checks who holds keys, not
// the cryptography (the app tests wrap real keys).
func wk(p consent.Party) records.WrappedKey {
	k := records.WrappedKey{Recipient: p}
	s := sha256.Sum256(p.Key())
	copy(k.Enc[:], s[:])
	copy(k.CT[:], bytes.Repeat(s[:4], 12))
	return k
}

// keysFor returns placeholder keys for the parties, sorted by party key.
func keysFor(ps ...consent.Party) []records.WrappedKey {
	slices.SortFunc(ps, func(a, b consent.Party) int { return bytes.Compare(a.Key(), b.Key()) })
	out := make([]records.WrappedKey, len(ps))
	for i, p := range ps {
		out[i] = wk(p)
	}
	return out
}

func acct(name string) consent.Party { return consent.Account(addr(name)) }

func TestErrorCodesAreStable(t *testing.T) {
	want := []*sm.Error{
		records.ErrNoWriteConsent, records.ErrBadType, records.ErrBadHash, records.ErrBadSize, records.ErrKeySet,
		records.ErrNotFound, records.ErrErased, records.ErrMismatch, records.ErrNotOwner, records.ErrNotEntitled,
		records.ErrKeyExists, records.ErrDuplicateHash, records.ErrNotPatient, records.ErrBadVersion,
	}
	for i, e := range want {
		if e.Codespace != records.Codespace || e.Code != uint32(i+1) {
			t.Errorf("%q = %s/%d, want records/%d", e.Desc, e.Codespace, e.Code, i+1)
		}
	}
}

func TestAddValidateBasic(t *testing.T) {
	valid := func() records.MsgAdd {
		return records.MsgAdd{ID: rid(1), Patient: addr(alice), ResourceType: "Observation", ContentHash: hash("ct"), Size: 1234,
			Keys: keysFor(acct(alice), acct(gina))}
	}
	tests := []struct {
		name string
		edit func(m *records.MsgAdd)
		want *sm.Error
	}{
		{"valid", func(*records.MsgAdd) {}, nil},
		{"one byte", func(m *records.MsgAdd) { m.Size = 1 }, nil},
		{"largest", func(m *records.MsgAdd) { m.Size = records.MaxBlobBytes }, nil},
		{"keys for an account and an organization", func(m *records.MsgAdd) { m.Keys = keysFor(acct(alice), consent.Org(orgA)) }, nil},
		{"type empty", func(m *records.MsgAdd) { m.ResourceType = "" }, records.ErrBadType},
		{"type lower case", func(m *records.MsgAdd) { m.ResourceType = "observation" }, records.ErrBadType},
		{"type with a space", func(m *records.MsgAdd) { m.ResourceType = "Blood Pressure" }, records.ErrBadType},
		{"type too long", func(m *records.MsgAdd) { m.ResourceType = "O" + strings.Repeat("b", consent.MaxTypeLen) }, records.ErrBadType},
		{"zero hash", func(m *records.MsgAdd) { m.ContentHash = [32]byte{} }, records.ErrBadHash},
		{"empty", func(m *records.MsgAdd) { m.Size = 0 }, records.ErrBadSize},
		{"too large", func(m *records.MsgAdd) { m.Size = records.MaxBlobBytes + 1 }, records.ErrBadSize},
		{"no keys", func(m *records.MsgAdd) { m.Keys = nil }, records.ErrKeySet},
		{"keys unsorted", func(m *records.MsgAdd) { slices.Reverse(m.Keys) }, records.ErrKeySet},
		{"recipient twice", func(m *records.MsgAdd) { m.Keys = []records.WrappedKey{wk(acct(alice)), wk(acct(alice))} }, records.ErrKeySet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid()
			tt.edit(&m)
			wantErr(t, m.ValidateBasic(), tt.want)
		})
	}
}

func TestShareValidateBasic(t *testing.T) {
	wantErr(t, (&records.MsgShare{ID: rid(1), Version: 1, Keys: keysFor(acct(bob), acct(doctorA))}).ValidateBasic(), nil)
	wantErr(t, (&records.MsgShare{ID: rid(1), Version: 1}).ValidateBasic(), records.ErrKeySet)
	ks := keysFor(acct(bob), acct(doctorA))
	slices.Reverse(ks)
	wantErr(t, (&records.MsgShare{ID: rid(1), Version: 1, Keys: ks}).ValidateBasic(), records.ErrKeySet)
}

// add builds a records/add of alice's Observation with keys for her and gina.
func add(id consent.RecordID, content string, ps ...consent.Party) *records.MsgAdd {
	if ps == nil {
		ps = []consent.Party{acct(alice), acct(gina)}
	}
	return &records.MsgAdd{ID: id, Patient: addr(alice), ResourceType: "Observation", ContentHash: hash(content), Size: 100, Keys: keysFor(ps...)}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(e *env)
		signer string
		msg    *records.MsgAdd
		want   *sm.Error
	}{
		{"patient", nil, alice, add(rid(1), "v1"), nil},
		{"guardian", nil, gina, add(rid(1), "v1"), nil},
		{"practitioner with write consent for the type", func(e *env) {
			e.grant(alice, acct(techB), consent.ActWrite, "Observation")
		}, techB, add(rid(1), "v1"), nil},
		{"member of an organization with write consent", func(e *env) {
			e.grant(alice, consent.Org(orgB), consent.ActWrite, "Observation")
		}, techB, add(rid(1), "v1"), nil},
		{"read grantees and custodians get keys", func(e *env) {
			e.grant(alice, acct(doctorA), consent.ActRead, "Observation")
			e.OK(alice, &consent.MsgGrant{Patient: addr(alice), Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
		}, alice, add(rid(1), "v1", acct(alice), acct(gina), acct(doctorA), consent.Org(orgA)), nil},

		{"write consent for another type", func(e *env) {
			e.grant(alice, acct(techB), consent.ActWrite, "Condition")
		}, techB, add(rid(1), "v1"), records.ErrNoWriteConsent},
		{"read consent only", func(e *env) {
			e.grant(alice, acct(doctorA), consent.ActRead, "Observation")
		}, doctorA, add(rid(1), "v1", acct(alice), acct(gina), acct(doctorA)), records.ErrNoWriteConsent},
		{"another patient", nil, bob, add(rid(1), "v1"), records.ErrNoWriteConsent},
		{"not a patient", nil, alice, &records.MsgAdd{ID: rid(1), Patient: addr(doctorA), ResourceType: "Observation", ContentHash: hash("v1"), Size: 1,
			Keys: keysFor(acct(doctorA))}, records.ErrNotPatient},
		{"guardian's key missing", nil, alice, add(rid(1), "v1", acct(alice)), records.ErrKeySet},
		{"extra recipient", nil, alice, add(rid(1), "v1", acct(alice), acct(gina), acct(bob)), records.ErrKeySet},
		{"wrong recipient", nil, alice, add(rid(1), "v1", acct(alice), acct(bob)), records.ErrKeySet},
		{"grantee of another type", func(e *env) {
			e.grant(alice, acct(doctorA), consent.ActRead, "Condition")
		}, alice, add(rid(1), "v1", acct(alice), acct(gina), acct(doctorA)), records.ErrKeySet},
		{"revoked grantee", func(e *env) {
			e.grant(alice, acct(doctorA), consent.ActRead)
			e.OK(alice, &consent.MsgRevoke{ID: 1})
		}, alice, add(rid(1), "v1", acct(alice), acct(gina), acct(doctorA)), records.ErrKeySet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			e.Events = &sm.Events{}
			err := e.Run(tt.signer, tt.msg)
			wantErr(t, err, tt.want)
			rec := records.GetRecord(e.KV, tt.msg.ID)
			if tt.want != nil {
				if rec != nil || e.Events.Len() != 0 {
					t.Fatalf("refused add left %+v, %v", rec, e.Events.List())
				}
				return
			}
			if rec == nil || rec.Patient != tt.msg.Patient || rec.Type != tt.msg.ResourceType || rec.Version != 1 || rec.Created != e.Now.Unix() || rec.Erased != 0 {
				t.Fatalf("record %+v", rec)
			}
			v := records.GetVersion(e.KV, tt.msg.ID, 1)
			if v == nil || v.Author != addr(tt.signer) || v.ContentHash != tt.msg.ContentHash || v.Size != tt.msg.Size {
				t.Fatalf("version %+v", v)
			}
			if got := records.Keys(e.KV, tt.msg.ID, 1); !slices.Equal(got, tt.msg.Keys) {
				t.Fatalf("keys %v, want %v", got, tt.msg.Keys)
			}
			if r, v := records.ByHash(e.KV, tt.msg.ContentHash); r == nil || r.ID != tt.msg.ID || v.Version != 1 {
				t.Fatalf("ByHash = %+v %+v", r, v)
			}
			if got := records.ByPatient(e.KV, addr(alice)); len(got) != 1 || got[0].ID != tt.msg.ID {
				t.Fatalf("ByPatient = %v", got)
			}
			ev := e.Events.List()[0]
			if ev.Type != "record_added" || attrOf(ev, "author") != addr(tt.signer).String() ||
				attrOf(ev, "content_hash") != hex.EncodeToString(tt.msg.ContentHash[:]) || attrOf(ev, "version") != "1" {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

func attrOf(ev sm.Event, k string) string {
	for _, a := range ev.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

func TestVersions(t *testing.T) {
	e := newEnv(t)
	e.OK(alice, add(rid(1), "v1"))
	e.grant(alice, acct(doctorA), consent.ActRead, "Observation")
	// Version 2 goes to the parties entitled now, the new reader included.
	wantErr(t, e.Run(alice, add(rid(1), "v2")), records.ErrKeySet)
	e.OK(gina, add(rid(1), "v2", acct(alice), acct(gina), acct(doctorA)))
	rec := records.GetRecord(e.KV, rid(1))
	if rec.Version != 2 {
		t.Fatalf("version %d", rec.Version)
	}
	for v, content := range map[uint32]string{1: "v1", 2: "v2"} {
		if got := records.GetVersion(e.KV, rid(1), v); got == nil || got.ContentHash != hash(content) {
			t.Fatalf("version %d: %+v", v, got)
		}
	}
	if records.GetKey(e.KV, rid(1), 1, acct(doctorA)) != nil || records.GetKey(e.KV, rid(1), 2, acct(doctorA)) == nil {
		t.Fatal("the new reader's key is on the wrong version")
	}
	wantErr(t, e.Run(alice, add(rid(2), "v1", acct(alice), acct(gina), acct(doctorA))), records.ErrDuplicateHash)
	cond := add(rid(1), "v3", acct(alice), acct(gina))
	cond.ResourceType = "Condition"
	wantErr(t, e.Run(alice, cond), records.ErrMismatch)
	other := &records.MsgAdd{ID: rid(1), Patient: addr(bob), ResourceType: "Observation", ContentHash: hash("v3"), Size: 1, Keys: keysFor(acct(bob))}
	wantErr(t, e.Run(bob, other), records.ErrMismatch)
	if records.GetRecord(e.KV, rid(1)).Version != 2 {
		t.Fatal("refused versions changed the record")
	}
}

func TestShare(t *testing.T) {
	e := newEnv(t)
	e.OK(alice, add(rid(1), "v1"))
	e.grant(alice, acct(doctorA), consent.ActRead, "Observation")
	e.grant(alice, acct(techB), consent.ActRead, "Condition")
	share := func(v uint32, ps ...consent.Party) *records.MsgShare {
		return &records.MsgShare{ID: rid(1), Version: v, Keys: keysFor(ps...)}
	}
	for _, tt := range []struct {
		name   string
		signer string
		msg    *records.MsgShare
		want   *sm.Error
	}{
		{"grantee of another type", alice, share(1, acct(techB)), records.ErrNotEntitled},
		{"someone without consent", alice, share(1, acct(bob)), records.ErrNotEntitled},
		{"a key the record already has", alice, share(1, acct(gina)), records.ErrKeyExists},
		{"the grantee itself", doctorA, share(1, acct(doctorA)), records.ErrNotOwner},
		{"another patient", bob, share(1, acct(doctorA)), records.ErrNotOwner},
		{"version 0", alice, share(0, acct(doctorA)), records.ErrBadVersion},
		{"version 2 of 1", alice, share(2, acct(doctorA)), records.ErrBadVersion},
		{"unknown record", alice, &records.MsgShare{ID: rid(9), Version: 1, Keys: keysFor(acct(doctorA))}, records.ErrNotFound},
		{"one good key, one bad", alice, share(1, acct(doctorA), acct(bob)), records.ErrNotEntitled},
		{"guardian shares with the new reader", gina, share(1, acct(doctorA)), nil},
		{"twice", alice, share(1, acct(doctorA)), records.ErrKeyExists},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, e.Run(tt.signer, tt.msg), tt.want)
		})
	}
	if got := records.Keys(e.KV, rid(1), 1); !slices.Equal(got, keysFor(acct(alice), acct(gina), acct(doctorA))) {
		t.Fatalf("keys after sharing: %v", got)
	}
}

func TestErase(t *testing.T) {
	e := newEnv(t)
	e.OK(alice, add(rid(1), "v1"))
	e.OK(alice, add(rid(1), "v2"))
	wantErr(t, e.Run(bob, &records.MsgErase{ID: rid(1)}), records.ErrNotOwner)
	wantErr(t, e.Run(doctorA, &records.MsgErase{ID: rid(1)}), records.ErrNotOwner)
	wantErr(t, e.Run(alice, &records.MsgErase{ID: rid(9)}), records.ErrNotFound)
	e.Now = e.Now.Add(time.Hour)
	e.Events = &sm.Events{}
	e.OK(gina, &records.MsgErase{ID: rid(1)})
	rec := records.GetRecord(e.KV, rid(1))
	if rec.Erased != e.Now.Unix() || rec.Version != 2 {
		t.Fatalf("record %+v", rec)
	}
	for v := uint32(1); v <= 2; v++ {
		if ks := records.Keys(e.KV, rid(1), v); len(ks) != 0 {
			t.Fatalf("version %d keeps %d keys", v, len(ks))
		}
		if records.GetVersion(e.KV, rid(1), v) == nil {
			t.Fatalf("version %d gone", v)
		}
	}
	ev := e.Events.List()[0]
	var hashes []string
	for _, a := range ev.Attrs {
		if a.Key == "content_hash" {
			hashes = append(hashes, a.Value)
		}
	}
	h1, h2 := hash("v1"), hash("v2")
	if ev.Type != "record_erased" || !slices.Equal(hashes, []string{hex.EncodeToString(h1[:]), hex.EncodeToString(h2[:])}) {
		t.Fatalf("event %+v", ev)
	}
	wantErr(t, e.Run(alice, &records.MsgErase{ID: rid(1)}), records.ErrErased)
	wantErr(t, e.Run(alice, add(rid(1), "v3")), records.ErrErased)
	wantErr(t, e.Run(alice, &records.MsgShare{ID: rid(1), Version: 1, Keys: keysFor(acct(alice))}), records.ErrErased)
	// The hashes stay registered: an erased ciphertext cannot come back
	// under another id.
	wantErr(t, e.Run(alice, add(rid(2), "v1")), records.ErrDuplicateHash)
}
