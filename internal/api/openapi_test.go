package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes keeps the OpenAPI document true: every route the
// server registers is documented with its method, and nothing else is.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(documented)
	s := New(nil, Options{})
	served := slices.Clone(s.routes)
	slices.Sort(served)
	if !slices.Equal(served, documented) {
		t.Errorf("routes and OpenAPI paths differ:\n served     %v\n documented %v", served, documented)
	}
}

// TestOpenAPISecurity keeps the document's security true: each operation
// says whether it needs a signed request exactly as the server enforces it,
// a public one says why it is public, a signed one whose grounds suffice.
func TestOpenAPISecurity(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Components.SecuritySchemes["signedRequest"] == nil {
		t.Fatal("components.securitySchemes.signedRequest is missing")
	}
	s := New(nil, Options{})
	want := map[string]string{
		accessPublic:   `[]`,
		accessSigned:   `[{"signedRequest":[]}]`,
		accessOptional: `[{},{"signedRequest":[]}]`,
	}
	for _, route := range s.routes {
		method, path, _ := strings.Cut(route, " ")
		op := doc.Paths[path][strings.ToLower(method)]
		if op == nil {
			continue // TestOpenAPICoversRoutes reports it
		}
		sec, ok := op["security"]
		if !ok {
			t.Errorf("%s: no security (say [] and x-public-reason for a public operation)", route)
			continue
		}
		got, _ := json.Marshal(sec)
		class := s.routeAccess[route]
		if string(got) != want[class] {
			t.Errorf("%s: security %s, but the server treats it as %s (%s)", route, got, class, want[class])
		}
		switch class {
		case accessPublic:
			if r, _ := op["x-public-reason"].(string); r == "" {
				t.Errorf("%s is public without an x-public-reason", route)
			}
		default:
			if a, _ := op["x-authorization"].(string); a == "" {
				t.Errorf("%s needs a signature but says nothing in x-authorization about who may call it", route)
			}
		}
	}
	// The patient-scoped reads the issue names are never public.
	for _, route := range []string{
		"GET /v1/patients/{address}/audit", "GET /v1/patients/{address}/consents", "GET /v1/patients/{address}/records",
		"GET /v1/patients/{address}/emergencies", "GET /v1/records/{id}", "GET /v1/consents/{id}",
	} {
		if s.routeAccess[route] != accessSigned {
			t.Errorf("%s is %q, want signed", route, s.routeAccess[route])
		}
	}
}
