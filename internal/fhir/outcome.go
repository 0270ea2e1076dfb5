package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/sm"
)

// ErrorSystem is the coding system of medchain's stable error codes
// ("consent/17", "fhir/3") in OperationOutcome.issue.details.
const ErrorSystem = "urn:medchain:error"

// Codespace of the FHIR interface's own errors.
const Codespace = "fhir"

// Errors of the FHIR interface; codes are stable. Refusals decided by the
// chain (consent, records) keep their own codespace and code.
var (
	ErrUnauthenticated = sm.Register(Codespace, 1, "no valid bearer token")
	ErrScope           = sm.Register(Codespace, 2, "the token's scopes do not allow this")
	ErrInvalid         = sm.Register(Codespace, 3, "invalid FHIR resource")
	ErrNotFound        = sm.Register(Codespace, 4, "not found")
	ErrGone            = sm.Register(Codespace, 5, "gone: the record was erased")
	ErrTooLarge        = sm.Register(Codespace, 6, "request too large")
	ErrUnprocessable   = sm.Register(Codespace, 7, "unprocessable")
	ErrNotSupported    = sm.Register(Codespace, 8, "not supported")
	ErrNoDelegation    = sm.Register(Codespace, 9, "the session carries no key delegation: the gateway cannot decrypt or sign for you")
	ErrOtherOrg        = sm.Register(Codespace, 10, "the key is held by another organization: read through one of its nodes")
	ErrNotShared       = sm.Register(Codespace, 11, "no key for you on this version yet: the patient must share it")
	ErrConflict        = sm.Register(Codespace, 12, "conflict")
	ErrChain           = sm.Register(Codespace, 13, "the chain did not accept the write")
	ErrUnavailable     = sm.Register(Codespace, 14, "unavailable")
	ErrBadRequest      = sm.Register(Codespace, 15, "bad request")
	ErrAuth            = sm.Register(Codespace, 16, "token request refused")
)

// problem is an error answered as an OperationOutcome with an HTTP status.
type problem struct {
	status int
	code   string // FHIR issue-type: invalid, forbidden, not-found, ...
	err    error  // carries the stable code (sm.ABCIInfo)
	issues []fhirr4.Issue
	prefix string // path prefix for issues (a Bundle entry)
}

func (p *problem) Error() string { return p.err.Error() }

func fail(status int, code string, err error) *problem {
	return &problem{status: status, code: code, err: err}
}

func failf(status int, code string, e *sm.Error, format string, args ...any) *problem {
	return fail(status, code, sm.Wrapf(e, format, args...))
}

// invalidResource turns a parse error into 400 naming the fields.
func invalidResource(err error, prefix string) *problem {
	var ie *fhirr4.InvalidError
	if errors.As(err, &ie) {
		return &problem{status: http.StatusBadRequest, code: "invalid", err: sm.Wrapf(ErrInvalid, "%v", ie), issues: ie.Issues, prefix: prefix}
	}
	return failf(http.StatusBadRequest, "invalid", ErrInvalid, "%v", err)
}

// codeOf renders an error's stable code as "codespace/code".
func codeOf(err error) string {
	code, space, _ := sm.ABCIInfo(err)
	return space + "/" + strconv.FormatUint(uint64(code), 10)
}

func issueCode(problem string) string {
	switch problem {
	case "missing required field":
		return "required"
	case "unknown field":
		return "structure"
	}
	return "invalid"
}

// outcomeJSON builds the OperationOutcome of a problem.
func (p *problem) outcome() map[string]any {
	_, _, msg := sm.ABCIInfo(p.err)
	details := map[string]any{
		"coding": []any{map[string]any{"system": ErrorSystem, "code": codeOf(p.err)}},
		"text":   msg,
	}
	var issues []any
	if len(p.issues) == 0 {
		issues = append(issues, map[string]any{"severity": "error", "code": p.code, "details": details, "diagnostics": msg})
	}
	for _, is := range p.issues {
		path := is.Path
		if p.prefix != "" {
			path = joinPath(p.prefix, path)
		}
		it := map[string]any{"severity": "error", "code": issueCode(is.Problem), "details": details, "diagnostics": is.String()}
		if path != "" {
			it["diagnostics"] = path + ": " + is.Problem
			it["expression"] = []any{path}
		}
		issues = append(issues, it)
	}
	return map[string]any{"resourceType": "OperationOutcome", "issue": issues}
}

func joinPath(prefix, path string) string {
	if path == "" {
		return prefix
	}
	return prefix + "." + path
}

// info is an informational OperationOutcome (search warnings).
func warning(code, text string) map[string]any {
	return map[string]any{"resourceType": "OperationOutcome", "issue": []any{
		map[string]any{"severity": "warning", "code": code, "diagnostics": text},
	}}
}

const contentType = "application/fhir+json; charset=utf-8"

func writeResource(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSONValue(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, failf(http.StatusInternalServerError, "exception", ErrUnavailable, "encode: %v", err))
		return
	}
	writeResource(w, status, b)
}

func writeProblem(w http.ResponseWriter, p *problem) {
	if p.status == http.StatusUnauthorized {
		_, _, msg := sm.ABCIInfo(p.err)
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer realm=\"medchain\", error=\"invalid_token\", error_description=%q", msg))
	}
	writeJSONValue(w, p.status, p.outcome())
}
