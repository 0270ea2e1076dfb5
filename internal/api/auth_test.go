package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
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

const authChain = "medchain-auth-test"

var authTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func akey(name string) *crypto.PrivKey { return smtest.Key("api-auth-test", name) }

// authBackend serves one committed state of a memory tree.
type authBackend struct {
	tree *merkle.Tree
}

func (b *authBackend) Status(context.Context) (*Status, error) {
	return &Status{ChainID: authChain, Height: b.tree.Version()}, nil
}
func (b *authBackend) Submit(context.Context, []byte, bool) (*TxResult, error) {
	return nil, errors.New("read-only")
}
func (b *authBackend) State(int64) (*merkle.Snapshot, error) {
	return b.tree.Snapshot(b.tree.Version())
}
func (b *authBackend) Params() *params.Registry { return params.NewRegistry(consent.ParamDefs...) }
func (b *authBackend) Block(context.Context, int64) (*Block, error) {
	return nil, ErrNotFound
}

// Tx answers one consent grant by alice, with the events the chain emits.
func (b *authBackend) Tx(context.Context, []byte) (*TxResult, error) {
	return &TxResult{Hash: strings.Repeat("ab", 32), Committed: true, Height: 1, Type: "consent/grant",
		Signer: akey("alice").Address().String(), Events: []Event{{Type: "consent_granted",
			Attrs: map[string]string{"patient": akey("alice").Address().String(), "grantee": akey("doctorA").Address().String()}}}}, nil
}
func (b *authBackend) TxsBySigner(context.Context, string, int, int) ([]*TxResult, int, error) {
	return nil, 0, nil
}
func (b *authBackend) BlockTime(int64) (time.Time, error) { return authTime, nil }

// authState: hospital A (admin, doctor, staff), regulator R (admin);
// patients alice (guardian gina) and bob. alice consents to doctorA reading
// her records; hospital A holds alice's emergency custody.
func authState(t *testing.T) *authBackend {
	t.Helper()
	tree := merkle.NewMemTree()
	t.Cleanup(func() { tree.Close() })
	member := func(name, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: akey(name).PubKey(), EncKey: akey(name).EncKey(), Kind: "member", Org: org, Role: role}
	}
	patient := func(name string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: akey(name).PubKey(), EncKey: akey(name).EncKey(), Kind: "patient"}
	}
	g := accounts.Genesis{
		Orgs: []accounts.GenesisOrg{
			{ID: "hosp-a", Name: "Hospital A", Type: "hospital", EncKey: akey("org:hosp-a").EncKey()},
			{ID: "reg-r", Name: "Regulator R", Type: "regulator"},
		},
		Accounts: []accounts.GenesisAccount{
			member("adminA", "hosp-a", accounts.RoleAdmin), member("doctorA", "hosp-a", accounts.RolePractitioner),
			member("staffA", "hosp-a", accounts.RoleStaff), member("adminR", "reg-r", accounts.RoleAdmin),
			patient("alice"), patient("bob"), patient("gina"),
		},
	}
	raw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	reg := params.NewRegistry(consent.ParamDefs...)
	cmod := &consent.Module{Params: reg}
	routes := map[string]sm.Route{}
	for _, rt := range append((accounts.Module{}).Routes(), cmod.Routes()...) {
		routes[rt.Type] = rt
	}
	ctx := func(signer string) sm.Context {
		c := sm.Context{ChainID: authChain, Height: 1, Time: authTime, Store: tree, Events: &sm.Events{}, Valset: &sm.ValidatorUpdates{}}
		if signer != "" {
			c.Signer, c.Key = akey(signer).Address(), akey(signer).PubKey()
		}
		return c
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
	alice := akey("alice").Address()
	run("alice", &accounts.MsgSetGuardian{Guardian: akey("gina").Address()})
	run("alice", &consent.MsgGrant{Patient: alice, Grantee: consent.Account(akey("doctorA").Address()),
		Actions: consent.ActRead, Types: []string{"Observation"}, Purpose: consent.PurposeTreatment})
	run("alice", &consent.MsgGrant{Patient: alice, Grantee: consent.Org("hosp-a"),
		Actions: consent.ActRead, Purpose: consent.PurposeEmergency})
	if _, _, err := tree.Commit(); err != nil {
		t.Fatal(err)
	}
	return &authBackend{tree: tree}
}

func newAuthServer(t *testing.T, b *authBackend, rl RateLimit) *Server {
	t.Helper()
	return New(b, Options{ChainID: authChain, RateLimit: rl, Registry: prometheus.NewRegistry(), Gatherer: prometheus.NewRegistry()})
}

// get sends a GET, signed by the named key unless signer is "".
func get(t *testing.T, s *Server, signer, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if signer != "" {
		if err := reqsig.Sign(req, akey(signer), authChain, time.Now(), time.Minute, nil); err != nil {
			t.Fatal(err)
		}
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

func errBody(t *testing.T, w *httptest.ResponseRecorder) ErrorBody {
	t.Helper()
	var e ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q: %v", w.Body.String(), err)
	}
	return e
}

// TestPatientReadsNeedSignature: an unsigned read of patient data gets 401,
// a stranger's signed read 403, the patient's 200 — for every
// patient-scoped route.
func TestPatientReadsNeedSignature(t *testing.T) {
	b := authState(t)
	s := newAuthServer(t, b, RateLimit{})
	alice := akey("alice").Address().String()
	paths := []string{
		"/v1/patients/" + alice + "/records",
		"/v1/patients/" + alice + "/consents",
		"/v1/patients/" + alice + "/audit",
		"/v1/patients/" + alice + "/signals",
		"/v1/patients/" + alice + "/emergencies",
		"/v1/patients/" + alice + "/key-holders?type=Observation",
		"/v1/accounts/" + alice + "/txs",
		"/v1/consents/1",
		"/v1/proof?key=2000000000000000" + "01",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			if w := get(t, s, "", p); w.Code != http.StatusUnauthorized || errBody(t, w).Code != ErrUnauthenticated.Code {
				t.Errorf("unsigned: HTTP %d %s, want 401 api/%d", w.Code, w.Body, ErrUnauthenticated.Code)
			}
			if w := get(t, s, "bob", p); w.Code != http.StatusForbidden || errBody(t, w).Code != ErrForbidden.Code {
				t.Errorf("stranger bob: HTTP %d %s, want 403", w.Code, w.Body)
			}
			if w := get(t, s, "alice", p); w.Code != http.StatusOK {
				t.Errorf("patient alice: HTTP %d %s, want 200", w.Code, w.Body)
			}
			if w := get(t, s, "gina", p); w.Code != http.StatusOK {
				t.Errorf("guardian gina: HTTP %d %s, want 200", w.Code, w.Body)
			}
		})
	}
}

// TestPatientReadGrounds: who besides the patient may read what.
func TestPatientReadGrounds(t *testing.T) {
	b := authState(t)
	s := newAuthServer(t, b, RateLimit{})
	alice := akey("alice").Address().String()
	tests := []struct {
		name, signer, path string
		want               int
	}{
		{"grantee lists records", "doctorA", "/v1/patients/" + alice + "/records", 200},
		{"grantee asks key holders", "doctorA", "/v1/patients/" + alice + "/key-holders?type=Observation", 200},
		{"grantee may not read the trail", "doctorA", "/v1/patients/" + alice + "/audit", 403},
		{"grantee may not list all consents", "doctorA", "/v1/patients/" + alice + "/consents", 403},
		{"grantee reads its own consent", "doctorA", "/v1/consents/1", 200},
		{"grantee lists its consents", "doctorA", "/v1/grantees/" + akey("doctorA").Address().String() + "/consents", 200},
		{"no one else's grantee list", "doctorA", "/v1/grantees/" + akey("bob").Address().String() + "/consents", 403},
		{"custody alone is no care grounds", "staffA", "/v1/patients/" + alice + "/records", 403},
		{"member reads its org's consents", "staffA", "/v1/grantees/org:hosp-a/consents", 200},
		{"custody admin reviews emergencies", "adminA", "/v1/patients/" + alice + "/emergencies", 200},
		{"custody admin may not read the trail", "adminA", "/v1/patients/" + alice + "/audit", 403},
		{"org admin lists its emergencies", "adminA", "/v1/orgs/hosp-a/emergencies", 200},
		{"practitioner may not list org emergencies", "doctorA", "/v1/orgs/hosp-a/emergencies", 403},
		{"regulator admin reviews emergencies", "adminR", "/v1/patients/" + alice + "/emergencies", 200},
		{"regulator admin lists an org's emergencies", "adminR", "/v1/orgs/hosp-a/emergencies", 200},
		{"regulator may not list records", "adminR", "/v1/patients/" + alice + "/records", 403},
		{"non-patient tx list is public", "", "/v1/accounts/" + akey("doctorA").Address().String() + "/txs", 200},
		{"absent patient key proof is public", "", "/v1/proof?key=200000000000000099", 200},
		{"non-patient key proof is public", "", "/v1/proof?key=10" + "6161", 200},
		{"status is public", "", "/v1/status", 200},
		{"organizations are public", "", "/v1/orgs", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if w := get(t, s, tc.signer, tc.path); w.Code != tc.want {
				t.Errorf("HTTP %d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
}

// TestUnknownSignerStoresNoNonce: a signed read by a key without an account
// is refused (403) before its nonce reaches the replay cache.
func TestUnknownSignerStoresNoNonce(t *testing.T) {
	b := authState(t)
	s := newAuthServer(t, b, RateLimit{})
	alice := akey("alice").Address().String()
	for i := range 8 {
		w := get(t, s, "made-up-"+string(rune('a'+i)), "/v1/patients/"+alice+"/records")
		if w.Code != http.StatusForbidden {
			t.Fatalf("made-up key: HTTP %d %s, want 403", w.Code, w.Body)
		}
	}
	if n := s.verifier.Len(); n != 0 {
		t.Fatalf("replay cache holds %d nonces after made-up keys, want 0", n)
	}
	if w := get(t, s, "alice", "/v1/patients/"+alice+"/records"); w.Code != 200 || s.verifier.Len() != 1 {
		t.Fatalf("alice: HTTP %d, cache %d; want 200 and 1", w.Code, s.verifier.Len())
	}
}

// TestRateLimits: per address, 429 with Retry-After and a stable body;
// exempt prefixes pass; per key, the same for one key's signed reads.
func TestRateLimits(t *testing.T) {
	b := authState(t)
	s := newAuthServer(t, b, RateLimit{PerAddress: 1, PerAddressBurst: 2, PerKey: 0.5, PerKeyBurst: 1,
		Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	from := func(addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/status", nil)
		req.RemoteAddr = addr
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w
	}
	for i := range 2 {
		if w := from("203.0.113.7:4000"); w.Code != 200 {
			t.Fatalf("request %d within the burst: HTTP %d", i, w.Code)
		}
	}
	w := from("203.0.113.7:4001")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("third request: HTTP %d Retry-After %q, want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if e := errBody(t, w); e.Code != ErrRateLimited.Code || e.Codespace != Codespace {
		t.Fatalf("error body %+v, want api/%d", e, ErrRateLimited.Code)
	}
	if w := from("198.51.100.1:4000"); w.Code != 200 {
		t.Fatalf("another address: HTTP %d", w.Code)
	}
	for range 5 {
		if w := from("127.0.0.1:5000"); w.Code != 200 {
			t.Fatalf("exempt loopback: HTTP %d", w.Code)
		}
	}
	// httptest requests come from 192.0.2.1: give each key read its own
	// address budget by going through loopback.
	signedFrom := func(signer string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/patients/"+akey("alice").Address().String()+"/records", nil)
		req.RemoteAddr = "127.0.0.1:6000"
		if err := reqsig.Sign(req, akey(signer), authChain, time.Now(), time.Minute, nil); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w
	}
	if w := signedFrom("alice"); w.Code != 200 {
		t.Fatalf("alice's first read: HTTP %d %s", w.Code, w.Body)
	}
	w = signedFrom("alice")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" || errBody(t, w).Code != ErrRateLimited.Code {
		t.Fatalf("alice's second read: HTTP %d Retry-After %q %s, want 429 after 2s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := signedFrom("gina"); w.Code != 200 {
		t.Fatalf("another key: HTTP %d %s", w.Code, w.Body)
	}
}

// TestTxLookupRedactsPatientData: a patient-scoped transaction looked up
// publicly shows its hash, height, type and signer but not the events that
// name the patient and grantee; its signer's signed lookup shows them.
func TestTxLookupRedactsPatientData(t *testing.T) {
	s := newAuthServer(t, authState(t), RateLimit{})
	path := "/v1/txs/" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, signer string
		redacted     bool
	}{{"anonymous", "", true}, {"another account", "bob", true}, {"the signer", "alice", false}} {
		t.Run(tc.name, func(t *testing.T) {
			w := get(t, s, tc.signer, path)
			var res TxResult
			if err := json.Unmarshal(w.Body.Bytes(), &res); w.Code != 200 || err != nil {
				t.Fatalf("HTTP %d %s", w.Code, w.Body)
			}
			if res.Type != "consent/grant" || res.Height != 1 {
				t.Fatalf("public fields missing: %+v", res)
			}
			named := strings.Contains(w.Body.String(), akey("doctorA").Address().String())
			if res.Redacted != tc.redacted || named == tc.redacted {
				t.Fatalf("redacted %v, grantee named %v; want redacted %v", res.Redacted, named, tc.redacted)
			}
		})
	}
}

// TestPatientGuardiansWithheld: an account is public, but a patient's
// guardians are listed only to a read the patient or a guardian signs.
func TestPatientGuardiansWithheld(t *testing.T) {
	b := authState(t)
	s := newAuthServer(t, b, RateLimit{})
	alice := akey("alice").Address().String()
	gina := akey("gina").Address().String()
	for _, tt := range []struct {
		signer string
		show   bool
	}{{"", false}, {"bob", false}, {"doctorA", false}, {"alice", true}, {"gina", true}} {
		w := get(t, s, tt.signer, "/v1/accounts/"+alice)
		if w.Code != http.StatusOK {
			t.Fatalf("%q: HTTP %d %s", tt.signer, w.Code, w.Body)
		}
		var v AccountView
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		if tt.show && (v.GuardiansWithheld || !slices.Contains(v.Guardians, gina)) {
			t.Errorf("%q: guardians %v withheld=%v, want gina listed", tt.signer, v.Guardians, v.GuardiansWithheld)
		}
		if !tt.show && (!v.GuardiansWithheld || len(v.Guardians) != 0) {
			t.Errorf("%q: guardians %v withheld=%v, want them withheld", tt.signer, v.Guardians, v.GuardiansWithheld)
		}
	}
}

// TestSessionDataKeyProofNamesThePatient: a key wrapped for a session (0x35)
// is a record's data like its other wrapped keys: its proof is a signed read.
func TestSessionDataKeyProofNamesThePatient(t *testing.T) {
	kv := store.NewMemory()
	id := records.RecordID{1}
	alice := akey("alice").Address()
	kv.Set(records.RecordKey(id), codec.Marshal(&records.Record{ID: id, Patient: alice, Type: "Observation", Version: 1}))
	key := append([]byte{sm.PrefixSessionDataKey}, id[:]...)
	key = append(key, 0, 0, 0, 1)
	key = append(key, make([]byte, crypto.PubKeySize)...)
	if p, named := patientOfKey(kv, key); !named || p != alice {
		t.Fatalf("patientOfKey(session data key) = %s, %v; want alice's", p, named)
	}
}

// TestKeyAddressTxsNeedSignature: the transaction list of an address with
// no account (a session's or a rotated key's own address, under which the
// index lists its transactions) is not public.
func TestKeyAddressTxsNeedSignature(t *testing.T) {
	b := authState(t)
	s := newAuthServer(t, b, RateLimit{})
	keyAddr := akey("a-session-key").Address().String()
	if w := get(t, s, "", "/v1/accounts/"+keyAddr+"/txs"); w.Code != http.StatusUnauthorized {
		t.Fatalf("unsigned list of a key address: HTTP %d %s, want 401", w.Code, w.Body)
	}
	org := akey("adminA").Address().String()
	if w := get(t, s, "", "/v1/accounts/"+org+"/txs"); w.Code != http.StatusOK {
		t.Fatalf("unsigned list of a member account: HTTP %d %s, want 200", w.Code, w.Body)
	}
}
