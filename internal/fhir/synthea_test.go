package fhir_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/fhirr4"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/synthetic-patient-bundle.json from the generator")

// placeholderAddress stands for the medchain patient in the synthetic
// bundle; tests replace it with a development patient's address.
const placeholderAddress = "mc00000000000000000000000000000000000000fe"

const syntheticBundle = "testdata/synthetic-patient-bundle.json"

// TestSyntheticBundleIsCurrent keeps the committed bundle equal to what the
// generator makes (go test -run TestSyntheticBundleIsCurrent -rewrite), and
// valid FHIR R4.
func TestSyntheticBundleIsCurrent(t *testing.T) {
	want := generateBundle(20261101)
	if *rewrite {
		if err := os.MkdirAll(filepath.Dir(syntheticBundle), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(syntheticBundle, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(syntheticBundle)
	if err != nil {
		t.Fatalf("%v (run with -rewrite)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: go test ./internal/fhir -run TestSyntheticBundleIsCurrent -rewrite", syntheticBundle)
	}
	res, err := fhirr4.Parse(got)
	if err != nil {
		t.Fatalf("synthetic bundle is not valid FHIR R4: %v", err)
	}
	if res.Entries < 300 {
		t.Fatalf("%d entries", res.Entries)
	}
}

type obj = map[string]any

// gen builds a Synthea-like transaction Bundle of one fictional patient:
// encounters with vital signs, labs and reports, conditions, procedures,
// medications, immunizations, allergies, care plans, claims and
// explanations of benefit, documents and a provenance. Every value is
// invented; the random source is seeded, so the output is stable.
type gen struct {
	r       *rand.Rand
	entries []any
	n       int
	patient string // fullUrl of the Patient
}

func (g *gen) uuid() string {
	g.n++
	return fmt.Sprintf("urn:uuid:%08x-%04x-4%03x-8%03x-%012x", g.r.Uint32(), g.n&0xffff, g.r.IntN(0x1000), g.r.IntN(0x1000), g.r.Uint64()&0xffffffffffff)
}

func (g *gen) add(res obj) string {
	url := g.uuid()
	g.entries = append(g.entries, obj{
		"fullUrl":  url,
		"resource": res,
		"request":  obj{"method": "POST", "url": res["resourceType"]},
	})
	return url
}

func coding(system, code, display string) obj {
	return obj{"system": system, "code": code, "display": display}
}

func cc(system, code, display string) obj {
	return obj{"coding": []any{coding(system, code, display)}, "text": display}
}

func ref(url string) obj { return obj{"reference": url} }

const (
	loinc  = "http://loinc.org"
	snomed = "http://snomed.info/sct"
	rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
	cvx    = "http://hl7.org/fhir/sid/cvx"
	ucum   = "http://unitsofmeasure.org"
)

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func dec(v float64, digits int) json.Number {
	return json.Number(fmt.Sprintf("%.*f", digits, v))
}

func quantity(v float64, digits int, unit string) obj {
	return obj{"value": dec(v, digits), "unit": unit, "system": ucum, "code": unit}
}

func category(code string) []any {
	return []any{cc("http://terminology.hl7.org/CodeSystem/observation-category", code, code)}
}

func (g *gen) observation(enc string, when time.Time, cat, code, display string, v float64, digits int, unit string) string {
	return g.add(obj{
		"resourceType":      "Observation",
		"status":            "final",
		"category":          category(cat),
		"code":              cc(loinc, code, display),
		"subject":           ref(g.patient),
		"encounter":         ref(enc),
		"effectiveDateTime": ts(when),
		"issued":            when.UTC().Add(37 * time.Minute).Format("2006-01-02T15:04:05.000Z07:00"),
		"valueQuantity":     quantity(v, digits, unit),
	})
}

func generateBundle(seed uint64) []byte {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	g.patient = g.uuid()
	g.entries = append(g.entries, obj{
		"fullUrl": g.patient,
		"resource": obj{
			"resourceType": "Patient",
			"identifier": []any{
				obj{"system": "urn:medchain:address", "value": placeholderAddress},
				obj{"type": cc("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical Record Number"),
					"system": "http://hospital.example.org/mrn", "value": "SYN-0042-7731"},
			},
			"name":          []any{obj{"use": "official", "family": "Quillfeather", "given": []any{"Marisol", "Ines"}, "prefix": []any{"Ms."}}},
			"telecom":       []any{obj{"system": "phone", "value": "555-010-4477", "use": "home"}},
			"gender":        "female",
			"birthDate":     "1961-09-14",
			"address":       []any{obj{"line": []any{"12 Imaginary Lane"}, "city": "Fictown", "state": "ZZ", "postalCode": "00000", "country": "US"}},
			"maritalStatus": cc("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "M", "Married"),
			"communication": []any{obj{"language": cc("urn:ietf:bcp:47", "en-US", "English (United States)")}},
		},
		"request": obj{"method": "POST", "url": "Patient"},
	})
	var all []any
	all = append(all, ref(g.patient))
	start := time.Date(2014, 2, 3, 9, 0, 0, 0, time.UTC)
	conditions := []struct{ code, display string }{
		{"44054006", "Diabetes mellitus type 2"}, {"38341003", "Hypertensive disorder"}, {"55822004", "Hyperlipidemia"},
		{"195662009", "Acute viral pharyngitis"}, {"10509002", "Acute bronchitis"}, {"162864005", "Body mass index 30+ - obesity"},
		{"40055000", "Chronic sinusitis"}, {"444814009", "Viral sinusitis"},
	}
	meds := []struct{ code, display string }{
		{"860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"},
		{"314076", "lisinopril 10 MG Oral Tablet"}, {"259255", "atorvastatin 80 MG Oral Tablet"},
		{"308182", "Amoxicillin 250 MG Oral Capsule"},
	}
	vaccines := []struct{ code, display string }{
		{"140", "Influenza, seasonal, injectable, preservative free"}, {"113", "Td (adult) preservative free"},
		{"33", "pneumococcal polysaccharide vaccine, 23 valent"}, {"121", "zoster"},
	}
	procedures := []struct{ code, display string }{
		{"430193006", "Medication Reconciliation (procedure)"}, {"710824005", "Assessment of health and social care needs"},
		{"73761001", "Colonoscopy"}, {"252160004", "Standard pregnancy test"}, {"268556000", "Spirometry"},
	}
	weight := 82.0
	for i := range 30 {
		when := start.Add(time.Duration(i*97+g.r.IntN(40)) * 24 * time.Hour).Add(time.Duration(g.r.IntN(8)) * time.Hour)
		end := when.Add(time.Duration(15+g.r.IntN(45)) * time.Minute)
		encType := cc(snomed, "185349003", "Encounter for check up (procedure)")
		if i%4 == 3 {
			encType = cc(snomed, "185345009", "Encounter for symptom")
		}
		enc := g.add(obj{
			"resourceType": "Encounter",
			"status":       "finished",
			"class":        coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"),
			"type":         []any{encType},
			"subject":      ref(g.patient),
			"participant":  []any{obj{"individual": obj{"display": "Dr. Orrin Vantablack"}}},
			"period":       obj{"start": ts(when), "end": ts(end)},
			"serviceProvider": obj{"identifier": obj{"system": "http://hospital.example.org/org", "value": "FICT-CLINIC-1"},
				"display": "Fictown Family Clinic"},
		})
		all = append(all, ref(enc))
		weight += g.r.Float64()*2 - 0.8
		var obs []any
		obs = append(obs, ref(g.observation(enc, when, "vital-signs", "8302-2", "Body Height", 164.2+g.r.Float64(), 1, "cm")))
		obs = append(obs, ref(g.observation(enc, when, "vital-signs", "29463-7", "Body Weight", weight, 1, "kg")))
		obs = append(obs, ref(g.observation(enc, when, "vital-signs", "39156-5", "Body mass index (BMI) [Ratio]", weight/2.7, 2, "kg/m2")))
		obs = append(obs, ref(g.observation(enc, when, "vital-signs", "8867-4", "Heart rate", float64(60+g.r.IntN(30)), 0, "/min")))
		bp := g.add(obj{
			"resourceType":      "Observation",
			"status":            "final",
			"category":          category("vital-signs"),
			"code":              cc(loinc, "85354-9", "Blood pressure panel with all children optional"),
			"subject":           ref(g.patient),
			"encounter":         ref(enc),
			"effectiveDateTime": ts(when),
			"component": []any{
				obj{"code": cc(loinc, "8462-4", "Diastolic Blood Pressure"), "valueQuantity": quantity(float64(70+g.r.IntN(20)), 0, "mm[Hg]")},
				obj{"code": cc(loinc, "8480-6", "Systolic Blood Pressure"), "valueQuantity": quantity(float64(115+g.r.IntN(30)), 0, "mm[Hg]")},
			},
		})
		obs = append(obs, ref(bp))
		all = append(all, obs...)
		var claimItems []any
		claimItems = append(claimItems, obj{"sequence": 1, "productOrService": encType, "encounter": []any{ref(enc)}})
		if i%2 == 0 {
			labs := []any{
				ref(g.observation(enc, when, "laboratory", "2339-0", "Glucose [Mass/volume] in Blood", 85+g.r.Float64()*60, 1, "mg/dL")),
				ref(g.observation(enc, when, "laboratory", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", 5.2+g.r.Float64()*2.5, 1, "%")),
				ref(g.observation(enc, when, "laboratory", "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", 160+g.r.Float64()*80, 1, "mg/dL")),
			}
			all = append(all, labs...)
			all = append(all, ref(g.add(obj{
				"resourceType":      "DiagnosticReport",
				"status":            "final",
				"category":          []any{cc("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")},
				"code":              cc(loinc, "51990-0", "Basic metabolic panel - Blood"),
				"subject":           ref(g.patient),
				"encounter":         ref(enc),
				"effectiveDateTime": ts(when),
				"issued":            when.UTC().Add(2 * time.Hour).Format("2006-01-02T15:04:05.000Z07:00"),
				"result":            labs,
			})))
		}
		if i%4 == 0 && len(conditions) > 0 {
			c := conditions[0]
			conditions = conditions[1:]
			cond := obj{
				"resourceType":       "Condition",
				"clinicalStatus":     cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
				"verificationStatus": cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
				"category":           []any{cc("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", "Encounter Diagnosis")},
				"code":               cc(snomed, c.code, c.display),
				"subject":            ref(g.patient),
				"encounter":          ref(enc),
				"onsetDateTime":      ts(when),
				"recordedDate":       ts(end),
			}
			if i%8 == 4 {
				cond["clinicalStatus"] = cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved", "Resolved")
				cond["abatementDateTime"] = ts(when.AddDate(0, 0, 14))
			}
			all = append(all, ref(g.add(cond)))
			claimItems = append(claimItems, obj{"sequence": len(claimItems) + 1, "productOrService": cc(snomed, c.code, c.display)})
		}
		if i%3 == 1 {
			p := procedures[i%len(procedures)]
			all = append(all, ref(g.add(obj{
				"resourceType":    "Procedure",
				"status":          "completed",
				"code":            cc(snomed, p.code, p.display),
				"subject":         ref(g.patient),
				"encounter":       ref(enc),
				"performedPeriod": obj{"start": ts(when), "end": ts(when.Add(20 * time.Minute))},
			})))
		}
		if i%4 == 1 {
			m := meds[(i/4)%len(meds)]
			mr := g.add(obj{
				"resourceType":              "MedicationRequest",
				"status":                    "active",
				"intent":                    "order",
				"medicationCodeableConcept": cc(rxnorm, m.code, m.display),
				"subject":                   ref(g.patient),
				"encounter":                 ref(enc),
				"authoredOn":                ts(when),
				"requester":                 obj{"display": "Dr. Orrin Vantablack"},
				"dosageInstruction": []any{obj{"sequence": 1, "text": "Take one tablet by mouth daily",
					"timing": obj{"repeat": obj{"frequency": 1, "period": dec(1, 1), "periodUnit": "d"}}}},
			})
			all = append(all, ref(mr))
			claim := g.add(obj{
				"resourceType":   "Claim",
				"status":         "active",
				"type":           cc("http://terminology.hl7.org/CodeSystem/claim-type", "pharmacy", "Pharmacy"),
				"use":            "claim",
				"patient":        ref(g.patient),
				"billablePeriod": obj{"start": ts(when), "end": ts(end)},
				"created":        ts(end),
				"provider":       obj{"display": "Fictown Family Clinic"},
				"priority":       cc("http://terminology.hl7.org/CodeSystem/processpriority", "normal", "Normal"),
				"prescription":   ref(mr),
				"insurance":      []any{obj{"sequence": 1, "focal": true, "coverage": obj{"display": "Imaginary Mutual Health"}}},
				"item":           []any{obj{"sequence": 1, "productOrService": cc(rxnorm, m.code, m.display), "encounter": []any{ref(enc)}}},
				"total":          obj{"value": dec(12+g.r.Float64()*40, 2), "currency": "USD"},
			})
			all = append(all, ref(claim))
		}
		if i%3 == 0 {
			v := vaccines[(i/3)%len(vaccines)]
			all = append(all, ref(g.add(obj{
				"resourceType":       "Immunization",
				"status":             "completed",
				"vaccineCode":        cc(cvx, v.code, v.display),
				"patient":            ref(g.patient),
				"encounter":          ref(enc),
				"occurrenceDateTime": ts(when),
				"primarySource":      true,
			})))
		}
		claim := g.add(obj{
			"resourceType":   "Claim",
			"status":         "active",
			"type":           cc("http://terminology.hl7.org/CodeSystem/claim-type", "professional", "Professional"),
			"use":            "claim",
			"patient":        ref(g.patient),
			"billablePeriod": obj{"start": ts(when), "end": ts(end)},
			"created":        ts(end),
			"provider":       obj{"display": "Fictown Family Clinic"},
			"priority":       cc("http://terminology.hl7.org/CodeSystem/processpriority", "normal", "Normal"),
			"insurance":      []any{obj{"sequence": 1, "focal": true, "coverage": obj{"display": "Imaginary Mutual Health"}}},
			"item":           claimItems,
			"total":          obj{"value": dec(80+g.r.Float64()*150, 2), "currency": "USD"},
		})
		all = append(all, ref(claim))
		all = append(all, ref(g.add(obj{
			"resourceType":   "ExplanationOfBenefit",
			"status":         "active",
			"type":           cc("http://terminology.hl7.org/CodeSystem/claim-type", "professional", "Professional"),
			"use":            "claim",
			"patient":        ref(g.patient),
			"billablePeriod": obj{"start": ts(when), "end": ts(end)},
			"created":        ts(end),
			"insurer":        obj{"display": "Imaginary Mutual Health"},
			"provider":       obj{"display": "Fictown Family Clinic"},
			"claim":          ref(claim),
			"outcome":        "complete",
			"insurance":      []any{obj{"focal": true, "coverage": obj{"display": "Imaginary Mutual Health"}}},
			"payment":        obj{"amount": obj{"value": dec(40+g.r.Float64()*90, 2), "currency": "USD"}},
		})))
		if i%6 == 5 {
			note := fmt.Sprintf("Fictional visit note %d: patient reports feeling well; plan reviewed.", i)
			all = append(all, ref(g.add(obj{
				"resourceType": "DocumentReference",
				"status":       "current",
				"type":         cc(loinc, "34117-2", "History and physical note"),
				"category":     []any{cc("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "clinical-note", "Clinical Note")},
				"subject":      ref(g.patient),
				"date":         when.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
				"content":      []any{obj{"attachment": obj{"contentType": "text/plain; charset=utf-8", "data": b64std(note)}}},
				"context":      obj{"encounter": []any{ref(enc)}, "period": obj{"start": ts(when), "end": ts(end)}},
			})))
		}
	}
	all = append(all, ref(g.add(obj{
		"resourceType":       "AllergyIntolerance",
		"clinicalStatus":     cc("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
		"verificationStatus": cc("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed"),
		"type":               "allergy",
		"category":           []any{"food"},
		"criticality":        "low",
		"code":               cc(snomed, "91935009", "Allergy to peanuts"),
		"patient":            ref(g.patient),
		"recordedDate":       ts(start),
	})))
	all = append(all, ref(g.add(obj{
		"resourceType":   "AllergyIntolerance",
		"clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
		"type":           "allergy",
		"category":       []any{"environment"},
		"criticality":    "low",
		"code":           cc(snomed, "419474003", "Allergy to mould"),
		"patient":        ref(g.patient),
		"recordedDate":   ts(start.AddDate(1, 0, 0)),
	})))
	careTeam := g.add(obj{
		"resourceType": "CareTeam",
		"status":       "active",
		"subject":      ref(g.patient),
		"period":       obj{"start": ts(start)},
		"participant": []any{obj{"role": []any{cc(snomed, "116154003", "Patient")}, "member": ref(g.patient)},
			obj{"role": []any{cc(snomed, "223366009", "Healthcare professional")}, "member": obj{"display": "Dr. Orrin Vantablack"}}},
		"reasonCode": []any{cc(snomed, "44054006", "Diabetes mellitus type 2")},
	})
	all = append(all, ref(careTeam))
	goal := g.add(obj{
		"resourceType":    "Goal",
		"lifecycleStatus": "active",
		"description":     obj{"text": "Hemoglobin A1c total in Blood < 7.0"},
		"subject":         ref(g.patient),
		"startDate":       start.Format("2006-01-02"),
	})
	all = append(all, ref(goal))
	all = append(all, ref(g.add(obj{
		"resourceType": "CarePlan",
		"status":       "active",
		"intent":       "order",
		"category":     []any{cc(snomed, "698360004", "Diabetes self management plan")},
		"subject":      ref(g.patient),
		"period":       obj{"start": ts(start)},
		"careTeam":     []any{ref(careTeam)},
		"goal":         []any{ref(goal)},
		"activity": []any{obj{"detail": obj{"code": cc(snomed, "160670007", "Diabetic diet"), "status": "in-progress",
			"location": obj{"display": "Fictown Family Clinic"}}}},
	})))
	all = append(all, ref(g.add(obj{
		"resourceType":       "Device",
		"udiCarrier":         []any{obj{"deviceIdentifier": "00000000000000", "carrierHRF": "(01)00000000000000(11)230101"}},
		"status":             "active",
		"distinctIdentifier": "SYN-DEV-1",
		"deviceName":         []any{obj{"name": "Fictional glucose meter", "type": "user-friendly-name"}},
		"type":               cc(snomed, "337414009", "Blood glucose meter (physical object)"),
		"patient":            ref(g.patient),
	})))
	all = append(all, ref(g.add(obj{
		"resourceType":      "ImagingStudy",
		"status":            "available",
		"subject":           ref(g.patient),
		"started":           ts(start.AddDate(3, 2, 0)),
		"numberOfSeries":    1,
		"numberOfInstances": 1,
		"procedureCode":     []any{cc(snomed, "399208008", "Plain chest X-ray")},
		"series": []any{obj{"uid": "1.2.840.99999.1.1", "number": 1, "modality": coding("http://dicom.nema.org/resources/ontology/DCM", "DX", "Digital Radiography"),
			"numberOfInstances": 1, "bodySite": coding(snomed, "51185008", "Thoracic structure"),
			"instance": []any{obj{"uid": "1.2.840.99999.1.1.1", "sopClass": coding("urn:ietf:rfc:3986", "urn:oid:1.2.840.10008.5.1.4.1.1.1.1", "Digital X-Ray Image Storage"), "number": 1}}}},
	})))
	for k := range 2 {
		all = append(all, ref(g.add(obj{
			"resourceType":              "MedicationAdministration",
			"status":                    "completed",
			"medicationCodeableConcept": cc(rxnorm, "308182", "Amoxicillin 250 MG Oral Capsule"),
			"subject":                   ref(g.patient),
			"effectiveDateTime":         ts(start.AddDate(2, k, 3)),
		})))
	}
	g.add(obj{
		"resourceType": "Provenance",
		"target":       all,
		"recorded":     "2026-11-01T12:00:00.000Z",
		"agent": []any{obj{
			"type": cc("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author", "Author"),
			"who":  obj{"display": "Fictown Family Clinic"},
		}},
	})
	b, err := json.MarshalIndent(obj{"resourceType": "Bundle", "type": "transaction", "entry": g.entries}, "", " ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
