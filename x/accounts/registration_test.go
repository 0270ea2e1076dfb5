package accounts_test

import (
	"fmt"
	"testing"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/params"
)

// TestSelfRegistrationCap is the identity-minting flood: past the
// governance cap, further self-registrations in the same block fail with
// ErrRegistrationCap and create nothing; the next block has a fresh budget;
// a cap of 0 closes self-registration.
func TestSelfRegistrationCap(t *testing.T) {
	tests := []struct {
		name   string
		cap    uint64
		perRun int // registrations attempted in block 2
		wantOK int
		nextOK bool // one more in block 3 succeeds
	}{
		{name: "a cap of 20", cap: 20, perRun: 25, wantOK: 20, nextOK: true},
		{name: "lowered under attack", cap: 3, perRun: 10, wantOK: 3, nextOK: true},
		{name: "closed", cap: 0, perRun: 2, wantOK: 0, nextOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			reg := params.NewRegistry(accounts.ParamDefs...)
			if err := reg.Set(e.kv, accounts.ParamMaxSelfRegistrations, tc.cap); err != nil {
				t.Fatal(err)
			}
			mod := accounts.Module{Params: reg}
			var route sm.Route
			for _, rt := range mod.Routes() {
				if rt.Type == accounts.TypeRegisterPatient {
					route = rt
				}
			}
			register := func(height int64, name string) error {
				k := key(name)
				ctx := e.ctx(k)
				ctx.Height = height
				return smtest.Exec(route, ctx, &accounts.MsgRegisterPatient{EncKey: k.EncKey()})
			}
			ok := 0
			for i := range tc.perRun {
				name := fmt.Sprintf("minted-%d", i)
				err := register(2, name)
				if err == nil {
					ok++
					continue
				}
				wantErr(t, err, accounts.ErrRegistrationCap)
				if e.account(name) != nil {
					t.Fatalf("%s was refused but its account exists", name)
				}
			}
			if ok != tc.wantOK || accounts.SelfRegistrations(e.kv, 2) != uint32(tc.wantOK) {
				t.Fatalf("%d registrations in block 2 (counter %d), want %d", ok, accounts.SelfRegistrations(e.kv, 2), tc.wantOK)
			}
			err := register(3, "next-block")
			if (err == nil) != tc.nextOK {
				t.Fatalf("registration in block 3: %v, want success %v", err, tc.nextOK)
			}
		})
	}
}

// TestSelfRegistrationCapDefault: a Module without a registry applies the
// declared default.
func TestSelfRegistrationCapDefault(t *testing.T) {
	if accounts.ParamDefs[0].Name != accounts.ParamMaxSelfRegistrations || accounts.ParamDefs[0].Default == 0 {
		t.Fatalf("ParamDefs[0] = %+v", accounts.ParamDefs[0])
	}
	e := newEnv(t)
	for i := range int(accounts.ParamDefs[0].Default) + 1 {
		k := key(fmt.Sprintf("p%d", i))
		err := e.run(k, &accounts.MsgRegisterPatient{EncKey: k.EncKey()})
		if i < int(accounts.ParamDefs[0].Default) {
			wantErr(t, err, nil)
		} else {
			wantErr(t, err, accounts.ErrRegistrationCap)
		}
	}
}
