package fhirsubject

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"

	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/consent"
)

// Codespace of the errors below.
const Codespace = "subject"

var (
	// ErrOtherPatient: the resource names a patient other than the one its
	// record is registered for.
	ErrOtherPatient = sm.Register(Codespace, 1, "the resource is about another patient than the one it is filed under")
	// ErrUnresolved: the resource's patient reference names no medchain
	// patient (not Patient/mc… nor the id of a Patient record).
	ErrUnresolved = sm.Register(Codespace, 2, "the resource's patient reference does not name a medchain patient")
)

// SystemAddress is the identifier system of a medchain account address; a
// Patient resource names its medchain patient with it.
const SystemAddress = "urn:medchain:address"

// patientElements are the element names FHIR R4 uses for "the patient this
// resource is about", in the order they are looked for. No R4 resource type
// has more than one of them as a single Reference.
var patientElements = []protoreflect.Name{"subject", "patient", "beneficiary"}

// elements maps each R4 resource type to its patient element, from
// google/fhir/go's R4 definitions: a single Reference named subject, patient
// or beneficiary (Observation.subject, AllergyIntolerance.patient,
// Coverage.beneficiary, ...).
var elements = sync.OnceValue(func() map[string]string {
	desc := (&r4pb.ContainedResource{}).ProtoReflect().Descriptor()
	fields := desc.Oneofs().ByName("oneof_resource").Fields()
	out := map[string]string{}
	for i := 0; i < fields.Len(); i++ {
		m := fields.Get(i).Message()
		for _, n := range patientElements {
			f := m.Fields().ByName(n)
			if f != nil && !f.IsList() && f.Message() != nil && f.Message().Name() == "Reference" {
				out[string(m.Name())] = string(n)
				break
			}
		}
	}
	return out
})

// Element returns the element of resource type typ that names the patient
// it is about ("subject", "patient" or "beneficiary"), "" when the type has
// none (Patient itself, Medication, Practitioner, ...).
func Element(typ string) string { return elements()[typ] }

// Reference returns the reference string of res's patient element (res is
// the resource as decoded JSON) and whether the element is present at all.
// A present element without a literal reference (a logical, identifier-only
// reference) gives "", true.
func Reference(typ string, res map[string]any) (string, bool) {
	el := Element(typ)
	if el == "" {
		return "", false
	}
	v, ok := res[el]
	if !ok {
		return "", false
	}
	m, _ := v.(map[string]any)
	s, _ := m["reference"].(string)
	return s, true
}

// AddressIdentifier returns the value of a Patient's urn:medchain:address
// identifier.
func AddressIdentifier(res map[string]any) (string, bool) {
	ids, _ := res["identifier"].([]any)
	for _, v := range ids {
		m, _ := v.(map[string]any)
		if s, _ := m["system"].(string); s == SystemAddress {
			v, _ := m["value"].(string)
			return v, true
		}
	}
	return "", false
}

// Lookup finds a record: the patient it is registered for and its resource
// type; ok is false when there is no such (unerased) record.
type Lookup func(id consent.RecordID) (patient crypto.Address, typ string, ok bool)

// Resolve resolves a literal patient reference: "Patient/mc…" (an account
// address) or "Patient/{id}" where id is the 32-hex id of a Patient record,
// either optionally under base (this server's FHIR base URL, "" for none).
// It does not check that the address is a registered patient.
func Resolve(ref, base string, lookup Lookup) (crypto.Address, error) {
	rel := ref
	if base != "" {
		rel = strings.TrimPrefix(ref, strings.TrimRight(base, "/")+"/")
	}
	id, ok := strings.CutPrefix(rel, "Patient/")
	if !ok || id == "" {
		return crypto.Address{}, sm.Wrapf(ErrUnresolved, "reference %q does not name a Patient (Patient/mc… or Patient/{id of a Patient record})", ref)
	}
	if a, err := crypto.ParseAddress(id); err == nil {
		return a, nil
	}
	if rid, ok := parseRecordID(id); ok && lookup != nil {
		if p, typ, ok := lookup(rid); ok && typ == "Patient" {
			return p, nil
		}
	}
	return crypto.Address{}, sm.Wrapf(ErrUnresolved, "reference %q: no such Patient (want Patient/mc… or Patient/{id of a Patient record})", ref)
}

func parseRecordID(s string) (consent.RecordID, bool) {
	var id consent.RecordID
	if len(s) != 2*consent.RecordIDSize || strings.ToLower(s) != s {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err == nil
}

// Check reports whether res, a FHIR R4 resource of type typ as decoded
// JSON, may be filed under patient: its patient element, when present, must
// resolve to patient; a Patient's urn:medchain:address identifier, when
// present, must be patient's address. In a Bundle every entry's resource is
// checked, and a reference to another entry's fullUrl resolves to that
// entry's Patient. A resource whose type has no patient element, or that
// leaves it out, is about the patient it is registered for.
func Check(typ string, res map[string]any, patient crypto.Address, base string, lookup Lookup) error {
	if typ != "Bundle" {
		return checkOne("", typ, res, patient, base, lookup, nil)
	}
	entries, _ := res["entry"].([]any)
	local := map[string]string{} // fullUrl → the Patient entry's address identifier
	for _, e := range entries {
		m, _ := e.(map[string]any)
		r, _ := m["resource"].(map[string]any)
		full, _ := m["fullUrl"].(string)
		if t, _ := r["resourceType"].(string); t == "Patient" && full != "" {
			a, _ := AddressIdentifier(r)
			local[full] = a
		}
	}
	for i, e := range entries {
		m, _ := e.(map[string]any)
		r, _ := m["resource"].(map[string]any)
		if r == nil {
			continue
		}
		t, _ := r["resourceType"].(string)
		if err := checkOne(fmt.Sprintf("Bundle.entry[%d].resource: ", i), t, r, patient, base, lookup, local); err != nil {
			return err
		}
	}
	return nil
}

func checkOne(prefix, typ string, res map[string]any, patient crypto.Address, base string, lookup Lookup, local map[string]string) error {
	if typ == "Patient" {
		v, ok := AddressIdentifier(res)
		if ok && v != patient.String() {
			return sm.Wrapf(ErrOtherPatient, "%sthe Patient's %s identifier is %s, the record is filed under %s", prefix, SystemAddress, v, patient)
		}
		return nil
	}
	ref, ok := Reference(typ, res)
	if !ok {
		return nil
	}
	el := typ + "." + Element(typ)
	if ref == "" {
		return sm.Wrapf(ErrUnresolved, "%s%s needs a literal reference to the patient (Patient/%s)", prefix, el, patient)
	}
	var got crypto.Address
	if v, isLocal := local[ref]; isLocal {
		a, err := crypto.ParseAddress(v)
		if err != nil {
			return sm.Wrapf(ErrUnresolved, "%s%s: the Bundle's Patient %q has no valid %s identifier", prefix, el, ref, SystemAddress)
		}
		got = a
	} else {
		a, err := Resolve(ref, base, lookup)
		if err != nil {
			return fmt.Errorf("%s%s: %w", prefix, el, err)
		}
		got = a
	}
	if got != patient {
		return sm.Wrapf(ErrOtherPatient, "%s%s names patient %s, the record is filed under %s", prefix, el, got, patient)
	}
	return nil
}
