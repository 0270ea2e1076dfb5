package research_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/research"
)

const (
	uni      = "uni"
	hosp     = "hosp"
	res      = "res"
	res2     = "res2"
	doctor   = "doctor"
	gw       = "gw"
	p1       = "p1"
	p2       = "p2"
	p3       = "p3"
	guard    = "guard" // p1's guardian
	budget   = 1000
	price    = 100
	startBal = 10_000
	chainID  = "test"
	day      = 24 * 3600
)

var t0 = time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)

type env struct {
	*smtest.Env
	mod    *research.Module
	supply uint64
	nonce  uint64
	evTime int64 // when non-zero, the time the gateway reports for the next read
}

func newEnv(t testing.TB) *env {
	t.Helper()
	reg := params.NewRegistry(consent.ParamDefs...)
	for _, d := range research.ParamDefs {
		reg.Declare(d)
	}
	mod := &research.Module{Params: reg}
	e := &env{Env: smtest.NewEnv(t, "research-test", t0, accounts.Module{}, &consent.Module{Params: reg}, records.Module{}, audit.Module{}, mod), mod: mod}
	member := func(name, org, role string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "member", Org: org, Role: role, Balance: startBal}
	}
	patient := func(name string) accounts.GenesisAccount {
		k := e.Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "patient"}
	}
	e.Genesis(accounts.Module{}, accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: uni, Name: "University", Type: "research_sponsor", EncKey: e.Key("org:" + uni).EncKey()},
			{ID: hosp, Name: "Hospital", Type: "hospital", EncKey: e.Key("org:" + hosp).EncKey()},
		},
		Accounts: []accounts.GenesisAccount{
			member(res, uni, accounts.RoleResearcher), member(res2, uni, accounts.RoleResearcher),
			member(doctor, hosp, accounts.RolePractitioner), member(gw, hosp, accounts.RoleGateway),
			patient(p1), patient(p2), patient(p3), patient(guard),
		},
	})
	for _, p := range []string{p1, p2, p3} {
		for _, typ := range []string{"Observation", "Condition"} {
			e.OK(p, &records.MsgAdd{ID: recOf(p, typ), Patient: e.Addr(p), ResourceType: typ, ContentHash: sha256.Sum256([]byte(p + typ)), Size: 1,
				Keys: []records.WrappedKey{{Recipient: consent.Account(e.Addr(p))}}})
		}
	}
	e.OK(p1, &accounts.MsgSetGuardian{Guardian: e.Addr(guard)}) // after the records: their keys are wrapped for the patient alone
	e.supply = e.total()
	return e
}

func recOf(patient, typ string) consent.RecordID {
	h := sha256.Sum256([]byte("record:" + patient + typ))
	return consent.RecordID(h[:consent.RecordIDSize])
}

func (e *env) total() uint64 {
	var sum uint64
	e.KV.Iterate([]byte{sm.PrefixAccount}, store.PrefixEnd([]byte{sm.PrefixAccount}), func(_, v []byte) bool {
		a, err := accounts.DecodeAccount(v)
		if err != nil {
			e.T.Fatalf("account: %v", err)
		}
		sum += a.Balance
		return true
	})
	e.KV.Iterate([]byte{sm.PrefixPool}, store.PrefixEnd([]byte{sm.PrefixPool}), func(k, _ []byte) bool {
		var a crypto.Address
		copy(a[:], k[1:])
		sum += bank.PoolBalance(e.KV, a)
		return true
	})
	return sum + accounts.FeePool(e.KV)
}

// conserved: every token accounted for, and every request's escrow equals
// its budget less what it paid (nothing once closed), covering its reserve.
func (e *env) conserved() {
	e.T.Helper()
	if got := e.total(); got != e.supply {
		e.T.Fatalf("tokens not conserved: %d, want %d", got, e.supply)
	}
	for _, q := range research.Requests(e.KV, crypto.Address{}, false) {
		pool := bank.PoolBalance(e.KV, research.Escrow(q.ID))
		want := q.Budget - q.Paid
		if q.Closed != 0 {
			want = 0
			if q.Paid+q.Returned != q.Budget {
				e.T.Fatalf("request %d: paid %d + returned %d != budget %d", q.ID, q.Paid, q.Returned, q.Budget)
			}
		}
		if pool != want || pool < q.Reserved {
			e.T.Fatalf("request %d: escrow %d, want %d (reserved %d)", q.ID, pool, want, q.Reserved)
		}
	}
}

func (e *env) bal(name string) uint64 { return bank.Balance(e.KV, e.Addr(name)) }

func (e *env) at(d time.Duration) { e.Now = t0.Add(d) }

func (e *env) endBlock() {
	e.mod.EndBlock(sm.Context{ChainID: chainID, Height: 3, Time: e.Now, Store: e.KV, Events: e.Events})
}

func (e *env) open(who string, m *research.MsgOpen) uint64 {
	e.T.Helper()
	e.OK(who, m)
	qs := research.Requests(e.KV, crypto.Address{}, false)
	return qs[len(qs)-1].ID
}

var end = t0.Unix() + 30*day

func stdOpen() *research.MsgOpen {
	return &research.MsgOpen{Budget: budget, Price: price, Types: []string{"Observation"}, Codes: []string{"http://loinc.org|4548-4"},
		Purpose: "diabetes-outcomes", End: end}
}

// grant has patient (signed by signer) grant the researcher a research
// consent and returns its id.
func (e *env) grant(signer, patient, researcher string, types []string, until int64) uint64 {
	e.T.Helper()
	e.OK(signer, &consent.MsgGrant{Patient: e.Addr(patient), Grantee: consent.Account(e.Addr(researcher)), Actions: consent.ActRead,
		Types: types, Purpose: consent.PurposeResearch, Until: until})
	cs := consent.Between(e.KV, e.Addr(patient), consent.Account(e.Addr(researcher)))
	return cs[len(cs)-1].ID
}

func (e *env) optIn(patient string, req uint64) uint64 {
	e.T.Helper()
	c := e.grant(patient, patient, res, []string{"Observation"}, end)
	e.OK(patient, &research.MsgOptIn{Request: req, Patient: e.Addr(patient), Consent: c})
	return c
}

// read logs, through the hospital's gateway, a read by accessor of the
// patient's record of typ under consentID (served or refused), backed by
// the accessor's signed request, and ends the block.
func (e *env) read(patient, typ, accessor string, consentID uint64, served bool) {
	e.T.Helper()
	e.nonce++
	var id [16]byte
	binary.BigEndian.PutUint64(id[8:], e.nonce)
	rec := recOf(patient, typ)
	at := e.Now.Unix()
	if e.evTime != 0 {
		at, e.evTime = e.evTime, 0
	}
	p := &audit.Proof{Kind: audit.ProofRequest, Target: "/v1/records/" + hex.EncodeToString(rec[:]) + "/key", Expires: at + 60, Nonce: id}
	copy(p.Sig[:], e.Key(accessor).Sign(audit.RequestSignBytes(chainID, p.Target, p.Expires, p.Nonce)))
	ev := audit.Event{ID: id, Patient: e.Addr(patient), Accessor: e.Addr(accessor), Record: rec, Version: 1, Time: at,
		Served: served, Basis: string(consent.BasisConsent), ConsentID: consentID, Proof: p}
	if !served {
		ev.Basis, ev.ConsentID, ev.Reason = "", 0, "consent/17: no consent covers this access"
	}
	n := len(audit.Trail(e.KV, e.Addr(patient), audit.Filter{}))
	e.OK(gw, &audit.MsgLog{Events: []audit.Event{ev}})
	if len(audit.Trail(e.KV, e.Addr(patient), audit.Filter{})) != n+1 {
		e.T.Fatalf("the gateway's event was not logged: %v", e.Events.List())
	}
	e.endBlock()
}

func wantErr(t testing.TB, got error, want *sm.Error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("error %v, want %s/%d (%s)", got, want.Codespace, want.Code, want.Desc)
	}
}

// TestPaidOncePerRequestWithWhatItBought: the first recorded read of an
// opted-in patient pays the price; later reads are listed beside the
// payment, not paid again; a patient whose data is not read is not paid.
func TestPaidOncePerRequestWithWhatItBought(t *testing.T) {
	e := newEnv(t)
	req := e.open(res, stdOpen())
	if e.bal(res) != startBal-budget {
		t.Fatal("budget not escrowed")
	}
	c1 := e.optIn(p1, req)
	e.optIn(p2, req)
	e.conserved()
	e.at(time.Hour)
	e.read(p1, "Observation", res, c1, true)
	e.at(2 * time.Hour)
	e.read(p1, "Observation", res, c1, true)
	e.read(p1, "Observation", res, c1, true)
	if got := e.bal(p1); got != price {
		t.Fatalf("p1 has %d, want %d (paid once)", got, price)
	}
	if e.bal(p2) != 0 {
		t.Fatal("p2 paid without an access")
	}
	ins := research.OptInsOf(e.KV, e.Addr(p1))
	if len(ins) != 1 || ins[0].Amount != price || len(ins[0].Accesses) != 3 {
		t.Fatalf("p1's opt-ins: %+v", ins)
	}
	trail := audit.Trail(e.KV, e.Addr(p1), audit.Filter{})
	for i, seq := range ins[0].Accesses {
		ev := audit.GetEvent(e.KV, e.Addr(p1), seq)
		if ev == nil || ev.Accessor != e.Addr(res) || ev.Record != recOf(p1, "Observation") || ev.Seq != trail[i].Seq {
			t.Fatalf("access %d (seq %d) is not p1's read by the researcher: %+v", i, seq, ev)
		}
	}
	q := research.GetRequest(e.KV, req)
	if q.Paid != price || q.PaidCount != 1 || q.Reserved != price || q.Patients != 2 {
		t.Fatalf("request: %+v", q)
	}
	e.conserved()
}

// TestNotPaid lists reads that must pay nothing: each one is a real,
// logged audit event that fails one of the conditions.
func TestNotPaid(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(e *env, req, c1 uint64)
	}{
		{"refused read", func(e *env, req, c1 uint64) { e.read(p1, "Observation", res, c1, false) }},
		{"read by another researcher naming the consent", func(e *env, req, c1 uint64) {
			e.grant(p1, p1, res2, []string{"Observation"}, end)
			e.read(p1, "Observation", res2, c1, true)
		}},
		{"read under a consent not linked to the request", func(e *env, req, c1 uint64) {
			other := e.grant(p1, p1, res, []string{"Observation"}, end)
			e.read(p1, "Observation", res, other, true)
		}},
		{"read of a type outside the consent and request", func(e *env, req, c1 uint64) { e.read(p1, "Condition", res, c1, true) }},
		{"read of a patient without an opt-in, naming another's consent", func(e *env, req, c1 uint64) { e.read(p3, "Observation", res, c1, true) }},
		{"read after the consent was revoked", func(e *env, req, c1 uint64) {
			e.OK(p1, &consent.MsgRevoke{ID: c1})
			e.at(time.Hour)
			e.read(p1, "Observation", res, c1, true)
		}},
		{"read after the end date", func(e *env, req, c1 uint64) {
			e.Now = time.Unix(end, 0)
			e.read(p1, "Observation", res, c1, true)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := e.open(res, stdOpen())
			c1 := e.optIn(p1, req)
			tc.run(e, req, c1)
			for _, p := range []string{p1, p3} {
				if e.bal(p) != 0 {
					t.Fatalf("%s was paid %d", p, e.bal(p))
				}
			}
			if q := research.GetRequest(e.KV, req); q.Paid != 0 {
				t.Fatalf("request paid %d", q.Paid)
			}
			e.conserved()
		})
	}
}

// TestGuardianOptsInForThePatient: a guardian's opt-in pays the patient.
func TestGuardianOptsInForThePatient(t *testing.T) {
	e := newEnv(t)
	req := e.open(res, stdOpen())
	c := e.grant(guard, p1, res, []string{"Observation"}, end)
	e.OK(guard, &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: c})
	e.read(p1, "Observation", res, c, true)
	if e.bal(p1) != price || e.bal(guard) != 0 {
		t.Fatalf("p1 %d, guardian %d", e.bal(p1), e.bal(guard))
	}
	e.conserved()
}

// TestRemainderReturns: at the end date plus the settle time the rest of
// the escrow returns; a read made before the end and logged late within the
// settle time is still paid.
func TestRemainderReturns(t *testing.T) {
	e := newEnv(t)
	req := e.open(res, stdOpen())
	c1 := e.optIn(p1, req)
	e.optIn(p2, req)
	settle := time.Duration(research.ParamDefs[0].Default) * time.Second
	e.Now = time.Unix(end, 0).Add(10 * time.Minute) // logged after the end
	e.evTime = end - 60                             // read before it
	e.read(p1, "Observation", res, c1, true)
	e.evTime = end // read at the end: not paid
	e.read(p2, "Observation", res, 2, true)
	e.Now = time.Unix(end, 0).Add(settle - time.Second)
	e.endBlock()
	if q := research.GetRequest(e.KV, req); q.Closed != 0 {
		t.Fatal("closed before the settle time")
	}
	e.Now = time.Unix(end, 0).Add(settle)
	e.endBlock()
	q := research.GetRequest(e.KV, req)
	if q.Closed == 0 || q.Returned != budget-price || e.bal(res) != startBal-price || e.bal(p1) != price || e.bal(p2) != 0 {
		t.Fatalf("request %+v, researcher %d", q, e.bal(res))
	}
	if _, err := 0, e.Run(p3, &research.MsgOptIn{Request: req, Patient: e.Addr(p3), Consent: 1}); !errors.Is(err, research.ErrEnded) {
		t.Fatalf("opt-in to a closed request: %v", err)
	}
	e.conserved()
}

// TestBudgetRunsOut: opt-ins reserve the price; the request is full when
// the budget is reserved, and closes as soon as every opted-in patient is
// paid and less than a price remains.
func TestBudgetRunsOut(t *testing.T) {
	e := newEnv(t)
	m := stdOpen()
	m.Budget = 2*price + price/2
	req := e.open(res, m)
	c1 := e.optIn(p1, req)
	c2 := e.optIn(p2, req)
	c3 := e.grant(p3, p3, res, []string{"Observation"}, end)
	wantErr(t, e.Run(p3, &research.MsgOptIn{Request: req, Patient: e.Addr(p3), Consent: c3}), research.ErrFull)
	e.read(p1, "Observation", res, c1, true)
	if q := research.GetRequest(e.KV, req); q.Closed != 0 {
		t.Fatal("closed with a patient still to pay")
	}
	e.read(p2, "Observation", res, c2, true)
	q := research.GetRequest(e.KV, req)
	if q.Closed == 0 || q.Returned != price/2 || e.bal(p1) != price || e.bal(p2) != price {
		t.Fatalf("request %+v", q)
	}
	if e.bal(res) != startBal-2*price {
		t.Fatalf("researcher has %d", e.bal(res))
	}
	e.conserved()
	// A new request of the researcher starts watching the trail afresh.
	req2 := e.open(res, stdOpen())
	c := e.grant(p3, p3, res, []string{"Observation"}, end)
	e.OK(p3, &research.MsgOptIn{Request: req2, Patient: e.Addr(p3), Consent: c})
	e.read(p3, "Observation", res, c, true)
	if e.bal(p3) != price {
		t.Fatalf("p3 has %d", e.bal(p3))
	}
	e.conserved()
}

// TestCloseEarly: the researcher may end the request early only once
// every patient who opted in with a consent still in force is paid (else
// that consent would let it read unpaid); reads before the close are paid
// if logged within the settle time, then the rest returns.
func TestCloseEarly(t *testing.T) {
	e := newEnv(t)
	req := e.open(res, stdOpen())
	c1 := e.optIn(p1, req)
	c2 := e.optIn(p2, req)
	e.at(time.Hour)
	wantErr(t, e.Run(res, &research.MsgClose{Request: req}), research.ErrUnpaid)
	e.read(p1, "Observation", res, c1, true)
	wantErr(t, e.Run(res, &research.MsgClose{Request: req}), research.ErrUnpaid)
	e.OK(p2, &consent.MsgRevoke{ID: c2}) // p2 withdrew: no longer a reason to keep it open
	e.OK(res, &research.MsgClose{Request: req})
	wantErr(t, e.Run(res, &research.MsgClose{Request: req}), research.ErrEnded)
	e.at(time.Hour + time.Minute)
	e.read(p1, "Observation", res, c1, true) // after the close: neither paid nor listed
	e.at(time.Hour + time.Duration(research.ParamDefs[0].Default)*time.Second)
	e.endBlock()
	q := research.GetRequest(e.KV, req)
	if q.Closed == 0 || q.Returned != budget-price || e.bal(res) != startBal-price || e.bal(p1) != price || e.bal(p2) != 0 {
		t.Fatalf("request %+v, researcher %d", q, e.bal(res))
	}
	if ins := research.OptInsOf(e.KV, e.Addr(p1)); len(ins[0].Accesses) != 1 {
		t.Fatalf("a read after the close was listed: %v", ins[0].Accesses)
	}
	e.conserved()
}

func TestRefusals(t *testing.T) {
	edit := func(f func(*research.MsgOpen)) *research.MsgOpen { m := stdOpen(); f(m); return m }
	type step func(e *env, req uint64) sm.Msg
	for _, tc := range []struct {
		name string
		who  string
		msg  step
		want *sm.Error
	}{
		{"open: zero price", res, func(*env, uint64) sm.Msg { return edit(func(m *research.MsgOpen) { m.Price = 0 }) }, research.ErrBadRequest},
		{"open: budget below one price", res, func(*env, uint64) sm.Msg { return edit(func(m *research.MsgOpen) { m.Budget = price - 1 }) }, research.ErrBadRequest},
		{"open: no types", res, func(*env, uint64) sm.Msg { return edit(func(m *research.MsgOpen) { m.Types = nil }) }, research.ErrBadRequest},
		{"open: bad type", res, func(*env, uint64) sm.Msg {
			return edit(func(m *research.MsgOpen) { m.Types = []string{"observation"} })
		}, research.ErrBadRequest},
		{"open: unsorted types", res, func(*env, uint64) sm.Msg {
			return edit(func(m *research.MsgOpen) { m.Types = []string{"Observation", "Condition"} })
		}, research.ErrBadRequest},
		{"open: bad code", res, func(*env, uint64) sm.Msg { return edit(func(m *research.MsgOpen) { m.Codes = []string{"4548-4"} }) }, research.ErrBadRequest},
		{"open: free-text purpose", res, func(*env, uint64) sm.Msg { return edit(func(m *research.MsgOpen) { m.Purpose = "Study of J. Smith" }) }, research.ErrBadRequest},
		{"open: by a practitioner", doctor, func(*env, uint64) sm.Msg { return stdOpen() }, research.ErrNotResearcher},
		{"open: by a patient", p1, func(*env, uint64) sm.Msg { return stdOpen() }, research.ErrNotResearcher},
		{"open: end passed", res, func(*env, uint64) sm.Msg { return edit(func(m *research.MsgOpen) { m.End = t0.Unix() }) }, research.ErrBadEnd},
		{"open: end too far", res, func(*env, uint64) sm.Msg { return edit(func(m *research.MsgOpen) { m.End = t0.Unix() + 3*366*day }) }, research.ErrTooLong},
		{"open: budget beyond balance", res, func(*env, uint64) sm.Msg { return edit(func(m *research.MsgOpen) { m.Budget = startBal }) }, bank.ErrFunds},
		{"optin: missing ids", p1, func(e *env, req uint64) sm.Msg { return &research.MsgOptIn{Patient: e.Addr(p1)} }, research.ErrBadOptIn},
		{"optin: not a patient", p1, func(e *env, req uint64) sm.Msg {
			return &research.MsgOptIn{Request: req, Patient: e.Addr(doctor), Consent: 1}
		}, research.ErrPatientNotFound},
		{"optin: for another patient", p2, func(e *env, req uint64) sm.Msg {
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: e.grant(p1, p1, res, []string{"Observation"}, end)}
		}, research.ErrNotPatient},
		{"optin: unknown request", p1, func(e *env, req uint64) sm.Msg {
			return &research.MsgOptIn{Request: 99, Patient: e.Addr(p1), Consent: e.grant(p1, p1, res, []string{"Observation"}, end)}
		}, research.ErrUnknownRequest},
		{"optin: twice", p1, func(e *env, req uint64) sm.Msg {
			e.optIn(p1, req)
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: e.grant(p1, p1, res, []string{"Observation"}, end)}
		}, research.ErrAlreadyIn},
		{"optin: unknown consent", p1, func(e *env, req uint64) sm.Msg {
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: 99}
		}, research.ErrUnknownConsent},
		{"optin: another patient's consent", p2, func(e *env, req uint64) sm.Msg {
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p2), Consent: e.grant(p1, p1, res, []string{"Observation"}, end)}
		}, research.ErrConsentParties},
		{"optin: consent to another researcher", p1, func(e *env, req uint64) sm.Msg {
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: e.grant(p1, p1, res2, []string{"Observation"}, end)}
		}, research.ErrConsentParties},
		{"optin: treatment consent", p1, func(e *env, req uint64) sm.Msg {
			e.OK(p1, &consent.MsgGrant{Patient: e.Addr(p1), Grantee: consent.Account(e.Addr(res)), Actions: consent.ActRead, Types: []string{"Observation"},
				Purpose: consent.PurposeTreatment, Until: end})
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: 1}
		}, research.ErrConsentPurpose},
		{"optin: read-write consent", p1, func(e *env, req uint64) sm.Msg {
			e.OK(p1, &consent.MsgGrant{Patient: e.Addr(p1), Grantee: consent.Account(e.Addr(res)), Actions: consent.ActRead | consent.ActWrite,
				Types: []string{"Observation"}, Purpose: consent.PurposeResearch, Until: end})
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: 1}
		}, research.ErrConsentPurpose},
		{"optin: consent to a type outside the request", p1, func(e *env, req uint64) sm.Msg {
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: e.grant(p1, p1, res, []string{"Condition", "Observation"}, end)}
		}, research.ErrConsentScope},
		{"optin: all-records consent", p1, func(e *env, req uint64) sm.Msg {
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: e.grant(p1, p1, res, nil, end)}
		}, research.ErrConsentScope},
		{"optin: consent outliving the request", p1, func(e *env, req uint64) sm.Msg {
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: e.grant(p1, p1, res, []string{"Observation"}, end+1)}
		}, research.ErrConsentPeriod},
		{"optin: revoked consent", p1, func(e *env, req uint64) sm.Msg {
			c := e.grant(p1, p1, res, []string{"Observation"}, end)
			e.OK(p1, &consent.MsgRevoke{ID: c})
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: c}
		}, research.ErrConsentPeriod},
		{"optin: consent already backing a request", p1, func(e *env, req uint64) sm.Msg {
			c := e.optIn(p1, req)
			req2 := e.open(res, stdOpen())
			return &research.MsgOptIn{Request: req2, Patient: e.Addr(p1), Consent: c}
		}, research.ErrConsentLinked},
		{"optin: after the end", p1, func(e *env, req uint64) sm.Msg {
			c := e.grant(p1, p1, res, []string{"Observation"}, end)
			e.Now = time.Unix(end, 0)
			return &research.MsgOptIn{Request: req, Patient: e.Addr(p1), Consent: c}
		}, research.ErrEnded},
		{"close: missing id", res, func(*env, uint64) sm.Msg { return &research.MsgClose{} }, research.ErrBadOptIn},
		{"close: unknown request", res, func(*env, uint64) sm.Msg { return &research.MsgClose{Request: 99} }, research.ErrUnknownRequest},
		{"close: by another researcher", res2, func(_ *env, req uint64) sm.Msg { return &research.MsgClose{Request: req} }, research.ErrNotOwner},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := e.open(res, stdOpen())
			msg := tc.msg(e, req)
			before := snapshot(e.KV)
			wantErr(t, e.Run(tc.who, msg), tc.want)
			if !bytes.Equal(before, snapshot(e.KV)) {
				t.Fatal("a refused message changed the state")
			}
			e.conserved()
		})
	}
}

func snapshot(kv *store.Memory) []byte {
	var b bytes.Buffer
	kv.Iterate(nil, nil, func(k, v []byte) bool {
		b.Write(k)
		b.WriteByte(0xff)
		b.Write(v)
		b.WriteByte(0xfe)
		return true
	})
	return b.Bytes()
}

func seedMsgs() []sm.Msg {
	return []sm.Msg{stdOpen(), &research.MsgOptIn{Request: 1, Patient: crypto.Address{1}, Consent: 2}, &research.MsgClose{Request: 1}}
}

func TestSeedsCoverEveryRoute(t *testing.T) {
	var have []string
	for _, m := range seedMsgs() {
		have = append(have, m.Type())
		if err := m.ValidateBasic(); err != nil {
			t.Errorf("seed %s: %v", m.Type(), err)
		}
	}
	for _, rt := range (&research.Module{}).Routes() {
		if !slices.Contains(have, rt.Type) {
			t.Errorf("route %s has no fuzz seed", rt.Type)
		}
		if rt.NewSigner {
			t.Errorf("route %s accepts a new signer", rt.Type)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range seedMsgs() {
		f.Add(codec.Marshal(m))
	}
	f.Add(codec.Marshal(&research.Request{ID: 1, Types: []string{"Observation"}, Price: 3, Patients: 2}))
	f.Add(codec.Marshal(&research.OptIn{Request: 1, Consent: 2, Accesses: []uint64{5, 9}, More: 1}))
	routes := (&research.Module{}).Routes()
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, routes, b)
		smtest.FuzzCanonical(t, "request", b, research.DecodeRequest)
		smtest.FuzzCanonical(t, "optin", b, research.DecodeOptIn)
	})
}

// TestRandomOperationsPayOnce runs random opt-ins, reads (served or
// refused, under any consent), revocations, early closes and block ends
// over several requests, and checks after each step that tokens are
// conserved, that every patient holds exactly price × the requests that
// paid it (each at most once), and that every payment cites a served read
// by the request's researcher of that patient.
func TestRandomOperationsPayOnce(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(7, 7))
	patients := []string{p1, p2, p3}
	researchers := []string{res, res2}
	var reqs []uint64
	consents := map[[2]string][]uint64{} // patient, researcher → consents granted
	n := 600
	if testing.Short() {
		n = 150
	}
	for i := 0; i < n; i++ {
		e.Now = e.Now.Add(time.Duration(rng.IntN(3*3600)) * time.Second)
		p := patients[rng.IntN(len(patients))]
		r := researchers[rng.IntN(len(researchers))]
		switch rng.IntN(7) {
		case 0:
			m := stdOpen()
			m.Budget = uint64(price * (1 + rng.IntN(3)))
			m.End = e.Now.Unix() + int64(1+rng.IntN(10))*day
			if e.Run(r, m) == nil {
				qs := research.Requests(e.KV, crypto.Address{}, false)
				reqs = append(reqs, qs[len(qs)-1].ID)
			}
		case 1:
			if len(reqs) == 0 {
				continue
			}
			q := research.GetRequest(e.KV, reqs[rng.IntN(len(reqs))])
			until := q.End
			if rng.IntN(4) == 0 {
				until++ // a consent that does not fit
			}
			if until <= e.Now.Unix() {
				continue
			}
			c := e.grant(p, p, researchName(e, q.Researcher), []string{"Observation"}, until)
			k := [2]string{p, researchName(e, q.Researcher)}
			consents[k] = append(consents[k], c)
			_ = e.Run(p, &research.MsgOptIn{Request: q.ID, Patient: e.Addr(p), Consent: c})
		case 2, 3:
			var c uint64
			if cs := consents[[2]string{p, r}]; len(cs) > 0 {
				c = cs[rng.IntN(len(cs))]
			}
			typ := "Observation"
			if rng.IntN(5) == 0 {
				typ = "Condition"
			}
			e.read(p, typ, r, c, rng.IntN(6) != 0)
		case 4:
			if cs := consents[[2]string{p, r}]; len(cs) > 0 {
				_ = e.Run(p, &consent.MsgRevoke{ID: cs[rng.IntN(len(cs))]})
			}
		case 5:
			if len(reqs) > 0 {
				_ = e.Run(r, &research.MsgClose{Request: reqs[rng.IntN(len(reqs))]})
			}
		case 6:
			e.endBlock()
		}
		e.conserved()
		for _, p := range patients {
			var want uint64
			for _, o := range research.OptInsOf(e.KV, e.Addr(p)) {
				if o.Amount == 0 {
					continue
				}
				want += o.Amount
				q := research.GetRequest(e.KV, o.Request)
				ev := audit.GetEvent(e.KV, e.Addr(p), o.Accesses[0])
				if ev == nil || !ev.Served || ev.Accessor != q.Researcher || ev.ConsentID != o.Consent {
					t.Fatalf("step %d: %s's payment by request %d cites %+v", i, p, o.Request, ev)
				}
			}
			if got := e.bal(p); got != want {
				t.Fatalf("step %d: %s holds %d, its payments sum to %d", i, p, got, want)
			}
		}
	}
	paid := 0
	for _, q := range research.Requests(e.KV, crypto.Address{}, false) {
		paid += int(q.PaidCount)
	}
	t.Logf("%d requests, %d payments", len(reqs), paid)
	if paid < 5 {
		t.Fatalf("only %d payments: the random walk exercised little", paid)
	}
}

func researchName(e *env, a crypto.Address) string {
	for _, n := range []string{res, res2} {
		if e.Addr(n) == a {
			return n
		}
	}
	return ""
}
