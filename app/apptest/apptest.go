// Package apptest runs a medchain app.App in process for tests: it builds a
// genesis with known organizations and keys, runs InitChain, and drives
// blocks (FinalizeBlock then Commit) with a block time that advances
// deterministically. Keys are derived from names, so two harnesses built the
// same way sign the same bytes.
//
// A Harness is not safe for concurrent use.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/gov"
)

// The test network.
const (
	ChainID = "medchain-test"

	OrgHospital = "dev-hospital"
	OrgLab      = "dev-lab"
	OrgPharmacy = "dev-pharmacy"

	// ValidatorPower is the genesis validator's voting power.
	ValidatorPower = 10
	// Balance is every genesis account's starting balance.
	Balance = 1_000_000
	// BlockInterval is how far block time advances per block.
	BlockInterval = 5 * time.Second
)

// GenesisTime is the genesis time; block h has time GenesisTime + h·BlockInterval
// plus whatever Advance added.
var GenesisTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Names of the genesis keys (pass them to Key).
const (
	HospitalAdmin  = "hospital-admin"
	LabAdmin       = "lab-admin"
	PharmacyAdmin  = "pharmacy-admin"
	HospitalDoctor = "hospital-doctor" // practitioner of the hospital
	HospitalNurse  = "hospital-nurse"  // staff of the hospital
	Patient1       = "patient1"
	Patient2       = "patient2"
	Patient3       = "patient3"
	Validator      = "validator" // the genesis validator's consensus key (hospital)
)

// Names of the extra member keys of DomainMembers (pass them to Key).
const (
	HospitalGateway = "hospital-gateway" // the hospital node's gateway account
	LabGateway      = "lab-gateway"      // the lab node's gateway account
	LabTech         = "lab-tech"         // practitioner of the lab
)

// Member is an extra genesis member account; its keys are Key(Name).
type Member struct{ Name, Org, Role string }

// DomainMembers are the members that record, consent and audit tests need
// beyond the default genesis: a gateway for the hospital and for the lab,
// and a practitioner of the lab.
var DomainMembers = []Member{
	{Name: HospitalGateway, Org: OrgHospital, Role: accounts.RoleGateway},
	{Name: LabGateway, Org: OrgLab, Role: accounts.RoleGateway},
	{Name: LabTech, Org: OrgLab, Role: accounts.RolePractitioner},
}

// OrgKey is the key an organization's gateway holds when Config.OrgEncKeys
// is set: keys wrapped to the organization open with OrgKey(id).ECDH().
func OrgKey(org string) *crypto.PrivKey { return Key("org/" + org) }

// Orgs are the genesis organizations.
var Orgs = []accounts.GenesisOrg{
	{ID: OrgHospital, Name: "Development General Hospital", Type: "hospital"},
	{ID: OrgLab, Name: "Development Clinical Laboratory", Type: "lab"},
	{ID: OrgPharmacy, Name: "Development Pharmacy", Type: "pharmacy"},
}

// Key derives a key from a name; the same name always gives the same key.
func Key(name string) *crypto.PrivKey { return smtest.Key("medchain/apptest", name) }

// Config varies the test network.
type Config struct {
	// Tree holds the state; nil means a new merkle.NewMemTree().
	Tree *merkle.Tree
	// Params are genesis parameter values (for example a short
	// gov.voting_period_seconds).
	Params map[string]uint64
	// Options are passed to app.New.
	Options app.Options
	// OrgEncKeys gives every genesis organization the encryption key
	// OrgKey(id).EncKey(), as if its admin had set it.
	OrgEncKeys bool
	// Members are extra member accounts, after the default ones.
	Members []Member
	// Orgs are extra organizations, after the default ones.
	Orgs []accounts.GenesisOrg
}

// Domain is the configuration of record, consent and audit tests: the
// default network plus organization keys and DomainMembers.
func Domain() Config { return Config{OrgEncKeys: true, Members: DomainMembers} }

// Genesis returns the app state and the consensus validators of the test
// network: the three organizations with an admin each, a practitioner and a
// staff member of the hospital, three patients, and one validator run by
// the hospital.
func Genesis(params map[string]uint64) (app.GenesisState, []abci.ValidatorUpdate, error) {
	return GenesisFor(Config{Params: params})
}

// GenesisFor is Genesis with cfg's parameters, organization keys and extra
// members.
func GenesisFor(cfg Config) (app.GenesisState, []abci.ValidatorUpdate, error) {
	params := cfg.Params
	member := func(name, org, role string) accounts.GenesisAccount {
		k := Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "member", Org: org, Role: role, Balance: Balance}
	}
	patient := func(name string) accounts.GenesisAccount {
		k := Key(name)
		return accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: "patient", Balance: Balance}
	}
	ag := accounts.Genesis{
		Orgs: Orgs,
		Accounts: []accounts.GenesisAccount{
			member(HospitalAdmin, OrgHospital, accounts.RoleAdmin),
			member(LabAdmin, OrgLab, accounts.RoleAdmin),
			member(PharmacyAdmin, OrgPharmacy, accounts.RoleAdmin),
			member(HospitalDoctor, OrgHospital, accounts.RolePractitioner),
			member(HospitalNurse, OrgHospital, accounts.RoleStaff),
			patient(Patient1), patient(Patient2), patient(Patient3),
		},
	}
	if cfg.OrgEncKeys {
		ag.Orgs = slices.Clone(Orgs)
		for i := range ag.Orgs {
			ag.Orgs[i].EncKey = OrgKey(ag.Orgs[i].ID).EncKey()
		}
	}
	ag.Orgs = append(slices.Clip(ag.Orgs), cfg.Orgs...)
	for _, m := range cfg.Members {
		ag.Accounts = append(ag.Accounts, member(m.Name, m.Org, m.Role))
	}
	val := Key(Validator).PubKey()
	gg := gov.Genesis{Validators: []gov.GenesisValidator{{PubKey: val, Power: ValidatorPower, Org: OrgHospital}}}
	if len(params) > 0 {
		raw, err := json.Marshal(params)
		if err != nil {
			return nil, nil, err
		}
		gg.Params = raw
	}
	state := app.GenesisState{}
	for name, v := range map[string]any{"accounts": ag, "gov": gg} {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, nil, err
		}
		state[name] = raw
	}
	return state, []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(val[:], ValidatorPower)}, nil
}

// Block is one block the harness finalized: its transactions as delivered
// and the app's response (results, events, app hash).
type Block struct {
	Height int64
	Time   time.Time
	Txs    [][]byte
	Resp   *abci.ResponseFinalizeBlock
}

// Harness drives one app instance.
type Harness struct {
	App  *app.App
	Tree *merkle.Tree
	// Height and Time are those of the last finalized block (0 and
	// GenesisTime before the first).
	Height int64
	Time   time.Time
	// Last is the response of the last FinalizeBlock.
	Last *abci.ResponseFinalizeBlock
	// InitAppHash is the app hash InitChain returned.
	InitAppHash []byte
	// Blocks are the blocks this harness finalized, in order.
	Blocks []Block

	seqs    map[crypto.Address]uint64
	advance time.Duration
}

// New starts a test network with the default configuration.
func New(t testing.TB) *Harness { return NewWithConfig(t, Config{}) }

// NewWithConfig starts a test network: builds the app over the tree and runs
// InitChain with Genesis(cfg.Params).
func NewWithConfig(t testing.TB, cfg Config) *Harness {
	t.Helper()
	tree := cfg.Tree
	if tree == nil {
		tree = merkle.NewMemTree()
	}
	state, vals, err := GenesisFor(cfg)
	if err != nil {
		t.Fatalf("apptest: genesis: %v", err)
	}
	raw, err := json.Marshal(state)
	if err != nil {
		t.Fatalf("apptest: genesis: %v", err)
	}
	h := &Harness{App: app.New(tree, cfg.Options), Tree: tree, Time: GenesisTime, seqs: map[crypto.Address]uint64{}}
	resp, err := h.App.InitChain(context.Background(), &abci.RequestInitChain{
		Time: GenesisTime, ChainId: ChainID, InitialHeight: 1, Validators: vals, AppStateBytes: raw,
	})
	if err != nil {
		t.Fatalf("apptest: InitChain: %v", err)
	}
	h.InitAppHash = resp.AppHash
	if err := bank.CheckInvariant(h.Tree); err != nil {
		t.Fatalf("apptest: after genesis: %v", err)
	}
	return h
}

// Resume builds a harness over a tree that already holds committed blocks,
// as a restarted node does (no InitChain). lastBlockTime is the time of the
// tree's last block.
func Resume(t testing.TB, tree *merkle.Tree, lastBlockTime time.Time, opts app.Options) *Harness {
	t.Helper()
	h := &Harness{App: app.New(tree, opts), Tree: tree, Height: tree.Version(), Time: lastBlockTime, seqs: map[crypto.Address]uint64{}}
	h.App.SetChainID(ChainID)
	return h
}

// Advance adds d to the time of the next block (on top of BlockInterval).
func (h *Harness) Advance(d time.Duration) { h.advance += d }

// NextTime is the time the next block will have.
func (h *Harness) NextTime() time.Time { return h.Time.Add(BlockInterval + h.advance) }

// Finalize runs FinalizeBlock with txs at the next height and commits it. It
// fails the test when the app returns a Go error or when the committed root
// differs from the app hash FinalizeBlock reported.
func (h *Harness) Finalize(t testing.TB, txs ...[]byte) *abci.ResponseFinalizeBlock {
	t.Helper()
	h.Height++
	h.Time = h.Time.Add(BlockInterval + h.advance)
	h.advance = 0
	ctx := context.Background()
	resp, err := h.App.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: txs, Height: h.Height, Time: h.Time})
	if err != nil {
		t.Fatalf("apptest: FinalizeBlock at %d: %v", h.Height, err)
	}
	if len(resp.TxResults) != len(txs) {
		t.Fatalf("apptest: %d results for %d txs", len(resp.TxResults), len(txs))
	}
	if _, err := h.App.Commit(ctx, &abci.RequestCommit{}); err != nil {
		t.Fatalf("apptest: Commit at %d: %v", h.Height, err)
	}
	if !bytes.Equal(h.Tree.Hash(), resp.AppHash) || h.Tree.Version() != h.Height {
		t.Fatalf("apptest: committed v%d %X, FinalizeBlock said v%d %X", h.Tree.Version(), h.Tree.Hash(), h.Height, resp.AppHash)
	}
	// Every block conserves tokens: what accounts, pools and the fee pool
	// hold is the supply.
	if err := bank.CheckInvariant(h.State()); err != nil {
		t.Fatalf("apptest: after block %d: %v", h.Height, err)
	}
	h.Last = resp
	h.Blocks = append(h.Blocks, Block{Height: h.Height, Time: h.Time, Txs: txs, Resp: resp})
	return resp
}

// Deliver runs one block with txs and returns their results.
func (h *Harness) Deliver(t testing.TB, txs ...[]byte) []*abci.ExecTxResult {
	t.Helper()
	return h.Finalize(t, txs...).TxResults
}

// DeliverOK delivers one block and fails the test unless every tx succeeds.
func (h *Harness) DeliverOK(t testing.TB, txs ...[]byte) []*abci.ExecTxResult {
	t.Helper()
	res := h.Deliver(t, txs...)
	for i, r := range res {
		if r.Code != abci.CodeTypeOK {
			t.Fatalf("apptest: block %d tx %d: code %s/%d: %s", h.Height, i, r.Codespace, r.Code, r.Log)
		}
	}
	return res
}

// Check runs CheckTx (a new transaction, not a recheck).
func (h *Harness) Check(t testing.TB, tx []byte) *abci.ResponseCheckTx {
	t.Helper()
	resp, err := h.App.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
	if err != nil {
		t.Fatalf("apptest: CheckTx: %v", err)
	}
	return resp
}

// Sign signs msg with the key's next sequence and counts it. The first use
// of a key reads its sequence from state; after a transaction fails
// authentication (so its sequence was not used), call Resync.
func (h *Harness) Sign(key *crypto.PrivKey, msg sm.Msg) []byte {
	seq := h.Seq(key)
	h.seqs[key.Address()] = seq + 1
	return sm.SignTx(key, ChainID, seq, 0, msg)
}

// SignFee is Sign with a fee.
func (h *Harness) SignFee(key *crypto.PrivKey, fee uint64, msg sm.Msg) []byte {
	seq := h.Seq(key)
	h.seqs[key.Address()] = seq + 1
	return sm.SignTx(key, ChainID, seq, fee, msg)
}

// Seq is the sequence the key's next Sign will use.
func (h *Harness) Seq(key *crypto.PrivKey) uint64 {
	if s, ok := h.seqs[key.Address()]; ok {
		return s
	}
	s := h.stateSeq(key.Address())
	h.seqs[key.Address()] = s
	return s
}

// Resync forgets the counted sequence of a key; the next Sign reads state.
func (h *Harness) Resync(key *crypto.PrivKey) { delete(h.seqs, key.Address()) }

// ResyncAll forgets every counted sequence.
func (h *Harness) ResyncAll() { clear(h.seqs) }

func (h *Harness) stateSeq(a crypto.Address) uint64 {
	if acct := accounts.GetAccount(h.State(), a); acct != nil {
		return acct.Sequence
	}
	return 0
}

// State is the committed state, or the genesis state before the first block.
func (h *Harness) State() store.Reader {
	if s := h.App.Committed(); s != nil {
		return s
	}
	return h.Tree
}

// Account reads an account from committed state (nil when absent).
func (h *Harness) Account(key *crypto.PrivKey) *accounts.Account {
	return accounts.GetAccount(h.State(), key.Address())
}

// AppHash is the app hash of the last committed block (InitChain's before the first).
func (h *Harness) AppHash() []byte {
	if h.Height == 0 {
		return h.InitAppHash
	}
	return h.Tree.Hash()
}
