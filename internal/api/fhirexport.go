package api

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
)

// FHIR identifier systems for medchain's on-chain identities.
const (
	SystemAddress = "urn:medchain:address"
	SystemOrg     = "urn:medchain:org"
	SystemRecord  = "urn:medchain:record"
)

type obj = map[string]any

func writeFHIR(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func fhirTime(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }

func identRef(system, value string) obj {
	return obj{"identifier": obj{"system": system, "value": value}}
}

func addrRef(a crypto.Address) obj { return identRef(SystemAddress, a.String()) }

func partyRef(p consent.Party) obj {
	if p.Kind == consent.PartyOrg {
		return identRef(SystemOrg, p.Org)
	}
	return addrRef(p.Address)
}

func coding(system, code string) obj { return obj{"system": system, "code": code} }

// purposeCodes maps purposes to HL7 v3 ActReason codes.
var purposeCodes = map[string]string{
	consent.PurposeTreatment:    "TREAT",
	consent.PurposeResearch:     "HRESCH",
	consent.PurposePayment:      "HPAYMT",
	consent.PurposeOperations:   "HOPERAT",
	consent.PurposePublicHealth: "PUBHLTH",
	consent.PurposeCare:         "CAREMGT",
	consent.PurposeEmergency:    "ETREAT",
}

const actReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

// fhirConsent exports a consent as a FHIR R4 Consent resource.
func fhirConsent(c *consent.Consent, now int64) obj {
	status := "active"
	if c.Status(now) != "active" {
		status = "inactive"
	}
	var actions []any
	if c.Actions&consent.ActRead != 0 {
		actions = append(actions, obj{"coding": []any{coding("http://terminology.hl7.org/CodeSystem/consentaction", "access")}})
	}
	if c.Actions&consent.ActWrite != 0 {
		actions = append(actions, obj{"coding": []any{coding("http://terminology.hl7.org/CodeSystem/consentaction", "correct")}})
	}
	period := obj{"start": fhirTime(c.Start)}
	end := c.Until
	if c.Revoked != 0 && (end == 0 || c.Revoked < end) {
		end = c.Revoked
	}
	if end != 0 {
		period["end"] = fhirTime(end)
	}
	prov := obj{
		"type":   "permit",
		"period": period,
		"actor": []any{obj{
			"role":      obj{"coding": []any{coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP")}},
			"reference": partyRef(c.Grantee),
		}},
		"action":  actions,
		"purpose": []any{coding(actReason, purposeCodes[c.Purpose])},
	}
	if len(c.Types) > 0 {
		var classes []any
		for _, t := range c.Types {
			classes = append(classes, coding("http://hl7.org/fhir/resource-types", t))
		}
		prov["class"] = classes
	}
	if len(c.Records) > 0 {
		var data []any
		for _, id := range c.Records {
			data = append(data, obj{"meaning": "instance", "reference": identRef(SystemRecord, hex.EncodeToString(id[:]))})
		}
		prov["data"] = data
	}
	return obj{
		"resourceType": "Consent",
		"id":           strconv.FormatUint(c.ID, 10),
		"status":       status,
		"scope":        obj{"coding": []any{coding("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy")}},
		"category":     []any{obj{"coding": []any{coding("http://loinc.org", "59284-0")}}},
		"patient":      addrRef(c.Patient),
		"dateTime":     fhirTime(c.Start),
		"performer":    []any{addrRef(c.Grantor)},
		"policyRule":   obj{"coding": []any{coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN")}},
		"provision":    prov,
	}
}

// fhirAuditEvent exports an access event as a FHIR R4 AuditEvent.
func fhirAuditEvent(e audit.Event) obj {
	outcome := "0"
	if !e.Served {
		outcome = "4"
	}
	ae := obj{
		"resourceType": "AuditEvent",
		"id":           strconv.FormatUint(e.Seq, 10),
		"type":         coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest"),
		"subtype":      []any{coding("http://hl7.org/fhir/restful-interaction", "read")},
		"action":       "R",
		"recorded":     fhirTime(e.Time),
		"outcome":      outcome,
		"agent":        []any{obj{"who": addrRef(e.Accessor), "requestor": true}},
		"source":       obj{"observer": identRef(SystemOrg, e.Node)},
		"entity": []any{
			obj{"what": identRef(SystemRecord, hex.EncodeToString(e.Record[:]))},
			obj{"what": addrRef(e.Patient), "type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1")},
		},
	}
	if e.Reason != "" {
		ae["outcomeDesc"] = e.Reason
	}
	if e.ConsentID != 0 {
		// The consent the access was decided under, and its condition.
		ent := obj{"what": obj{"reference": "Consent/" + strconv.FormatUint(e.ConsentID, 10)}, "type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2")}
		if e.Condition != "" {
			ent["detail"] = []any{obj{"type": "condition", "valueString": e.Condition}}
		}
		ae["entity"] = append(ae["entity"].([]any), ent)
	}
	if e.Flagged() {
		ae["purposeOfEvent"] = []any{obj{"coding": []any{coding(actReason, "ETREAT")}, "text": "emergency access " + strconv.FormatUint(e.EmergencyID, 10)}}
	}
	return ae
}

func bundle(entries []any) obj {
	return obj{"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
}

func consentBundle(cs []*consent.Consent, now int64) obj {
	entries := []any{}
	for _, c := range cs {
		entries = append(entries, obj{"resource": fhirConsent(c, now)})
	}
	return bundle(entries)
}

func auditBundle(evs []audit.Event) obj {
	entries := []any{}
	for _, e := range evs {
		entries = append(entries, obj{"resource": fhirAuditEvent(e)})
	}
	return bundle(entries)
}
