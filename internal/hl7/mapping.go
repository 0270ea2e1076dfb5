package hl7

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Identifier is a patient identifier from PID-3, with the FHIR system its
// assigning authority stands for.
type Identifier struct {
	System, Value, Type string
}

// Resolver finds the medchain patient (a chain account address, "mc…")
// that an organization's patient identifiers stand for. AddressResolver is
// the one that needs nothing on chain; a resolver over x/links maps an
// organization's MRNs through their keyed-MAC links.
type Resolver interface {
	Resolve(ids []Identifier) (address string, fail *Failure)
}

// AssigningAuthorityMedchain is the assigning authority (PID-3.4) of a
// PID-3 repetition that carries the patient's medchain address itself.
const AssigningAuthorityMedchain = "MEDCHAIN"

// SystemAddress is the FHIR identifier system of a medchain address.
const SystemAddress = "urn:medchain:address"

// AddressResolver resolves a patient whose PID-3 carries its medchain
// address with assigning authority MEDCHAIN (mapped to system
// urn:medchain:address).
type AddressResolver struct{}

// Resolve implements Resolver.
func (AddressResolver) Resolve(ids []Identifier) (string, *Failure) {
	for _, id := range ids {
		if id.System == SystemAddress {
			if !strings.HasPrefix(id.Value, "mc") {
				return "", appError(CodeDataType, "PID", 3, "PID-3 %s identifier %q is not a medchain address", AssigningAuthorityMedchain, trunc(id.Value, 20))
			}
			return id.Value, nil
		}
	}
	return "", appError(CodeUnknownKey, "PID", 3, "no PID-3 identifier links this patient to a medchain account: "+
		"link the MRN (medchain link) or send the address as a PID-3 repetition with assigning authority %s", AssigningAuthorityMedchain)
}

// Plan is what a message becomes: a transaction Bundle, and the marker
// identifier (system|value) one of its new resources carries, by which a
// crashed write is found again (empty when the Bundle only updates).
type Plan struct {
	Bundle      map[string]any
	MarkerType  string
	Marker      string
	PatientAddr string
}

// Lookup finds an existing resource by identifier (system|value), for
// updates: it returns its id, or "" when there is none.
type Lookup func(typ, identifier string) (id string, err error)

// Map turns a supported message into its Plan. msgSystem is the identifier
// system of this sender's message-derived identifiers.
func Map(m *Message, r Resolver, lookup Lookup) (*Plan, *Failure) {
	h := m.Header()
	switch h.Type {
	case "ADT":
		switch h.Event {
		case "A01", "A04", "A08":
			return mapADT(m, h, r, lookup)
		}
		return nil, reject(CodeUnsupportedEvent, "MSH", 9, "ADT^%s is not supported (A01, A04, A08 are)", trunc(h.Event, 8))
	case "ORU":
		if h.Event != "R01" {
			return nil, reject(CodeUnsupportedEvent, "MSH", 9, "ORU^%s is not supported (R01 is)", trunc(h.Event, 8))
		}
		return mapORU(m, h, r)
	}
	return nil, reject(CodeUnsupportedType, "MSH", 9, "message type %q is not supported (ADT^A01/A04/A08, ORU^R01 are)", trunc(h.Type, 8))
}

// messageSystem is the identifier system of identifiers derived from a
// sender's messages.
func messageSystem(h Header) string {
	return "urn:medchain:hl7:" + urnPart(h.SendingApp) + ":" + urnPart(h.SendingFacility)
}

func urnPart(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// patientIdentifiers reads PID-3 (CX: id^check digit^scheme^assigning
// authority^type).
func patientIdentifiers(pid *Segment) []Identifier {
	var out []Identifier
	for _, rep := range pid.Field(3) {
		v := rep.Get(1)
		if v == "" {
			continue
		}
		out = append(out, Identifier{System: authoritySystem(rep), Value: v, Type: rep.Get(5)})
	}
	return out
}

// authoritySystem is the FHIR system of a CX's assigning authority (HD:
// namespace&universal id&universal id type).
func authoritySystem(rep Rep) string {
	if len(rep) < 4 {
		return "urn:medchain:hl7:aa:-"
	}
	hd := rep[3]
	get := func(i int) string {
		if i < len(hd) {
			return hd[i]
		}
		return ""
	}
	ns, uid, typ := get(0), get(1), get(2)
	switch {
	case strings.EqualFold(ns, AssigningAuthorityMedchain):
		return SystemAddress
	case uid != "" && strings.EqualFold(typ, "ISO"):
		return "urn:oid:" + uid
	case uid != "" && strings.EqualFold(typ, "UUID"):
		return "urn:uuid:" + strings.ToLower(uid)
	case uid != "" && (strings.EqualFold(typ, "URI") || strings.EqualFold(typ, "URL")):
		return uid
	}
	return "urn:medchain:hl7:aa:" + urnPart(ns)
}

func requirePID(m *Message) (*Segment, []Identifier, *Failure) {
	pid := m.Segment("PID")
	if pid == nil {
		return nil, nil, reject(CodeSegmentSequence, "PID", 0, "the message has no PID segment")
	}
	ids := patientIdentifiers(pid)
	if len(ids) == 0 {
		return nil, nil, reject(CodeRequiredMissing, "PID", 3, "PID-3 (patient identifier list) is required")
	}
	return pid, ids, nil
}

func mapADT(m *Message, h Header, r Resolver, lookup Lookup) (*Plan, *Failure) {
	pid, ids, f := requirePID(m)
	if f != nil {
		return nil, f
	}
	addr, f := r.Resolve(ids)
	if f != nil {
		return nil, f
	}
	pat, f := patientResource(pid, ids, addr)
	if f != nil {
		return nil, f
	}
	// The organization's own Patient resource is found again by its first
	// identifier other than the address: an A08 updates it.
	var key Identifier
	for _, id := range ids {
		if id.System != SystemAddress {
			key = id
			break
		}
	}
	if key.Value == "" {
		key = Identifier{System: SystemAddress, Value: addr}
	}
	existing, err := lookup("Patient", key.System+"|"+key.Value)
	if err != nil {
		return nil, appError(CodeInternal, "", 0, "find the patient's resource: %v", err)
	}
	patURL := "urn:uuid:" + deterministicUUID(h, "Patient")
	entries := []any{}
	if existing != "" {
		pat["id"] = existing
		patURL = "Patient/" + existing
		entries = append(entries, map[string]any{"fullUrl": patURL, "resource": pat, "request": map[string]any{"method": "PUT", "url": "Patient/" + existing}})
	} else {
		entries = append(entries, map[string]any{"fullUrl": patURL, "resource": pat, "request": map[string]any{"method": "POST", "url": "Patient"}})
	}
	plan := &Plan{PatientAddr: addr}
	if pv1 := m.Segment("PV1"); pv1 != nil && (h.Event == "A01" || h.Event == "A04") {
		enc, f := encounterResource(pv1, h, patURL)
		if f != nil {
			return nil, f
		}
		entries = append(entries, map[string]any{"fullUrl": "urn:uuid:" + deterministicUUID(h, "Encounter"), "resource": enc, "request": map[string]any{"method": "POST", "url": "Encounter"}})
		plan.MarkerType, plan.Marker = "Encounter", messageSystem(h)+"|"+h.ControlID+"/encounter"
	}
	plan.Bundle = map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries}
	return plan, nil
}

func patientResource(pid *Segment, ids []Identifier, addr string) (map[string]any, *Failure) {
	p := map[string]any{"resourceType": "Patient"}
	idents := []any{map[string]any{"system": SystemAddress, "value": addr}}
	for _, id := range ids {
		if id.System == SystemAddress {
			continue
		}
		e := map[string]any{"system": id.System, "value": id.Value}
		if id.Type != "" {
			e["type"] = map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": id.Type}}}
		}
		idents = append(idents, e)
	}
	p["identifier"] = idents
	var names []any
	for _, rep := range pid.Field(5) {
		n := map[string]any{}
		if v := rep.Get(1); v != "" {
			n["family"] = v
		}
		var given []any
		for _, c := range []int{2, 3} {
			if v := rep.Get(c); v != "" {
				given = append(given, v)
			}
		}
		if len(given) > 0 {
			n["given"] = given
		}
		if v := rep.Get(4); v != "" {
			n["suffix"] = []any{v}
		}
		if v := rep.Get(5); v != "" {
			n["prefix"] = []any{v}
		}
		if len(n) > 0 {
			n["use"] = "official"
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		p["name"] = names
	}
	if v := pid.Value(7); v != "" {
		d, ok := hl7Date(v)
		if !ok {
			return nil, appError(CodeDataType, "PID", 7, "PID-7 (date of birth) %q is not an HL7 date", trunc(v, 20))
		}
		p["birthDate"] = d
	}
	switch pid.Value(8) {
	case "":
	case "M":
		p["gender"] = "male"
	case "F":
		p["gender"] = "female"
	case "O", "A", "N":
		p["gender"] = "other"
	case "U":
		p["gender"] = "unknown"
	default:
		return nil, appError(CodeTableValue, "PID", 8, "PID-8 (administrative sex) %q is not in table 0001", trunc(pid.Value(8), 8))
	}
	var addrs []any
	for _, rep := range pid.Field(11) {
		a := map[string]any{}
		var lines []any
		for _, c := range []int{1, 2} {
			if v := rep.Get(c); v != "" {
				lines = append(lines, v)
			}
		}
		if len(lines) > 0 {
			a["line"] = lines
		}
		for c, k := range map[int]string{3: "city", 4: "state", 5: "postalCode", 6: "country"} {
			if v := rep.Get(c); v != "" {
				a[k] = v
			}
		}
		if len(a) > 0 {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) > 0 {
		p["address"] = addrs
	}
	var tel []any
	for _, rep := range pid.Field(13) {
		if v := rep.Get(1); v != "" {
			tel = append(tel, map[string]any{"system": "phone", "value": v, "use": "home"})
		}
		if v := rep.Get(4); v != "" {
			tel = append(tel, map[string]any{"system": "email", "value": v})
		}
	}
	if len(tel) > 0 {
		p["telecom"] = tel
	}
	if v := pid.Value(29); v != "" {
		t, ok := hl7DateTime(v)
		if !ok {
			return nil, appError(CodeDataType, "PID", 29, "PID-29 (death date and time) %q is not an HL7 timestamp", trunc(v, 20))
		}
		p["deceasedDateTime"] = t
	} else if pid.Value(30) == "Y" {
		p["deceasedBoolean"] = true
	}
	return p, nil
}

func encounterResource(pv1 *Segment, h Header, patientRef string) (map[string]any, *Failure) {
	class := map[string][2]string{"I": {"IMP", "inpatient encounter"}, "O": {"AMB", "ambulatory"}, "E": {"EMER", "emergency"},
		"P": {"PRENC", "pre-admission"}, "R": {"AMB", "ambulatory"}, "B": {"AMB", "ambulatory"}}
	c, ok := class[pv1.Value(2)]
	if !ok {
		return nil, appError(CodeTableValue, "PV1", 2, "PV1-2 (patient class) %q is not one of I, O, E, P, R, B", trunc(pv1.Value(2), 8))
	}
	status := "in-progress"
	if h.Event == "A04" {
		status = "arrived"
	}
	enc := map[string]any{
		"resourceType": "Encounter", "status": status,
		"class":      map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": c[0], "display": c[1]},
		"subject":    map[string]any{"reference": patientRef},
		"identifier": []any{map[string]any{"system": messageSystem(h), "value": h.ControlID + "/encounter"}},
	}
	if v := pv1.Value(19); v != "" {
		ids := enc["identifier"].([]any)
		enc["identifier"] = append(ids, map[string]any{"system": messageSystem(h) + ":visit", "value": v,
			"type": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "VN"}}}})
	}
	period := map[string]any{}
	for n, k := range map[int]string{44: "start", 45: "end"} {
		if v := pv1.Value(n); v != "" {
			t, ok := hl7DateTime(v)
			if !ok {
				return nil, appError(CodeDataType, "PV1", n, "PV1-%d %q is not an HL7 timestamp", n, trunc(v, 20))
			}
			period[k] = t
		}
	}
	if len(period) > 0 {
		enc["period"] = period
	}
	if loc := strings.Trim(strings.Join([]string{pv1.Comp(3, 1), pv1.Comp(3, 2), pv1.Comp(3, 3)}, " "), " "); loc != "" {
		enc["location"] = []any{map[string]any{"location": map[string]any{"display": loc}}}
	}
	return enc, nil
}

var resultStatus = map[string]string{"F": "final", "P": "preliminary", "C": "corrected", "X": "cancelled", "R": "preliminary", "I": "registered", "D": "entered-in-error", "W": "entered-in-error", "A": "amended"}
var reportStatus = map[string]string{"F": "final", "P": "preliminary", "C": "corrected", "X": "cancelled", "R": "partial", "I": "registered", "A": "partial", "O": "registered", "S": "partial"}

func mapORU(m *Message, h Header, r Resolver) (*Plan, *Failure) {
	_, ids, f := requirePID(m)
	if f != nil {
		return nil, f
	}
	addr, f := r.Resolve(ids)
	if f != nil {
		return nil, f
	}
	patRef := "Patient/" + addr
	sys := messageSystem(h)
	var entries []any
	var report map[string]any
	var results []any
	obsN, repN := 0, 0
	flush := func() {
		if report != nil {
			if len(results) > 0 {
				report["result"] = results
			}
			entries = append(entries, map[string]any{"fullUrl": "urn:uuid:" + deterministicUUID(h, fmt.Sprintf("DiagnosticReport/%d", repN)),
				"resource": report, "request": map[string]any{"method": "POST", "url": "DiagnosticReport"}})
		}
		report, results = nil, nil
	}
	var last map[string]any // the latest Observation, for its NTE notes
	for i, seg := range m.Segments {
		switch seg.Name {
		case "OBR":
			flush()
			repN++
			rep, f := reportResource(seg, i+1, patRef, sys, h, repN)
			if f != nil {
				return nil, f
			}
			report, last = rep, nil
		case "OBX":
			if report == nil {
				return nil, reject(CodeSegmentSequence, "OBX", i+1, "OBX before any OBR")
			}
			obsN++
			obs, f := observationResource(seg, i+1, patRef, sys, h, obsN, report)
			if f != nil {
				return nil, f
			}
			url := "urn:uuid:" + deterministicUUID(h, fmt.Sprintf("Observation/%d", obsN))
			entries = append(entries, map[string]any{"fullUrl": url, "resource": obs, "request": map[string]any{"method": "POST", "url": "Observation"}})
			results = append(results, map[string]any{"reference": url})
			last = obs
		case "NTE":
			text := strings.Join(fieldTexts(seg.Field(3)), "\n")
			if text == "" {
				continue
			}
			target := last
			if target == nil {
				target = report
			}
			if target == nil {
				continue
			}
			notes, _ := target["note"].([]any)
			target["note"] = append(notes, map[string]any{"text": text})
		}
	}
	flush()
	if repN == 0 {
		return nil, reject(CodeSegmentSequence, "OBR", 0, "an ORU^R01 needs at least one OBR")
	}
	if obsN == 0 {
		return nil, reject(CodeSegmentSequence, "OBX", 0, "the ORU^R01 has no OBX results")
	}
	// Observations before reports: the transaction resolves the reports'
	// result references to them.
	return &Plan{Bundle: map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries},
		MarkerType: "Observation", Marker: sys + "|" + h.ControlID + "/obx/1", PatientAddr: addr}, nil
}

func fieldTexts(f Field) []string {
	var out []string
	for _, rep := range f {
		if v := rep.Get(1); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func reportResource(obr *Segment, seq int, patRef, sys string, h Header, n int) (map[string]any, *Failure) {
	code, ok := codeable(obr.Field(4))
	if !ok {
		return nil, &Failure{Ack: AR, Code: CodeRequiredMissing, Segment: "OBR", Seq: seq, Field: 4, Text: "OBR-4 (universal service identifier) is required"}
	}
	st := obr.Value(25)
	status, ok := reportStatus[st]
	if st == "" {
		status, ok = "final", true
	}
	if !ok {
		return nil, &Failure{Ack: AE, Code: CodeTableValue, Segment: "OBR", Seq: seq, Field: 25, Text: fmt.Sprintf("OBR-25 (result status) %q is not in table 0123", trunc(st, 4))}
	}
	rep := map[string]any{
		"resourceType": "DiagnosticReport", "status": status, "code": code,
		"category":   []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB", "display": "Laboratory"}}}},
		"subject":    map[string]any{"reference": patRef},
		"identifier": []any{map[string]any{"system": sys, "value": h.ControlID + "/obr/" + strconv.Itoa(n)}},
	}
	if v := obr.Comp(3, 1); v != "" {
		ids := rep["identifier"].([]any)
		rep["identifier"] = append(ids, map[string]any{"system": sys + ":filler", "value": v,
			"type": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "FILL"}}}})
	}
	if v := obr.Comp(7, 1); v != "" {
		t, ok := hl7DateTime(v)
		if !ok {
			return nil, &Failure{Ack: AE, Code: CodeDataType, Segment: "OBR", Seq: seq, Field: 7, Text: fmt.Sprintf("OBR-7 %q is not an HL7 timestamp", trunc(v, 20))}
		}
		rep["effectiveDateTime"] = t
	}
	if v := obr.Comp(22, 1); v != "" {
		if t, ok := hl7DateTime(v); ok && len(t) > 10 {
			rep["issued"] = t
		}
	}
	return rep, nil
}

func observationResource(obx *Segment, seq int, patRef, sys string, h Header, n int, report map[string]any) (map[string]any, *Failure) {
	bad := func(code, field int, format string, args ...any) (map[string]any, *Failure) {
		return nil, &Failure{Ack: AE, Code: code, Segment: "OBX", Seq: seq, Field: field, Text: fmt.Sprintf(format, args...)}
	}
	code, ok := codeable(obx.Field(3))
	if !ok {
		return nil, &Failure{Ack: AR, Code: CodeRequiredMissing, Segment: "OBX", Seq: seq, Field: 3, Text: "OBX-3 (observation identifier) is required"}
	}
	st := obx.Value(11)
	status, ok := resultStatus[st]
	if st == "" {
		status, ok = "final", true
	}
	if !ok {
		return bad(CodeTableValue, 11, "OBX-11 (result status) %q is not in table 0085", trunc(st, 4))
	}
	obs := map[string]any{
		"resourceType": "Observation", "status": status, "code": code,
		"category":   []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory", "display": "Laboratory"}}}},
		"subject":    map[string]any{"reference": patRef},
		"identifier": []any{map[string]any{"system": sys, "value": h.ControlID + "/obx/" + strconv.Itoa(n)}},
	}
	when := obx.Comp(14, 1)
	if when != "" {
		t, ok := hl7DateTime(when)
		if !ok {
			return bad(CodeDataType, 14, "OBX-14 %q is not an HL7 timestamp", trunc(when, 20))
		}
		obs["effectiveDateTime"] = t
	} else if t, ok := report["effectiveDateTime"]; ok {
		obs["effectiveDateTime"] = t
	}
	vt := obx.Value(2)
	val := obx.Field(5)
	if !val.Empty() {
		switch vt {
		case "NM":
			raw := strings.TrimSpace(obx.Value(5))
			if _, err := strconv.ParseFloat(raw, 64); err != nil || strings.ContainsAny(raw, "xXeEnN") {
				return bad(CodeDataType, 5, "OBX-5 %q is not a number (OBX-2 is NM)", trunc(raw, 20))
			}
			raw = normalizeNumber(raw)
			q := map[string]any{"value": json.Number(raw)}
			addUnit(q, obx.Field(6))
			obs["valueQuantity"] = q
		case "SN":
			cmp, num := obx.Comp(5, 1), obx.Comp(5, 2)
			if obx.Comp(5, 3) != "" || obx.Comp(5, 4) != "" {
				obs["valueString"] = strings.Join([]string{cmp, num, obx.Comp(5, 3), obx.Comp(5, 4)}, "")
				break
			}
			if _, err := strconv.ParseFloat(num, 64); err != nil {
				return bad(CodeDataType, 5, "OBX-5 structured numeric %q has no number", trunc(num, 20))
			}
			q := map[string]any{"value": json.Number(normalizeNumber(num))}
			switch cmp {
			case "", "=":
			case "<", "<=", ">", ">=":
				q["comparator"] = cmp
			default:
				return bad(CodeDataType, 5, "OBX-5 comparator %q is not one of < <= > >= =", trunc(cmp, 4))
			}
			addUnit(q, obx.Field(6))
			obs["valueQuantity"] = q
		case "CE", "CWE", "CNE":
			c, _ := codeable(val)
			obs["valueCodeableConcept"] = c
		case "DT", "TS", "DTM":
			t, ok := hl7DateTime(obx.Value(5))
			if !ok {
				return bad(CodeDataType, 5, "OBX-5 %q is not an HL7 date or timestamp", trunc(obx.Value(5), 20))
			}
			obs["valueDateTime"] = t
		case "ST", "TX", "FT", "":
			obs["valueString"] = strings.Join(fieldTexts(val), "\n")
		default:
			return bad(CodeUnsupportedType, 2, "OBX-2 value type %q is not supported (NM, SN, ST, TX, FT, CE, CWE, CNE, DT, TS are)", trunc(vt, 4))
		}
	}
	if v := obx.Value(7); v != "" {
		obs["referenceRange"] = []any{map[string]any{"text": v}}
	}
	var interp []any
	for _, rep := range obx.Field(8) {
		if v := rep.Get(1); v != "" {
			interp = append(interp, map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": v}}})
		}
	}
	if len(interp) > 0 {
		obs["interpretation"] = interp
	}
	return obs, nil
}

// normalizeNumber makes an HL7 number a JSON number: "+1.5" → "1.5",
// ".5" → "0.5", "5." → "5".
func normalizeNumber(s string) string {
	s = strings.TrimPrefix(s, "+")
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if strings.HasPrefix(s, ".") {
		s = "0" + s
	}
	s = strings.TrimSuffix(s, ".")
	for len(s) > 1 && s[0] == '0' && s[1] != '.' {
		s = s[1:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func addUnit(q map[string]any, f Field) {
	if len(f) == 0 {
		return
	}
	rep := f[0]
	code, text, cs := rep.Get(1), rep.Get(2), rep.Get(3)
	if code == "" {
		return
	}
	q["unit"] = code
	if text != "" && cs != "" {
		q["unit"] = text
	}
	if cs == "" || strings.EqualFold(cs, "UCUM") || strings.EqualFold(cs, "ISO+") {
		q["system"] = "http://unitsofmeasure.org"
		q["code"] = code
	}
}

// codeSystems maps HL7 coding system names (table 0396) to FHIR systems.
var codeSystems = map[string]string{
	"LN": "http://loinc.org", "SCT": "http://snomed.info/sct", "SNM": "http://snomed.info/sct", "I10": "http://hl7.org/fhir/sid/icd-10",
	"I10C": "http://hl7.org/fhir/sid/icd-10-cm", "I9C": "http://hl7.org/fhir/sid/icd-9-cm", "UCUM": "http://unitsofmeasure.org",
	"CPT": "http://www.ama-assn.org/go/cpt", "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm", "HL70078": "http://terminology.hl7.org/CodeSystem/v2-0078",
}

// codeable maps a CE/CWE (code^text^system^alt code^alt text^alt system).
func codeable(f Field) (map[string]any, bool) {
	if len(f) == 0 {
		return nil, false
	}
	rep := f[0]
	var codings []any
	for _, base := range []int{1, 4} {
		code, text, cs := rep.Get(base), rep.Get(base+1), rep.Get(base+2)
		if code == "" {
			continue
		}
		c := map[string]any{"code": code}
		if sys, ok := codeSystems[strings.ToUpper(cs)]; ok {
			c["system"] = sys
		} else if cs != "" {
			c["system"] = "urn:medchain:hl7:cs:" + urnPart(cs)
		}
		if text != "" {
			c["display"] = text
		}
		codings = append(codings, c)
	}
	out := map[string]any{}
	if len(codings) > 0 {
		out["coding"] = codings
	}
	if t := rep.Get(2); t != "" {
		out["text"] = t
	}
	return out, len(out) > 0
}

// hl7Date reads YYYY[MM[DD]] (anything after the date is ignored) as a
// FHIR date.
func hl7Date(s string) (string, bool) {
	if len(s) >= 8 {
		s = s[:8]
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	switch len(s) {
	case 4:
		return s, true
	case 6:
		return s[:4] + "-" + s[4:6], validMD(s[4:6], "01")
	case 8:
		return s[:4] + "-" + s[4:6] + "-" + s[6:8], validMD(s[4:6], s[6:8])
	}
	return "", false
}

func validMD(mm, dd string) bool {
	m, _ := strconv.Atoi(mm)
	d, _ := strconv.Atoi(dd)
	return m >= 1 && m <= 12 && d >= 1 && d <= 31
}

// hl7DateTime reads YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ] as a FHIR
// dateTime. A time without an offset is read as UTC (FHIR needs one);
// senders should send MSH-7 style offsets.
func hl7DateTime(s string) (string, bool) {
	zone := ""
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		zone = s[i:]
		s = s[:i]
		if len(zone) != 5 {
			return "", false
		}
		for _, c := range []byte(zone[1:]) {
			if c < '0' || c > '9' {
				return "", false
			}
		}
		zone = zone[:3] + ":" + zone[3:]
	}
	frac := ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		frac = s[i:]
		s = s[:i]
		if len(frac) < 2 || len(s) != 14 {
			return "", false
		}
		for _, c := range []byte(frac[1:]) {
			if c < '0' || c > '9' {
				return "", false
			}
		}
	}
	if len(s) <= 8 {
		return hl7Date(s)
	}
	d, ok := hl7Date(s[:8])
	if !ok {
		return "", false
	}
	t := s[8:]
	for _, c := range []byte(t) {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	switch len(t) {
	case 2:
		t += "0000"
	case 4:
		t += "00"
	case 6:
	default:
		return "", false
	}
	hh, _ := strconv.Atoi(t[:2])
	mi, _ := strconv.Atoi(t[2:4])
	ss, _ := strconv.Atoi(t[4:6])
	if hh > 23 || mi > 59 || ss > 59 {
		return "", false
	}
	if zone == "" || zone == "+00:00" || zone == "-00:00" {
		zone = "Z"
	}
	return d + "T" + t[:2] + ":" + t[2:4] + ":" + t[4:6] + frac + zone, true
}

// LinkResolver resolves a patient by its medchain address when PID-3
// carries one, else through the organization's links (x/links): Find is
// asked for each PID-3 identifier in order, as (system, value), and
// returns the linked patient's address ("" when not linked).
type LinkResolver struct {
	Find func(system, value string) (address string, err error)
}

// Resolve implements Resolver.
func (r LinkResolver) Resolve(ids []Identifier) (string, *Failure) {
	if a, f := (AddressResolver{}).Resolve(ids); f == nil || f.Code != CodeUnknownKey {
		return a, f
	}
	for _, id := range ids {
		a, err := r.Find(id.System, id.Value)
		if err != nil {
			return "", appError(CodeInternal, "PID", 3, "look up the patient's link: %v", err)
		}
		if a != "" {
			return a, nil
		}
	}
	var names []string
	for _, id := range ids {
		names = append(names, id.System)
	}
	return "", appError(CodeUnknownKey, "PID", 3, "no PID-3 identifier is linked to a medchain patient (systems %s): link it (links/link) with the patient's approval or consent",
		strings.Join(names, ", "))
}
