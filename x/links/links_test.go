package links_test

import (
	"errors"
	"testing"
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/links"
	"github.com/medchain/medchain/x/params"
)

const (
	hosp     = "hosp"
	other    = "other"
	clerk    = "clerk"  // staff of hosp
	admin    = "admin"  // admin of hosp
	doctor   = "doctor" // practitioner of hosp: may not link
	outsider = "outsider"
	pat      = "pat"
	pat2     = "pat2"
	gina     = "gina" // pat's guardian
	mrn      = "urn:oid:1.2.36.146.595.217.0.1"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *smtest.Env {
	t.Helper()
	e := smtest.NewEnv(t, "links-test", t0, accounts.Module{}, &consent.Module{Params: params.NewRegistry(consent.ParamDefs...)}, links.Module{})
	member := func(name, org, role string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "member", Org: org, Role: role, Balance: 100}
	}
	patient := func(name string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "patient", Balance: 100}
	}
	e.Genesis(accounts.Module{}, accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: hosp, Name: "Hospital", Type: "hospital", EncKey: e.Key("org:" + hosp).EncKey()},
			{ID: other, Name: "Other", Type: "clinic", EncKey: e.Key("org:" + other).EncKey()},
		},
		Accounts: []accounts.GenesisAccount{
			member(clerk, hosp, accounts.RoleStaff), member(admin, hosp, accounts.RoleAdmin), member(doctor, hosp, accounts.RolePractitioner),
			member(outsider, other, accounts.RoleAdmin), patient(pat), patient(pat2), patient(gina),
		},
	})
	e.OK(pat, &accounts.MsgSetGuardian{Guardian: e.Addr(gina)})
	return e
}

var key = links.Key{1, 2, 3}

func mac(org, value string) links.MAC { return links.ComputeMAC(key, org, mrn, value) }

func approved(e *smtest.Env, approver, patient string, m links.MAC, expires int64) *links.MsgLink {
	a := links.Approve(e.Key(approver), "test", hosp, m, e.Addr(patient), expires)
	return &links.MsgLink{Org: hosp, MAC: m, Patient: e.Addr(patient), Approval: &a}
}

func TestLinkRules(t *testing.T) {
	in := t0.Add(time.Hour).Unix()
	for _, tc := range []struct {
		name    string
		setup   func(e *smtest.Env)
		signer  string
		msg     func(e *smtest.Env) sm.Msg
		wantErr error
	}{
		{name: "approved by the patient", signer: clerk, msg: func(e *smtest.Env) sm.Msg { return approved(e, pat, pat, mac(hosp, "1"), in) }},
		{name: "approved by a guardian", signer: admin, msg: func(e *smtest.Env) sm.Msg { return approved(e, gina, pat, mac(hosp, "1"), in) }},
		{name: "under a consent to the organization", signer: clerk,
			setup: func(e *smtest.Env) {
				e.OK(pat, &consent.MsgGrant{Patient: e.Addr(pat), Grantee: consent.Org(hosp), Actions: consent.ActWrite, Purpose: consent.PurposeTreatment})
			},
			msg: func(e *smtest.Env) sm.Msg {
				return &links.MsgLink{Org: hosp, MAC: mac(hosp, "1"), Patient: e.Addr(pat)}
			}},
		{name: "no approval, no consent", signer: clerk, wantErr: links.ErrNoApproval,
			msg: func(e *smtest.Env) sm.Msg {
				return &links.MsgLink{Org: hosp, MAC: mac(hosp, "1"), Patient: e.Addr(pat)}
			}},
		{name: "a revoked consent is no approval", signer: clerk, wantErr: links.ErrNoApproval,
			setup: func(e *smtest.Env) {
				e.OK(pat, &consent.MsgGrant{Patient: e.Addr(pat), Grantee: consent.Org(hosp), Actions: consent.ActRead, Purpose: consent.PurposeTreatment})
				e.OK(pat, &consent.MsgRevoke{ID: 1})
			},
			msg: func(e *smtest.Env) sm.Msg {
				return &links.MsgLink{Org: hosp, MAC: mac(hosp, "1"), Patient: e.Addr(pat)}
			}},
		{name: "a consent to another organization is no approval", signer: clerk, wantErr: links.ErrNoApproval,
			setup: func(e *smtest.Env) {
				e.OK(pat, &consent.MsgGrant{Patient: e.Addr(pat), Grantee: consent.Org(other), Actions: consent.ActRead, Purpose: consent.PurposeTreatment})
			},
			msg: func(e *smtest.Env) sm.Msg {
				return &links.MsgLink{Org: hosp, MAC: mac(hosp, "1"), Patient: e.Addr(pat)}
			}},
		{name: "a practitioner may not link", signer: doctor, wantErr: links.ErrNotLinker,
			msg: func(e *smtest.Env) sm.Msg { return approved(e, pat, pat, mac(hosp, "1"), in) }},
		{name: "another organization's admin may not link", signer: outsider, wantErr: links.ErrNotLinker,
			msg: func(e *smtest.Env) sm.Msg { return approved(e, pat, pat, mac(hosp, "1"), in) }},
		{name: "approval signed by someone else", signer: clerk, wantErr: links.ErrBadApproval,
			msg: func(e *smtest.Env) sm.Msg {
				m := approved(e, pat2, pat2, mac(hosp, "1"), in)
				m.Patient = e.Addr(pat)
				m.Approval.Approver = e.Addr(pat)
				return m
			}},
		{name: "approval for another MAC", signer: clerk, wantErr: links.ErrBadApproval,
			msg: func(e *smtest.Env) sm.Msg {
				m := approved(e, pat, pat, mac(hosp, "1"), in)
				m.MAC = mac(hosp, "2")
				return m
			}},
		{name: "another patient approves", signer: clerk, wantErr: links.ErrBadApproval,
			msg: func(e *smtest.Env) sm.Msg { return approved(e, pat2, pat, mac(hosp, "1"), in) }},
		{name: "expired approval", signer: clerk, wantErr: links.ErrExpired,
			msg: func(e *smtest.Env) sm.Msg { return approved(e, pat, pat, mac(hosp, "1"), t0.Unix()) }},
		{name: "approval too far ahead", signer: clerk, wantErr: links.ErrTooLong,
			msg: func(e *smtest.Env) sm.Msg {
				return approved(e, pat, pat, mac(hosp, "1"), t0.Unix()+links.MaxApprovalLifetime+1)
			}},
		{name: "not a patient", signer: clerk, wantErr: links.ErrNotPatient,
			msg: func(e *smtest.Env) sm.Msg { return approved(e, doctor, doctor, mac(hosp, "1"), in) }},
		{name: "identifier linked to another patient", signer: clerk, wantErr: links.ErrTaken,
			setup: func(e *smtest.Env) { e.OK(clerk, approved(e, pat2, pat2, mac(hosp, "1"), in)) },
			msg:   func(e *smtest.Env) sm.Msg { return approved(e, pat, pat, mac(hosp, "1"), in) }},
		{name: "same link twice", signer: clerk, wantErr: links.ErrExists,
			setup: func(e *smtest.Env) { e.OK(clerk, approved(e, pat, pat, mac(hosp, "1"), in)) },
			msg:   func(e *smtest.Env) sm.Msg { return approved(e, pat, pat, mac(hosp, "1"), in-1) }},
		{name: "an approval links once", signer: clerk, wantErr: links.ErrUsed,
			setup: func(e *smtest.Env) {
				e.OK(clerk, approved(e, pat, pat, mac(hosp, "1"), in))
				e.OK(pat, &links.MsgUnlink{Org: hosp, MAC: mac(hosp, "1")})
			},
			msg: func(e *smtest.Env) sm.Msg { return approved(e, pat, pat, mac(hosp, "1"), in) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			msg := tc.msg(e)
			err := msg.ValidateBasic()
			if err == nil {
				err = e.Run(tc.signer, msg)
			}
			if !errors.Is(err, tc.wantErr) && !(tc.wantErr == nil && err == nil) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			m := msg.(*links.MsgLink)
			l := links.Get(e.KV, hosp, mac(hosp, "1"))
			if tc.wantErr == nil {
				if l == nil || l.Patient != m.Patient || l.Linker != e.Addr(tc.signer) {
					t.Fatalf("link %+v", l)
				}
				if r := (&links.Resolver{Org: hosp, Key: key}).Resolve(e.KV, mrn, "1"); r == nil || r.Patient != m.Patient {
					t.Fatalf("resolver: %+v", r)
				}
			} else if l != nil && l.Patient == m.Patient && tc.wantErr != links.ErrExists {
				t.Fatalf("refused, yet linked: %+v", l)
			}
		})
	}
}

func TestUnlinkAndQuery(t *testing.T) {
	e := newEnv(t)
	in := t0.Add(time.Hour).Unix()
	e.OK(clerk, approved(e, pat, pat, mac(hosp, "1"), in))
	e.OK(clerk, approved(e, pat, pat, mac(hosp, "2"), in))
	e.OK(clerk, approved(e, pat2, pat2, mac(hosp, "3"), in))
	if got := links.OfPatient(e.KV, e.Addr(pat)); len(got) != 2 {
		t.Fatalf("pat has %d links, want 2", len(got))
	}
	for _, tc := range []struct {
		signer  string
		value   string
		wantErr error
	}{
		{outsider, "1", links.ErrNotAllowed},
		{doctor, "1", links.ErrNotAllowed},
		{pat2, "1", links.ErrNotAllowed},
		{pat, "9", links.ErrNotFound},
		{gina, "1", nil},  // a guardian
		{admin, "2", nil}, // the organization
		{pat2, "3", nil},  // the patient
	} {
		err := e.Run(tc.signer, &links.MsgUnlink{Org: hosp, MAC: mac(hosp, tc.value)})
		if !errors.Is(err, tc.wantErr) && !(err == nil && tc.wantErr == nil) {
			t.Fatalf("unlink %s by %s: %v, want %v", tc.value, tc.signer, err, tc.wantErr)
		}
	}
	if got := links.OfPatient(e.KV, e.Addr(pat)); len(got) != 0 {
		t.Fatalf("pat keeps %d links after unlinking", len(got))
	}
	// The index is exactly what IndexEntries derives.
	want := map[string]bool{}
	links.IndexEntries(e.KV, func(k, _ []byte) { want[string(k)] = true })
	n := 0
	e.KV.Iterate([]byte{sm.PrefixLinkByPatient}, store.PrefixEnd([]byte{sm.PrefixLinkByPatient}), func(k, _ []byte) bool {
		n++
		if !want[string(k)] {
			t.Errorf("stray index key %x", k)
		}
		return true
	})
	if n != len(want) {
		t.Fatalf("%d index keys, want %d", n, len(want))
	}
}

// The chain holds no identifier: the stored link and the message carry
// only the MAC, and the MAC depends on the organization and its key.
func TestNothingIdentifyingOnChain(t *testing.T) {
	e := newEnv(t)
	value := "MRN-00412345"
	m := approved(e, pat, pat, mac(hosp, value), t0.Add(time.Hour).Unix())
	e.OK(clerk, m)
	stored := false
	e.KV.Iterate(nil, nil, func(k, v []byte) bool {
		for _, b := range [][]byte{k, v} {
			if contains(b, value) || contains(b, mrn) {
				t.Fatalf("identifier in the state at %x", k)
			}
		}
		stored = true
		return true
	})
	if !stored || contains(codec.Marshal(m), value) {
		t.Fatal("message carries the identifier")
	}
	if links.ComputeMAC(key, other, mrn, value) == mac(hosp, value) || links.ComputeMAC(links.Key{9}, hosp, mrn, value) == mac(hosp, value) {
		t.Fatal("MAC independent of organization or key")
	}
	if links.ComputeMAC(key, hosp, mrn, value+" ") == mac(hosp, value) {
		t.Fatal("values compared loosely")
	}
}

func contains(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

func FuzzDecode(f *testing.F) {
	e := smtest.NewEnv(f, "links-test", t0)
	a := links.Approve(e.Key(pat), "test", hosp, links.MAC{1}, e.Addr(pat), 5)
	f.Add(codec.Marshal(&links.MsgLink{Org: hosp, MAC: links.MAC{1}, Patient: e.Addr(pat), Approval: &a}))
	f.Add(codec.Marshal(&links.MsgUnlink{Org: hosp, MAC: links.MAC{1}}))
	f.Add(codec.Marshal(&links.Link{Org: hosp, MAC: links.MAC{2}, Patient: e.Addr(pat), Created: 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, links.Module{}.Routes(), b)
		smtest.FuzzCanonical(t, "link", b, links.DecodeLink)
	})
}
