package fhir

import (
	"fmt"
	"slices"
	"strings"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/fhirr4"
)

// perm is a set of SMART interactions: create, read, update, delete, search.
type perm uint8

const (
	permCreate perm = 1 << iota
	permRead
	permUpdate
	permDelete
	permSearch

	permReadAll  = permRead | permSearch
	permWriteAll = permCreate | permUpdate | permDelete
)

// scope is one SMART clinical scope: patient/Observation.read,
// user/*.write, patient/Condition.rs (SMART v2).
type scope struct {
	patient bool   // patient/ (restricted to the token's patient) rather than user/
	typ     string // a resource type, or "*"
	perms   perm
}

// ignoredScopes are SMART scopes accepted and ignored: they ask for
// identity or launch context that the token response gives anyway, or for
// refresh tokens, which medchain does not issue.
var ignoredScopes = []string{"openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access"}

// MaxScopes bounds the scopes of one token.
const MaxScopes = 64

// parseScopes parses a space-separated scope string. It returns the
// clinical scopes and the normalized text of what was granted.
func parseScopes(s string) ([]scope, string, error) {
	var out []scope
	var kept []string
	fields := strings.Fields(s)
	if len(fields) > MaxScopes {
		return nil, "", fmt.Errorf("at most %d scopes", MaxScopes)
	}
	for _, f := range fields {
		if slices.Contains(ignoredScopes, f) {
			continue
		}
		sc, err := parseScope(f)
		if err != nil {
			return nil, "", err
		}
		out = append(out, sc)
		kept = append(kept, f)
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("no clinical scope (like patient/*.read or user/Observation.write) in %q", s)
	}
	return out, strings.Join(kept, " "), nil
}

func parseScope(f string) (scope, error) {
	level, rest, ok := strings.Cut(f, "/")
	if !ok {
		return scope{}, fmt.Errorf("scope %q: want patient/TYPE.ACCESS or user/TYPE.ACCESS", f)
	}
	var sc scope
	switch level {
	case "patient":
		sc.patient = true
	case "user":
	case "system":
		return scope{}, fmt.Errorf("scope %q: system scopes are not supported (a token always acts for one account)", f)
	default:
		return scope{}, fmt.Errorf("scope %q: level must be patient or user", f)
	}
	typ, access, ok := strings.Cut(rest, ".")
	if !ok {
		return scope{}, fmt.Errorf("scope %q: want TYPE.ACCESS", f)
	}
	if typ != "*" && !fhirr4.IsResourceType(typ) {
		return scope{}, fmt.Errorf("scope %q: %q is not a FHIR R4 resource type", f, typ)
	}
	sc.typ = typ
	switch access {
	case "read":
		sc.perms = permReadAll
	case "write":
		sc.perms = permWriteAll
	case "*":
		sc.perms = permReadAll | permWriteAll
	default: // SMART v2: a subset of c, r, u, d, s in that order
		order := "cruds"
		last := -1
		for _, c := range access {
			i := strings.IndexRune(order, c)
			if i <= last {
				return scope{}, fmt.Errorf("scope %q: access must be read, write, * or letters of cruds in order", f)
			}
			last = i
			sc.perms |= 1 << i
		}
		if sc.perms == 0 {
			return scope{}, fmt.Errorf("scope %q: empty access", f)
		}
	}
	return sc, nil
}

// grants reports whether the scopes allow p on a resource of type typ about
// patient, for a token whose patient context is ctxPatient (zero: none).
func grants(ss []scope, typ string, p perm, patient, ctxPatient crypto.Address) bool {
	for _, sc := range ss {
		if sc.perms&p != p || (sc.typ != "*" && sc.typ != typ) {
			continue
		}
		if !sc.patient || (!ctxPatient.IsZero() && patient == ctxPatient) {
			return true
		}
	}
	return false
}

// reach says how far the scopes let p on typ go: to any patient (user
// scope), only to the context patient, or not at all.
func reach(ss []scope, typ string, p perm) (anyPatient, contextOnly bool) {
	for _, sc := range ss {
		if sc.perms&p != p || (sc.typ != "*" && sc.typ != typ) {
			continue
		}
		if sc.patient {
			contextOnly = true
		} else {
			anyPatient = true
		}
	}
	return anyPatient, contextOnly
}

// hasPatientScope reports whether any scope is patient-level.
func hasPatientScope(ss []scope) bool {
	return slices.ContainsFunc(ss, func(s scope) bool { return s.patient })
}
