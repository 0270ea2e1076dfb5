package links

import (
	"crypto/sha256"
	"encoding/json"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
)

// Module plugs patient links into the state machine.
type Module struct{}

var _ sm.Module = Module{}

func (Module) Name() string { return Codespace }

func (Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeLink, Decode: decodeLink, Exec: execLink},
		{Type: TypeUnlink, Decode: decodeUnlink, Exec: execUnlink},
	}
}

func (Module) InitGenesis(sm.Context, json.RawMessage) error { return nil }

// linker checks that the signer may make and remove the links of org.
func linker(kv store.Reader, signer crypto.Address, org string) error {
	if o := accounts.GetOrg(kv, org); o == nil || !o.Active {
		return sm.Wrapf(ErrBadOrg, "%q", org)
	}
	if a := accounts.ActiveMember(kv, signer, LinkerRoles...); a == nil || a.Org != org {
		return sm.Wrapf(ErrNotLinker, "%s in %s", signer, org)
	}
	return nil
}

// consentTo returns an active consent of the patient to org (any purpose,
// custody included), or nil.
func consentTo(kv store.Reader, now int64, patient crypto.Address, org string) *consent.Consent {
	for _, c := range consent.Between(kv, patient, consent.Org(org)) {
		// Between reads an index: confirm from the proven consent itself.
		if got := consent.GetConsent(kv, c.ID); got != nil && got.Patient == patient && got.Grantee == consent.Org(org) && got.ActiveAt(now) {
			return got
		}
	}
	return nil
}

func execLink(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgLink)
	now := ctx.Time.Unix()
	if err := linker(ctx.Store, ctx.Signer, m.Org); err != nil {
		return err
	}
	if p := accounts.GetAccount(ctx.Store, m.Patient); p == nil || p.Kind != accounts.KindPatient || !accounts.CanSign(ctx.Store, p) {
		return sm.Wrapf(ErrNotPatient, "%s", m.Patient)
	}
	l := &Link{Org: m.Org, MAC: m.MAC, Patient: m.Patient, Linker: ctx.Signer, Created: now}
	var used []byte
	if a := m.Approval; a != nil {
		if now >= a.Expires {
			return sm.Wrapf(ErrExpired, "expired at %d, block time %d", a.Expires, now)
		}
		if a.Expires-now > MaxApprovalLifetime {
			return sm.Wrapf(ErrTooLong, "%d s, at most %d s", a.Expires-now, MaxApprovalLifetime)
		}
		if a.Approver != m.Patient && !accounts.IsGuardian(ctx.Store, m.Patient, a.Approver) {
			return sm.Wrapf(ErrBadApproval, "%s is neither the patient nor a guardian", a.Approver)
		}
		acct := accounts.GetAccount(ctx.Store, a.Approver)
		if acct == nil || !accounts.CanSign(ctx.Store, acct) || !crypto.Verify(acct.PubKey, ApprovalSignBytes(ctx.ChainID, m.Org, m.MAC, m.Patient, a.Approver, a.Expires), a.Signature[:]) {
			return ErrBadApproval
		}
		d := sha256.Sum256(a.Signature[:])
		used = usedKey(d)
		if ctx.Store.Get(used) != nil {
			return ErrUsed
		}
		l.Approver = a.Approver
	} else {
		c := consentTo(ctx.Store, now, m.Patient, m.Org)
		if c == nil {
			return sm.Wrapf(ErrNoApproval, "%s has no active consent to %s", m.Patient, m.Org)
		}
		l.ConsentID = c.ID
	}
	if old := Get(ctx.Store, m.Org, m.MAC); old != nil {
		if old.Patient == m.Patient {
			return sm.Wrapf(ErrExists, "%s %s", m.Org, m.MAC)
		}
		return sm.Wrapf(ErrTaken, "%s %s", m.Org, m.MAC)
	}
	if used != nil {
		ctx.Store.Set(used, []byte{1})
	}
	put(ctx.Store, l)
	ctx.Events.Emit("patient_linked", sm.Attr{Key: "org", Value: m.Org}, sm.Attr{Key: "mac", Value: m.MAC.String()},
		sm.Attr{Key: "patient", Value: m.Patient.String()}, sm.Attr{Key: "linker", Value: ctx.Signer.String()})
	return nil
}

func execUnlink(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgUnlink)
	l := Get(ctx.Store, m.Org, m.MAC)
	if l == nil {
		return sm.Wrapf(ErrNotFound, "%s %s", m.Org, m.MAC)
	}
	if !accounts.CanActFor(ctx.Store, ctx.Signer, l.Patient) {
		if err := linker(ctx.Store, ctx.Signer, m.Org); err != nil {
			return sm.Wrapf(ErrNotAllowed, "%v", err)
		}
	}
	remove(ctx.Store, l)
	ctx.Events.Emit("patient_unlinked", sm.Attr{Key: "org", Value: m.Org}, sm.Attr{Key: "mac", Value: m.MAC.String()},
		sm.Attr{Key: "patient", Value: l.Patient.String()}, sm.Attr{Key: "by", Value: ctx.Signer.String()})
	return nil
}

// IndexEntries derives every index entry of the module (links by patient)
// from its proven keys; `medchain state check` compares them with the
// stored index.
func IndexEntries(kv store.Reader, emit func(key, value []byte)) {
	p := []byte{sm.PrefixLink}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		l, err := DecodeLink(v)
		store.Check(err)
		emit(byPatientKey(l.Patient, l.Org, l.MAC), []byte{1})
		return true
	})
}
