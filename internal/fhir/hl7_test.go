package fhir_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/hl7"
	"github.com/medchain/medchain/internal/linkkey"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/links"
)

// TestHL7FeedThroughFHIR runs the MLLP listener against the node's FHIR
// interface: messages over a real socket become records, read back over
// FHIR; a resend stores nothing; a malformed message is NAKed.
func TestHL7FeedThroughFHIR(t *testing.T) {
	me := newPatient(t, "hl7")
	pa := addr(t, me).String()
	grant(t, me, consent.MsgGrant{Grantee: consent.Org("dev-hospital"), Actions: consent.ActRead | consent.ActWrite})
	tok := token(t, "doctor1", "user/*.read user/*.write")
	j, err := hl7.OpenJournal(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	proc := &hl7.Processor{Sink: &hl7.FHIRSink{Base: devNode(t) + "/fhir", Token: func() string { return tok }, HTTP: hc},
		Resolver: hl7.AddressResolver{}, Journal: j, App: "MEDCHAIN"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = (&hl7.Server{Handler: proc}).Serve(ctx, l) }()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	send := func(lines ...string) (string, *hl7.Message) {
		t.Helper()
		ack, err := hl7.Send(conn, rd, []byte(strings.Join(lines, "\r")+"\r"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7.Parse(ack)
		if err != nil {
			t.Fatalf("ACK %q: %v", ack, err)
		}
		return m.Segment("MSA").Value(1), m
	}
	pid := `PID|1||MRN77^^^HOSP^MR~` + pa + `^^^MEDCHAIN||Feed^Hanna||19750312|F`
	if code, m := send(`MSH|^~\&|ADT|DEVHOSP|MEDCHAIN|DEVHOSP|20240301070000||ADT^A04^ADT_A01|A-1|P|2.5.1`, pid, `PV1|1|O`); code != hl7.AA {
		t.Fatalf("A04: %s %v", code, m.Segment("ERR"))
	}
	oru := []string{`MSH|^~\&|LAB|DEVHOSP|MEDCHAIN|DEVHOSP|20240301090000||ORU^R01^ORU_R01|R-1|P|2.5.1`, pid,
		`OBR|1||F-1|24331-1^Lipid panel^LN|||20240301080000+0000||||||||||||||||||F`,
		`OBX|1|NM|2093-3^Cholesterol^LN||187|mg/dL^^UCUM|<200|N|||F`,
		`OBX|2|NM|2571-8^Triglyceride^LN||140|mg/dL^^UCUM|<150|N|||F`}
	if code, m := send(oru...); code != hl7.AA {
		t.Fatalf("ORU: %s %v", code, m.Segment("ERR"))
	}
	if code, _ := send(oru...); code != hl7.AA {
		t.Fatalf("resent ORU: %s", code)
	}
	count := func(typ string) int {
		r := want(t, do(t, http.MethodGet, "/fhir/"+typ+"?patient=Patient/"+pa+"&_count=100", tok, nil), http.StatusOK)
		entries, _ := r.json(t)["entry"].([]any)
		return len(entries)
	}
	if n := count("Observation"); n != 2 {
		t.Fatalf("%d Observations after a resend, want 2", n)
	}
	if n := count("DiagnosticReport"); n != 1 {
		t.Fatalf("%d DiagnosticReports", n)
	}
	r := want(t, do(t, http.MethodGet, "/fhir/Observation?patient=Patient/"+pa+"&code=http://loinc.org|2093-3", tok, nil), http.StatusOK)
	if !strings.Contains(string(r.body), `"value":187`) {
		t.Fatalf("cholesterol not read back: %s", r.body)
	}
	// A08 updates the same Patient resource.
	newPID := strings.Replace(pid, "Feed^Hanna", "Feed-Smith^Hanna", 1)
	if code, m := send(`MSH|^~\&|ADT|DEVHOSP|MEDCHAIN|DEVHOSP|20240302070000||ADT^A08^ADT_A01|A-2|P|2.5.1`, newPID); code != hl7.AA {
		t.Fatalf("A08: %s %v", code, m.Segment("ERR"))
	}
	r = want(t, do(t, http.MethodGet, "/fhir/Patient?identifier="+url.QueryEscape("urn:medchain:hl7:aa:HOSP|MRN77"), tok, nil), http.StatusOK)
	entries, _ := r.json(t)["entry"].([]any)
	if len(entries) != 1 || !strings.Contains(string(r.body), "Feed-Smith") || !strings.Contains(string(r.body), `"versionId":"2"`) {
		t.Fatalf("after A08: %s", r.body)
	}
	// Malformed: a NAK naming the reason; nothing written.
	if code, m := send(`MSH|^~\&|LAB|DEVHOSP|MEDCHAIN|DEVHOSP|20240301090000||ORU^R01|R-2|P|2.5.1`, pid,
		`OBR|1||F-2|24331-1^Lipid panel^LN`, `OBX|1|NM|2093-3^Cholesterol^LN||high|mg/dL`); code != hl7.AE || m.Segment("ERR").Comp(3, 1) != "102" {
		t.Fatalf("malformed value: %s %v", code, m.Segment("ERR"))
	}
	if n := count("Observation"); n != 2 {
		t.Fatalf("%d Observations after a NAK", n)
	}
	// A patient without consent to the organization: AE, nothing written.
	other := newPatient(t, "hl7-noconsent")
	if code, m := send(`MSH|^~\&|LAB|DEVHOSP|MEDCHAIN|DEVHOSP|20240301090000||ORU^R01|R-3|P|2.5.1`, `PID|1||`+addr(t, other).String()+`^^^MEDCHAIN`,
		`OBR|1||F-3|24331-1^Lipid panel^LN`, `OBX|1|NM|2093-3^Cholesterol^LN||190|mg/dL`); code != hl7.AE || !strings.Contains(m.Segment("ERR").Value(8), "consent") {
		t.Fatalf("no consent: %s %v", code, m.Segment("ERR"))
	}
}

// TestLinkedMRNThroughHL7AndImport identifies a patient by the hospital's
// MRN alone, linked on chain (x/links): an HL7 ORU and a bulk import both
// find the patient through the link.
func TestLinkedMRNThroughHL7AndImport(t *testing.T) {
	me := newPatient(t, "hl7-linked")
	grant(t, me, consent.MsgGrant{Grantee: consent.Org("dev-hospital"), Actions: consent.ActRead | consent.ActWrite})
	lk, err := linkkey.Load(linkkey.Path(filepath.Join(shared.dir, "node0")))
	if err != nil {
		t.Fatal(err)
	}
	const system, mrn = "urn:oid:1.2.3.4", "MRN-L1"
	c := client.New(devNode(t))
	ctx := context.Background()
	if _, err := c.Send(ctx, key(t, "hospital-admin"), &links.MsgLink{Org: lk.Org, MAC: lk.MAC(system, mrn), Patient: addr(t, me)}); err != nil {
		t.Fatalf("link: %v", err)
	}
	tok := token(t, "doctor1", "user/*.read user/*.write")
	j, err := hl7.OpenJournal(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	proc := &hl7.Processor{Sink: &hl7.FHIRSink{Base: devNode(t) + "/fhir", Token: func() string { return tok }, HTTP: hc}, Journal: j,
		Resolver: hl7.NodeLinks(ctx, c.As(key(t, "doctor1"), ""), lk)}
	ack, err := hl7.Parse(proc.Handle(ctx, []byte(strings.Join([]string{
		`MSH|^~\&|LAB|DEVHOSP|MEDCHAIN|DEVHOSP|20240301090000||ORU^R01|L-1|P|2.5.1`,
		`PID|1||` + mrn + `^^^HOSP&1.2.3.4&ISO^MR`,
		`OBR|1||F-9|24331-1^Lipid panel^LN`, `OBX|1|NM|2093-3^Cholesterol^LN||201|mg/dL`}, "\r"))))
	if err != nil || ack.Segment("MSA").Value(1) != hl7.AA {
		t.Fatalf("ORU by MRN: %v %v", err, ack.Segment("ERR"))
	}
	// Unlinked MRN: AE 204 saying how to link.
	ack, _ = hl7.Parse(proc.Handle(ctx, []byte(`MSH|^~\&|LAB|DEVHOSP|MEDCHAIN|DEVHOSP|20240301090000||ORU^R01|L-2|P|2.5.1`+"\r"+
		`PID|1||NOPE^^^HOSP&1.2.3.4&ISO^MR`+"\r"+`OBR|1||F-9|24331-1^Lipid panel^LN`+"\r"+`OBX|1|NM|2093-3^Cholesterol^LN||201|mg/dL`)))
	if ack.Segment("MSA").Value(1) != hl7.AE || ack.Segment("ERR").Comp(3, 1) != "204" || !strings.Contains(ack.Segment("ERR").Value(8), "link") {
		t.Fatalf("unlinked MRN: %v", ack.Segment("ERR"))
	}
	nd := `{"resourceType":"Patient","id":"px","identifier":[{"system":"` + system + `","value":"` + mrn + `"}],"gender":"male"}` + "\n" +
		`{"resourceType":"Observation","id":"ox","status":"final","code":{"text":"pulse"},"subject":{"reference":"Patient/px"},"valueQuantity":{"value":61}}` + "\n"
	if got := importSummary(t, poll(t, startImport(t, tok, []byte(nd)), tok)); got != "2 resources: 2 created, 0 already imported, 0 failed" {
		t.Fatalf("import by MRN: %s", got)
	}
	r := want(t, do(t, http.MethodGet, "/fhir/Observation?patient=Patient/"+addr(t, me).String()+"&_count=0", tok, nil), http.StatusOK)
	if total := r.json(t)["total"]; total != float64(2) {
		t.Fatalf("%v Observations for the linked patient, want 2 (HL7 and import)", total)
	}
}
