package fhir

import (
	"net/http"
	"slices"

	"github.com/medchain/medchain/internal/fhirr4"
)

// Version of the FHIR interface's software, in the CapabilityStatement.
const softwareVersion = "0.1.0"

// capability builds the CapabilityStatement: exactly the interactions,
// search parameters and operations this server implements.
// Conditional create and update, and conditional references, need the
// organization's link key (Config.Links): they are listed only with it.
func capability(base string, conditional bool) map[string]any {
	common := []any{
		sp("_id", "token", "record id"),
		sp("_lastUpdated", "date", "block time of the latest version"),
		sp("patient", "reference", "the medchain patient: Patient/{id} or Patient/mc…"),
		sp("subject", "reference", "same as patient"),
		sp("identifier", "token", "Resource.identifier"),
	}
	var resources []any
	for _, t := range fhirr4.ResourceTypes() {
		if chainViews[t] {
			params := []any{sp("patient", "reference", "the patient whose "+t+"s to list"), sp("_id", "token", "")}
			if t == "ResearchStudy" { // public registrations: no patient
				params = []any{sp("_id", "token", "the trial's NCT number")}
			}
			for _, d := range dateParams[t] {
				params = append(params, sp(d.name, "date", ""))
			}
			for _, tk := range tokenParams[t] {
				params = append(params, sp(tk.name, "token", ""))
			}
			resources = append(resources, map[string]any{
				"type":          t,
				"interaction":   []any{map[string]any{"code": "search-type"}},
				"searchParam":   params,
				"documentation": t + " resources are views of the chain, read-only",
			})
			continue
		}
		if !storable(t) {
			continue
		}
		params := slices.Clone(common)
		for _, d := range dateParams[t] {
			params = append(params, sp(d.name, "date", ""))
		}
		for _, tk := range tokenParams[t] {
			params = append(params, sp(tk.name, "token", ""))
		}
		r := map[string]any{
			"type": t,
			"interaction": []any{
				map[string]any{"code": "read"}, map[string]any{"code": "vread"}, map[string]any{"code": "update"},
				map[string]any{"code": "delete"}, map[string]any{"code": "history-instance"},
				map[string]any{"code": "create"}, map[string]any{"code": "search-type"},
			},
			"versioning":        "versioned-update",
			"readHistory":       true,
			"updateCreate":      false,
			"conditionalCreate": conditional,
			"conditionalRead":   "not-supported",
			"conditionalUpdate": conditional,
			"conditionalDelete": "not-supported",
			"searchParam":       params,
		}
		if t == "Patient" {
			r["operation"] = []any{map[string]any{"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
				map[string]any{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"}}
		}
		resources = append(resources, r)
	}
	return map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         "2026-11-01",
		"kind":         "instance",
		"software":     map[string]any{"name": "medchain", "version": softwareVersion},
		"implementation": map[string]any{
			"description": "medchain node: FHIR R4 over encrypted, consent-controlled, audited records",
			"url":         base,
		},
		"fhirVersion": "4.0.1",
		"format":      []any{"application/fhir+json", "json"},
		"rest": []any{map[string]any{
			"mode": "server",
			"security": map[string]any{
				"service": []any{map[string]any{"coding": []any{map[string]any{
					"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}}}},
				"description": "Bearer tokens from POST /fhir/auth/token after a signed challenge (POST /fhir/auth/challenge), with SMART scopes",
				"extension": []any{map[string]any{
					"url":       "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
					"extension": []any{map[string]any{"url": "token", "valueUri": base + "/auth/token"}},
				}},
			},
			"resource":    resources,
			"interaction": []any{map[string]any{"code": "transaction"}, map[string]any{"code": "batch"}},
			"searchParam": []any{sp("_count", "number", "page size"), sp("_sort", "special", "date or _lastUpdated, - for descending")},
			"operation": []any{ // Bulk Data (bulk.go); Group/{organization id}/$export too
				map[string]any{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"},
				map[string]any{"name": "import", "definition": "urn:medchain:operation:import", "documentation": "POST application/fhir+ndjson with Prefer: respond-async"}},
		}},
	}
}

func sp(name, typ, doc string) map[string]any {
	m := map[string]any{"name": name, "type": typ}
	if doc != "" {
		m["documentation"] = doc
	}
	return m
}

// metadata serves GET /fhir/metadata; it needs no token.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	writeJSONValue(w, http.StatusOK, capability(baseURL(r), s.cfg.Links != nil))
}
