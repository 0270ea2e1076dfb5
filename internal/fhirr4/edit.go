package fhirr4

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
)

// SetID parses a resource, gives it the logical id id, meta.versionId
// versionID and meta.lastUpdated lastUpdated, and returns it as canonical
// JSON (see Resource.JSON). These are the elements a FHIR server assigns, so
// whatever the client put there is replaced: an empty versionID or a zero
// lastUpdated removes that element. lastUpdated is written in UTC, truncated
// to the microsecond. The time is the caller's; SetID reads no clock.
func SetID(data []byte, id, versionID string, lastUpdated time.Time) ([]byte, error) {
	r, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, invalid(Issue{Path: r.Type + ".id", Problem: "invalid id"})
	}
	if versionID != "" && !validID(versionID) {
		return nil, invalid(Issue{Path: r.Type + ".meta.versionId", Problem: "invalid id"})
	}
	res := resourceOf(r.Proto)
	idField, metaField := res.Descriptor().Fields().ByName("id"), res.Descriptor().Fields().ByName("meta")
	if !hasType(idField, &d4pb.Id{}) || !hasType(metaField, &d4pb.Meta{}) {
		return nil, fmt.Errorf("fhirr4: %s has no id or meta of the usual types", r.Type)
	}
	res.Set(idField, protoreflect.ValueOfMessage((&d4pb.Id{Value: id}).ProtoReflect()))

	meta := &d4pb.Meta{}
	if old, ok := messageField(res, "meta").(*d4pb.Meta); ok {
		meta = old
	}
	meta.VersionId = nil
	if versionID != "" {
		meta.VersionId = &d4pb.Id{Value: versionID}
	}
	meta.LastUpdated = nil
	if !lastUpdated.IsZero() {
		meta.LastUpdated = instant(lastUpdated)
	}
	if proto.Size(meta) == 0 {
		res.Clear(metaField) // FHIR JSON has no empty objects
	} else {
		res.Set(metaField, protoreflect.ValueOfMessage(meta.ProtoReflect()))
	}
	return r.JSON()
}

// validID reports whether s matches the FHIR id type: [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func hasType(f protoreflect.FieldDescriptor, m proto.Message) bool {
	return f != nil && !f.IsList() && f.Message() != nil &&
		f.Message().FullName() == m.ProtoReflect().Descriptor().FullName()
}

// instant converts t to a FHIR instant in UTC, with the least precision
// (second, millisecond or microsecond) that keeps it exact after truncation
// to the microsecond.
func instant(t time.Time) *d4pb.Instant {
	t = t.UTC().Truncate(time.Microsecond)
	p := d4pb.Instant_MICROSECOND
	switch {
	case t.Nanosecond() == 0:
		p = d4pb.Instant_SECOND
	case t.Nanosecond()%int(time.Millisecond) == 0:
		p = d4pb.Instant_MILLISECOND
	}
	return &d4pb.Instant{ValueUs: t.UnixMicro(), Timezone: "Z", Precision: p}
}

// Equal reports whether two resources are the same FHIR content, whatever
// their key order, white space or reference spelling. It ignores the
// top-level id and meta elements (those a server assigns) and any other
// top-level elements named in ignore, by their JSON name ("text"; a choice
// element as "effective" or "effective[x]"). Both must be valid: an invalid
// one gives an error matching ErrInvalid. Values keep their precision, as
// FHIR says: 5.4 and 5.40 differ.
func Equal(a, b []byte, ignore ...string) (bool, error) {
	ra, err := Parse(a)
	if err != nil {
		return false, fmt.Errorf("fhirr4: first resource: %w", err)
	}
	rb, err := Parse(b)
	if err != nil {
		return false, fmt.Errorf("fhirr4: second resource: %w", err)
	}
	if ra.Type != rb.Type {
		return false, nil
	}
	names := append([]string{"id", "meta"}, ignore...)
	for _, r := range []*Resource{ra, rb} {
		res := resourceOf(r.Proto)
		for _, name := range names {
			f := res.Descriptor().Fields().ByJSONName(strings.TrimSuffix(name, "[x]"))
			if f == nil {
				return false, fmt.Errorf("fhirr4: %s has no element %q", r.Type, name)
			}
			res.Clear(f)
		}
	}
	return proto.Equal(ra.Proto, rb.Proto), nil
}
