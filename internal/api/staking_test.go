package api_test

import (
	"strings"
	"testing"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/staking"
)

// TestStakingReads: the staking validators, an account's delegations and
// an organization's revenue, after a delegation and a fee-paying block.
func TestStakingReads(t *testing.T) {
	f := newFake(t)
	p := apptest.Key(apptest.Patient2)
	val := apptest.Key(apptest.Validator).PubKey()
	f.h.DeliverOK(t, f.h.Sign(p, &staking.MsgDelegate{Validator: val, Amount: 900_000}))
	// A fee of 1000 reaches the validator in the next block's distribution.
	seq := f.h.Seq(p)
	f.h.DeliverOK(t, sm.SignTx(p, apptest.ChainID, seq, 1000, &accounts.MsgSetGuardian{Guardian: apptest.Key(apptest.Patient3).Address()}))
	f.h.Resync(p)
	f.h.DeliverOK(t)
	h := serve(f)
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantErr    *sm.Error
		wantIn     []string
	}{
		{name: "validators", path: "/v1/staking/validators", wantStatus: 200,
			wantIn: []string{`"tokens":900000`, `"org":"dev-hospital"`, `"approved":true`, `"commission_bps":500`}},
		{name: "delegations", path: "/v1/staking/delegations/" + p.Address().String(), wantStatus: 200,
			wantIn: []string{`"shares":900000`, `"tokens":900000`, `"pending_rewards":950`}},
		{name: "delegations bad address", path: "/v1/staking/delegations/mc12", wantStatus: 400, wantErr: api.ErrBadRequest},
		{name: "revenue", path: "/v1/validators/revenue/dev-hospital", wantStatus: 200,
			wantIn: []string{`"rewards":1000`, `"commission":50`, `"delegators":950`, `"date":"`}},
		{name: "revenue of an unknown org", path: "/v1/validators/revenue/nobody", wantStatus: 404, wantErr: api.ErrMissing},
		{name: "revenue bad org id", path: "/v1/validators/revenue/" + strings.Repeat("x", 100), wantStatus: 400, wantErr: api.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, h, call{method: "GET", path: tt.path})
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tt.wantStatus, body)
			}
			if tt.wantErr != nil {
				if e := errorOf(t, body); e.Code != tt.wantErr.Code || e.Codespace != tt.wantErr.Codespace {
					t.Fatalf("error %s/%d: %s", e.Codespace, e.Code, e.Message)
				}
			}
			for _, in := range tt.wantIn {
				if !strings.Contains(string(body), in) {
					t.Fatalf("body %s does not contain %s", body, in)
				}
			}
		})
	}
}
