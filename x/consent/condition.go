package consent

import (
	"errors"
	"fmt"
	"strings"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/policy/cond"
)

// Errors of consent conditions (codes after those of keeper.go).
var (
	ErrConditionRefused = sm.Register(Codespace, 24, "the consent's condition refused this access")
)

// ConditionError is the refusal of an access by a consent's condition: it
// names the consent and the condition (cond.Hash of its expression), which
// the access trail records (audit.Reason), and wraps the evaluation outcome
// (policy/8 the condition is false, policy/7 it failed to evaluate).
type ConditionError struct {
	ConsentID uint64
	Hash      string
	Outcome   error
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("%s: consent %d condition %s: %v", ErrConditionRefused.Desc, e.ConsentID, e.Hash, e.Outcome)
}

// Is makes errors.Is(err, ErrConditionRefused) hold.
func (e *ConditionError) Is(target error) bool { return target == ErrConditionRefused }

// Unwrap exposes ErrConditionRefused (for its code) to errors.As.
func (e *ConditionError) Unwrap() error { return ErrConditionRefused }

// Trail is the short form the access trail records: "consent N condition H".
func (e *ConditionError) Trail() string {
	return fmt.Sprintf("consent %d condition %s", e.ConsentID, e.Hash)
}

// CodeSet is the codes of an access, when known. It is a comparable value
// (so a Target stays comparable): build it with KnownCodes.
type CodeSet struct {
	known  bool
	joined string
}

// KnownCodes is the code set of an access whose codes are known (possibly
// none). Codes are "system|code" strings without NUL bytes.
func KnownCodes(codes []string) CodeSet {
	return CodeSet{known: true, joined: strings.Join(codes, "\x00")}
}

// Known reports whether the codes are known.
func (c CodeSet) Known() bool { return c.known }

// List returns the codes (nil when unknown, empty when known to be none).
func (c CodeSet) List() []string {
	switch {
	case !c.known:
		return nil
	case c.joined == "":
		return []string{}
	}
	return strings.Split(c.joined, "\x00")
}

// AsConditionError returns the condition refusal inside err, or nil.
func AsConditionError(err error) *ConditionError {
	var ce *ConditionError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

// conditionName is how decisions and the trail name c's condition: its
// hash, or "" when c has none.
func conditionName(c *Consent) string {
	if c.Condition == "" {
		return ""
	}
	return cond.Hash(c.Condition)
}

// conditionHolds evaluates c's condition for who's access act to t at block
// time now; nil when c has none or it holds. A condition that fails to
// compile (it compiled at the grant; only a change of CEL could do this) or
// to evaluate refuses: a condition fails closed.
func conditionHolds(kv store.Reader, now int64, who crypto.Address, acct *accounts.Account, c *Consent, t Target, act uint8) error {
	if c.Condition == "" {
		return nil
	}
	refuse := func(err error) error {
		return &ConditionError{ConsentID: c.ID, Hash: cond.Hash(c.Condition), Outcome: err}
	}
	p, err := cond.Compile(cond.KindAccess, c.Condition, cond.MaxRegisteredCost)
	if err != nil {
		return refuse(err)
	}
	in := AccessInput(kv, now, who, acct, c.Purpose, t, act, p.Uses)
	if o := p.EvalAccess(&in); !o.Allowed {
		return refuse(o.Err)
	}
	return nil
}

// AccessInput is what a condition sees of an access: the accessor's account
// and organization, the consent's purpose, the target and its codes (when
// the caller knows them), the block time, and — only when the condition
// reads them (uses; nil for all) — whether an emergency access to the
// patient is open and where the patient has an encounter in progress; the
// accessor's and patient's addresses and the organization's type likewise
// only when read.
func AccessInput(kv store.Reader, now int64, who crypto.Address, acct *accounts.Account, purpose string, t Target, act uint8, uses map[string]bool) cond.Access {
	in := cond.Access{
		Purpose: purpose, ResourceType: t.Type,
		CodesKnown: t.Codes.Known(), BlockTime: now, Action: "read",
	}
	// Inputs that cost an allocation or a state read are computed only
	// when the condition reads them.
	if uses == nil || uses[cond.VarAccessor] {
		in.Accessor = who.String()
	}
	if uses == nil || uses[cond.VarPatient] {
		in.Patient = t.Patient.String()
	}
	if uses == nil || uses[cond.VarCodes] {
		in.Codes = t.Codes.List()
	}
	if act == ActWrite {
		in.Action = "write"
	}
	if acct != nil {
		switch acct.Kind {
		case accounts.KindMember:
			in.AccessorOrg, in.Role = acct.Org, acct.Role
			if uses == nil || uses[cond.VarAccessorOrgType] {
				if o := accounts.GetOrg(kv, acct.Org); o != nil {
					in.AccessorOrgType = o.Type
				}
			}
		case accounts.KindPatient:
			in.Role = "patient"
		}
	}
	if uses == nil || uses[cond.VarEmergency] {
		for _, e := range EmergenciesOf(kv, t.Patient) {
			if e.OpenAt(now) {
				in.EmergencyActive = true
				break
			}
		}
	}
	if uses == nil || uses[cond.VarEncounterOrgs] {
		in.EncounterOrgs = cond.EncounterOrgs(kv, t.Patient)
	}
	return in
}
