package fhir_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/trials"
)

// TestResearchStudyAndSubject: the FHIR views of a trial. ResearchStudy is
// public to any token allowed to search it; a ResearchSubject is seen by
// the participant (or a guardian) and the trial's overseers, not by others.
// Both search Bundles are valid R4.
func TestResearchStudyAndSubject(t *testing.T) {
	me := newPatient(t, "trial-participant")
	c := client.New(devNode(t))
	ctx := context.Background()
	const id = "NCT00000777"
	outs := []trials.Outcome{{Type: trials.OutcomePrimary, Measure: "Change in HbA1c", TimeFrame: "26 weeks"}, {Type: trials.OutcomeSecondary, Measure: "Body weight", TimeFrame: "26 weeks"}}
	for _, step := range []struct {
		who string
		msg sm.Msg
	}{
		{"sponsor-admin", &trials.MsgRegister{ID: id, Title: "FHIR view trial", Sites: []string{"dev-hospital"}, ProtocolHash: [32]byte{1}, SAPHash: [32]byte{2}, Outcomes: outs, Planned: 10, LateAfter: 86400}},
		{me, &trials.MsgConsent{ID: id, Participant: addr(t, me), Version: 1}},
		{"doctor1", &trials.MsgEnroll{ID: id, Participant: addr(t, me)}},
	} {
		if _, err := c.Send(ctx, key(t, step.who), step.msg); err != nil {
			t.Fatalf("%s: %v", step.msg.Type(), err)
		}
	}

	tok := token(t, "doctor2", "user/*.read")
	b := want(t, do(t, http.MethodGet, "/fhir/ResearchStudy?_id="+id, tok, nil), http.StatusOK)
	if _, err := fhirr4.Parse(b.body); err != nil {
		t.Fatalf("ResearchStudy Bundle is not valid R4: %v\n%s", err, b.body)
	}
	if s := string(b.body); !strings.Contains(s, `"ResearchStudy"`) || !strings.Contains(s, id) || !strings.Contains(s, "Change in HbA1c") {
		t.Fatalf("bundle %s", s)
	}

	pid := "Patient/" + addr(t, me).String()
	ptok := token(t, me, "patient/*.read")
	s := want(t, do(t, http.MethodGet, "/fhir/ResearchSubject?patient="+pid, ptok, nil), http.StatusOK)
	if _, err := fhirr4.Parse(s.body); err != nil {
		t.Fatalf("ResearchSubject Bundle is not valid R4: %v\n%s", err, s.body)
	}
	if !strings.Contains(string(s.body), `"on-study"`) {
		t.Fatalf("bundle %s", s.body)
	}
	// The site's practitioner oversees it; another organization's member not.
	if n := want(t, do(t, http.MethodGet, "/fhir/ResearchSubject?patient="+pid, token(t, "doctor1", "user/*.read"), nil), http.StatusOK).json(t)["total"]; n.(float64) != 1 {
		t.Fatalf("site practitioner sees %v", n)
	}
	want(t, do(t, http.MethodGet, "/fhir/ResearchSubject?patient="+pid, token(t, "labtech1", "user/*.read"), nil), http.StatusForbidden)
}
