// Package cond compiles and evaluates policy conditions: Google CEL
// expressions over declared variables (a consent's condition over the
// access being decided, an automation's condition over the event that
// triggers it). Compile parses and type-checks an expression against the
// declared variables, refuses floating point, iteration over maps and any
// result other than a bool, and bounds CEL's static cost estimate; Eval runs
// a compiled condition with a runtime cost limit and turns every failure —
// an error, a cost overrun, even a panic inside CEL — into an Outcome,
// never a crash. The only clock is the block time passed in.
// Deterministic; no I/O.
package cond

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"

	"github.com/medchain/medchain/sm"
)

// Codespace of the policy module (shared with x/policy).
const Codespace = "policy"

// Errors; codes are stable. Codes 1 to 9 belong to conditions; x/policy
// numbers its own from 10.
var (
	ErrTooLong     = sm.Register(Codespace, 1, "condition too long")
	ErrSyntax      = sm.Register(Codespace, 2, "condition does not parse")
	ErrType        = sm.Register(Codespace, 3, "condition does not type-check against the declared variables (it must be a bool expression over them)")
	ErrFloat       = sm.Register(Codespace, 4, "condition uses floating point, which is not deterministic across machines: use integers")
	ErrMapIter     = sm.Register(Codespace, 5, "condition iterates over a map, whose order is not deterministic")
	ErrCost        = sm.Register(Codespace, 6, "condition's estimated cost is above the governance limit (consent.max_condition_cost for a consent, policy.max_rule_cost for an automation)")
	ErrEval        = sm.Register(Codespace, 7, "condition failed to evaluate")
	ErrFalse       = sm.Register(Codespace, 8, "condition does not hold")
	ErrUnknownKind = sm.Register(Codespace, 9, "unknown condition kind")
)

// Limits.
const (
	MaxExprLen = 2048
	MaxCodes   = 64  // codes of one access passed to a condition
	MaxListLen = 256 // longest list variable (codes, encounter organizations)
	MaxStrLen  = 256 // longest string variable
	// EvalCostLimit is the runtime cost limit of one evaluation. The
	// registration bound (policy.max_condition_cost) is at most
	// MaxRegisteredCost, so a condition within its estimate never reaches
	// it; it stops one whose inputs are larger than estimated.
	EvalCostLimit     = 100_000
	MaxRegisteredCost = 50_000
)

// Kind says which variables a condition sees.
type Kind uint8

const (
	// KindAccess: a consent's condition over an access being decided.
	KindAccess Kind = 1
	// KindEvent: an automation's condition over the event that triggers it.
	KindEvent Kind = 2
)

// Variables of an access condition.
const (
	VarAccessor        = "accessor"          // string: the reader or writer's address
	VarAccessorOrg     = "accessor_org"      // string: their organization id, "" for a patient or guardian
	VarAccessorOrgType = "accessor_org_type" // string: hospital, clinic, lab, ... ("" without organization)
	VarRole            = "role"              // string: member role, or "patient" / "guardian"
	VarPurpose         = "purpose"           // string: the consent's purpose of use
	VarAction          = "action"            // string: "read" or "write"
	VarPatient         = "patient"           // string: the patient's address
	VarResourceType    = "resource_type"     // string: the FHIR resource type
	VarCodes           = "codes"             // list(string): "system|code" of the access, when known (see docs/policies.md)
	VarCodesKnown      = "codes_known"       // bool: the codes of the access are known (a FHIR write, or a FHIR read after decryption)
	VarBlockTime       = "block_time"        // timestamp: the block time
	VarEmergency       = "emergency_active"  // bool: an emergency access to the patient is open
	VarEncounterOrgs   = "encounter_orgs"    // list(string): organizations where the patient has an encounter in progress
)

// Variables of an event condition.
const (
	VarEvent = "event" // string: the event name (record_added, ...)
	VarAttrs = "attrs" // map(string, string): the event's attributes
	VarOwner = "owner" // string: the rule owner ("address" or "org:ID")
	// VarBlockTime as above.
)

func accessEnv() (*cel.Env, error) {
	return cel.NewEnv(append(timeZoneFuncs(),
		cel.Variable(VarAccessor, cel.StringType),
		cel.Variable(VarAccessorOrg, cel.StringType),
		cel.Variable(VarAccessorOrgType, cel.StringType),
		cel.Variable(VarRole, cel.StringType),
		cel.Variable(VarPurpose, cel.StringType),
		cel.Variable(VarAction, cel.StringType),
		cel.Variable(VarPatient, cel.StringType),
		cel.Variable(VarResourceType, cel.StringType),
		cel.Variable(VarCodes, cel.ListType(cel.StringType)),
		cel.Variable(VarCodesKnown, cel.BoolType),
		cel.Variable(VarBlockTime, cel.TimestampType),
		cel.Variable(VarEmergency, cel.BoolType),
		cel.Variable(VarEncounterOrgs, cel.ListType(cel.StringType)),
	)...)
}

func eventEnv() (*cel.Env, error) {
	return cel.NewEnv(append(timeZoneFuncs(),
		cel.Variable(VarEvent, cel.StringType),
		cel.Variable(VarAttrs, cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable(VarOwner, cel.StringType),
		cel.Variable(VarBlockTime, cel.TimestampType),
	)...)
}

var (
	envOnce  sync.Once
	envs     map[Kind]*cel.Env
	errEnvs  error
	cacheMu  sync.Mutex
	cache    = map[cacheKey]*Program{}
	maxCache = 4096
)

type cacheKey struct {
	kind Kind
	expr string
}

func env(k Kind) (*cel.Env, error) {
	envOnce.Do(func() {
		envs = map[Kind]*cel.Env{}
		for kind, mk := range map[Kind]func() (*cel.Env, error){KindAccess: accessEnv, KindEvent: eventEnv} {
			e, err := mk()
			if err != nil {
				errEnvs = err
				return
			}
			envs[kind] = e
		}
	})
	if errEnvs != nil {
		return nil, errEnvs
	}
	e := envs[k]
	if e == nil {
		return nil, sm.Wrapf(ErrUnknownKind, "%d", k)
	}
	return e, nil
}

// Program is a compiled, checked condition.
type Program struct {
	Kind Kind
	Expr string
	// Cost is CEL's static estimate (min, max) of one evaluation.
	CostMin, CostMax uint64
	// Uses lists the variables the expression reads: inputs it does not
	// read need not be computed.
	Uses map[string]bool
	prg  cel.Program
}

// Hash is a short, stable name of an expression: the first 8 bytes of its
// SHA-256, in hex. The access trail names conditions by it.
func Hash(expr string) string {
	h := sha256.Sum256([]byte(expr))
	return hex.EncodeToString(h[:8])
}

// Compile parses, type-checks and cost-estimates expr as a condition of
// kind, refusing an estimated maximum cost above maxCost. Errors are the
// package's (ErrTooLong, ErrSyntax, ErrType, ErrFloat, ErrMapIter, ErrCost)
// with the details. Compiled programs are cached by expression: the result
// depends on the expression alone, so the cache changes nothing but speed.
func Compile(kind Kind, expr string, maxCost uint64) (p *Program, err error) {
	if len(expr) > MaxExprLen {
		return nil, sm.Wrapf(ErrTooLong, "%d bytes, at most %d", len(expr), MaxExprLen)
	}
	if p := cached(kind, expr); p != nil {
		if p.CostMax > maxCost {
			return nil, sm.Wrapf(ErrCost, "estimated at most %d, limit %d", p.CostMax, maxCost)
		}
		return p, nil
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, sm.Wrapf(ErrType, "checker failure: %v", r)
		}
	}()
	e, err := env(kind)
	if err != nil {
		return nil, err
	}
	parsed, iss := e.Parse(expr)
	if iss != nil && iss.Err() != nil {
		return nil, sm.Wrapf(ErrSyntax, "%s", oneLine(iss.Err().Error()))
	}
	checked, iss := e.Check(parsed)
	if iss != nil && iss.Err() != nil {
		return nil, sm.Wrapf(ErrType, "%s", oneLine(iss.Err().Error()))
	}
	if !checked.OutputType().IsExactType(types.BoolType) {
		return nil, sm.Wrapf(ErrType, "result is %s, want bool", checked.OutputType())
	}
	native := checked.NativeRep()
	if err := refuseNondeterminism(native); err != nil {
		return nil, err
	}
	est, err := e.EstimateCost(checked, estimator{})
	if err != nil {
		return nil, sm.Wrapf(ErrCost, "%v", err)
	}
	if est.Max > maxCost {
		return nil, sm.Wrapf(ErrCost, "estimated at most %d, limit %d", est.Max, maxCost)
	}
	prg, err := e.Program(checked, cel.CostLimit(EvalCostLimit))
	if err != nil {
		return nil, sm.Wrapf(ErrType, "%v", err)
	}
	p = &Program{Kind: kind, Expr: expr, CostMin: est.Min, CostMax: est.Max, Uses: uses(native), prg: prg}
	remember(kind, expr, p)
	return p, nil
}

func cached(kind Kind, expr string) *Program {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	return cache[cacheKey{kind, expr}]
}

func remember(kind Kind, expr string, p *Program) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if len(cache) >= maxCache {
		clear(cache)
	}
	cache[cacheKey{kind, expr}] = p
}

func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' || c == '\t' {
			b[i] = ' '
		}
	}
	if len(b) > 300 {
		b = append(b[:300], "…"...)
	}
	return string(b)
}

// refuseNondeterminism refuses a double anywhere in the checked expression
// (float arithmetic may differ across machines) and a comprehension over a
// map (Go randomizes map order, so a macro like map() or a failing all()
// could answer differently on two nodes).
func refuseNondeterminism(a *celast.AST) error {
	for _, t := range a.TypeMap() {
		if hasDouble(t) {
			return sm.Wrapf(ErrFloat, "an expression of type %s", t)
		}
	}
	var bad error
	celast.PostOrderVisit(a.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if bad != nil || e.Kind() != celast.ComprehensionKind {
			return
		}
		if t := a.GetType(e.AsComprehension().IterRange().ID()); t.Kind() == types.MapKind || t.Kind() == types.DynKind {
			bad = sm.Wrapf(ErrMapIter, "a comprehension over %s", t)
		}
	}))
	return bad
}

func hasDouble(t *types.Type) bool {
	if t == nil {
		return false
	}
	if t.Kind() == types.DoubleKind {
		return true
	}
	for _, p := range t.Parameters() {
		if hasDouble(p) {
			return true
		}
	}
	return false
}

func uses(a *celast.AST) map[string]bool {
	out := map[string]bool{}
	celast.PostOrderVisit(a.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.IdentKind {
			out[e.AsIdent()] = true
		}
	}))
	return out
}

// estimator bounds the sizes of the declared variables for CEL's static
// cost estimate.
type estimator struct{}

func (estimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if p := n.Path(); len(p) > 0 {
		switch n.Type().Kind() {
		case types.ListKind, types.MapKind:
			s := checker.SizeEstimate{Min: 0, Max: MaxListLen}
			return &s
		case types.StringKind:
			s := checker.SizeEstimate{Min: 0, Max: MaxStrLen}
			return &s
		}
	}
	return nil
}

func (estimator) EstimateCallCost(function, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	return nil
}

// String describes the program for messages.
func (p *Program) String() string {
	return fmt.Sprintf("condition %s (estimated cost %d–%d)", Hash(p.Expr), p.CostMin, p.CostMax)
}
