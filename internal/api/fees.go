package api

import (
	"net/http"
	"strings"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/fees"
)

// Fee routes (docs/token.md). Prices are public; an account's allowances
// tell which organization pays for which patient, so they are served only
// to signed reads of the granter or the grantee (or a patient's guardian).
func (s *Server) routeFees() {
	s.handle("GET /v1/fees", s.feePrices)
	s.handleSigned("GET /v1/accounts/{address}/allowances", allowanceGuard, s.allowances)
}

// FeePricesView is what a transaction must pay now.
type FeePricesView struct {
	Height        int64             `json:"height"`
	MinFee        uint64            `json:"min_fee"` // tx.min_fee
	MarketEnabled bool              `json:"market_enabled"`
	BaseFee       uint64            `json:"base_fee"` // 0 with the market off
	Types         map[string]uint64 `json:"types"`    // each message type's minimum fee now (the highest of the three)
}

func (s *Server) feePrices(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	reg := s.b.Params()
	k := fees.Keeper{Params: reg}
	v := FeePricesView{Height: snap.Version(), MinFee: reg.Get(snap, fees.ParamMinFee), MarketEnabled: reg.Get(snap, fees.ParamMarketEnabled) == 1,
		BaseFee: k.BaseFee(snap), Types: map[string]uint64{}}
	for _, d := range reg.Defs() {
		if typ, ok := strings.CutPrefix(d.Name, fees.ParamMinPrefix); ok {
			v.Types[typ] = k.MinFee(snap, typ)
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// AllowanceView is a fee allowance.
type AllowanceView struct {
	Granter     string   `json:"granter"`
	Grantee     string   `json:"grantee"`
	Org         string   `json:"org"`
	Limit       uint64   `json:"limit"` // 0: no total limit
	Spent       uint64   `json:"spent"`
	Period      int64    `json:"period_seconds,omitempty"`
	PeriodLimit uint64   `json:"period_limit,omitempty"`
	PeriodStart int64    `json:"period_start,omitempty"`
	PeriodSpent uint64   `json:"period_spent,omitempty"` // in the period that started at period_start
	Expiry      int64    `json:"expiry,omitempty"`       // unix seconds; absent: never
	Types       []string `json:"types,omitempty"`        // absent: every type
	Created     int64    `json:"created"`
}

func allowanceView(a *fees.Allowance) AllowanceView {
	return AllowanceView{Granter: a.Granter.String(), Grantee: a.Grantee.String(), Org: a.Org, Limit: a.Limit, Spent: a.Spent,
		Period: a.Period, PeriodLimit: a.PeriodLimit, PeriodStart: a.PeriodStart, PeriodSpent: a.PeriodSpent, Expiry: a.Expiry,
		Types: a.Types, Created: a.Created}
}

// allowanceGuard: the {address} account itself, or owner grounds for it
// when it is a patient (a guardian).
func allowanceGuard(r *http.Request, w who) error {
	a, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		return sm.Wrapf(ErrBadRequest, "%v", err)
	}
	if a == w.acct.Address || w.grounds(a, groundOwner) {
		return nil
	}
	return forbidden("%s may list only its own fee allowances or those of a patient it acts for", w.acct.Address)
}

func (s *Server) allowances(w http.ResponseWriter, r *http.Request) {
	addr, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	granted, received := []AllowanceView{}, []AllowanceView{}
	for _, a := range fees.AllowancesBy(snap, addr) {
		granted = append(granted, allowanceView(a))
	}
	for _, a := range fees.AllowancesTo(snap, addr) {
		received = append(received, allowanceView(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "address": addr.String(), "granted": granted, "received": received})
}
