package api

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/staking"
)

// Proof is a value (or its absence) at a key with an ICS23 proof against the
// app hash of the state at Height. That app hash is in the header of block
// Height+1.
type Proof struct {
	Height int64  `json:"height"`
	Key    string `json:"key"`             // hex
	Value  []byte `json:"value,omitempty"` // base64; absent for a non-membership proof
	Exists bool   `json:"exists"`
	Proof  []byte `json:"proof"` // base64 of the ICS23 CommitmentProof (protobuf)
}

// state opens the snapshot named by ?height= (latest by default).
func (s *Server) state(w http.ResponseWriter, r *http.Request) (*merkle.Snapshot, bool) {
	h, err := queryInt(r, "height", 0)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return nil, false
	}
	snap, err := s.b.State(h)
	if err != nil {
		if errors.Is(err, merkle.ErrNoVersion) {
			err = errors.Join(ErrNotFound, err)
		}
		backendErr(w, err)
		return nil, false
	}
	return snap, true
}

// BuildProof proves key in snap.
func BuildProof(snap *merkle.Snapshot, key []byte) (*Proof, error) {
	v, p, err := snap.Prove(key)
	if err != nil {
		return nil, err
	}
	pb, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	return &Proof{Height: snap.Version(), Key: hex.EncodeToString(key), Value: v, Exists: v != nil, Proof: pb}, nil
}

// proofKey reads the ?key= of GET /v1/proof.
func proofKey(r *http.Request) ([]byte, error) {
	key, err := hex.DecodeString(r.URL.Query().Get("key"))
	if err != nil || len(key) == 0 || len(key) > 1024 {
		return nil, sm.Wrapf(ErrBadRequest, "key must be 1 to 1024 bytes in hex")
	}
	return key, nil
}

func (s *Server) proof(w http.ResponseWriter, r *http.Request) {
	key, err := proofKey(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	if store.IsIndexKey(key) {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", store.ErrIndexKey))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	p, err := BuildProof(snap, key)
	if err != nil {
		if errors.Is(err, merkle.ErrNoVersion) { // readable, no longer provable
			err = errors.Join(ErrNotFound, err)
		}
		backendErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// AccountView is the JSON of an account.
type AccountView struct {
	Address   string    `json:"address"`
	PubKey    string    `json:"pub_key"`
	EncKey    string    `json:"enc_key"`
	Kind      string    `json:"kind"`
	Org       string    `json:"org,omitempty"`
	Role      string    `json:"role,omitempty"`
	Active    bool      `json:"active"`
	Sequence  uint64    `json:"sequence"`
	Balance   uint64    `json:"balance"`
	Created   time.Time `json:"created"`
	Guardians []string  `json:"guardians,omitempty"`
	// GuardiansWithheld: a patient's guardians are listed only to a read
	// the patient or a guardian signs.
	GuardiansWithheld bool   `json:"guardians_withheld,omitempty"`
	Height            int64  `json:"height"`
	Proof             *Proof `json:"proof,omitempty"`

	// NextSequence is the sequence the account's next transaction must
	// carry: Sequence, or more while transactions of the account wait in
	// this node's mempool. Only the latest state has a mempool; at an older
	// ?height= it equals Sequence.
	NextSequence uint64 `json:"next_sequence"`
}

// PendingSequencer is implemented by a Backend that can tell an account's
// next sequence counting its transactions in the mempool (internal/node).
type PendingSequencer interface {
	PendingSequence(signer crypto.Address) (uint64, bool)
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	addr, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	var proof *Proof
	if r.URL.Query().Get("prove") == "true" {
		if proof, err = BuildProof(snap, accounts.AccountKey(addr)); err != nil {
			backendErr(w, err)
			return
		}
	}
	a := accounts.GetAccount(snap, addr)
	if a == nil {
		if proof != nil { // a proof of absence is an answer
			writeJSON(w, http.StatusNotFound, map[string]any{"code": ErrMissing.Code, "codespace": Codespace, "message": "account not found", "proof": proof})
			return
		}
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "account %s", addr))
		return
	}
	v := AccountView{
		Address: a.Address.String(), PubKey: a.PubKey.String(), EncKey: a.EncKey.String(), Kind: a.Kind.String(),
		Org: a.Org, Role: a.Role, Active: a.Active, Sequence: a.Sequence, Balance: a.Balance,
		Created: time.Unix(a.Created, 0).UTC(), Height: snap.Version(), Proof: proof,
	}
	v.NextSequence = v.Sequence
	if ps, ok := s.b.(PendingSequencer); ok && r.URL.Query().Get("height") == "" {
		if next, ok := ps.PendingSequence(addr); ok && next > v.NextSequence {
			v.NextSequence = next
		}
	}
	// Who looks after a patient is the patient's business: a patient's
	// guardians are listed only to a read the patient or a guardian signs.
	show := a.Kind != accounts.KindPatient
	if !show && len(r.Header.Values(reqsig.HeaderSignature)) > 0 {
		if !s.authorize(w, r, func(_ *http.Request, w who) error {
			show = w.grounds(addr, groundOwner)
			return nil
		}) {
			return
		}
	}
	if show {
		for _, g := range accounts.Guardians(snap, addr) {
			v.Guardians = append(v.Guardians, g.String())
		}
	} else {
		v.GuardiansWithheld = true
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) accountTxs(w http.ResponseWriter, r *http.Request) {
	addr, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	page, err1 := queryInt(r, "page", 1)
	per, err2 := queryInt(r, "per_page", 30)
	if err := errors.Join(err1, err2); err != nil || page < 1 || per < 1 || per > 100 {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "page >= 1, 1 <= per_page <= 100"))
		return
	}
	txs, total, err := s.b.TxsBySigner(r.Context(), addr.String(), int(page), int(per))
	if err != nil {
		backendErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"txs": txs, "total": total, "page": page, "per_page": per})
}

// OrgView is the JSON of an organization.
type OrgView struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Type    string       `json:"type"`
	Member  bool         `json:"member"`
	Joined  time.Time    `json:"joined"`
	EncKey  string       `json:"enc_key,omitempty"` // the organization's (gateway's) HPKE key
	Members []MemberView `json:"members,omitempty"`
}

// MemberView is one member account of an organization.
type MemberView struct {
	Address string `json:"address"`
	Role    string `json:"role"`
	Active  bool   `json:"active"`
}

func orgView(o *accounts.Org) OrgView {
	v := OrgView{ID: o.ID, Name: o.Name, Type: o.Type, Member: o.Active, Joined: time.Unix(o.Joined, 0).UTC()}
	if o.EncKey != (crypto.EncKey{}) {
		v.EncKey = o.EncKey.String()
	}
	return v
}

func (s *Server) orgs(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	out := []OrgView{}
	for _, o := range accounts.Orgs(snap) {
		out = append(out, orgView(o))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "orgs": out})
}

func (s *Server) org(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	o := accounts.GetOrg(snap, r.PathValue("id"))
	if o == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "organization %q", r.PathValue("id")))
		return
	}
	v := orgView(o)
	for _, addr := range accounts.Members(snap, o.ID) {
		if a := accounts.GetAccount(snap, addr); a != nil {
			v.Members = append(v.Members, MemberView{Address: addr.String(), Role: a.Role, Active: a.Active})
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// ProposalView is the JSON of a proposal.
type ProposalView struct {
	ID       uint64          `json:"id"`
	Proposer string          `json:"proposer"`
	Org      string          `json:"org"`
	Kind     string          `json:"kind"`
	Action   map[string]any  `json:"action"`
	Reason   string          `json:"reason,omitempty"`
	Created  time.Time       `json:"created"`
	Expires  time.Time       `json:"expires"`
	Votes    map[string]bool `json:"votes"`
	Status   string          `json:"status"`
	Result   string          `json:"result,omitempty"`
}

func proposalView(p *gov.Proposal, now int64) ProposalView {
	a := p.Action
	act := map[string]any{}
	switch a.Kind {
	case gov.KindAddMember:
		act["org"] = a.Org
		act["admin_pub_key"] = a.AdminPubKey.String()
		act["admin_enc_key"] = a.AdminEncKey.String()
	case gov.KindRemoveMember:
		act["org_id"] = a.OrgID
	case gov.KindAddValidator:
		act["validator"] = a.Validator.String()
		act["power"] = a.Power
		act["org_id"] = a.OrgID
	case gov.KindRemoveValidator:
		act["validator"] = a.Validator.String()
	case gov.KindSetParam:
		act["param"] = a.Param
		act["value"] = a.Value
	case gov.KindUpgrade:
		act["name"], act["height"], act["info"] = a.Upgrade.Name, a.Upgrade.Height, a.Upgrade.Info
	case gov.KindCancelUpgrade:
		act["name"] = a.Upgrade.Name
	}
	votes := map[string]bool{}
	for _, v := range p.Votes {
		votes[v.Org] = v.Approve
	}
	return ProposalView{
		ID: p.ID, Proposer: p.Proposer.String(), Org: p.Org, Kind: a.Kind, Action: act, Reason: p.Reason,
		Created: time.Unix(p.Created, 0).UTC(), Expires: time.Unix(p.Expires, 0).UTC(), Votes: votes,
		Status: p.StatusAt(now), Result: p.Result,
	}
}

// timeOf is the block time of a snapshot's height, at which its consents
// and emergency accesses are judged.
func (s *Server) timeOf(snap *merkle.Snapshot) int64 {
	if t, err := s.b.BlockTime(snap.Version()); err == nil {
		return t.Unix()
	}
	return 0
}

func (s *Server) proposals(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	now := s.timeOf(snap)
	out := []ProposalView{}
	for _, p := range gov.Proposals(snap) {
		out = append(out, proposalView(p, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "proposals": out})
}

func (s *Server) proposal(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "proposal id must be a number"))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	p := gov.GetProposal(snap, id)
	if p == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "proposal %d", id))
		return
	}
	writeJSON(w, http.StatusOK, proposalView(p, s.timeOf(snap)))
}

// ValidatorView is one validator.
type ValidatorView struct {
	PubKey  string `json:"pub_key"`
	Address string `json:"address"` // CometBFT validator address (hex)
	Power   int64  `json:"power"`
	Org     string `json:"org"`
}

func (s *Server) validators(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	out := []ValidatorView{}
	for _, v := range gov.Validators(snap) {
		a := v.PubKey.Address()
		power := v.Power // governance's base power, until staking changed it
		if sv := staking.GetValidator(snap, v.PubKey); sv != nil {
			power = sv.Power
		}
		out = append(out, ValidatorView{PubKey: v.PubKey.String(), Address: hex.EncodeToString(a[:]), Power: power, Org: v.Org})
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "validators": out})
}

func (s *Server) params(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	type pv struct {
		Name  string `json:"name"`
		Value uint64 `json:"value"`
		Min   uint64 `json:"min"`
		Max   uint64 `json:"max"`
		Doc   string `json:"doc"`
	}
	out := []pv{}
	reg := s.b.Params()
	for _, d := range reg.Defs() {
		out = append(out, pv{Name: d.Name, Value: reg.Get(snap, d.Name), Min: d.Min, Max: d.Max, Doc: d.Doc})
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "params": out})
}
