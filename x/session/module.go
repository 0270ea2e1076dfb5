package session

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// Module plugs sessions into the state machine.
type Module struct{}

var _ sm.Module = Module{}

func (Module) Name() string { return Codespace }

func (Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeDelegate, Decode: decodeDelegate, Exec: execDelegate},
		{Type: TypeRevoke, Decode: decodeRevoke, Exec: execRevoke},
	}
}

func (Module) InitGenesis(sm.Context, json.RawMessage) error { return nil }

// ownKey returns the signer's account when the transaction is signed by the
// account's current key (not by a session key).
func ownKey(ctx sm.Context) (*accounts.Account, error) {
	a := accounts.GetAccount(ctx.Store, ctx.Signer)
	if a == nil {
		return nil, sm.Wrapf(accounts.ErrNotFound, "%s", ctx.Signer)
	}
	if a.PubKey != ctx.Key {
		return nil, ErrFromKey
	}
	return a, nil
}

func execDelegate(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgDelegate)
	a, err := ownKey(ctx)
	if err != nil {
		return err
	}
	now := ctx.Time.Unix()
	if m.Limits.Expires <= now {
		return sm.Wrapf(ErrExpired, "expires %d is not after block time %d", m.Limits.Expires, now)
	}
	if m.Limits.Expires-now > MaxLifetime {
		return sm.Wrapf(ErrTooLong, "%d s, at most %d s", m.Limits.Expires-now, MaxLifetime)
	}
	if accounts.KeyInUse(ctx.Store, m.PubKey) || Get(ctx.Store, m.PubKey) != nil {
		return sm.Wrapf(accounts.ErrKeyInUse, "%s", m.PubKey)
	}
	if !crypto.Verify(m.PubKey, DelegateSignBytes(ctx.ChainID, a.Address, m.PubKey, m.EncKey, &m.Limits), m.Proof[:]) {
		return ErrBadProof
	}
	Put(ctx.Store, &Session{PubKey: m.PubKey, EncKey: m.EncKey, Account: a.Address, Limits: m.Limits, Created: now})
	accounts.BindKey(ctx.Store, m.PubKey, accounts.BoundSession, a.Address)
	ctx.Events.Emit("session_delegated", sm.Attr{Key: "account", Value: a.Address.String()},
		sm.Attr{Key: "session", Value: m.PubKey.String()}, sm.Attr{Key: "purpose", Value: m.Limits.Purpose},
		sm.Attr{Key: "expires", Value: strconv.FormatInt(m.Limits.Expires, 10)})
	return nil
}

func execRevoke(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgRevoke)
	s := Get(ctx.Store, m.PubKey)
	if s == nil {
		return sm.Wrapf(ErrNotFound, "%s", m.PubKey)
	}
	if s.Account != ctx.Signer {
		return ErrNotOwner
	}
	// Either the account's key or the session key itself (a device or a
	// gateway ending its own session early) may revoke; another session of
	// the same account may not.
	if a := accounts.GetAccount(ctx.Store, ctx.Signer); (a == nil || a.PubKey != ctx.Key) && ctx.Key != s.PubKey {
		return ErrFromKey
	}
	if s.Revoked != 0 {
		return sm.Wrapf(ErrRevoked, "%s", m.PubKey)
	}
	s.Revoked = ctx.Time.Unix()
	Put(ctx.Store, s)
	ctx.Events.Emit("session_revoked", sm.Attr{Key: "account", Value: s.Account.String()}, sm.Attr{Key: "session", Value: m.PubKey.String()})
	return nil
}

// Principal is who a transaction's signing key speaks for.
type Principal struct {
	// Address is the account the key signs for (for an unknown key, the
	// key's own address: self-registration).
	Address crypto.Address
	// Account is that account, nil when it does not exist yet.
	Account *accounts.Account
	// Session is the session when the key is a session key.
	Session *Session
}

// Sequence is the sequence the key's next transaction must carry: the
// session's for a session key, else the account's (0 without an account).
func (p *Principal) Sequence() uint64 {
	switch {
	case p.Session != nil:
		return p.Session.Sequence
	case p.Account != nil:
		return p.Account.Sequence
	}
	return 0
}

// Advance moves the key's sequence on and stores it (a session's; the
// caller stores the account, whose fee it charges too).
func (p *Principal) Advance(kv store.KV) {
	if p.Session != nil {
		p.Session.Sequence++
		Put(kv, p.Session)
		return
	}
	if p.Account != nil {
		p.Account.Sequence++
	}
}

// Authorize resolves the key of a transaction of msgType at block time now:
// an account's current key (its first, or the one a rotation bound), or a
// live session key whose limits allow msgType. A retired account key, a
// revoked or expired session, or a type outside a session's limits is
// refused. The account's own standing (active, fee) is the caller's check.
func Authorize(kv store.Reader, pub crypto.PubKey, msgType string, now int64) (Principal, error) {
	kind, addr, bound := accounts.BoundKey(kv, pub)
	if bound && kind == accounts.BoundSession {
		s := Get(kv, pub)
		if s == nil { // the index and the session are written together
			return Principal{}, sm.Wrapf(ErrNotFound, "%s", pub)
		}
		p := Principal{Address: s.Account, Account: accounts.GetAccount(kv, s.Account), Session: s}
		if err := s.Live(now); err != nil {
			return p, fmt.Errorf("session %s of %s: %w", pub, s.Account, err)
		}
		if !s.Limits.Allows(msgType) {
			return p, sm.Wrapf(ErrNotAllowed, "%s", msgType)
		}
		if p.Account == nil {
			return p, sm.Wrapf(accounts.ErrNotFound, "%s", s.Account)
		}
		return p, nil
	}
	if !bound {
		addr = pub.Address()
	}
	p := Principal{Address: addr, Account: accounts.GetAccount(kv, addr)}
	if p.Account != nil && p.Account.PubKey != pub {
		return p, sm.Wrapf(accounts.ErrStaleKey, "the key of %s was rotated", addr)
	}
	return p, nil
}

// Reader resolves the key of a signed read request (gateway, API) at block
// time now: the account it reads for and, for a session key, the live
// session whose limits (Covers) bound the read; nil for the account's own
// current key. A retired account key, an unknown key, or a revoked or
// expired session is refused. The account's standing is the caller's check.
func Reader(kv store.Reader, pub crypto.PubKey, now int64) (*accounts.Account, *Session, error) {
	kind, addr, bound := accounts.BoundKey(kv, pub)
	if bound && kind == accounts.BoundSession {
		s, err := Active(kv, pub, now)
		if err != nil {
			return nil, nil, err
		}
		a := accounts.GetAccount(kv, s.Account)
		if a == nil {
			return nil, nil, sm.Wrapf(accounts.ErrNotFound, "%s", s.Account)
		}
		return a, s, nil
	}
	if !bound {
		addr = pub.Address()
	}
	a := accounts.GetAccount(kv, addr)
	if a == nil {
		return nil, nil, sm.Wrapf(accounts.ErrNotFound, "%s", addr)
	}
	if a.PubKey != pub {
		return nil, nil, sm.Wrapf(accounts.ErrStaleKey, "the key of %s was rotated", addr)
	}
	return a, nil, nil
}
