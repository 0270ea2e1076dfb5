package fhirr4

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalid is matched, with errors.Is, by every error that reports bad
// input: not JSON, not FHIR R4, or not valid FHIR R4. The error itself is an
// *InvalidError listing what is wrong.
var ErrInvalid = errors.New("invalid FHIR R4 resource")

// maxIssues bounds the issues kept for one input, so that a hostile document
// cannot make an error message as large as itself.
const maxIssues = 100

// Issue is one problem found in a resource.
type Issue struct {
	// Path names the element in FHIR JSON terms, rooted at the resource
	// type: "Observation.valueQuantity.value". A resource nested inside
	// another is marked by its type: "Bundle.entry[0].resource.Observation.status".
	// Path is empty when the problem concerns the document as a whole.
	Path string
	// Problem says what is wrong: "missing required field", "unknown field",
	// "invalid decimal", ... It never quotes an element's value, so it may be
	// logged without leaking health data.
	Problem string
}

func (i Issue) String() string {
	if i.Path == "" {
		return i.Problem
	}
	return i.Path + ": " + i.Problem
}

// InvalidError is the error returned for bad input. errors.Is(err,
// ErrInvalid) reports true for it.
type InvalidError struct {
	Issues []Issue // sorted by path; at least one
}

func (e *InvalidError) Error() string {
	const shown = 5
	var b strings.Builder
	b.WriteString(ErrInvalid.Error())
	b.WriteString(": ")
	for i, is := range e.Issues {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", len(e.Issues)-shown)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(is.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// invalid builds an *InvalidError from issues, sorted and deduplicated so that
// the same input always yields the same message.
func invalid(issues ...Issue) *InvalidError {
	slices.SortFunc(issues, func(a, b Issue) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Problem, b.Problem)
	})
	issues = slices.Compact(issues)
	if len(issues) > maxIssues {
		issues = issues[:maxIssues]
	}
	return &InvalidError{Issues: issues}
}

// libraryError is what google/fhir/go reports for one problem. Its type
// (jsonpbhelper.UnmarshalError) lives in an internal package, so the fields are
// read by reflection; TestLibraryErrorShape fails if an upgrade changes them.
type libraryError struct {
	Path        string // JSON-ish path, "Observation.valueQuantity.value"
	Details     string // free of health data by the library's own rule
	Diagnostics string // may quote input values: used only for field names
}

// libraryErrors unpacks an error from jsonformat or fhirvalidate into its
// parts. ok is false when err is not one of the library's validation errors
// (an internal failure rather than a verdict on the input).
func libraryErrors(err error) (errs []libraryError, ok bool) {
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Slice {
		for i := 0; i < v.Len(); i++ {
			e, ok := libraryErrorOf(v.Index(i))
			if !ok {
				return nil, false
			}
			errs = append(errs, e)
		}
		return errs, len(errs) > 0
	}
	e, ok := libraryErrorOf(v)
	if !ok {
		return nil, false
	}
	return []libraryError{e}, true
}

func libraryErrorOf(v reflect.Value) (libraryError, bool) {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return libraryError{}, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || v.Type().Name() != "UnmarshalError" {
		return libraryError{}, false
	}
	field := func(name string) (string, bool) {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.String {
			return "", false
		}
		return f.String(), true
	}
	var e libraryError
	var ok1, ok2, ok3 bool
	e.Path, ok1 = field("Path")
	e.Details, ok2 = field("Details")
	e.Diagnostics, ok3 = field("Diagnostics")
	return e, ok1 && ok2 && ok3
}

// problems maps the library's wording to ours where ours is plainer or names
// the FHIR type as the specification spells it.
var problems = map[string]string{
	"expected array":               "expected an array",
	"expected binary data":         "invalid base64Binary",
	"expected boolean":             "invalid boolean",
	"expected canonical":           "invalid canonical",
	"expected code":                "invalid code",
	"expected date":                "invalid date",
	"expected datetime":            "invalid dateTime",
	"expected decimal":             "invalid decimal",
	"expected ID":                  "invalid id",
	"expected instant":             "invalid instant",
	"expected integer":             "invalid integer",
	"expected markdown":            "invalid markdown",
	"expected OID":                 "invalid oid",
	"expected positive integer":    "invalid positiveInt",
	"expected string":              "invalid string",
	"expected uri":                 "invalid uri",
	"expected url":                 "invalid url",
	"expected UTF-8 encoding":      "invalid UTF-8",
	"expected UUID":                "invalid uuid",
	"expected xhtml":               "invalid xhtml",
	"invalid Code format":          "invalid code",
	"invalid Id format":            "invalid id",
	"invalid Oid format":           "invalid oid",
	"invalid Uuid format":          "invalid uuid",
	"invalid non-negative integer": "invalid unsignedInt",
	"invalid positive integer":     "invalid positiveInt",
}

// issueOf turns one library error into an Issue with the offending field at
// the end of its path.
func issueOf(e libraryError) Issue {
	path, details := normalizePath(e.Path), e.Details
	switch {
	case strings.HasPrefix(details, "missing required field "):
		name, err := strconv.Unquote(strings.TrimPrefix(details, "missing required field "))
		if err == nil {
			return Issue{Path: join(path, name), Problem: "missing required field"}
		}
	case details == "unknown field":
		if name, err := strconv.Unquote(e.Diagnostics); err == nil {
			return Issue{Path: join(path, clip(name)), Problem: "unknown field"}
		}
	case details == "unknown resource type":
		// The library puts the unknown type at the end of the path.
		if typ, err := strconv.Unquote(e.Diagnostics); err == nil && strings.HasSuffix(path, typ) {
			parent := strings.TrimSuffix(strings.TrimSuffix(path, typ), ".")
			return Issue{Path: join(parent, "resourceType"), Problem: "unknown resource type " + strconv.Quote(clip(typ))}
		}
		return Issue{Path: path, Problem: "unknown resource type"}
	case details == "invalid resource type":
		return Issue{Path: join(path, "resourceType"), Problem: "resourceType must be a string"}
	case strings.HasPrefix(details, "cannot accept multiple values for ") && strings.HasSuffix(details, " field"):
		choice := strings.TrimSuffix(strings.TrimPrefix(details, "cannot accept multiple values for "), " field")
		name, err := strconv.Unquote(e.Diagnostics)
		if err == nil {
			return Issue{Path: join(path, clip(name)), Problem: "more than one value for " + choice + "[x]"}
		}
	case details == "code type mismatch":
		// Diagnostics: `"bogus" is not a ObservationStatusCode`; keep only
		// the value set's name, never the value.
		if _, set, ok := strings.Cut(e.Diagnostics, " is not a "); ok {
			return Issue{Path: path, Problem: "code not in required value set " + set}
		}
		return Issue{Path: path, Problem: "invalid code"}
	case details == "invalid JSON" && path != "":
		return Issue{Path: path, Problem: "expected an object"}
	}
	if p, ok := problems[details]; ok {
		details = p
	}
	return Issue{Path: path, Problem: details}
}

// clip shortens names taken from the input so that an error stays small.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
