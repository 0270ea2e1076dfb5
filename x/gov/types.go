package gov

import (
	"encoding/binary"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// Codespace of the gov module.
const Codespace = "gov"

// Errors; codes are stable.
var (
	ErrNotMember        = sm.Register(Codespace, 1, "signer is not an admin of a member organization")
	ErrBadProposal      = sm.Register(Codespace, 2, "invalid proposal")
	ErrNoProposal       = sm.Register(Codespace, 3, "proposal not found")
	ErrClosed           = sm.Register(Codespace, 4, "proposal is no longer open")
	ErrAlreadyVoted     = sm.Register(Codespace, 5, "organization already voted")
	ErrValidatorExists  = sm.Register(Codespace, 6, "validator already in the set")
	ErrNoValidator      = sm.Register(Codespace, 7, "validator not in the set")
	ErrLastValidator    = sm.Register(Codespace, 8, "the last validator cannot be removed")
	ErrLastMember       = sm.Register(Codespace, 9, "the last member cannot be removed")
	ErrExpired          = sm.Register(Codespace, 10, "proposal expired")
	ErrValidatorOrg     = sm.Register(Codespace, 11, "validator organization is not a member")
	ErrGenesisValidator = sm.Register(Codespace, 12, "genesis validators do not match the consensus genesis")
	ErrUpgradeHeight    = sm.Register(Codespace, 13, "upgrade height has passed")
	ErrUpgradeDone      = sm.Register(Codespace, 14, "upgrade already applied")
	ErrUpgradePending   = sm.Register(Codespace, 15, "another upgrade is pending")
	ErrNoUpgrade        = sm.Register(Codespace, 16, "no such pending upgrade")
)

// Proposal kinds.
const (
	KindAddMember       = "add_member"
	KindRemoveMember    = "remove_member"
	KindAddValidator    = "add_validator"
	KindRemoveValidator = "remove_validator"
	KindSetParam        = "set_param"
	KindUpgrade         = "upgrade"
	KindCancelUpgrade   = "cancel_upgrade"
)

// Kinds lists the proposal kinds.
var Kinds = []string{KindAddMember, KindRemoveMember, KindAddValidator, KindRemoveValidator, KindSetParam, KindUpgrade, KindCancelUpgrade}

// MaxPower bounds one validator's voting power.
const MaxPower = 1_000_000

// Action is what a proposal does when it passes. Only the fields of its Kind
// are set; the others must be zero (checked by ValidateBasic).
type Action struct {
	Kind string
	// add_member: the organization and its first admin's keys
	Org         accounts.GenesisOrg
	AdminPubKey crypto.PubKey
	AdminEncKey crypto.EncKey
	// remove_member
	OrgID string
	// add_validator / remove_validator (OrgID names the operator for add)
	Validator crypto.PubKey
	Power     int64
	// set_param
	Param string
	Value uint64
	// upgrade: the plan; cancel_upgrade: Upgrade.Name only
	Upgrade Plan
}

// hasPlan: the kind's encoding carries a plan after the other fields (the
// earlier kinds' encoding is unchanged).
func hasPlan(kind string) bool { return kind == KindUpgrade || kind == KindCancelUpgrade }

func (a *Action) Encode(w *codec.Writer) {
	w.String(a.Kind)
	w.String(a.Org.ID)
	w.String(a.Org.Name)
	w.String(a.Org.Type)
	w.Fixed(a.AdminPubKey[:])
	w.Fixed(a.AdminEncKey[:])
	w.String(a.OrgID)
	w.Fixed(a.Validator[:])
	w.Int(a.Power)
	w.String(a.Param)
	w.Uint(a.Value)
	if hasPlan(a.Kind) {
		a.Upgrade.Encode(w)
	}
}

func readAction(r *codec.Reader) Action {
	var a Action
	a.Kind = r.String("kind", 32)
	a.Org.ID = r.String("org.id", accounts.MaxIDLen)
	a.Org.Name = r.String("org.name", accounts.MaxNameLen)
	a.Org.Type = r.String("org.type", 32)
	a.AdminPubKey = sm.ReadKey32(r, "admin_pub_key")
	a.AdminEncKey = sm.ReadKey32(r, "admin_enc_key")
	a.OrgID = r.String("org_id", accounts.MaxIDLen)
	a.Validator = sm.ReadKey32(r, "validator")
	a.Power = r.Int("power")
	a.Param = r.String("param", 64)
	a.Value = r.Uint("value")
	if hasPlan(a.Kind) {
		a.Upgrade = readPlan(r)
	}
	return a
}

// ValidateBasic checks the action without state.
func (a *Action) ValidateBasic() error {
	zeroExcept := func(fields ...string) error {
		set := map[string]bool{}
		for _, f := range fields {
			set[f] = true
		}
		check := []struct {
			name string
			zero bool
		}{
			{"org", a.Org == accounts.GenesisOrg{}},
			{"admin", a.AdminPubKey == crypto.PubKey{} && a.AdminEncKey == crypto.EncKey{}},
			{"org_id", a.OrgID == ""},
			{"validator", a.Validator == crypto.PubKey{}},
			{"power", a.Power == 0},
			{"param", a.Param == "" && a.Value == 0},
			{"upgrade", a.Upgrade == Plan{}},
		}
		for _, c := range check {
			if !set[c.name] && !c.zero {
				return sm.Wrapf(ErrBadProposal, "%s: field %s must be empty", a.Kind, c.name)
			}
		}
		return nil
	}
	switch a.Kind {
	case KindAddMember:
		o := accounts.Org{ID: a.Org.ID, Name: a.Org.Name, Type: a.Org.Type}
		if err := o.ValidateBasic(); err != nil {
			return err
		}
		if a.AdminPubKey == (crypto.PubKey{}) || a.AdminEncKey == (crypto.EncKey{}) {
			return sm.Wrapf(ErrBadProposal, "add_member needs the first admin's keys")
		}
		return zeroExcept("org", "admin")
	case KindRemoveMember:
		if err := accounts.ValidateOrgID(a.OrgID); err != nil {
			return err
		}
		return zeroExcept("org_id")
	case KindAddValidator:
		if a.Validator == (crypto.PubKey{}) {
			return sm.Wrapf(ErrBadProposal, "validator key is zero")
		}
		if a.Power < 1 || a.Power > MaxPower {
			return sm.Wrapf(ErrBadProposal, "power must be 1..%d", MaxPower)
		}
		if err := accounts.ValidateOrgID(a.OrgID); err != nil {
			return err
		}
		return zeroExcept("validator", "power", "org_id")
	case KindRemoveValidator:
		if a.Validator == (crypto.PubKey{}) {
			return sm.Wrapf(ErrBadProposal, "validator key is zero")
		}
		return zeroExcept("validator")
	case KindSetParam:
		if a.Param == "" {
			return sm.Wrapf(ErrBadProposal, "set_param needs a parameter name")
		}
		return zeroExcept("param")
	case KindUpgrade:
		if err := ValidateUpgradeName(a.Upgrade.Name); err != nil {
			return err
		}
		if a.Upgrade.Height < 1 {
			return sm.Wrapf(ErrBadProposal, "upgrade needs a height")
		}
		if len(a.Upgrade.Info) > MaxUpgradeInfoLen {
			return sm.Wrapf(ErrBadProposal, "upgrade info longer than %d bytes", MaxUpgradeInfoLen)
		}
		return zeroExcept("upgrade")
	case KindCancelUpgrade:
		if err := ValidateUpgradeName(a.Upgrade.Name); err != nil {
			return err
		}
		if a.Upgrade.Height != 0 || a.Upgrade.Info != "" {
			return sm.Wrapf(ErrBadProposal, "cancel_upgrade takes the upgrade's name only")
		}
		return zeroExcept("upgrade")
	}
	return sm.Wrapf(ErrBadProposal, "kind %q, want one of %v", a.Kind, Kinds)
}

// Status of a proposal.
const (
	StatusOpen     = "open"
	StatusPassed   = "passed"   // approved and executed
	StatusFailed   = "failed"   // approved, but execution failed (Result says why)
	StatusRejected = "rejected" // more than a third refused
	StatusExpired  = "expired"  // voting period ended (computed from block time)
)

// Vote of one organization.
type Vote struct {
	Org     string
	Approve bool
}

// Proposal is a governance proposal and its votes.
type Proposal struct {
	ID       uint64
	Proposer crypto.Address
	Org      string // proposing organization
	Action   Action
	Reason   string
	Created  int64
	Expires  int64
	Votes    []Vote // in org id order
	Status   string
	Result   string
}

func (p *Proposal) Encode(w *codec.Writer) {
	w.Uint(p.ID)
	w.Fixed(p.Proposer[:])
	w.String(p.Org)
	p.Action.Encode(w)
	w.String(p.Reason)
	w.Int(p.Created)
	w.Int(p.Expires)
	w.Uint(uint64(len(p.Votes)))
	for _, v := range p.Votes {
		w.String(v.Org)
		w.Bool(v.Approve)
	}
	w.String(p.Status)
	w.String(p.Result)
}

// DecodeProposal decodes a stored proposal.
func DecodeProposal(b []byte) (*Proposal, error) {
	r := codec.NewReader(b)
	p := &Proposal{ID: r.Uint("id"), Proposer: sm.ReadAddress(r, "proposer"), Org: r.String("org", accounts.MaxIDLen)}
	p.Action = readAction(r)
	p.Reason = r.String("reason", MaxReasonLen)
	p.Created = r.Int("created")
	p.Expires = r.Int("expires")
	n := r.Count("votes", 10_000)
	for i := 0; i < n; i++ {
		p.Votes = append(p.Votes, Vote{Org: r.String("vote.org", accounts.MaxIDLen), Approve: r.Bool("vote.approve")})
	}
	p.Status = r.String("status", 16)
	p.Result = r.String("result", 256)
	return p, r.Done()
}

// StatusAt is the status as of block time now: an open proposal past its
// expiry reads as expired.
func (p *Proposal) StatusAt(now int64) string {
	if p.Status == StatusOpen && now >= p.Expires {
		return StatusExpired
	}
	return p.Status
}

// MaxReasonLen bounds a proposal's stated reason.
const MaxReasonLen = 512

// Validator is a member of the consensus validator set.
type Validator struct {
	PubKey crypto.PubKey
	Power  int64
	Org    string
}

func (v *Validator) Encode(w *codec.Writer) {
	w.Fixed(v.PubKey[:])
	w.Int(v.Power)
	w.String(v.Org)
}

// DecodeValidator decodes a stored validator.
func DecodeValidator(b []byte) (*Validator, error) {
	r := codec.NewReader(b)
	v := &Validator{PubKey: sm.ReadKey32(r, "pub_key"), Power: r.Int("power"), Org: r.String("org", accounts.MaxIDLen)}
	return v, r.Done()
}

func proposalKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{sm.PrefixProposal}, id)
}

// ProposalKey is the store key of a proposal (for proofs).
func ProposalKey(id uint64) []byte { return proposalKey(id) }

func validatorKey(pub crypto.PubKey) []byte { return append([]byte{sm.PrefixValidator}, pub[:]...) }

var proposalSeqKey = []byte{sm.PrefixProposalSeq}
