package api

import (
	"encoding/hex"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/trials"
)

// FHIR R4 views of trials: ResearchStudy and ResearchSubject, read-only
// exports of chain state (like Consent and AuditEvent).
const (
	// SystemNCT is the identifier system of ClinicalTrials.gov registry numbers.
	SystemNCT = "https://clinicaltrials.gov"
	// ExtBase is the base of medchain's FHIR extension URLs.
	ExtBase = "https://medchain.dev/fhir/StructureDefinition/"
	// objectiveTypes is R4's research-study-objective-type code system.
	objectiveTypes = "http://terminology.hl7.org/CodeSystem/research-study-objective-type"
)

// researchStudyStatus maps a trial's status to R4's research-study-status.
var researchStudyStatus = map[string]string{
	trials.StatusRecruiting: "active",
	trials.StatusLocked:     "closed-to-accrual-and-intervention",
	trials.StatusCompleted:  "completed",
}

func ext(name string, value string, v any) obj { return obj{"url": ExtBase + name, value: v} }

// FHIRResearchStudy exports a trial as a FHIR R4 ResearchStudy: the NCT
// number as identifier, status, sponsor and sites (organizations by their
// medchain id), the protocol version in force and its document hashes as
// extensions, and that version's pre-registered outcomes as objectives
// (type primary or secondary, the time frame as an extension).
func FHIRResearchStudy(kv store.Reader, t *trials.Trial) map[string]any {
	var sites []any
	for _, s := range t.Sites {
		r := identRef(SystemOrg, s)
		r["display"] = s
		sites = append(sites, r)
	}
	exts := []any{
		ext("trial-protocol-version", "valuePositiveInt", int(t.Version)),
		ext("trial-planned-enrollment", "valueUnsignedInt", int(t.Planned)),
	}
	var objectives []any
	if v := trials.GetVersion(kv, t.ID, t.Version); v != nil {
		exts = append(exts,
			ext("trial-protocol-hash", "valueString", hex.EncodeToString(v.ProtocolHash[:])),
			ext("trial-sap-hash", "valueString", hex.EncodeToString(v.SAPHash[:])))
		for _, o := range v.Outcomes {
			objectives = append(objectives, obj{
				"extension": []any{ext("trial-outcome-time-frame", "valueString", o.TimeFrame)},
				"name":      o.Measure,
				"type":      obj{"coding": []any{coding(objectiveTypes, o.TypeName())}},
			})
		}
	}
	if r := trials.GetResults(kv, t.ID); r != nil {
		exts = append(exts,
			ext("trial-results-hash", "valueString", hex.EncodeToString(r.ReportHash[:])),
			ext("trial-outcome-switching", "valueBoolean", !r.Switching.None()),
			ext("trial-outcomes-added", "valueUnsignedInt", len(r.Switching.Added)),
			ext("trial-outcomes-dropped", "valueUnsignedInt", len(r.Switching.Dropped)),
			ext("trial-outcomes-changed", "valueUnsignedInt", len(r.Switching.Changed)))
	}
	period := obj{"start": fhirTime(t.Registered.Time)}
	if !t.Locked.IsZero() {
		period["end"] = fhirTime(t.Locked.Time)
	}
	rs := obj{
		"resourceType": "ResearchStudy",
		"id":           t.ID,
		"extension":    exts,
		"identifier":   []any{obj{"use": "official", "system": SystemNCT, "value": t.ID}},
		"title":        t.Title,
		"status":       researchStudyStatus[t.Status()],
		"period":       period,
		"sponsor":      identRef(SystemOrg, t.Sponsor),
		"site":         sites,
	}
	if objectives != nil {
		rs["objective"] = objectives
	}
	return rs
}

// researchSubjectStatus maps a participation state to R4's
// research-subject-status: consented and awaiting enrollment is
// pending-on-study; enrolled (capture paused or not) is on-study.
var researchSubjectStatus = map[string]string{
	"consented":         "pending-on-study",
	"enrolled":          "on-study",
	"reconsent_pending": "on-study",
	"withdrawn":         "withdrawn",
}

// ResearchSubjectID is the FHIR id of a participation: trial id, "-", the
// participant's address.
func ResearchSubjectID(p *trials.Participation) string { return p.Trial + "-" + p.Participant.String() }

// FHIRResearchSubject exports a participation as a FHIR R4 ResearchSubject:
// status, period (enrollment to withdrawal), the study and the individual
// by identifier, the protocol version consented to and whether data
// capture is paused pending re-consent as extensions.
func FHIRResearchSubject(t *trials.Trial, p *trials.Participation) map[string]any {
	state := p.State(t)
	rs := obj{
		"resourceType": "ResearchSubject",
		"id":           ResearchSubjectID(p),
		"extension": []any{
			ext("trial-consented-version", "valueUnsignedInt", int(p.ConsentedVersion())),
			ext("trial-capture-paused", "valueBoolean", state == "reconsent_pending"),
		},
		"status":     researchSubjectStatus[state],
		"study":      identRef(SystemNCT, t.ID),
		"individual": addrRef(p.Participant),
	}
	if !p.Enrolled.IsZero() {
		period := obj{"start": fhirTime(p.Enrolled.Time)}
		if !p.Withdrawn.IsZero() {
			period["end"] = fhirTime(p.Withdrawn.Time)
		}
		rs["period"] = period
		rs["extension"] = append(rs["extension"].([]any), ext("trial-site", "valueString", p.Site))
	}
	return rs
}
