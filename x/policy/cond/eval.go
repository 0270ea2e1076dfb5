package cond

import (
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"

	"github.com/medchain/medchain/sm"
)

// Access is what an access condition sees: what the chain knows of the
// access at evaluation time.
type Access struct {
	Accessor, AccessorOrg, AccessorOrgType, Role string
	Purpose, Action, Patient, ResourceType       string
	Codes                                        []string
	CodesKnown                                   bool
	BlockTime                                    int64 // unix seconds
	EmergencyActive                              bool
	EncounterOrgs                                []string
}

// Event is what an event condition sees.
type Event struct {
	Name      string
	Attrs     map[string]string
	Owner     string
	BlockTime int64
}

// Outcome is the result of one evaluation: Allowed when the condition held;
// otherwise Err says why (ErrFalse, or ErrEval with CEL's message). Cost is
// the runtime cost spent.
type Outcome struct {
	Allowed bool
	Cost    uint64
	Err     error
}

// EvalAccess evaluates an access condition.
func (p *Program) EvalAccess(in *Access) Outcome {
	if p.Kind != KindAccess {
		return Outcome{Err: sm.Wrapf(ErrUnknownKind, "an event condition evaluated on an access")}
	}
	return p.eval(accessVars{in})
}

// EvalEvent evaluates an event condition.
func (p *Program) EvalEvent(in *Event) Outcome {
	if p.Kind != KindEvent {
		return Outcome{Err: sm.Wrapf(ErrUnknownKind, "an access condition evaluated on an event")}
	}
	return p.eval(eventVars{in})
}

func (p *Program) eval(vars interpreter.Activation) (out Outcome) {
	defer func() {
		if r := recover(); r != nil {
			out = Outcome{Err: sm.Wrapf(ErrEval, "condition %s: evaluation panicked", Hash(p.Expr))}
		}
	}()
	v, det, err := p.prg.Eval(vars)
	if det != nil && det.ActualCost() != nil {
		out.Cost = *det.ActualCost()
	}
	if err != nil {
		out.Err = sm.Wrapf(ErrEval, "condition %s: %s", Hash(p.Expr), oneLine(err.Error()))
		return out
	}
	if b, ok := v.(types.Bool); ok && bool(b) {
		out.Allowed = true
		return out
	}
	if _, ok := v.(types.Bool); !ok {
		out.Err = sm.Wrapf(ErrEval, "condition %s: result is not a bool", Hash(p.Expr))
		return out
	}
	out.Err = sm.Wrapf(ErrFalse, "condition %s", Hash(p.Expr))
	return out
}

func ts(unix int64) time.Time { return time.Unix(unix, 0).UTC() }

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// accessVars resolves the access variables without building a map per
// evaluation, as CEL values (no conversion of Go values by the runtime).
type accessVars struct{ a *Access }

func (v accessVars) ResolveName(name string) (any, bool) {
	a := v.a
	switch name {
	case VarAccessor:
		return types.String(a.Accessor), true
	case VarAccessorOrg:
		return types.String(a.AccessorOrg), true
	case VarAccessorOrgType:
		return types.String(a.AccessorOrgType), true
	case VarRole:
		return types.String(a.Role), true
	case VarPurpose:
		return types.String(a.Purpose), true
	case VarAction:
		return types.String(a.Action), true
	case VarPatient:
		return types.String(a.Patient), true
	case VarResourceType:
		return types.String(a.ResourceType), true
	case VarCodes:
		return types.NewStringList(types.DefaultTypeAdapter, strs(a.Codes)), true
	case VarCodesKnown:
		return types.Bool(a.CodesKnown), true
	case VarBlockTime:
		return types.Timestamp{Time: ts(a.BlockTime)}, true
	case VarEmergency:
		return types.Bool(a.EmergencyActive), true
	case VarEncounterOrgs:
		return types.NewStringList(types.DefaultTypeAdapter, strs(a.EncounterOrgs)), true
	}
	return nil, false
}

func (accessVars) Parent() interpreter.Activation { return nil }

type eventVars struct{ e *Event }

func (v eventVars) ResolveName(name string) (any, bool) {
	switch name {
	case VarEvent:
		return v.e.Name, true
	case VarAttrs:
		if v.e.Attrs == nil {
			return map[string]string{}, true
		}
		return v.e.Attrs, true
	case VarOwner:
		return v.e.Owner, true
	case VarBlockTime:
		return ts(v.e.BlockTime), true
	}
	return nil, false
}

func (eventVars) Parent() interpreter.Activation { return nil }
