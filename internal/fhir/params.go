package fhir

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// dateParam is a date search parameter and the elements it reads (a choice
// element appears once per type it can take).
type dateParam struct {
	name  string
	elems []string
}

// tokenParam is a token search parameter and the element it reads.
type tokenParam struct {
	name string
	elem string
}

// dateParams lists, per resource type, the date parameters implemented; the
// first is the one _sort=date orders by.
var dateParams = map[string][]dateParam{
	"AllergyIntolerance":       {{"date", []string{"recordedDate"}}, {"onset", []string{"onsetDateTime", "onsetPeriod"}}},
	"AuditEvent":               {{"date", []string{"recorded"}}},
	"CarePlan":                 {{"date", []string{"period"}}},
	"CareTeam":                 {{"date", []string{"period"}}},
	"Claim":                    {{"created", []string{"created"}}},
	"Condition":                {{"onset-date", []string{"onsetDateTime", "onsetPeriod"}}, {"recorded-date", []string{"recordedDate"}}, {"abatement-date", []string{"abatementDateTime", "abatementPeriod"}}},
	"Consent":                  {{"date", []string{"dateTime"}}},
	"DiagnosticReport":         {{"date", []string{"effectiveDateTime", "effectivePeriod"}}, {"issued", []string{"issued"}}},
	"DocumentReference":        {{"date", []string{"date"}}},
	"Encounter":                {{"date", []string{"period"}}},
	"ExplanationOfBenefit":     {{"created", []string{"created"}}},
	"Goal":                     {{"start-date", []string{"startDate"}}},
	"ImagingStudy":             {{"started", []string{"started"}}},
	"Immunization":             {{"date", []string{"occurrenceDateTime"}}},
	"MedicationAdministration": {{"effective-time", []string{"effectiveDateTime", "effectivePeriod"}}},
	"MedicationRequest":        {{"authoredon", []string{"authoredOn"}}},
	"MedicationStatement":      {{"effective", []string{"effectiveDateTime", "effectivePeriod"}}},
	"Observation":              {{"date", []string{"effectiveDateTime", "effectivePeriod", "effectiveInstant"}}},
	"Patient":                  {{"birthdate", []string{"birthDate"}}},
	"Procedure":                {{"date", []string{"performedDateTime", "performedPeriod"}}},
	"Provenance":               {{"recorded", []string{"recorded"}}},
	"ResearchStudy":            {{"date", []string{"period"}}},
	"ResearchSubject":          {{"date", []string{"period"}}},
}

// tokenParams lists, per resource type, the token parameters implemented
// besides identifier (every stored type).
var tokenParams = map[string][]tokenParam{
	"AllergyIntolerance":       {{"code", "code"}, {"clinical-status", "clinicalStatus"}, {"category", "category"}, {"criticality", "criticality"}},
	"CarePlan":                 {{"category", "category"}, {"status", "status"}},
	"CareTeam":                 {{"category", "category"}, {"status", "status"}},
	"Claim":                    {{"status", "status"}, {"use", "use"}},
	"Condition":                {{"code", "code"}, {"category", "category"}, {"clinical-status", "clinicalStatus"}, {"verification-status", "verificationStatus"}},
	"Consent":                  {{"status", "status"}},
	"Device":                   {{"type", "type"}, {"status", "status"}},
	"DiagnosticReport":         {{"code", "code"}, {"category", "category"}, {"status", "status"}},
	"DocumentReference":        {{"type", "type"}, {"category", "category"}, {"status", "status"}},
	"Encounter":                {{"type", "type"}, {"class", "class"}, {"status", "status"}},
	"ExplanationOfBenefit":     {{"status", "status"}},
	"Goal":                     {{"lifecycle-status", "lifecycleStatus"}, {"category", "category"}},
	"ImagingStudy":             {{"status", "status"}},
	"Immunization":             {{"vaccine-code", "vaccineCode"}, {"status", "status"}},
	"MedicationAdministration": {{"code", "medicationCodeableConcept"}, {"status", "status"}},
	"MedicationRequest":        {{"code", "medicationCodeableConcept"}, {"status", "status"}, {"intent", "intent"}, {"category", "category"}},
	"MedicationStatement":      {{"code", "medicationCodeableConcept"}, {"status", "status"}},
	"Observation":              {{"code", "code"}, {"category", "category"}, {"status", "status"}},
	"Patient":                  {{"gender", "gender"}},
	"Procedure":                {{"code", "code"}, {"category", "category"}, {"status", "status"}},
	"ResearchStudy":            {{"status", "status"}},
	"ResearchSubject":          {{"status", "status"}},
}

func findDate(typ, name string) (dateParam, bool) {
	for _, p := range dateParams[typ] {
		if p.name == name {
			return p, true
		}
	}
	return dateParam{}, false
}

func findToken(typ, name string) (tokenParam, bool) {
	if name == "identifier" && !chainViews[typ] {
		return tokenParam{"identifier", "identifier"}, true
	}
	for _, p := range tokenParams[typ] {
		if p.name == name {
			return p, true
		}
	}
	return tokenParam{}, false
}

// interval is a half-open time range [lo, hi); the zero lo or hi is unbounded.
type interval struct{ lo, hi time.Time }

var (
	minTime = time.Unix(-1<<40, 0)
	maxTime = time.Unix(1<<40, 0)
)

// parseDate reads a FHIR date, dateTime or instant (or a search value of
// those forms) as the interval its precision covers. A time without a zone
// is taken as UTC.
func parseDate(s string) (interval, error) {
	var t time.Time
	var err error
	switch {
	case len(s) == 4:
		t, err = time.Parse("2006", s)
		return interval{t, t.AddDate(1, 0, 0)}, err
	case len(s) == 7:
		t, err = time.Parse("2006-01", s)
		return interval{t, t.AddDate(0, 1, 0)}, err
	case len(s) == 10:
		t, err = time.Parse("2006-01-02", s)
		return interval{t, t.AddDate(0, 0, 1)}, err
	case len(s) > 10 && s[10] == 'T':
	default:
		return interval{}, fmt.Errorf("%q is not a FHIR date", s)
	}
	body, zone := s[11:], ""
	if i := strings.IndexAny(body, "Z+-"); i >= 0 {
		body, zone = body[:i], body[i:]
	}
	step := time.Second
	layout := "15:04:05"
	switch {
	case len(body) == 5:
		layout, step = "15:04", time.Minute
	case len(body) > 8 && body[8] == '.':
		digits := len(body) - 9
		if digits < 1 || digits > 9 {
			return interval{}, fmt.Errorf("%q is not a FHIR dateTime", s)
		}
		layout = "15:04:05." + strings.Repeat("0", digits)
		step = time.Duration(1)
		for range 9 - digits {
			step *= 10
		}
	}
	switch {
	case zone == "" || zone == "Z":
		zone = "Z"
		layout += "Z07:00"
	default:
		layout += "Z07:00"
	}
	t, err = time.Parse("2006-01-02T"+layout, s[:11]+body+zone)
	if err != nil {
		return interval{}, fmt.Errorf("%q is not a FHIR dateTime", s)
	}
	return interval{t, t.Add(step)}, nil
}

// valueInterval reads an element's value: a date string or a Period.
func valueInterval(v any) (interval, bool) {
	switch x := v.(type) {
	case string:
		iv, err := parseDate(x)
		return iv, err == nil
	case map[string]any:
		start, sok := x["start"].(string)
		end, eok := x["end"].(string)
		if !sok && !eok {
			return interval{}, false
		}
		iv := interval{minTime, maxTime}
		if sok {
			s, err := parseDate(start)
			if err != nil {
				return interval{}, false
			}
			iv.lo = s.lo
		}
		if eok {
			e, err := parseDate(end)
			if err != nil {
				return interval{}, false
			}
			iv.hi = e.hi
		}
		return iv, true
	}
	return interval{}, false
}

// dateCond is one date search value: a prefix and an interval.
type dateCond struct {
	prefix string
	iv     interval
}

var datePrefixes = []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"}

func parseDateCond(v string) (dateCond, error) {
	c := dateCond{prefix: "eq"}
	if len(v) >= 2 && slices.Contains(datePrefixes, v[:2]) {
		c.prefix, v = v[:2], v[2:]
	} else if len(v) >= 2 && v[0] >= 'a' && v[0] <= 'z' {
		return c, fmt.Errorf("unknown prefix %q (eq, ne, gt, lt, ge, le, sa, eb)", v[:2])
	}
	iv, err := parseDate(v)
	c.iv = iv
	return c, err
}

// matches applies a prefix to a target interval t, with the search
// interval s: FHIR's range semantics, where a target matches when the part
// of time the prefix names intersects it.
func (c dateCond) matches(t interval) bool {
	s := c.iv
	eq := !s.lo.After(t.lo) && !t.hi.After(s.hi)
	switch c.prefix {
	case "eq":
		return eq
	case "ne":
		return !eq
	case "gt":
		return t.hi.After(s.hi)
	case "lt":
		return t.lo.Before(s.lo)
	case "ge":
		return t.hi.After(s.lo)
	case "le":
		return t.lo.Before(s.hi)
	case "sa":
		return !t.lo.Before(s.hi)
	case "eb":
		return !t.hi.After(s.lo)
	}
	return false
}

// token is one token search value: [system]|[code], |code, code or system|.
type token struct {
	system    string
	hasSystem bool
	code      string
}

func parseToken(v string) (token, error) {
	if v == "" {
		return token{}, errors.New("empty token")
	}
	sys, code, ok := strings.Cut(v, "|")
	if !ok {
		return token{code: v}, nil
	}
	if sys == "" && code == "" {
		return token{}, errors.New("empty token")
	}
	return token{system: sys, hasSystem: true, code: code}, nil
}

func (t token) matchPair(system, code string) bool {
	if t.hasSystem && system != t.system {
		return false
	}
	return t.code == "" || code == t.code
}

// matchToken reports whether an element's value (CodeableConcept, Coding,
// Identifier, code, or a list of them) matches the token.
func (t token) matchValue(v any) bool {
	switch x := v.(type) {
	case []any:
		return slices.ContainsFunc(x, t.matchValue)
	case string:
		return (!t.hasSystem || t.system == "") && t.code != "" && x == t.code
	case map[string]any:
		if cs, ok := x["coding"].([]any); ok {
			return slices.ContainsFunc(cs, t.matchValue)
		}
		if code, ok := x["code"].(string); ok {
			return t.matchPair(str(x["system"]), code)
		}
		if val, ok := x["value"].(string); ok {
			return t.matchPair(str(x["system"]), val)
		}
	}
	return false
}
