package audit_test

import (
	"crypto/sha256"
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
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/records"
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

type env struct{ *smtest.Env }

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{smtest.NewEnv(t, "audit-test", blockTime, accounts.Module{}, &consent.Module{Params: params.NewRegistry(consent.ParamDefs...)}, records.Module{}, audit.Module{})}
	member := func(name, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: key(name).PubKey(), EncKey: key(name).EncKey(), Kind: "member", Org: org, Role: role}
	}
	e.Genesis(accounts.Module{}, accounts.Genesis{
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
	e.OK(adminA, &accounts.MsgDeactivateMember{Address: addr(oldGw)})
	e.Events = &sm.Events{}
	return e
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

func served(patient, accessor string, at int64) audit.Event {
	return audit.Event{Patient: addr(patient), Accessor: addr(accessor), Record: rid(1), Version: 1, Time: at, Served: true,
		Basis: string(consent.BasisConsent), ConsentID: 1}
}

func refused(patient, accessor string, at int64, reason string) audit.Event {
	return audit.Event{Patient: addr(patient), Accessor: addr(accessor), Record: rid(1), Version: 1, Time: at, Reason: reason}
}

func TestErrorCodesAreStable(t *testing.T) {
	for i, e := range []*sm.Error{audit.ErrNotGateway, audit.ErrBadEvent, audit.ErrClockSkew} {
		if e.Codespace != audit.Codespace || e.Code != uint32(i+1) {
			t.Errorf("%q = %s/%d, want audit/%d", e.Desc, e.Codespace, e.Code, i+1)
		}
	}
}

func TestLogValidateBasic(t *testing.T) {
	now := blockTime.Unix()
	tests := []struct {
		name string
		evs  []audit.Event
		want *sm.Error
	}{
		{"a read served", []audit.Event{served(alice, doctorA, now)}, nil},
		{"a read refused", []audit.Event{refused(alice, doctorA, now, "consent/17: no consent")}, nil},
		{"a full batch", slices.Repeat([]audit.Event{served(alice, doctorA, now)}, audit.MaxEvents), nil},
		{"an empty batch", nil, audit.ErrBadEvent},
		{"seq set by the gateway", []audit.Event{func() audit.Event { e := served(alice, doctorA, now); e.Seq = 1; return e }()}, audit.ErrBadEvent},
		{"node set by the gateway", []audit.Event{func() audit.Event { e := served(alice, doctorA, now); e.Node = orgA; return e }()}, audit.ErrBadEvent},
		{"no patient", []audit.Event{func() audit.Event { e := served(alice, doctorA, now); e.Patient = crypto.Address{}; return e }()}, audit.ErrBadEvent},
		{"no accessor", []audit.Event{func() audit.Event { e := served(alice, doctorA, now); e.Accessor = crypto.Address{}; return e }()}, audit.ErrBadEvent},
		{"served with a reason", []audit.Event{func() audit.Event { e := served(alice, doctorA, now); e.Reason = "why"; return e }()}, audit.ErrBadEvent},
		{"refused without a reason", []audit.Event{refused(alice, doctorA, now, "")}, audit.ErrBadEvent},
		{"second event bad", []audit.Event{served(alice, doctorA, now), refused(alice, doctorA, now, "")}, audit.ErrBadEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, (&audit.MsgLog{Events: tt.evs}).ValidateBasic(), tt.want)
		})
	}
}

func TestLog(t *testing.T) {
	now := blockTime.Unix()
	tests := []struct {
		name   string
		signer string
		evs    []audit.Event
		want   *sm.Error
	}{
		{"gateway", gwA, []audit.Event{served(alice, doctorA, now)}, nil},
		{"gateway of another organization", gwB, []audit.Event{served(alice, doctorA, now)}, nil},
		{"reported up to an hour late", gwA, []audit.Event{served(alice, doctorA, now-audit.MaxDelay)}, nil},
		{"clock up to five minutes ahead", gwA, []audit.Event{served(alice, doctorA, now+audit.MaxAhead)}, nil},
		{"unknown record", gwA, []audit.Event{func() audit.Event { e := served(alice, doctorA, now); e.Record = rid(7); return e }()}, nil},
		{"the record's own patient", gwA, []audit.Event{served(bob, doctorA, now)}, nil},

		{"practitioner", doctorA, []audit.Event{served(alice, doctorA, now)}, audit.ErrNotGateway},
		{"admin", adminA, []audit.Event{served(alice, doctorA, now)}, audit.ErrNotGateway},
		{"patient", alice, []audit.Event{served(alice, doctorA, now)}, audit.ErrNotGateway},
		{"deactivated gateway", oldGw, []audit.Event{served(alice, doctorA, now)}, audit.ErrNotGateway},
		{"too late", gwA, []audit.Event{served(alice, doctorA, now-audit.MaxDelay-1)}, audit.ErrClockSkew},
		{"too far ahead", gwA, []audit.Event{served(alice, doctorA, now+audit.MaxAhead+1)}, audit.ErrClockSkew},
		{"one bad event fails the batch", gwA, []audit.Event{served(alice, doctorA, now), served(alice, doctorA, now+audit.MaxAhead+1)}, audit.ErrClockSkew},
		{"record of another patient", gwA, []audit.Event{served(alice, doctorA, now), func() audit.Event {
			e := served(alice, doctorA, now)
			e.Record = rid(2)
			return e
		}()}, audit.ErrBadEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			// rid(2) is bob's record.
			e.OK(bob, &records.MsgAdd{ID: rid(2), Patient: addr(bob), ResourceType: "Observation", ContentHash: sha256.Sum256([]byte("c")), Size: 1,
				Keys: []records.WrappedKey{{Recipient: consent.Account(addr(bob))}}})
			e.Events = &sm.Events{}
			err := e.Run(tt.signer, &audit.MsgLog{Events: tt.evs})
			wantErr(t, err, tt.want)
			var all []audit.Event
			for _, p := range []string{alice, bob} {
				all = append(all, audit.Trail(e.KV, addr(p), audit.Filter{})...)
			}
			if tt.want != nil {
				if len(all) != 0 || e.Events.Len() != 0 {
					t.Fatalf("a refused batch logged %v", all)
				}
				return
			}
			org := accounts.GetAccount(e.KV, addr(tt.signer)).Org
			if len(all) != len(tt.evs) || all[0].Seq != 1 || all[0].Node != org {
				t.Fatalf("trail %+v", all)
			}
			ev := e.Events.List()[0]
			if ev.Type != "access_logged" || ev.Attrs[0].Value != fmt.Sprint(len(tt.evs)) || ev.Attrs[1].Value != org {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

func TestTrailAndByAccessor(t *testing.T) {
	e := newEnv(t)
	t0 := e.Now.Unix()
	e.OK(gwA, &audit.MsgLog{Events: []audit.Event{
		served(alice, doctorA, t0-100),
		refused(alice, adminA, t0-50, "consent/17: no consent covers this access"),
		served(bob, doctorA, t0-40),
	}})
	e.Now = e.Now.Add(time.Minute)
	t1 := e.Now.Unix()
	e.OK(gwB, &audit.MsgLog{Events: []audit.Event{served(alice, doctorA, t1), served(alice, bob, t1+1)}})

	seqs := func(evs []audit.Event) []uint64 {
		var out []uint64
		for _, ev := range evs {
			out = append(out, ev.Seq)
		}
		return out
	}
	trail := audit.Trail(e.KV, addr(alice), audit.Filter{})
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
		if got := seqs(audit.Trail(e.KV, addr(alice), tt.f)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := seqs(audit.ByAccessor(e.KV, addr(doctorA), 0, 0)); !slices.Equal(got, []uint64{1, 3, 4}) {
		t.Errorf("ByAccessor(doctor) = %v", got)
	}
	if got := seqs(audit.ByAccessor(e.KV, addr(doctorA), t0-40, t1)); !slices.Equal(got, []uint64{3}) {
		t.Errorf("ByAccessor(doctor, window) = %v", got)
	}
	if got := audit.Trail(e.KV, addr(adminA), audit.Filter{}); len(got) != 0 {
		t.Errorf("the accessor's address is not a patient's trail: %v", got)
	}
}

func TestSignals(t *testing.T) {
	e := newEnv(t)
	now := e.Now.Unix()
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
	e.OK(gwA, &audit.MsgLog{Events: bulk})
	e.OK(gwA, &audit.MsgLog{Events: []audit.Event{
		// adminA reads many patients, but never alice: not alice's concern.
		refused(alice, adminA, now, reason(consent.ErrNoConsent)),
		refused(alice, bob, now-2, reason(consent.ErrConsentExpired)),
		refused(alice, bob, now-1, reason(consent.ErrConsentRevoked)),
		// The prefix is the whole code: consent/1 is not consent/18.
		refused(alice, bob, now-3, reason(consent.ErrNotPatientOrGuardian)),
		served(alice, alice, now),
	}})
	got := audit.Signals(e.KV, addr(alice), now, audit.DefaultSignalOptions)
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
	for _, s := range audit.Signals(e.KV, addr(alice), now, audit.SignalOptions{Window: 3600, MaxPatients: 21}) {
		if s.Kind == "bulk_reads" {
			t.Errorf("21 patients flagged with MaxPatients 21: %+v", s)
		}
	}
	// The zero options do not panic.
	_ = audit.Signals(e.KV, addr(alice), now, audit.SignalOptions{})
}

func TestSignalsEmergencyUnreviewed(t *testing.T) {
	e := newEnv(t)
	e.OK(alice, &consent.MsgGrant{Patient: addr(alice), Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
	e.OK(doctorA, &consent.MsgOpenEmergency{Patient: addr(alice), Reason: "unable_to_consent"})
	em := consent.GetEmergency(e.KV, 1)
	if got := audit.Signals(e.KV, addr(alice), em.Expires-1, audit.DefaultSignalOptions); len(got) != 0 {
		t.Fatalf("open emergency flagged: %+v", got)
	}
	got := audit.Signals(e.KV, addr(alice), em.Expires, audit.DefaultSignalOptions)
	if len(got) != 1 || got[0].Kind != "emergency_unreviewed" || got[0].Accessor != addr(doctorA) || got[0].Time != em.Expires {
		t.Fatalf("signals %+v", got)
	}
	e.OK(adminA, &consent.MsgReviewEmergency{ID: 1, Review: "justified"})
	if got := audit.Signals(e.KV, addr(alice), em.Expires+1, audit.DefaultSignalOptions); len(got) != 0 {
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
		{Patient: addr(bob), Accessor: addr(doctorA), Record: rid(3), Version: 2, Time: now, Basis: string(consent.BasisEmergency), ConsentID: 4, EmergencyID: 1, Served: true},
	}}))
	routes := (audit.Module{}).Routes()
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, routes, b)
	})
}

// TestDecodeRejectsWideValues: an event's version is a uint32.
func TestDecodeRejectsWideValues(t *testing.T) {
	ev := served(alice, doctorA, 5)
	ok := codec.Marshal(&audit.MsgLog{Events: []audit.Event{ev}})
	route := (audit.Module{}).Routes()[0]
	if _, err := route.Decode(ok); err != nil {
		t.Fatal(err)
	}
	// count ‖ seq ‖ patient ‖ accessor ‖ record ‖ version …
	at := 1 + 1 + 20 + 20 + consent.RecordIDSize
	if ok[at] != 1 {
		t.Fatalf("version byte at %d is %d", at, ok[at])
	}
	wide := slices.Concat(ok[:at], []byte{0x81, 0x80, 0x80, 0x80, 0x10}, ok[at+1:])
	if m, err := route.Decode(wide); !errors.Is(err, sm.ErrTxDecode) {
		t.Fatalf("version 1<<32+1 decoded: %+v, %v", m, err)
	}
}
