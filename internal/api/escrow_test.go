package api

import (
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/telemed"
)

// escrowState: doctorA (hospital A) offers a consultation arbitrated by
// regulator R; alice (guardian gina) books it (booking 1); bob is a
// stranger.
func escrowState(t *testing.T) *authBackend {
	t.Helper()
	tree := merkle.NewMemTree()
	t.Cleanup(func() { tree.Close() })
	member := func(name, org, role string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: akey(name).PubKey(), EncKey: akey(name).EncKey(), Kind: "member", Org: org, Role: role}
	}
	patient := func(name string) accounts.GenesisAccount {
		return accounts.GenesisAccount{PubKey: akey(name).PubKey(), EncKey: akey(name).EncKey(), Kind: "patient", Balance: 1000}
	}
	raw, err := json.Marshal(accounts.Genesis{
		Orgs: []accounts.GenesisOrg{{ID: "hosp-a", Name: "Hospital A", Type: "hospital"}, {ID: "reg-r", Name: "Regulator R", Type: "regulator"}},
		Accounts: []accounts.GenesisAccount{
			member("adminA", "hosp-a", accounts.RoleAdmin), member("doctorA", "hosp-a", accounts.RolePractitioner), member("adminR", "reg-r", accounts.RoleAdmin),
			patient("alice"), patient("bob"), patient("gina"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mod := &telemed.Module{Params: params.NewRegistry(telemed.ParamDefs...)}
	routes := map[string]sm.Route{}
	for _, rt := range append((accounts.Module{}).Routes(), mod.Routes()...) {
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
	run("alice", &accounts.MsgSetGuardian{Guardian: akey("gina").Address()})
	run("doctorA", &telemed.MsgOffer{Service: "general-consultation", Price: 300, Duration: 1800, Arbiter: "reg-r"})
	run("alice", &telemed.MsgBook{Offer: 1, Start: authTime.Unix() + 3600})
	if _, _, err := tree.Commit(); err != nil {
		t.Fatal(err)
	}
	return &authBackend{tree: tree}
}

// TestEscrowReadGrounds: offers and requests are public; a booking, a
// party's bookings, an arbiter's disputes and a patient's research
// payments are served only to signed reads of those entitled.
func TestEscrowReadGrounds(t *testing.T) {
	s := newAuthServer(t, escrowState(t), RateLimit{})
	alice, doctor := akey("alice").Address().String(), akey("doctorA").Address().String()
	for _, tc := range []struct {
		name, signer, path string
		want               int
	}{
		{"offers are public", "", "/v1/telemed/offers", 200},
		{"an offer is public", "", "/v1/telemed/offers/1", 200},
		{"unknown offer", "", "/v1/telemed/offers/9", 404},
		{"requests are public", "", "/v1/research/requests", 200},
		{"unsigned booking read", "", "/v1/telemed/bookings/1", 401},
		{"stranger reads a booking", "bob", "/v1/telemed/bookings/1", 403},
		{"provider's admin reads a booking", "adminA", "/v1/telemed/bookings/1", 403},
		{"patient reads the booking", "alice", "/v1/telemed/bookings/1", 200},
		{"guardian reads the booking", "gina", "/v1/telemed/bookings/1", 200},
		{"provider reads the booking", "doctorA", "/v1/telemed/bookings/1", 200},
		{"arbiter reads the booking", "adminR", "/v1/telemed/bookings/1", 200},
		{"unknown booking", "bob", "/v1/telemed/bookings/9", 404},
		{"patient lists its bookings", "alice", "/v1/accounts/" + alice + "/bookings", 200},
		{"guardian lists the patient's bookings", "gina", "/v1/accounts/" + alice + "/bookings", 200},
		{"provider may not list the patient's bookings", "doctorA", "/v1/accounts/" + alice + "/bookings", 403},
		{"provider lists its own bookings", "doctorA", "/v1/accounts/" + doctor + "/bookings", 200},
		{"unsigned bookings list", "", "/v1/accounts/" + doctor + "/bookings", 401},
		{"arbiter lists its disputes", "adminR", "/v1/orgs/reg-r/disputes", 200},
		{"another admin may not", "adminA", "/v1/orgs/reg-r/disputes", 403},
		{"patient lists its research payments", "alice", "/v1/patients/" + alice + "/research", 200},
		{"stranger may not", "bob", "/v1/patients/" + alice + "/research", 403},
		{"booking proof names the patient", "", "/v1/proof?key=" + hex.EncodeToString(telemed.BookingKey(1)), 401},
		{"booking proof to a stranger", "bob", "/v1/proof?key=" + hex.EncodeToString(telemed.BookingKey(1)), 403},
		{"booking proof to the patient", "alice", "/v1/proof?key=" + hex.EncodeToString(telemed.BookingKey(1)), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w := get(t, s, tc.signer, tc.path); w.Code != tc.want {
				t.Errorf("HTTP %d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
	var b BookingView
	w := get(t, s, "alice", "/v1/telemed/bookings/1")
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Held != 300 || b.State != "booked" || b.Patient != alice {
		t.Fatalf("booking %s: %+v %v", w.Body, b, err)
	}
}
