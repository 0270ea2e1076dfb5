package api

import (
	"net/http"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
)

// Token routes (docs/token.md). Balances and the supply are public, like
// the accounts that hold them; with ?prove=true each answer carries ICS23
// proofs against the app hash of its height.
func (s *Server) routeBank() {
	s.handle("GET /v1/bank/balances/{address}", s.balance)
	s.handle("GET /v1/bank/supply", s.supply)
}

// BalanceView is what an address holds. An account's balance is a field of
// its stored account (Proof proves the account key); an address that is no
// account is a module pool (or nothing), proven by PoolProof.
type BalanceView struct {
	Height    int64  `json:"height"`
	Address   string `json:"address"`
	Balance   uint64 `json:"balance"`
	Account   bool   `json:"account"` // a registered account; otherwise a module pool
	Proof     *Proof `json:"proof,omitempty"`
	PoolProof *Proof `json:"pool_proof,omitempty"`
}

func (s *Server) balance(w http.ResponseWriter, r *http.Request) {
	addr, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	v := BalanceView{Height: snap.Version(), Address: addr.String()}
	a := accounts.GetAccount(snap, addr)
	if a != nil {
		v.Account, v.Balance = true, a.Balance
	} else {
		v.Balance = bank.PoolBalance(snap, addr)
	}
	if r.URL.Query().Get("prove") == "true" {
		if v.Proof, err = BuildProof(snap, accounts.AccountKey(addr)); err != nil {
			backendErr(w, err)
			return
		}
		if a == nil {
			if v.PoolProof, err = BuildProof(snap, bank.PoolKey(addr)); err != nil {
				backendErr(w, err)
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// SupplyView is the token supply: the genesis supply plus what was minted
// less what was burned.
type SupplyView struct {
	Height int64  `json:"height"`
	Supply uint64 `json:"supply"`
	Proof  *Proof `json:"proof,omitempty"` // of bank.SupplyKey; the value is 8 bytes, big-endian
}

func (s *Server) supply(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	v := SupplyView{Height: snap.Version(), Supply: bank.Supply(snap)}
	if r.URL.Query().Get("prove") == "true" {
		var err error
		if v.Proof, err = BuildProof(snap, bank.SupplyKey()); err != nil {
			backendErr(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, v)
}
