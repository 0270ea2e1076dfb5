package fhirr4

import (
	"fmt"
	"slices"
	"sync"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/google/fhir/go/jsonformat/fhirvalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// Resource is a parsed, valid FHIR R4 resource.
type Resource struct {
	Type string // resource type: "Observation", "Bundle", ...
	ID   string // logical id, "" when absent

	// Subject is the reference in the resource's subject or patient element,
	// as written ("Patient/123", "urn:uuid:..."), "" when there is none or it
	// is a logical (identifier-only) reference. A Patient is its own subject:
	// "Patient/<id>" when it has an id.
	Subject string

	Bundle  bool // Type == "Bundle"
	Entries int  // number of Bundle.entry; 0 for other resources

	// Proto is the parsed resource, for code that needs more than the fields
	// above. Changing it changes what JSON returns.
	Proto *r4pb.ContainedResource
}

// codecs are google/fhir/go's unmarshaller and marshaller, built once. Both
// hold only settings after construction, so they are safe for concurrent use.
type codecs struct {
	unmarshal *jsonformat.Unmarshaller
	marshal   *jsonformat.Marshaller
}

var getCodecs = sync.OnceValues(func() (codecs, error) {
	// Time zone for dates without one (a bare "2024-03-01"). Fixed, so that
	// parsing does not depend on the machine.
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return codecs{}, fmt.Errorf("fhirr4: unmarshaller: %w", err)
	}
	// checkJSON already bounds the depth of the JSON; this bounds the
	// library's own recursion as well, counting path segments.
	u.MaxNestingDepth = 2 * MaxDepth
	m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return codecs{}, fmt.Errorf("fhirr4: marshaller: %w", err)
	}
	return codecs{unmarshal: u, marshal: m}, nil
})

// Parse reads one FHIR R4 resource (a Bundle included) from JSON and
// validates it. Invalid input yields an *InvalidError, matched by
// errors.Is(err, ErrInvalid), whose issues name the offending elements.
func Parse(data []byte) (*Resource, error) {
	c, err := getCodecs()
	if err != nil {
		return nil, err
	}
	bad, contained := checkJSON(data)
	if bad != nil {
		return nil, bad
	}
	msg, err := c.unmarshal.UnmarshalR4(data)
	if err != nil {
		return nil, fromLibrary(err)
	}
	// The library validates contained resources only as far as parsing goes;
	// their required fields and references are checked here.
	if contained {
		if issues := validateContained(msg); len(issues) > 0 {
			return nil, invalid(issues...)
		}
	}
	return describe(msg), nil
}

// fromLibrary turns an error from google/fhir/go into an *InvalidError.
func fromLibrary(err error) error {
	errs, ok := libraryErrors(err)
	if !ok {
		// Not a verdict the library explains: its text may quote the input,
		// so it is not passed on.
		return invalid(Issue{Problem: "rejected by the FHIR R4 parser"})
	}
	issues := make([]Issue, 0, len(errs))
	for _, e := range errs {
		issues = append(issues, issueOf(e))
	}
	return invalid(issues...)
}

// JSON returns the resource as canonical FHIR R4 JSON: google/fhir/go's
// marshaller, with object keys sorted and no insignificant white space.
// Parse(JSON()) gives back an equal resource, and JSON is stable under that
// round trip, so its bytes can be hashed.
func (r *Resource) JSON() ([]byte, error) {
	c, err := getCodecs()
	if err != nil {
		return nil, err
	}
	out, err := c.marshal.Marshal(r.Proto)
	if err != nil {
		return nil, fmt.Errorf("fhirr4: marshal %s: %w", r.Type, err)
	}
	return out, nil
}

// describe fills a Resource from a parsed ContainedResource.
func describe(cr *r4pb.ContainedResource) *Resource {
	res := resourceOf(cr)
	r := &Resource{
		Type:  string(res.Descriptor().Name()),
		Proto: cr,
	}
	if id, ok := messageField(res, "id").(*d4pb.Id); ok {
		r.ID = id.GetValue()
	}
	for _, name := range []protoreflect.Name{"subject", "patient"} {
		if ref, ok := messageField(res, name).(*d4pb.Reference); ok {
			r.Subject = referenceString(ref)
			break
		}
	}
	if r.Type == "Patient" && r.ID != "" {
		r.Subject = "Patient/" + r.ID
	}
	if b := cr.GetBundle(); b != nil {
		r.Bundle = true
		r.Entries = len(b.GetEntry())
	}
	return r
}

// resourceOf returns the resource inside a ContainedResource.
func resourceOf(cr *r4pb.ContainedResource) protoreflect.Message {
	m := cr.ProtoReflect()
	f := m.WhichOneof(m.Descriptor().Oneofs().ByName("oneof_resource"))
	if f == nil {
		return nil
	}
	return m.Get(f).Message()
}

// messageField returns the singular message field name of m, or nil when m
// has no such field or it is unset.
func messageField(m protoreflect.Message, name protoreflect.Name) proto.Message {
	f := m.Descriptor().Fields().ByName(name)
	if f == nil || f.Message() == nil || f.IsList() || !m.Has(f) {
		return nil
	}
	return m.Get(f).Message().Interface()
}

// referenceString gives a Reference's reference element as FHIR JSON writes
// it; the library stores "Patient/123" split into type and id.
func referenceString(ref *d4pb.Reference) string {
	ref = proto.Clone(ref).(*d4pb.Reference)
	if err := jsonformat.DenormalizeReference(ref); err != nil {
		return ""
	}
	return ref.GetUri().GetValue()
}

var resourceTypes = sync.OnceValue(func() []string {
	fields := containedDesc.Oneofs().ByName("oneof_resource").Fields()
	names := make([]string, 0, fields.Len())
	for i := 0; i < fields.Len(); i++ {
		names = append(names, string(fields.Get(i).Message().Name()))
	}
	slices.Sort(names)
	return names
})

// ResourceTypes returns the names of the FHIR R4 resource types, sorted, as
// google/fhir/go's R4 ContainedResource defines them. The slice is the
// caller's.
func ResourceTypes() []string {
	return slices.Clone(resourceTypes())
}

// IsResourceType reports whether name is an R4 resource type, spelt exactly.
func IsResourceType(name string) bool {
	_, ok := slices.BinarySearch(resourceTypes(), name)
	return ok
}

// validateContained runs the library's validator (required fields, primitive
// formats, reference targets) on every contained resource, which the
// library's unmarshaller stores as opaque Any messages and does not visit.
func validateContained(cr *r4pb.ContainedResource) []Issue {
	var issues []Issue
	walkContained(cr.ProtoReflect(), "", func(path string, inner *r4pb.ContainedResource, err error) {
		if err != nil {
			issues = append(issues, Issue{Path: path, Problem: "unreadable contained resource"})
			return
		}
		verr := fhirvalidate.Validate(inner)
		if verr == nil {
			return
		}
		errs, ok := libraryErrors(verr)
		if !ok {
			issues = append(issues, Issue{Path: path, Problem: "rejected by the FHIR R4 validator"})
			return
		}
		for _, e := range errs {
			is := issueOf(e)
			is.Path = join(path, is.Path)
			issues = append(issues, is)
		}
	})
	return issues
}

// walkContained calls visit for each resource in a "contained" list below m,
// with its path in FHIR JSON terms. path is m's path as the library's
// validator spells it.
func walkContained(m protoreflect.Message, path string, visit func(string, *r4pb.ContainedResource, error)) {
	if isPrimitive(m.Descriptor()) {
		return
	}
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f.Message() == nil {
			return true
		}
		p := join(path, f.JSONName())
		if path == "" {
			p = upperFirst(f.JSONName()) // as fhirvalidate names the root
		}
		if !f.IsList() {
			walkContained(v.Message(), p, visit)
			return true
		}
		list := v.List()
		for i := 0; i < list.Len(); i++ {
			elem := list.Get(i).Message()
			ip := fmt.Sprintf("%s[%d]", p, i)
			if packed, ok := elem.Interface().(*anypb.Any); ok && f.Name() == "contained" {
				inner := &r4pb.ContainedResource{}
				err := packed.UnmarshalTo(inner)
				visit(normalizePath(ip), inner, err)
				if err == nil {
					walkContained(inner.ProtoReflect(), "", func(q string, cr *r4pb.ContainedResource, err error) {
						visit(join(normalizePath(ip), q), cr, err)
					})
				}
				continue
			}
			walkContained(elem, ip, visit)
		}
		return true
	})
}
