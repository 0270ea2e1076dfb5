package api

import (
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
)

// FHIRConsent exports a consent as a FHIR R4 Consent resource, as
// GET /v1/consents/{id}?format=fhir does; now is the block time that decides
// whether it is active. The FHIR interface (internal/fhir) serves the same.
func FHIRConsent(c *consent.Consent, now int64) map[string]any { return fhirConsent(c, now) }

// FHIRAuditEvent exports an access event as a FHIR R4 AuditEvent, as
// GET /v1/patients/{address}/audit?format=fhir does.
func FHIRAuditEvent(e audit.Event) map[string]any { return fhirAuditEvent(e) }
