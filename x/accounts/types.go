package accounts

import (
	"fmt"
	"slices"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
)

// Codespace of the accounts module.
const Codespace = "accounts"

// Errors; codes are stable.
var (
	ErrExists          = sm.Register(Codespace, 1, "account already exists")
	ErrNotFound        = sm.Register(Codespace, 2, "account not found")
	ErrNotAdmin        = sm.Register(Codespace, 3, "signer is not an active admin of an active organization")
	ErrWrongOrg        = sm.Register(Codespace, 4, "account belongs to another organization")
	ErrNotPatient      = sm.Register(Codespace, 5, "account is not a patient")
	ErrBadRole         = sm.Register(Codespace, 6, "unknown member role")
	ErrOrgNotFound     = sm.Register(Codespace, 7, "organization not found")
	ErrOrgExists       = sm.Register(Codespace, 8, "organization already exists")
	ErrBadOrg          = sm.Register(Codespace, 9, "invalid organization")
	ErrSelf            = sm.Register(Codespace, 10, "an account cannot do this to itself")
	ErrNoDelegation    = sm.Register(Codespace, 11, "no such guardian delegation")
	ErrDelegationSet   = sm.Register(Codespace, 12, "guardian delegation already exists")
	ErrInactiveAcct    = sm.Register(Codespace, 13, "account is deactivated")
	ErrRegistrationCap = sm.Register(Codespace, 14, "self-registrations for this block are used up: retry in a later block")
)

// Kind tells patients from organization members.
type Kind uint8

const (
	KindPatient Kind = 1
	KindMember  Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindPatient:
		return "patient"
	case KindMember:
		return "member"
	}
	return "unknown"
}

// Member roles within an organization.
const (
	RoleAdmin        = "admin"
	RolePractitioner = "practitioner"
	RoleResearcher   = "researcher"
	RoleStaff        = "staff"
	// RoleGateway is a node's service account: it decrypts for the
	// organization's practitioners (emergency access, FHIR) and reports the
	// reads its node serves to the audit trail.
	RoleGateway = "gateway"
)

// Roles lists the valid member roles.
var Roles = []string{RoleAdmin, RolePractitioner, RoleResearcher, RoleStaff, RoleGateway}

// ValidRole reports whether r is a member role.
func ValidRole(r string) bool { return slices.Contains(Roles, r) }

// OrgTypes lists the organization types of the consortium.
var OrgTypes = []string{"hospital", "clinic", "lab", "pharmacy", "manufacturer", "distributor", "research_sponsor", "regulator", "insurer"}

// ValidOrgType reports whether t is an organization type.
func ValidOrgType(t string) bool { return slices.Contains(OrgTypes, t) }

// Account is the state of one address.
type Account struct {
	Address  crypto.Address
	PubKey   crypto.PubKey
	EncKey   crypto.EncKey
	Kind     Kind
	Org      string // members only
	Role     string // members only
	Active   bool
	Sequence uint64 // the sequence the next transaction must carry
	Balance  uint64
	Created  int64 // unix seconds, block time
}

func (a *Account) Encode(w *codec.Writer) {
	w.Fixed(a.Address[:])
	w.Fixed(a.PubKey[:])
	w.Fixed(a.EncKey[:])
	w.Uint(uint64(a.Kind))
	w.String(a.Org)
	w.String(a.Role)
	w.Bool(a.Active)
	w.Uint(a.Sequence)
	w.Uint(a.Balance)
	w.Int(a.Created)
}

// DecodeAccount decodes a stored account.
func DecodeAccount(b []byte) (*Account, error) {
	r := codec.NewReader(b)
	a := &Account{
		Address: sm.ReadAddress(r, "address"),
		PubKey:  sm.ReadKey32(r, "pub_key"),
		EncKey:  sm.ReadKey32(r, "enc_key"),
	}
	kind := r.Uint("kind")
	a.Kind = Kind(kind)
	a.Org = r.String("org", MaxIDLen)
	a.Role = r.String("role", 32)
	a.Active = r.Bool("active")
	a.Sequence = r.Uint("sequence")
	a.Balance = r.Uint("balance")
	a.Created = r.Int("created")
	if err := r.Done(); err != nil {
		return a, err
	}
	if uint64(a.Kind) != kind { // Kind is a uint8: a wider value would not re-encode the same
		return a, fmt.Errorf("kind: %w: %d", codec.ErrTooLong, kind)
	}
	return a, nil
}

// Limits of organization fields.
const (
	MaxIDLen   = 64
	MaxNameLen = 128
)

// Org is a consortium organization.
type Org struct {
	ID     string
	Name   string
	Type   string
	Active bool // a current member of the consortium
	Joined int64
	// EncKey is the organization's HPKE key, held by its gateway: keys wrapped
	// to the organization (consent to the organization, emergency custody)
	// are opened with it. Zero until an admin sets it.
	EncKey crypto.EncKey
}

func (o *Org) Encode(w *codec.Writer) {
	w.String(o.ID)
	w.String(o.Name)
	w.String(o.Type)
	w.Bool(o.Active)
	w.Int(o.Joined)
	w.Fixed(o.EncKey[:])
}

// ReadOrg reads an organization's fields.
func ReadOrg(r *codec.Reader) Org {
	return Org{
		ID:     r.String("org.id", MaxIDLen),
		Name:   r.String("org.name", MaxNameLen),
		Type:   r.String("org.type", 32),
		Active: r.Bool("org.active"),
		Joined: r.Int("org.joined"),
		EncKey: sm.ReadKey32(r, "org.enc_key"),
	}
}

// DecodeOrg decodes a stored organization.
func DecodeOrg(b []byte) (*Org, error) {
	r := codec.NewReader(b)
	o := ReadOrg(r)
	return &o, r.Done()
}

// ValidateOrgID checks an organization id: 2 to 64 characters of a-z, 0-9, '-'.
func ValidateOrgID(id string) error {
	if len(id) < 2 || len(id) > MaxIDLen {
		return sm.Wrapf(ErrBadOrg, "id must be 2 to %d characters", MaxIDLen)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return sm.Wrapf(ErrBadOrg, "id %q: only a-z, 0-9 and '-'", id)
		}
	}
	return nil
}

// ValidateBasic checks an organization without state.
func (o *Org) ValidateBasic() error {
	if err := ValidateOrgID(o.ID); err != nil {
		return err
	}
	if o.Name == "" || len(o.Name) > MaxNameLen {
		return sm.Wrapf(ErrBadOrg, "name must be 1 to %d bytes", MaxNameLen)
	}
	if !ValidOrgType(o.Type) {
		return sm.Wrapf(ErrBadOrg, "type %q is not one of %v", o.Type, OrgTypes)
	}
	return nil
}
