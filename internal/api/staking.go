package api

import (
	"encoding/hex"
	"net/http"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/staking"
)

// StakingValidatorView is a validator's staking state.
type StakingValidatorView struct {
	PubKey            string `json:"pub_key"`
	Address           string `json:"address"` // CometBFT validator address (hex)
	Org               string `json:"org"`
	Approved          bool   `json:"approved"`   // governance lists it
	BasePower         int64  `json:"base_power"` // granted by governance
	Power             int64  `json:"power"`      // consensus power CometBFT was last told
	Tokens            uint64 `json:"tokens"`     // bonded
	Shares            uint64 `json:"shares"`
	CommissionBps     uint64 `json:"commission_bps"`
	CommissionPending uint64 `json:"commission_pending"`
	Jailed            bool   `json:"jailed"`
	JailedUntil       int64  `json:"jailed_until,omitempty"` // unix seconds
	Tombstoned        bool   `json:"tombstoned"`
	MissedBlocks      uint64 `json:"missed_blocks"` // in the current downtime window
}

func (s *Server) stakingValidators(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	seen := map[crypto.PubKey]bool{}
	out := []StakingValidatorView{}
	add := func(pub crypto.PubKey) {
		if seen[pub] {
			return
		}
		seen[pub] = true
		gv := gov.GetValidator(snap, pub)
		v := staking.GetValidator(snap, pub)
		view := StakingValidatorView{PubKey: pub.String(), Approved: gv != nil}
		a := staking.ConsAddress(pub)
		view.Address = hex.EncodeToString(a[:])
		if gv != nil {
			view.Org, view.BasePower, view.Power = gv.Org, gv.Power, gv.Power
			view.CommissionBps = min(s.b.Params().Get(snap, staking.ParamDefaultCommission), s.b.Params().Get(snap, staking.ParamMaxCommission))
		}
		if v != nil {
			view.Org, view.Power, view.Tokens, view.Shares = v.Org, v.Power, v.Tokens, v.Shares
			view.CommissionBps, view.CommissionPending = v.Commission, v.CommissionPending
			view.Jailed, view.Tombstoned = v.Jailed, v.Tombstoned
			if v.Jailed {
				view.JailedUntil = v.JailedUntil
			}
		}
		if si := staking.GetSigningInfo(snap, pub); si != nil {
			view.MissedBlocks = si.Missed
		}
		out = append(out, view)
	}
	for _, gv := range gov.Validators(snap) {
		add(gv.PubKey)
	}
	for _, v := range staking.Validators(snap) {
		add(v.PubKey)
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "validators": out})
}

// DelegationView is one delegation and what it has earned.
type DelegationView struct {
	Validator      string `json:"validator"`
	Shares         uint64 `json:"shares"`
	Tokens         uint64 `json:"tokens"`          // what the shares are worth now
	PendingRewards uint64 `json:"pending_rewards"` // withdrawable now
}

// UnbondingView is stake on its way back.
type UnbondingView struct {
	Validator  string `json:"validator"`
	Amount     uint64 `json:"amount"`
	Height     int64  `json:"height"`     // when it began
	Completion int64  `json:"completion"` // unix seconds when it is paid
}

func (s *Server) delegations(w http.ResponseWriter, r *http.Request) {
	addr, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	dels, unb := []DelegationView{}, []UnbondingView{}
	for _, pub := range staking.DelegationsOf(snap, addr) {
		v := staking.GetValidator(snap, pub)
		d := staking.GetDelegation(snap, pub, addr)
		if v == nil || d == nil || d.Shares == 0 {
			continue
		}
		pending := staking.Pending(v, d)
		dels = append(dels, DelegationView{Validator: pub.String(), Shares: d.Shares, Tokens: staking.TokensOf(v, d), PendingRewards: pending})
	}
	for _, u := range staking.UnbondingsOf(snap, addr) {
		unb = append(unb, UnbondingView{Validator: u.Validator.String(), Amount: u.Amount, Height: u.Height, Completion: u.Completion})
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "address": addr.String(), "delegations": dels, "unbonding": unb})
}

// RevenueDayView is an organization's validator revenue on one UTC day.
type RevenueDayView struct {
	Date       string `json:"date"` // YYYY-MM-DD, UTC
	Blocks     uint64 `json:"blocks"`
	Rewards    uint64 `json:"rewards"`    // its validators' share, commission included
	Commission uint64 `json:"commission"` // kept by the operator
	Delegators uint64 `json:"delegators"` // shared by its validators' delegators
}

// RevenueBlockView is an organization's validator revenue in one block.
type RevenueBlockView struct {
	Height     int64  `json:"height"`
	Rewards    uint64 `json:"rewards"`
	Commission uint64 `json:"commission"`
}

func (s *Server) revenue(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if err := accounts.ValidateOrgID(org); err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	if accounts.GetOrg(snap, org) == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "organization %s", org))
		return
	}
	days, blocks := []RevenueDayView{}, []RevenueBlockView{}
	for _, d := range staking.RevenueByDay(snap, org) {
		days = append(days, RevenueDayView{Date: time.Unix(d.Day*86400, 0).UTC().Format(time.DateOnly), Blocks: d.Blocks,
			Rewards: d.Rewards, Commission: d.Commission, Delegators: d.Rewards - d.Commission})
	}
	for _, b := range staking.RevenueByBlock(snap, org) {
		blocks = append(blocks, RevenueBlockView{Height: b.Height, Rewards: b.Rewards, Commission: b.Commission})
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "org": org, "days": days, "blocks": blocks})
}
