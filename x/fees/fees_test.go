package fees_test

import (
	"errors"
	"testing"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/fees"
)

func TestNextBaseFee(t *testing.T) {
	for _, c := range []struct {
		name                                    string
		base, used, target, denom, lo, hi, want uint64
	}{
		{"at target: unchanged", 1000, 100, 100, 8, 1, 1 << 30, 1000},
		{"double the target: +1/8", 1000, 200, 100, 8, 1, 1 << 30, 1125},
		{"empty: −1/8", 1000, 0, 100, 8, 1, 1 << 30, 875},
		{"slightly full: at least +1", 10, 101, 100, 8, 1, 1 << 30, 11},
		{"slightly empty: may stay", 10, 99, 100, 8, 1, 1 << 30, 10},
		{"floor", 100, 0, 100, 8, 95, 1 << 30, 95},
		{"ceiling", 1000, 1 << 20, 1, 1, 1, 5000, 5000},
		{"huge product does not overflow", 1 << 40, 1 << 20, 1, 1, 1, 1 << 40, 1 << 40},
		{"below the floor after a param change: back to it", 3, 100, 100, 8, 50, 1 << 30, 50},
	} {
		if got := fees.NextBaseFee(c.base, c.used, c.target, c.denom, c.lo, c.hi); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestGrantValidateAndDecode(t *testing.T) {
	var g crypto.Address
	g[0] = 7
	for _, c := range []struct {
		name string
		msg  fees.MsgGrant
		ok   bool
	}{
		{"total limit", fees.MsgGrant{Grantee: g, Limit: 5}, true},
		{"period", fees.MsgGrant{Grantee: g, Period: 60, PeriodLimit: 5, Types: []string{"a/b", "c/d"}}, true},
		{"no grantee", fees.MsgGrant{Limit: 5}, false},
		{"no limit", fees.MsgGrant{Grantee: g}, false},
		{"period without limit", fees.MsgGrant{Grantee: g, Limit: 5, Period: 60}, false},
		{"limit without period", fees.MsgGrant{Grantee: g, PeriodLimit: 5}, false},
		{"period too long", fees.MsgGrant{Grantee: g, Period: fees.MaxPeriod + 1, PeriodLimit: 5}, false},
		{"unsorted types", fees.MsgGrant{Grantee: g, Limit: 5, Types: []string{"c/d", "a/b"}}, false},
		{"duplicate types", fees.MsgGrant{Grantee: g, Limit: 5, Types: []string{"a/b", "a/b"}}, false},
	} {
		err := c.msg.ValidateBasic()
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, fees.ErrBadAllowance)) {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok {
			continue
		}
		raw := codec.Marshal(&c.msg)
		rt := sm.NewRouter(fees.Module{})
		_, m, err := rt.DecodeMsg(sm.Body{Type: fees.TypeGrant, Msg: raw})
		if err != nil || codec.Marshal(m) == nil || string(codec.Marshal(m)) != string(raw) {
			t.Errorf("%s: round trip %v", c.name, err)
		}
		if _, _, err := rt.DecodeMsg(sm.Body{Type: fees.TypeGrant, Msg: append(raw, 0)}); !errors.Is(err, sm.ErrTxDecode) {
			t.Errorf("%s: trailing byte accepted: %v", c.name, err)
		}
	}
}
