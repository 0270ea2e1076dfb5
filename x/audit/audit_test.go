package audit_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/session"
)

func key(name string) *crypto.PrivKey { return smtest.Key("audit-test", name) }

func addr(name string) crypto.Address { return key(name).Address() }

const (
	orgA = "org-a"
	orgB = "org-b"
)

const (
	alice   = "alice"
	bob     = "bob"
	adminA  = "adminA"
	doctorA = "doctorA"
	gwA     = "gatewayA"
	gwB     = "gatewayB"
	oldGw   = "old-gateway" // deactivated
)

var blockTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	t      testing.TB
	kv     *store.Memory
	now    time.Time
	routes map[string]sm.Route
	events *sm.Events
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, kv: store.NewMemory(), now: blockTime, routes: map[string]sm.Route{}, events: &sm.Events{}}
	for _, m := range []sm.Module{accounts.Module{}, &consent.Module{Params: params.NewRegistry(consent.ParamDefs...)}, records.Module{}, audit.Module{}} {
		for _, rt := range m.Routes() {
			e.routes[rt.Type] = rt
		}
	}
	member := func(name, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "member", Org: org, Role: role}
	}
	raw, err := json.Marshal(accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: orgA, Name: "Hospital A", Type: "hospital", EncKey: key("org:" + orgA).EncKey()},
			{ID: orgB, Name: "Lab B", Type: "lab", EncKey: key("org:" + orgB).EncKey()},
		},
		Accounts: []accounts.GenesisAccount{
			member(adminA, orgA, accounts.RoleAdmin), member(doctorA, orgA, accounts.RolePractitioner),
			member(gwA, orgA, accounts.RoleGateway), member(gwB, orgB, accounts.RoleGateway), member(oldGw, orgA, accounts.RoleGateway),
			{PubKey: key(alice).PubKey(), EncKey: key(alice).EncKey(), Kind: "patient"},
			{PubKey: key(bob).PubKey(), EncKey: key(bob).EncKey(), Kind: "patient"},
		},
	})
	var extra []accounts.GenesisAccount
	for _, p := range extraPatients() {
		extra = append(extra, accounts.GenesisAccount{PubKey: key(p).PubKey(), EncKey: key(p).EncKey(), Kind: "patient"})
	}
	var g accounts.Genesis
	_ = json.Unmarshal(raw, &g)
	g.Accounts = append(g.Accounts, extra...)
	raw, err = json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := (accounts.Module{}).InitGenesis(sm.Context{Time: e.now, Store: e.kv, Events: &sm.Events{}}, raw); err != nil {
		t.Fatal(err)
	}
	e.ok(adminA, &accounts.MsgDeactivateMember{Address: addr(oldGw)})
	for _, p := range append([]string{alice, bob}, extraPatients()...) {
		e.ok(p, &records.MsgAdd{ID: recOf(p), Patient: addr(p), ResourceType: "Observation", ContentHash: contentOf(p), Size: 1,
			Keys: []records.WrappedKey{{Recipient: consent.Account(addr(p))}}})
	}
	e.events = &sm.Events{}
	return e
}

// extraPatients are registered patients with a record each, for the bulk
// reads signal.
func extraPatients() []string {
	var out []string
	for i := 1; i <= audit.DefaultSignalOptions.MaxPatients; i++ {
		out = append(out, fmt.Sprintf("patient-%d", i))
	}
	return out
}

// recOf is the one record each test patient has (version 1).
func recOf(patient string) consent.RecordID {
	h := sha256.Sum256([]byte("record:" + patient))
	return consent.RecordID(h[:consent.RecordIDSize])
}

func contentOf(patient string) [32]byte { return sha256.Sum256([]byte("content:" + patient)) }

var counter uint64

// fresh returns distinct bytes for ids and nonces.
func fresh() (b [16]byte) {
	counter++
	binary.BigEndian.PutUint64(b[8:], counter)
	b[0] = 0xee
	return b
}

const chainID = "test"

// keyRequest is the accessor's signed GET of a record's key, at time at.
func keyRequest(accessor string, id consent.RecordID, at int64) *audit.Proof {
	return signedRequest(accessor, "/v1/records/"+hex.EncodeToString(id[:])+"/key", at)
}

func signedRequest(accessor, target string, at int64) *audit.Proof {
	p := &audit.Proof{Kind: audit.ProofRequest, Target: target, Expires: at + 60, Nonce: fresh()}
	copy(p.Sig[:], key(accessor).Sign(audit.RequestSignBytes(chainID, p.Target, p.Expires, p.Nonce)))
	return p
}

func (e *env) run(signer string, msg sm.Msg) error {
	e.t.Helper()
	rt, ok := e.routes[msg.Type()]
	if !ok {
		e.t.Fatalf("no route %s", msg.Type())
	}
	return smtest.Exec(rt, sm.Context{ChainID: chainID, Height: 2, Time: e.now, Store: e.kv, Events: e.events, Signer: addr(signer), Key: key(signer).PubKey()}, msg)
}

func (e *env) ok(signer string, msg sm.Msg) {
	e.t.Helper()
	if err := e.run(signer, msg); err != nil {
		e.t.Fatalf("%s by %s: %v", msg.Type(), signer, err)
	}
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

// served is a read of the patient's record the accessor asked for.
func served(patient, accessor string, at int64) audit.Event {
	return audit.Event{ID: fresh(), Patient: addr(patient), Accessor: addr(accessor), Record: recOf(patient), Version: 1, Time: at, Served: true,
		Basis: string(consent.BasisConsent), ConsentID: 1, Proof: keyRequest(accessor, recOf(patient), at)}
}

func refused(patient, accessor string, at int64, reason string) audit.Event {
	return audit.Event{ID: fresh(), Patient: addr(patient), Accessor: addr(accessor), Record: recOf(patient), Version: 1, Time: at, Reason: reason,
		Proof: keyRequest(accessor, recOf(patient), at)}
}

func TestErrorCodesAreStable(t *testing.T) {
	for i, e := range []*sm.Error{audit.ErrNotGateway, audit.ErrBadEvent, audit.ErrClockSkew, audit.ErrDuplicate,
		audit.ErrUnknownRecord, audit.ErrWrongPatient, audit.ErrNotAttributable, audit.ErrRequestReused} {
		if e.Codespace != audit.Codespace || e.Code != uint32(i+1) {
			t.Errorf("%q = %s/%d, want audit/%d", e.Desc, e.Codespace, e.Code, i+1)
		}
	}
}

func TestLogValidateBasic(t *testing.T) {
	now := blockTime.Unix()
	with := func(f func(e *audit.Event)) []audit.Event {
		e := served(alice, doctorA, now)
		f(&e)
		return []audit.Event{e}
	}
	tests := []struct {
		name string
		evs  []audit.Event
		want *sm.Error
	}{
		{"a read served", []audit.Event{served(alice, doctorA, now)}, nil},
		{"a read refused", []audit.Event{refused(alice, doctorA, now, "consent/17: no consent")}, nil},
		{"an empty batch", nil, audit.ErrBadEvent},
		{"seq set by the gateway", with(func(e *audit.Event) { e.Seq = 1 }), audit.ErrBadEvent},
		{"node set by the gateway", with(func(e *audit.Event) { e.Node = orgA }), audit.ErrBadEvent},
		{"logged set by the gateway", with(func(e *audit.Event) { e.Logged = 1 }), audit.ErrBadEvent},
		{"no id", with(func(e *audit.Event) { e.ID = [audit.IDSize]byte{} }), audit.ErrBadEvent},
		{"no version", with(func(e *audit.Event) { e.Version = 0 }), audit.ErrBadEvent},
		{"no patient", with(func(e *audit.Event) { e.Patient = crypto.Address{} }), audit.ErrBadEvent},
		{"no accessor", with(func(e *audit.Event) { e.Accessor = crypto.Address{} }), audit.ErrBadEvent},
		{"no proof", with(func(e *audit.Event) { e.Proof = nil }), audit.ErrBadEvent},
		{"a request proof without target", with(func(e *audit.Event) { e.Proof.Target = "" }), audit.ErrBadEvent},
		{"a session proof without scope", with(func(e *audit.Event) { e.Proof = &audit.Proof{Kind: audit.ProofSession, Org: orgA, Expires: 1} }), audit.ErrBadEvent},
		{"served with a reason", with(func(e *audit.Event) { e.Reason = "why" }), audit.ErrBadEvent},
		{"refused without a reason", []audit.Event{refused(alice, doctorA, now, "")}, audit.ErrBadEvent},
		{"second event bad", []audit.Event{served(alice, doctorA, now), refused(alice, doctorA, now, "")}, audit.ErrBadEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, (&audit.MsgLog{Events: tt.evs}).ValidateBasic(), tt.want)
		})
	}
}

// rejections lists the codes of the refused events of a result, by index.
func rejections(evs []sm.Event) map[int]string {
	out := map[int]string{}
	for _, ev := range evs {
		if ev.Type != audit.EventRejected {
			continue
		}
		i, code := -1, ""
		for _, a := range ev.Attrs {
			switch a.Key {
			case "index":
				fmt.Sscan(a.Value, &i)
			case "code":
				code = a.Value
			}
		}
		out[i] = code
	}
	return out
}

func code(e *sm.Error) string { return fmt.Sprintf("%s/%d", e.Codespace, e.Code) }

func trailOf(e *env) []audit.Event {
	var all []audit.Event
	for _, p := range append([]string{alice, bob}, extraPatients()...) {
		all = append(all, audit.Trail(e.kv, addr(p), audit.Filter{})...)
	}
	return all
}

func TestLog(t *testing.T) {
	now := blockTime.Unix()
	mod := func(ev audit.Event, f func(e *audit.Event)) audit.Event { f(&ev); return ev }
	tests := []struct {
		name   string
		signer string
		evs    []audit.Event
		want   *sm.Error         // the transaction's error
		reject map[int]*sm.Error // events refused one by one
	}{
		{"gateway", gwA, []audit.Event{served(alice, doctorA, now)}, nil, nil},
		{"gateway of another organization", gwB, []audit.Event{served(alice, doctorA, now)}, nil, nil},
		{"the patient's own read", gwA, []audit.Event{served(bob, bob, now)}, nil, nil},
		{"a refusal", gwA, []audit.Event{refused(alice, doctorA, now, "consent/17: no consent covers this access")}, nil, nil},
		{"an hour late", gwA, []audit.Event{served(alice, doctorA, now-audit.MaxDelay)}, nil, nil},
		{"more than an hour late: logged, marked late", gwA, []audit.Event{served(alice, doctorA, now-audit.MaxDelay-1)}, nil, nil},
		{"a day late", gwA, []audit.Event{served(alice, doctorA, now-86400)}, nil, nil},
		{"clock up to five minutes ahead", gwA, []audit.Event{served(alice, doctorA, now+audit.MaxAhead)}, nil, nil},

		{"practitioner", doctorA, []audit.Event{served(alice, doctorA, now)}, audit.ErrNotGateway, nil},
		{"admin", adminA, []audit.Event{served(alice, doctorA, now)}, audit.ErrNotGateway, nil},
		{"patient", alice, []audit.Event{served(alice, doctorA, now)}, audit.ErrNotGateway, nil},
		{"deactivated gateway", oldGw, []audit.Event{served(alice, doctorA, now)}, audit.ErrNotGateway, nil},

		{"too far ahead: refused alone", gwA, []audit.Event{served(alice, doctorA, now), served(bob, doctorA, now+audit.MaxAhead+1)},
			nil, map[int]*sm.Error{1: audit.ErrClockSkew}},
		{"unknown record", gwA, []audit.Event{mod(served(alice, doctorA, now), func(e *audit.Event) { e.Record = rid(7) })},
			nil, map[int]*sm.Error{0: audit.ErrUnknownRecord}},
		{"unknown version", gwA, []audit.Event{mod(served(alice, doctorA, now), func(e *audit.Event) { e.Version = 2 })},
			nil, map[int]*sm.Error{0: audit.ErrUnknownRecord}},
		{"record of another patient", gwA, []audit.Event{served(alice, doctorA, now), mod(served(alice, doctorA, now), func(e *audit.Event) {
			e.Record = recOf(bob)
			e.Proof = keyRequest(doctorA, recOf(bob), now)
		})}, nil, map[int]*sm.Error{1: audit.ErrWrongPatient}},
		{"forged: the accessor never asked", gwA, []audit.Event{mod(served(alice, doctorA, now), func(e *audit.Event) {
			p := *e.Proof
			copy(p.Sig[:], key(gwA).Sign(audit.RequestSignBytes(chainID, p.Target, p.Expires, p.Nonce)))
			e.Proof = &p
		})}, nil, map[int]*sm.Error{0: audit.ErrNotAttributable}},
		{"framed: another accessor's request", gwA, []audit.Event{mod(served(alice, adminA, now), func(e *audit.Event) {
			e.Proof = keyRequest(doctorA, recOf(alice), now)
		})}, nil, map[int]*sm.Error{0: audit.ErrNotAttributable}},
		{"a request for another record", gwA, []audit.Event{mod(served(alice, doctorA, now), func(e *audit.Event) {
			e.Proof = keyRequest(doctorA, recOf(bob), now)
		})}, nil, map[int]*sm.Error{0: audit.ErrNotAttributable}},
		{"a request for another version", gwA, []audit.Event{mod(served(alice, doctorA, now), func(e *audit.Event) {
			id := recOf(alice)
			e.Proof = signedRequest(doctorA, "/v1/records/"+hex.EncodeToString(id[:])+"/key?version=2", now)
		})}, nil, map[int]*sm.Error{0: audit.ErrNotAttributable}},
		{"a request past its expiry", gwA, []audit.Event{mod(served(alice, doctorA, now), func(e *audit.Event) {
			e.Proof = keyRequest(doctorA, recOf(alice), now-61)
		})}, nil, map[int]*sm.Error{0: audit.ErrNotAttributable}},
		{"an accessor without an account", gwA, []audit.Event{served(alice, "stranger", now)}, nil, map[int]*sm.Error{0: audit.ErrNotAttributable}},
		{"one request, two events", gwA, func() []audit.Event {
			a := served(alice, doctorA, now)
			b := a
			b.ID = fresh()
			return []audit.Event{a, b}
		}(), nil, map[int]*sm.Error{1: audit.ErrRequestReused}},
		{"the same event twice", gwA, func() []audit.Event {
			a := served(alice, doctorA, now)
			return []audit.Event{a, a}
		}(), nil, map[int]*sm.Error{1: audit.ErrDuplicate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			err := e.run(tt.signer, &audit.MsgLog{Events: tt.evs})
			wantErr(t, err, tt.want)
			all := trailOf(e)
			if tt.want != nil {
				if len(all) != 0 || e.events.Len() != 0 {
					t.Fatalf("a refused batch logged %v", all)
				}
				return
			}
			got := rejections(e.events.List())
			if len(got) != len(tt.reject) {
				t.Fatalf("rejections %v, want %v", got, tt.reject)
			}
			for i, want := range tt.reject {
				if got[i] != code(want) {
					t.Fatalf("event %d: %q, want %s", i, got[i], code(want))
				}
			}
			org := accounts.GetAccount(e.kv, addr(tt.signer)).Org
			if len(all) != len(tt.evs)-len(tt.reject) {
				t.Fatalf("trail %+v", all)
			}
			for i, ev := range all {
				if ev.Seq != uint64(i+1) || ev.Node != org || ev.Logged != now || ev.Proof != nil {
					t.Fatalf("logged %+v", ev)
				}
				if ev.Late() != (now-ev.Time > audit.MaxDelay) {
					t.Fatalf("late %v for an event at %d logged at %d", ev.Late(), ev.Time, ev.Logged)
				}
				p, err := audit.ProofOf(e.kv, &ev)
				if err != nil || p.Hash() != ev.ProofHash {
					t.Fatalf("proof of %+v: %v", ev, err)
				}
			}
			last := e.events.List()[e.events.Len()-1]
			if last.Type != audit.EventLogged || last.Attrs[0].Value != fmt.Sprint(len(all)) || last.Attrs[1].Value != org {
				t.Fatalf("event %+v", last)
			}
		})
	}
}

// TestLogResentEventIsDuplicate: an event the gateway sends again (its
// first transaction's result was lost in a crash) is answered "already
// logged", and the trail holds it once.
func TestLogResentEventIsDuplicate(t *testing.T) {
	e := newEnv(t)
	ev := served(alice, doctorA, e.now.Unix())
	e.ok(gwA, &audit.MsgLog{Events: []audit.Event{ev}})
	e.events = &sm.Events{}
	e.now = e.now.Add(time.Minute)
	e.ok(gwA, &audit.MsgLog{Events: []audit.Event{ev}})
	if got := rejections(e.events.List()); got[0] != code(audit.ErrDuplicate) {
		t.Fatalf("resent event: %v", got)
	}
	if n := len(audit.Trail(e.kv, addr(alice), audit.Filter{})); n != 1 {
		t.Fatalf("trail holds %d events", n)
	}
	// The same id from another gateway is another event.
	e.ok(gwB, &audit.MsgLog{Events: []audit.Event{served(alice, doctorA, e.now.Unix())}})
	if n := len(audit.Trail(e.kv, addr(alice), audit.Filter{})); n != 2 {
		t.Fatalf("trail holds %d events", n)
	}
}

// TestLogAfterLongHalt: a chain halted for longer than MaxDelay loses no
// event: when blocks resume (the block time jumps), every event the gateway
// kept is logged and marked late, none refused.
func TestLogAfterLongHalt(t *testing.T) {
	e := newEnv(t)
	var evs []audit.Event
	t0 := e.now.Unix()
	for i := range 100 {
		evs = append(evs, served(alice, doctorA, t0+int64(i)))
	}
	e.now = e.now.Add(6 * time.Hour) // the next block, after the halt
	e.ok(gwA, &audit.MsgLog{Events: evs})
	if got := rejections(e.events.List()); len(got) != 0 {
		t.Fatalf("refused after a halt: %v", got)
	}
	trail := audit.Trail(e.kv, addr(alice), audit.Filter{})
	if len(trail) != len(evs) {
		t.Fatalf("trail holds %d of %d events", len(trail), len(evs))
	}
	for i, ev := range trail {
		if !ev.Late() || ev.Time != t0+int64(i) || ev.Logged != e.now.Unix() {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	last := e.events.List()[e.events.Len()-1]
	if last.Attrs[2].Key != "late" || last.Attrs[2].Value != "100" {
		t.Fatalf("summary %+v", last)
	}
}

// TestSessionProof: a FHIR session's events are backed by the signed token
// request, opened at the reporting gateway's organization, valid then.
func TestSessionProof(t *testing.T) {
	now := blockTime.Unix()
	grant := func(signer, org string, expires int64) *audit.Proof {
		p := &audit.Proof{Kind: audit.ProofSession, Org: org, Challenge: [32]byte{1, 2, 3}, Scope: "user/*.read", Expires: expires}
		copy(p.Sig[:], key(signer).Sign(audit.SessionSignBytes(chainID, p, addr(doctorA))))
		return p
	}
	read := func(patient string, p *audit.Proof) audit.Event {
		ev := served(patient, doctorA, now)
		ev.Proof = p
		return ev
	}
	g := grant(doctorA, orgA, now+3600)
	tests := []struct {
		name   string
		signer string
		evs    []audit.Event
		reject map[int]*sm.Error
	}{
		{"reads of a session", gwA, []audit.Event{read(alice, g), read(bob, g), read("patient-3", g)}, nil},
		{"a session opened elsewhere", gwB, []audit.Event{read(alice, g)}, map[int]*sm.Error{0: audit.ErrNotAttributable}},
		{"a grant the accessor did not sign", gwA, []audit.Event{read(alice, grant(gwA, orgA, now+3600))}, map[int]*sm.Error{0: audit.ErrNotAttributable}},
		{"after the session", gwA, []audit.Event{read(alice, grant(doctorA, orgA, now-1))}, map[int]*sm.Error{0: audit.ErrNotAttributable}},
		{"long before the session", gwA, []audit.Event{read(alice, grant(doctorA, orgA, now+audit.MaxSessionTTL+1))}, map[int]*sm.Error{0: audit.ErrNotAttributable}},
		{"another accessor with the doctor's grant", gwA, []audit.Event{func() audit.Event {
			ev := served(alice, adminA, now)
			ev.Proof = g
			return ev
		}()}, map[int]*sm.Error{0: audit.ErrNotAttributable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.ok(tt.signer, &audit.MsgLog{Events: tt.evs})
			got := rejections(e.events.List())
			if len(got) != len(tt.reject) {
				t.Fatalf("rejections %v, want %v", got, tt.reject)
			}
			for i, want := range tt.reject {
				if got[i] != code(want) {
					t.Fatalf("event %d: %q, want %s", i, got[i], code(want))
				}
			}
			if n := len(trailOf(e)); n != len(tt.evs)-len(tt.reject) {
				t.Fatalf("%d logged", n)
			}
		})
	}
	// The grant goes once on the wire for a session's many reads.
	one := codec.Marshal(&audit.MsgLog{Events: []audit.Event{read(alice, g)}})
	three := codec.Marshal(&audit.MsgLog{Events: []audit.Event{read(alice, g), read(bob, g), read(alice, g)}})
	if len(three)-len(one) > 2*(len(one)-len(codec.Marshal(g))) {
		t.Fatalf("the proof is repeated: %d bytes for one event, %d for three", len(one), len(three))
	}
}

func TestTrailAndByAccessor(t *testing.T) {
	e := newEnv(t)
	t0 := e.now.Unix()
	e.ok(gwA, &audit.MsgLog{Events: []audit.Event{
		served(alice, doctorA, t0-100),
		refused(alice, adminA, t0-50, "consent/17: no consent covers this access"),
		served(bob, doctorA, t0-40),
	}})
	e.now = e.now.Add(time.Minute)
	t1 := e.now.Unix()
	e.ok(gwB, &audit.MsgLog{Events: []audit.Event{served(alice, doctorA, t1), served(alice, bob, t1+1)}})

	seqs := func(evs []audit.Event) []uint64 {
		var out []uint64
		for _, ev := range evs {
			out = append(out, ev.Seq)
		}
		return out
	}
	trail := audit.Trail(e.kv, addr(alice), audit.Filter{})
	if got := seqs(trail); !slices.Equal(got, []uint64{1, 2, 4, 5}) {
		t.Fatalf("alice's trail %v", got)
	}
	if trail[0].Node != orgA || trail[2].Node != orgB || !trail[0].Served || trail[1].Served || trail[1].Reason == "" || trail[0].Time != t0-100 {
		t.Fatalf("trail %+v", trail)
	}
	for _, tt := range []struct {
		name string
		f    audit.Filter
		want []uint64
	}{
		{"from", audit.Filter{From: t0 - 50}, []uint64{2, 4, 5}},
		{"to is exclusive", audit.Filter{To: t1}, []uint64{1, 2}},
		{"from and to", audit.Filter{From: t0 - 50, To: t1 + 1}, []uint64{2, 4}},
		{"accessor", audit.Filter{Accessor: addr(doctorA)}, []uint64{1, 4}},
		{"limit", audit.Filter{Limit: 3}, []uint64{1, 2, 4}},
		{"accessor and limit", audit.Filter{Accessor: addr(doctorA), Limit: 1}, []uint64{1}},
	} {
		if got := seqs(audit.Trail(e.kv, addr(alice), tt.f)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := seqs(audit.ByAccessor(e.kv, addr(doctorA), 0, 0)); !slices.Equal(got, []uint64{1, 3, 4}) {
		t.Errorf("ByAccessor(doctor) = %v", got)
	}
	if got := seqs(audit.ByAccessor(e.kv, addr(doctorA), t0-40, t1)); !slices.Equal(got, []uint64{3}) {
		t.Errorf("ByAccessor(doctor, window) = %v", got)
	}
	if got := audit.Trail(e.kv, addr(adminA), audit.Filter{}); len(got) != 0 {
		t.Errorf("the accessor's address is not a patient's trail: %v", got)
	}
}

func TestSignals(t *testing.T) {
	e := newEnv(t)
	now := e.now.Unix()
	reason := func(err *sm.Error) string { return fmt.Sprintf("%s/%d: %s", err.Codespace, err.Code, err.Desc) }
	var bulk []audit.Event
	for i := range audit.DefaultSignalOptions.MaxPatients + 1 {
		// The doctor reads 21 patients' records, one of them alice's.
		p := fmt.Sprintf("patient-%d", i)
		if i == 0 {
			p = alice
		}
		bulk = append(bulk, served(p, doctorA, now-int64(i)))
	}
	e.ok(gwA, &audit.MsgLog{Events: bulk})
	e.ok(gwA, &audit.MsgLog{Events: []audit.Event{
		// adminA reads many patients, but never alice: not alice's concern.
		refused(alice, adminA, now, reason(consent.ErrNoConsent)),
		refused(alice, bob, now-2, reason(consent.ErrConsentExpired)),
		refused(alice, bob, now-1, reason(consent.ErrConsentRevoked)),
		// The prefix is the whole code: consent/1 is not consent/18.
		refused(alice, bob, now-3, reason(consent.ErrNotPatientOrGuardian)),
		served(alice, alice, now),
	}})
	got := audit.Signals(e.kv, addr(alice), now, audit.DefaultSignalOptions)
	var kinds []string
	for _, s := range got {
		kinds = append(kinds, s.Kind+"/"+s.Accessor.String())
	}
	want := []string{
		"bulk_reads/" + addr(doctorA).String(),
		"refused_expired_or_revoked/" + addr(bob).String(),
		"refused_expired_or_revoked/" + addr(bob).String(),
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, want) {
		t.Fatalf("signals %v, want %v", kinds, want)
	}
	for _, s := range got {
		if s.Kind == "bulk_reads" && (!strings.Contains(s.Detail, "21 patients") || s.Time != now) {
			t.Errorf("bulk signal %+v", s)
		}
	}
	// Sorted by time.
	if !slices.IsSortedFunc(got, func(a, b audit.Signal) int { return int(a.Time - b.Time) }) {
		t.Errorf("signals not in time order: %+v", got)
	}
	// One patient fewer is not bulk.
	for _, s := range audit.Signals(e.kv, addr(alice), now, audit.SignalOptions{Window: 3600, MaxPatients: 21}) {
		if s.Kind == "bulk_reads" {
			t.Errorf("21 patients flagged with MaxPatients 21: %+v", s)
		}
	}
	// The zero options do not panic.
	_ = audit.Signals(e.kv, addr(alice), now, audit.SignalOptions{})
}

func TestSignalsEmergencyUnreviewed(t *testing.T) {
	e := newEnv(t)
	e.ok(alice, &consent.MsgGrant{Patient: addr(alice), Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
	e.ok(doctorA, &consent.MsgOpenEmergency{Patient: addr(alice), Reason: "unable_to_consent"})
	em := consent.GetEmergency(e.kv, 1)
	if got := audit.Signals(e.kv, addr(alice), em.Expires-1, audit.DefaultSignalOptions); len(got) != 0 {
		t.Fatalf("open emergency flagged: %+v", got)
	}
	got := audit.Signals(e.kv, addr(alice), em.Expires, audit.DefaultSignalOptions)
	if len(got) != 1 || got[0].Kind != "emergency_unreviewed" || got[0].Accessor != addr(doctorA) || got[0].Time != em.Expires {
		t.Fatalf("signals %+v", got)
	}
	e.ok(adminA, &consent.MsgReviewEmergency{ID: 1, Review: "justified"})
	if got := audit.Signals(e.kv, addr(alice), em.Expires+1, audit.DefaultSignalOptions); len(got) != 0 {
		t.Fatalf("reviewed emergency flagged: %+v", got)
	}
}

// FuzzDecode runs the route's decoder on arbitrary bytes: no panic, only
// ErrTxDecode, and whatever decodes re-encodes to exactly the input.
func FuzzDecode(f *testing.F) {
	now := blockTime.Unix()
	f.Add(codec.Marshal(&audit.MsgLog{Events: []audit.Event{served(alice, doctorA, now)}}))
	f.Add(codec.Marshal(&audit.MsgLog{Events: []audit.Event{
		refused(alice, adminA, now, "consent/19: the consent covering this access was revoked"),
		{ID: fresh(), Patient: addr(bob), Accessor: addr(doctorA), Record: rid(3), Version: 2, Time: now, Basis: string(consent.BasisEmergency), ConsentID: 4, EmergencyID: 1, Served: true,
			Proof: &audit.Proof{Kind: audit.ProofSession, Org: orgA, Scope: "user/*.read", Expires: now, Digest: make([]byte, 32)}},
		{ID: fresh(), Patient: addr(bob), Accessor: addr(doctorA), Record: rid(3), Version: 1, Time: now, Served: true,
			Proof: &audit.Proof{Kind: audit.ProofSession, Org: orgA, Scope: "user/*.read", Expires: now, Digest: make([]byte, 32)}},
	}}))
	routes := (audit.Module{}).Routes()
	f.Fuzz(func(t *testing.T, b []byte) { smtest.FuzzRoutes(t, routes, b) })
}

// TestDecodeRejectsWideValues: an event's version is a uint32.
func TestDecodeRejectsWideValues(t *testing.T) {
	ev := served(alice, doctorA, 5)
	ok := codec.Marshal(&audit.MsgLog{Events: []audit.Event{ev}})
	route := (audit.Module{}).Routes()[0]
	if _, err := route.Decode(ok); err != nil {
		t.Fatal(err)
	}
	// proof count ‖ proof ‖ event count ‖ id ‖ patient ‖ accessor ‖ record ‖ version …
	at := 1 + len(codec.Marshal(ev.Proof)) + 1 + audit.IDSize + 20 + 20 + consent.RecordIDSize
	if ok[at] != 1 {
		t.Fatalf("version byte at %d is %d", at, ok[at])
	}
	wide := slices.Concat(ok[:at], []byte{0x81, 0x80, 0x80, 0x80, 0x10}, ok[at+1:])
	if m, err := route.Decode(wide); !errors.Is(err, sm.ErrTxDecode) {
		t.Fatalf("version 1<<32+1 decoded: %+v, %v", m, err)
	}
}

// TestSessionProofHonoursTheSession: a token signed by an on-chain session
// key backs only reads within the session's limits, made before it ended.
func TestSessionProofHonoursTheSession(t *testing.T) {
	now := blockTime.Unix()
	sk := key("doctorA-session")
	pub := sk.PubKey()
	proof := func() *audit.Proof {
		p := &audit.Proof{Kind: audit.ProofSession, Org: orgA, Challenge: [32]byte{9}, Scope: "user/*.read", Expires: now + 3600, Session: pub[:]}
		copy(p.Sig[:], sk.Sign(audit.SessionSignBytes(chainID, p, addr(doctorA))))
		return p
	}
	tests := []struct {
		name    string
		types   []string
		expires int64
		revoked int64
		ok      bool
	}{
		{"within the limits", []string{"Observation"}, now + 3600, 0, true},
		{"a record type outside the limits", []string{"Condition"}, now + 3600, 0, false},
		{"after the session was revoked", []string{"Observation"}, now + 3600, now - 10, false},
		{"after the session expired", []string{"Observation"}, now, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			accounts.BindKey(e.kv, pub, accounts.BoundSession, addr(doctorA))
			session.Put(e.kv, &session.Session{PubKey: pub, EncKey: sk.EncKey(), Account: addr(doctorA), Created: now - 100, Revoked: tt.revoked,
				Limits: session.Limits{ResourceTypes: tt.types, Purpose: "treatment", Expires: tt.expires}})
			ev := served(alice, doctorA, now)
			ev.Proof = proof()
			e.ok(gwA, &audit.MsgLog{Events: []audit.Event{ev}})
			got := rejections(e.events.List())
			if tt.ok && len(got) != 0 {
				t.Fatalf("refused: %v", got)
			}
			if !tt.ok && (len(got) != 1 || got[0] != code(audit.ErrNotAttributable)) {
				t.Fatalf("rejections %v, want %s", got, code(audit.ErrNotAttributable))
			}
		})
	}
}

// TestRequestProofSignedByAnotherKeyOfTheAccessor: a signed request names
// its key; the chain takes a session key of the accessor (within the
// session), a key the accessor rotated away from, and no one else's key.
func TestRequestProofSignedByAnotherKeyOfTheAccessor(t *testing.T) {
	now := blockTime.Unix()
	sk := key("doctorA-session-2")
	spub := sk.PubKey()
	stranger := key("stranger")
	rec := recOf(alice)
	request := func(k *crypto.PrivKey) *audit.Proof {
		pub := k.PubKey()
		p := &audit.Proof{Kind: audit.ProofRequest, Target: "/v1/records/" + hex.EncodeToString(rec[:]) + "/key", Expires: now + 60, Nonce: fresh(), Key: pub[:]}
		copy(p.Sig[:], k.Sign(audit.RequestSignBytes(chainID, p.Target, p.Expires, p.Nonce)))
		return p
	}
	tests := []struct {
		name  string
		types []string
		k     *crypto.PrivKey
		ok    bool
	}{
		{"the account's own key, named", nil, key(doctorA), true},
		{"a session key within its limits", []string{"Observation"}, sk, true},
		{"a session key outside its limits", []string{"Condition"}, sk, false},
		{"a key of no one", nil, stranger, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			accounts.BindKey(e.kv, spub, accounts.BoundSession, addr(doctorA))
			session.Put(e.kv, &session.Session{PubKey: spub, EncKey: sk.EncKey(), Account: addr(doctorA), Created: now - 100,
				Limits: session.Limits{ResourceTypes: tt.types, Purpose: "treatment", Expires: now + 3600}})
			ev := served(alice, doctorA, now)
			ev.Proof = request(tt.k)
			e.ok(gwA, &audit.MsgLog{Events: []audit.Event{ev}})
			got := rejections(e.events.List())
			if tt.ok && len(got) != 0 {
				t.Fatalf("refused: %v", got)
			}
			if !tt.ok && (len(got) != 1 || got[0] != code(audit.ErrNotAttributable)) {
				t.Fatalf("rejections %v, want %s", got, code(audit.ErrNotAttributable))
			}
		})
	}
}
