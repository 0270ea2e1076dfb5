package accounts

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/params"
)

// ParamMaxSelfRegistrations caps the patients that may register themselves
// in one block (0 closes self-registration). Registration is free (a new
// key has no balance to pay a fee with), so without a cap one client could
// mint identities as fast as blocks take transactions and grow the state
// without bound; with it, minting takes blocks, the state grows by a known
// amount per block, and governance can lower the cap, or close it, under
// attack (docs/security.md).
const ParamMaxSelfRegistrations = "accounts.max_self_registrations_per_block"

// ParamDefs are the parameters accounts declares.
var ParamDefs = []params.Def{
	{Name: ParamMaxSelfRegistrations, Default: 1000, Min: 0, Max: 100_000,
		Doc: "patients that may register themselves in one block (0: self-registration closed)"},
}

// Module plugs accounts into the state machine. Params holds
// ParamMaxSelfRegistrations; nil means its default.
type Module struct{ Params *params.Registry }

var _ sm.Module = Module{}

func (Module) Name() string { return "accounts" }

func (m Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeRegisterPatient, Decode: decodeRegisterPatient, Exec: m.execRegisterPatient, NewSigner: true},
		{Type: TypeRegisterMember, Decode: decodeRegisterMember, Exec: execRegisterMember},
		{Type: TypeDeactivateMember, Decode: decodeDeactivateMember, Exec: execDeactivateMember},
		{Type: TypeSetGuardian, Decode: decodeSetGuardian, Exec: execSetGuardian},
		{Type: TypeRevokeGuardian, Decode: decodeRevokeGuardian, Exec: execRevokeGuardian},
		{Type: TypeSetOrgKey, Decode: decodeSetOrgKey, Exec: execSetOrgKey},
		{Type: TypeRotateKeys, Decode: decodeRotateKeys, Exec: execRotateKeys},
	}
}

func (mod Module) maxSelfRegistrations(kv store.Reader) uint64 {
	if mod.Params == nil {
		return ParamDefs[0].Default
	}
	return mod.Params.Get(kv, ParamMaxSelfRegistrations)
}

// SelfRegistrations returns how many patients registered themselves in the
// block at height.
func SelfRegistrations(kv store.Reader, height int64) uint32 {
	b := kv.Get(selfRegsKey)
	if len(b) != 12 || int64(binary.BigEndian.Uint64(b)) != height {
		return 0
	}
	return binary.BigEndian.Uint32(b[8:])
}

func (mod Module) execRegisterPatient(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRegisterPatient)
	if GetAccount(ctx.Store, ctx.Signer) != nil {
		return sm.Wrapf(ErrExists, "%s", ctx.Signer)
	}
	n := SelfRegistrations(ctx.Store, ctx.Height)
	if max := mod.maxSelfRegistrations(ctx.Store); uint64(n) >= max {
		return sm.Wrapf(ErrRegistrationCap, "%d of %d at height %d (%s)", n, max, ctx.Height, ParamMaxSelfRegistrations)
	}
	ctx.Store.Set(selfRegsKey, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, uint64(ctx.Height)), n+1))
	PutAccount(ctx.Store, &Account{
		Address: ctx.Signer, PubKey: ctx.Key, EncKey: m.EncKey, Kind: KindPatient,
		Active: true, Sequence: 1, Created: ctx.Time.Unix(),
	})
	ctx.Events.Emit("account_registered", sm.Attr{Key: "address", Value: ctx.Signer.String()}, sm.Attr{Key: "kind", Value: "patient"})
	return nil
}

// CreateMember adds a member account to an organization (used by
// registration and by governance when a new organization joins).
func CreateMember(ctx sm.Context, org string, pub crypto.PubKey, enc crypto.EncKey, role string) error {
	addr := pub.Address()
	if GetAccount(ctx.Store, addr) != nil {
		return sm.Wrapf(ErrExists, "%s", addr)
	}
	if _, _, bound := BoundKey(ctx.Store, pub); bound {
		return sm.Wrapf(ErrKeyInUse, "%s", pub)
	}
	PutAccount(ctx.Store, &Account{
		Address: addr, PubKey: pub, EncKey: enc, Kind: KindMember, Org: org, Role: role,
		Active: true, Created: ctx.Time.Unix(),
	})
	ctx.Store.Set(memberKey(org, addr), []byte(role))
	ctx.Events.Emit("account_registered", sm.Attr{Key: "address", Value: addr.String()},
		sm.Attr{Key: "kind", Value: "member"}, sm.Attr{Key: "org", Value: org}, sm.Attr{Key: "role", Value: role})
	return nil
}

func execRegisterMember(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRegisterMember)
	org := AdminOrg(ctx.Store, ctx.Signer)
	if org == nil {
		return ErrNotAdmin
	}
	return CreateMember(ctx, org.ID, m.PubKey, m.EncKey, m.Role)
}

func execDeactivateMember(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgDeactivateMember)
	org := AdminOrg(ctx.Store, ctx.Signer)
	if org == nil {
		return ErrNotAdmin
	}
	if m.Address == ctx.Signer {
		return sm.Wrapf(ErrSelf, "an admin cannot deactivate itself")
	}
	a := GetAccount(ctx.Store, m.Address)
	if a == nil {
		return sm.Wrapf(ErrNotFound, "%s", m.Address)
	}
	if a.Kind != KindMember || a.Org != org.ID {
		return sm.Wrapf(ErrWrongOrg, "%s is not a member of %s", m.Address, org.ID)
	}
	if !a.Active {
		return sm.Wrapf(ErrInactiveAcct, "%s", m.Address)
	}
	a.Active = false
	PutAccount(ctx.Store, a)
	ctx.Events.Emit("account_deactivated", sm.Attr{Key: "address", Value: a.Address.String()}, sm.Attr{Key: "org", Value: org.ID})
	return nil
}

func execSetOrgKey(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgSetOrgKey)
	org := AdminOrg(ctx.Store, ctx.Signer)
	if org == nil {
		return ErrNotAdmin
	}
	org.EncKey = m.EncKey
	PutOrg(ctx.Store, org)
	ctx.Events.Emit("org_key_set", sm.Attr{Key: "org", Value: org.ID})
	return nil
}

func requirePatient(ctx sm.Context) error {
	a := GetAccount(ctx.Store, ctx.Signer)
	if a == nil || a.Kind != KindPatient {
		return sm.Wrapf(ErrNotPatient, "%s", ctx.Signer)
	}
	return nil
}

func execSetGuardian(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgSetGuardian)
	if err := requirePatient(ctx); err != nil {
		return err
	}
	if m.Guardian == ctx.Signer {
		return sm.Wrapf(ErrSelf, "a patient is already their own guardian")
	}
	g := GetAccount(ctx.Store, m.Guardian)
	if g == nil {
		return sm.Wrapf(ErrNotFound, "guardian %s", m.Guardian)
	}
	if !CanSign(ctx.Store, g) {
		return sm.Wrapf(ErrInactiveAcct, "guardian %s", m.Guardian)
	}
	if IsGuardian(ctx.Store, ctx.Signer, m.Guardian) {
		return sm.Wrapf(ErrDelegationSet, "%s", m.Guardian)
	}
	ctx.Store.Set(guardianKey(ctx.Signer, m.Guardian), []byte{1})
	ctx.Events.Emit("guardian_set", sm.Attr{Key: "patient", Value: ctx.Signer.String()}, sm.Attr{Key: "guardian", Value: m.Guardian.String()})
	return nil
}

func execRevokeGuardian(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRevokeGuardian)
	if err := requirePatient(ctx); err != nil {
		return err
	}
	if !IsGuardian(ctx.Store, ctx.Signer, m.Guardian) {
		return sm.Wrapf(ErrNoDelegation, "%s", m.Guardian)
	}
	ctx.Store.Delete(guardianKey(ctx.Signer, m.Guardian))
	ctx.Events.Emit("guardian_revoked", sm.Attr{Key: "patient", Value: ctx.Signer.String()}, sm.Attr{Key: "guardian", Value: m.Guardian.String()})
	return nil
}

// Genesis is the accounts part of the genesis app state.
type Genesis struct {
	Orgs     []GenesisOrg     `json:"orgs"`
	Accounts []GenesisAccount `json:"accounts"`
}

// GenesisOrg is an organization listed in genesis (a founding member).
type GenesisOrg struct {
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	Type   string        `json:"type"`
	EncKey crypto.EncKey `json:"enc_key,omitzero"`
}

// GenesisAccount is an account listed in genesis.
type GenesisAccount struct {
	PubKey  crypto.PubKey `json:"pub_key"`
	EncKey  crypto.EncKey `json:"enc_key"`
	Kind    string        `json:"kind"` // "patient" or "member"
	Org     string        `json:"org,omitempty"`
	Role    string        `json:"role,omitempty"`
	Balance uint64        `json:"balance,omitempty"`
}

func (Module) InitGenesis(ctx sm.Context, raw json.RawMessage) error {
	var g Genesis
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &g); err != nil {
			return fmt.Errorf("accounts genesis: %w", err)
		}
	}
	for _, go_ := range g.Orgs {
		o := &Org{ID: go_.ID, Name: go_.Name, Type: go_.Type, Active: true, Joined: ctx.Time.Unix(), EncKey: go_.EncKey}
		if err := o.ValidateBasic(); err != nil {
			return fmt.Errorf("accounts genesis: org %q: %w", go_.ID, err)
		}
		if GetOrg(ctx.Store, o.ID) != nil {
			return fmt.Errorf("accounts genesis: duplicate org %q", o.ID)
		}
		PutOrg(ctx.Store, o)
	}
	for i, ga := range g.Accounts {
		addr := ga.PubKey.Address()
		if GetAccount(ctx.Store, addr) != nil {
			return fmt.Errorf("accounts genesis: duplicate account %s", addr)
		}
		switch ga.Kind {
		case "patient":
			PutAccount(ctx.Store, &Account{Address: addr, PubKey: ga.PubKey, EncKey: ga.EncKey, Kind: KindPatient, Active: true, Balance: ga.Balance, Created: ctx.Time.Unix()})
		case "member":
			if GetOrg(ctx.Store, ga.Org) == nil {
				return fmt.Errorf("accounts genesis: account %d: unknown org %q", i, ga.Org)
			}
			if !ValidRole(ga.Role) {
				return fmt.Errorf("accounts genesis: account %d: bad role %q", i, ga.Role)
			}
			if err := CreateMember(ctx, ga.Org, ga.PubKey, ga.EncKey, ga.Role); err != nil {
				return err
			}
			if ga.Balance > 0 {
				a := GetAccount(ctx.Store, addr)
				a.Balance = ga.Balance
				PutAccount(ctx.Store, a)
			}
		default:
			return fmt.Errorf("accounts genesis: account %d: kind %q, want patient or member", i, ga.Kind)
		}
	}
	return nil
}
