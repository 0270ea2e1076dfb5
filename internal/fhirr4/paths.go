package fhirr4

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// normalizePath rewrites a path reported by google/fhir/go into FHIR JSON
// terms. The library names paths two ways: its parser uses the JSON keys
// ("Observation.valueQuantity.value", "Bundle.entry[0].resource.Observation"),
// its validator uses proto field names ("Observation.value.quantity.value",
// "Bundle.entry[0].resource.observation", "Patient.birthDate.extension[0]").
// Walking the path against the R4 descriptors gives one spelling for both:
// choice elements joined ("valueQuantity"), nested resources marked by their
// type ("resource.Observation"), and extensions of primitives under "_name".
// Whatever cannot be matched is kept as it was.
func normalizePath(path string) string {
	if path == "" {
		return ""
	}
	segs := strings.Split(path, ".")
	out := make([]string, 0, len(segs))
	md := containedDesc
	for i := 0; i < len(segs); i++ {
		if md == nil {
			out = append(out, segs[i:]...)
			break
		}
		name, index := splitIndex(segs[i])
		if md.FullName() == containedDesc.FullName() {
			f := resourceField(name)
			if f == nil {
				out = append(out, segs[i:]...)
				break
			}
			out = append(out, string(f.Message().Name())+index)
			md = f.Message()
			continue
		}
		if isPrimitive(md) && (name == "extension" || name == "id") && len(out) > 0 {
			// An extension on a primitive is written beside it as "_name".
			prev := out[len(out)-1]
			if !strings.HasPrefix(prev, "_") {
				out[len(out)-1] = "_" + prev
			}
		}
		f, seg := field(md, name)
		if f == nil {
			out = append(out, segs[i:]...)
			break
		}
		md = f.Message()
		if isChoice(md) && seg == f.JSONName() && i+1 < len(segs) {
			// Validator spelling: "value" then "quantity".
			opt, optIndex := splitIndex(segs[i+1])
			if of := md.Fields().ByJSONName(opt); of != nil {
				seg = f.JSONName() + upperFirst(opt)
				index = optIndex
				md = of.Message()
				i++
			}
		}
		out = append(out, seg+index)
	}
	return strings.Join(out, ".")
}

var containedDesc = (&r4pb.ContainedResource{}).ProtoReflect().Descriptor()

// resourceField finds the ContainedResource field for a resource, by type
// name ("Observation") or by field JSON name ("observation").
func resourceField(name string) protoreflect.FieldDescriptor {
	oneof := containedDesc.Oneofs().ByName("oneof_resource")
	fields := oneof.Fields()
	if f := fields.ByJSONName(name); f != nil && f.ContainingOneof() == oneof {
		return f
	}
	for i := 0; i < fields.Len(); i++ {
		if f := fields.Get(i); string(f.Message().Name()) == name {
			return f
		}
	}
	return nil
}

// field finds the field of md that a path segment names, in either spelling,
// and returns it with the segment as FHIR JSON spells it.
func field(md protoreflect.MessageDescriptor, name string) (protoreflect.FieldDescriptor, string) {
	if f := md.Fields().ByJSONName(name); f != nil {
		return f, name
	}
	if strings.HasPrefix(name, "_") {
		if f := md.Fields().ByJSONName(name[1:]); f != nil {
			return f, name
		}
	}
	// Parser spelling of a choice element: "valueQuantity".
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if f.Message() == nil || !isChoice(f.Message()) || !strings.HasPrefix(name, f.JSONName()) {
			continue
		}
		opt := lowerFirst(strings.TrimPrefix(name, f.JSONName()))
		if of := f.Message().Fields().ByJSONName(opt); of != nil {
			// Report the choice option's type as the element's type, so a
			// following segment is looked up in Quantity, not Observation.ValueX.
			return of, name
		}
	}
	return nil, ""
}

// splitIndex splits "entry[0]" into "entry" and "[0]".
func splitIndex(seg string) (name, index string) {
	if i := strings.IndexByte(seg, '['); i >= 0 {
		return seg[:i], seg[i:]
	}
	return seg, ""
}

func isChoice(md protoreflect.MessageDescriptor) bool {
	return md != nil && proto.HasExtension(md.Options(), apb.E_IsChoiceType)
}

func isPrimitive(md protoreflect.MessageDescriptor) bool {
	kind, _ := proto.GetExtension(md.Options(), apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue)
	return kind == apb.StructureDefinitionKindValue_KIND_PRIMITIVE_TYPE
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
