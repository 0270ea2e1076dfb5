package hl7

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const patientAddr = "mc1qexamplepatientaddress0000000000000"

func msg(lines ...string) []byte { return []byte(strings.Join(lines, "\r") + "\r") }

var oru = msg(
	`MSH|^~\&|LABSYS|CITYLAB|MEDCHAIN|DEVHOSP|20240301083000+0100||ORU^R01^ORU_R01|MSG00042|P|2.5.1`,
	`PID|1||MRN123^^^HOSP^MR~`+patientAddr+`^^^MEDCHAIN^PT||Doe^Jane^Q^^Dr||19800402|F|||1 Main St^Apt 2^Springfield^IL^62701^USA||555-0100`,
	`OBR|1|PLC1|FIL77^CITYLAB|24331-1^Lipid panel^LN|||20240301080000+0100|||||||||||||||20240301083000+0100|||F`,
	`OBX|1|NM|2093-3^Cholesterol [Mass/volume]^LN||212|mg/dL^mg/dL^UCUM|<200|H|||F|||20240301080000+0100`,
	`NTE|1||Fasting \T\ rested\.br\second line`,
	`OBX|2|ST|8251-1^Comment^LN||Sample slightly \F\ hemolysed~repeat advised||||||F`,
	`OBX|3|SN|2571-8^Triglyceride^LN||<^150|mg/dL|||||P`,
	`OBX|4|CWE|882-1^ABO+Rh group^LN||A+^A Rh positive^L||||||F`,
)

func TestParseFieldsComponentsRepetitions(t *testing.T) {
	m, err := Parse(oru)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header()
	if h.Type != "ORU" || h.Event != "R01" || h.Structure != "ORU_R01" || h.ControlID != "MSG00042" || h.Version != "2.5.1" || h.SendingFacility != "CITYLAB" {
		t.Fatalf("header %+v", h)
	}
	msh := m.Segments[0]
	if msh.Value(1) != "|" || msh.Value(2) != `^~\&` {
		t.Fatalf("MSH-1 %q MSH-2 %q", msh.Value(1), msh.Value(2))
	}
	pid := m.Segment("PID")
	if got := len(pid.Field(3)); got != 2 {
		t.Fatalf("PID-3 has %d repetitions", got)
	}
	if pid.Get(3, 2, 1, 1) != patientAddr || pid.Get(3, 2, 4, 1) != "MEDCHAIN" {
		t.Fatalf("PID-3 rep 2: %q", pid.Field(3)[1])
	}
	if pid.Comp(5, 1) != "Doe" || pid.Comp(5, 2) != "Jane" || pid.Comp(11, 3) != "Springfield" {
		t.Fatalf("PID-5/11: %v %v", pid.Field(5), pid.Field(11))
	}
	if n := len(m.All("OBX")); n != 4 {
		t.Fatalf("%d OBX", n)
	}
	if got := m.Segment("NTE").Value(3); got != "Fasting & rested\nsecond line" {
		t.Fatalf("NTE-3 %q", got)
	}
	obx2 := m.All("OBX")[1]
	if obx2.Get(5, 1, 1, 1) != "Sample slightly | hemolysed" || obx2.Get(5, 2, 1, 1) != "repeat advised" {
		t.Fatalf("OBX-5 %v", obx2.Field(5))
	}
	if pid.Value(99) != "" || pid.Get(3, 9, 1, 1) != "" {
		t.Fatal("absent fields are not empty")
	}
}

func TestEscapes(t *testing.T) {
	enc := DefaultEncoding
	tests := []struct{ in, want string }{
		{`a\F\b`, "a|b"}, {`a\S\b`, "a^b"}, {`a\T\b`, "a&b"}, {`a\R\b`, "a~b"}, {`a\E\b`, `a\b`},
		{`\X0D0A\`, "\r\n"}, {`x\.br\y`, "x\ny"}, {`\H\bold\N\`, "bold"}, {`\Zlocal\`, `\Zlocal\`}, {`plain`, "plain"},
	}
	for _, tt := range tests {
		got, err := Unescape(tt.in, enc)
		if err != nil || got != tt.want {
			t.Errorf("Unescape(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`a\F`, `\XZZ\`, `\\`} {
		if _, err := Unescape(bad, enc); err == nil {
			t.Errorf("Unescape(%q) accepted", bad)
		}
	}
	s := "a|b^c&d~e\\f\ng"
	back, err := Unescape(Escape(s, enc), enc)
	if err != nil || back != s {
		t.Fatalf("round trip %q → %q (%v)", s, back, err)
	}
}

func TestCustomDelimiters(t *testing.T) {
	m, err := Parse([]byte("MSH#*!$%#APP#FAC#R#RF#20240101##ADT*A08#C1#P#2.4\rPID#1##X1*check**AUTH#")) // field #, component *, repetition !, escape $, sub %
	if err != nil {
		t.Fatal(err)
	}
	if m.Header().Event != "A08" || m.Segment("PID").Comp(3, 4) != "AUTH" || m.Enc.Escape != '$' {
		t.Fatalf("%+v %v", m.Header(), m.Segment("PID").Field(3))
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		code int
	}{
		{"not HL7", "hello world", CodeSegmentSequence},
		{"short encoding characters", "MSH|^~|A|B|C|D|2024||ADT^A01|1|P|2.5", CodeDataType},
		{"repeated delimiter", "MSH|^^\\&|A|B|C|D|2024||ADT^A01|1|P|2.5", CodeDataType},
		{"no control id", "MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5", CodeRequiredMissing},
		{"no message type", "MSH|^~\\&|A|B|C|D|2024|||1|P|2.5", CodeRequiredMissing},
		{"version 3", "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|3.0", CodeUnsupportedVer},
		{"bad segment name", "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rpid|1", CodeSegmentSequence},
		{"second MSH", "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rMSH|^~\\&|A", CodeSegmentSequence},
		{"broken escape", "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rPID|1||X\\F", CodeDataType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.raw))
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Code != tt.code {
				t.Fatalf("err %v, want code %d", err, tt.code)
			}
		})
	}
}

func TestHL7DateTimes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2024", "2024"}, {"202403", "2024-03"}, {"20240301", "2024-03-01"}, {"2024030108", "2024-03-01T08:00:00Z"},
		{"20240301083015-0500", "2024-03-01T08:30:15-05:00"}, {"20240301083015.25+0000", "2024-03-01T08:30:15.25Z"},
	}
	for _, tt := range tests {
		if got, ok := hl7DateTime(tt.in); !ok || got != tt.want {
			t.Errorf("%s → %q %v, want %s", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"20241301", "2024030125", "yesterday", "20240301+01"} {
		if got, ok := hl7DateTime(bad); ok {
			t.Errorf("%s accepted as %s", bad, got)
		}
	}
}

// fakeSink is an in-memory FHIR server: it stores what transactions
// create, finds by identifier, and can be made to fail.
type fakeSink struct {
	mu    sync.Mutex
	res   []map[string]any
	txs   int
	fail  error
	after func() // runs after a successful write (a crash simulation)
}

func (s *fakeSink) Transaction(_ context.Context, b map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	raw, _ := json.Marshal(b)
	var copyB map[string]any
	_ = json.Unmarshal(raw, &copyB)
	for i, e := range copyB["entry"].([]any) {
		r := e.(map[string]any)["resource"].(map[string]any)
		if r["id"] == nil {
			r["id"] = r["resourceType"].(string) + string(rune('a'+len(s.res)+i))
		}
		s.res = append(s.res, r)
	}
	s.txs++
	if s.after != nil {
		s.after()
	}
	return nil
}

func (s *fakeSink) Find(_ context.Context, typ, ident string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sys, val, _ := strings.Cut(ident, "|")
	for i := len(s.res) - 1; i >= 0; i-- {
		r := s.res[i]
		if r["resourceType"] != typ {
			continue
		}
		ids, _ := r["identifier"].([]any)
		for _, id := range ids {
			m := id.(map[string]any)
			if m["system"] == sys && m["value"] == val {
				return r["id"].(string), nil
			}
		}
	}
	return "", nil
}

func (s *fakeSink) count(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.res {
		if r["resourceType"] == typ {
			n++
		}
	}
	return n
}

func newProcessor(t *testing.T, dir string, sink Sink) *Processor {
	t.Helper()
	j, err := OpenJournal(filepath.Join(dir, "hl7.journal"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return &Processor{Sink: sink, Resolver: AddressResolver{}, Journal: j, App: "MEDCHAIN", Facility: "DEVHOSP",
		Now: func() time.Time { return time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC) }}
}

// ackOf parses an ACK and returns MSA-1, MSA-2 and ERR-3.1.
func ackOf(t *testing.T, ack []byte) (code, ctrl, errCode string, m *Message) {
	t.Helper()
	m, err := Parse(ack)
	if err != nil {
		t.Fatalf("the ACK does not parse: %v\n%q", err, ack)
	}
	msa := m.Segment("MSA")
	if msa == nil || m.Header().Type != "ACK" {
		t.Fatalf("not an ACK: %q", ack)
	}
	if e := m.Segment("ERR"); e != nil {
		errCode = e.Comp(3, 1)
	}
	return msa.Value(1), msa.Value(2), errCode, m
}

func TestORUBecomesObservationsAndReport(t *testing.T) {
	sink := &fakeSink{}
	p := newProcessor(t, t.TempDir(), sink)
	code, ctrl, _, ack := ackOf(t, p.Handle(context.Background(), oru))
	if code != AA || ctrl != "MSG00042" {
		t.Fatalf("ACK %s %s", code, ctrl)
	}
	if h := ack.Header(); h.SendingApp != "MEDCHAIN" || h.ReceivingApp != "LABSYS" || h.ReceivingFacility != "CITYLAB" || h.Event != "R01" {
		t.Fatalf("ACK header %+v", h)
	}
	if sink.count("Observation") != 4 || sink.count("DiagnosticReport") != 1 {
		t.Fatalf("stored %d observations, %d reports", sink.count("Observation"), sink.count("DiagnosticReport"))
	}
	obs := sink.res[0]
	q := obs["valueQuantity"].(map[string]any)
	if q["value"] != json.Number("212") && q["value"] != float64(212) || q["code"] != "mg/dL" || obs["effectiveDateTime"] != "2024-03-01T08:00:00+01:00" {
		t.Fatalf("observation %v", obs)
	}
	if obs["subject"].(map[string]any)["reference"] != "Patient/"+patientAddr {
		t.Fatalf("subject %v", obs["subject"])
	}
	if note := obs["note"].([]any)[0].(map[string]any)["text"]; note != "Fasting & rested\nsecond line" {
		t.Fatalf("note %q", note)
	}
	if v := sink.res[1]["valueString"]; v != "Sample slightly | hemolysed\nrepeat advised" {
		t.Fatalf("valueString %q", v)
	}
	if q := sink.res[2]["valueQuantity"].(map[string]any); q["comparator"] != "<" || sink.res[2]["status"] != "preliminary" {
		t.Fatalf("SN %v", sink.res[2])
	}
	rep := sink.res[4]
	if len(rep["result"].([]any)) != 4 || rep["status"] != "final" {
		t.Fatalf("report %v", rep)
	}
}

func TestResendIsAcknowledgedNotStoredTwiceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	sink := &fakeSink{}
	p := newProcessor(t, dir, sink)
	first := p.Handle(context.Background(), oru)
	p.Journal.Close()

	p2 := newProcessor(t, dir, sink) // a restart: the journal is read again
	again := p2.Handle(context.Background(), oru)
	if string(first) != string(again) {
		t.Fatalf("the resend got another ACK:\n%q\n%q", first, again)
	}
	if sink.txs != 1 {
		t.Fatalf("%d transactions", sink.txs)
	}
	// Same control id, other content: refused.
	other := []byte(strings.Replace(string(oru), "||212|", "||213|", 1))
	if code, _, e, _ := ackOf(t, p2.Handle(context.Background(), other)); code != AR || e != "205" {
		t.Fatalf("reused control id: %s %s", code, e)
	}
}

func TestCrashAfterWriteIsSettledOnResend(t *testing.T) {
	dir := t.TempDir()
	sink := &fakeSink{}
	p := newProcessor(t, dir, sink)
	// The write commits, then the receiver dies before recording it: the
	// journal says pending.
	sink.fail = nil
	crashed := errors.New("crash")
	sink.after = func() { sink.fail = crashed }
	key := "LABSYS^CITYLAB^MSG00042"
	_ = p.Handle(context.Background(), oru)
	// Rewrite the journal as a crash would have left it.
	if err := p.Journal.Put(JournalEntry{Key: key, State: StatePending, Digest: digest(oru), Marker: "Observation " + messageSystem(mustHeader(t, oru)) + "|MSG00042/obx/1"}); err != nil {
		t.Fatal(err)
	}
	p.Journal.Close()
	sink.after = nil
	p2 := newProcessor(t, dir, sink)
	if code, _, _, _ := ackOf(t, p2.Handle(context.Background(), oru)); code != AA {
		t.Fatalf("ack %s", code)
	}
	if sink.txs != 1 || sink.count("Observation") != 4 {
		t.Fatalf("%d transactions, %d observations", sink.txs, sink.count("Observation"))
	}
}

func mustHeader(t *testing.T, raw []byte) Header {
	m, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m.Header()
}

func TestNAKs(t *testing.T) {
	tests := []struct {
		name      string
		raw       []byte
		ack, code string
	}{
		{"garbage", []byte("this is not HL7"), AR, "100"},
		{"unsupported type", msg(`MSH|^~\&|A|F|R|RF|2024||SIU^S12|X1|P|2.5`), AR, "200"},
		{"unsupported event", msg(`MSH|^~\&|A|F|R|RF|2024||ADT^A03|X2|P|2.5`, `PID|1||1^^^H`), AR, "201"},
		{"bad processing id", msg(`MSH|^~\&|A|F|R|RF|2024||ADT^A01|X3|Q|2.5`), AR, "202"},
		{"no PID", msg(`MSH|^~\&|A|F|R|RF|2024||ADT^A01|X4|P|2.5`), AR, "100"},
		{"unlinked patient", msg(`MSH|^~\&|A|F|R|RF|2024||ADT^A01|X5|P|2.5`, `PID|1||M1^^^HOSP^MR`), AE, "204"},
		{"not a number", msg(`MSH|^~\&|A|F|R|RF|2024||ORU^R01|X6|P|2.5`, `PID|1||`+patientAddr+`^^^MEDCHAIN`, `OBR|1||F1|1^x^LN`, `OBX|1|NM|2^y^LN||12,5|`), AE, "102"},
		{"bad sex", msg(`MSH|^~\&|A|F|R|RF|2024||ADT^A04|X7|P|2.5`, `PID|1||`+patientAddr+`^^^MEDCHAIN||Doe^J||1980|Q`), AE, "103"},
		{"OBX first", msg(`MSH|^~\&|A|F|R|RF|2024||ORU^R01|X8|P|2.5`, `PID|1||`+patientAddr+`^^^MEDCHAIN`, `OBX|1|NM|2^y^LN||1|`), AR, "100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			p := newProcessor(t, t.TempDir(), sink)
			code, _, e, m := ackOf(t, p.Handle(context.Background(), tt.raw))
			if code != tt.ack || e != tt.code {
				t.Fatalf("ACK %s ERR %s, want %s %s", code, e, tt.ack, tt.code)
			}
			if err := m.Segment("ERR"); err == nil || err.Value(8) == "" {
				t.Fatal("a NAK without ERR-8 (the reason)")
			}
			if sink.txs != 0 {
				t.Fatal("a refused message wrote something")
			}
		})
	}
	t.Run("the sink refuses", func(t *testing.T) {
		sink := &fakeSink{fail: &SinkError{Status: 403, Code: "consent/17", Text: "no write consent", Definite: true}}
		p := newProcessor(t, t.TempDir(), sink)
		code, _, e, m := ackOf(t, p.Handle(context.Background(), oru))
		if code != AE || e != "207" || !strings.Contains(m.Segment("ERR").Value(8), "consent/17") {
			t.Fatalf("%s %s %q", code, e, m.Segment("ERR").Value(8))
		}
		// Once consent is there, the same message goes through.
		sink.fail = nil
		if code, _, _, _ := ackOf(t, p.Handle(context.Background(), oru)); code != AA || sink.txs != 1 {
			t.Fatalf("after the refusal: %s, %d transactions", code, sink.txs)
		}
	})
}

func TestADTCreatesThenUpdatesThePatient(t *testing.T) {
	sink := &fakeSink{}
	p := newProcessor(t, t.TempDir(), sink)
	a01 := msg(`MSH|^~\&|ADTSYS|DEVHOSP|MEDCHAIN|DEVHOSP|20240301070000||ADT^A01^ADT_A01|ADT1|P|2.5.1`,
		`EVN|A01|20240301070000`,
		`PID|1||MRN123^^^HOSP&1.2.3.4&ISO^MR~`+patientAddr+`^^^MEDCHAIN||O'Brien^Mary^Ann||19800402|F|||12 High St^^Springfield^IL^62701`,
		pv1(map[int]string{1: "1", 2: "I", 3: "WARD1^101^A", 19: "V555", 44: "20240301065500"}))
	if code, _, _, _ := ackOf(t, p.Handle(context.Background(), a01)); code != AA {
		t.Fatal(code)
	}
	if sink.count("Patient") != 1 || sink.count("Encounter") != 1 {
		t.Fatalf("%d patients %d encounters", sink.count("Patient"), sink.count("Encounter"))
	}
	pat := sink.res[0]
	if pat["birthDate"] != "1980-04-02" || pat["gender"] != "female" {
		t.Fatalf("patient %v", pat)
	}
	ids := pat["identifier"].([]any)
	if ids[0].(map[string]any)["system"] != SystemAddress || ids[1].(map[string]any)["system"] != "urn:oid:1.2.3.4" {
		t.Fatalf("identifiers %v", ids)
	}
	enc := sink.res[1]
	if enc["class"].(map[string]any)["code"] != "IMP" || enc["period"].(map[string]any)["start"] != "2024-03-01T06:55:00Z" {
		t.Fatalf("encounter %v", enc)
	}
	a08 := msg(`MSH|^~\&|ADTSYS|DEVHOSP|MEDCHAIN|DEVHOSP|20240302070000||ADT^A08^ADT_A01|ADT2|P|2.5.1`,
		`PID|1||MRN123^^^HOSP&1.2.3.4&ISO^MR~`+patientAddr+`^^^MEDCHAIN||O'Brien^Mary^Ann||19800402|F|||99 New Rd^^Springfield^IL^62702`)
	if code, _, _, _ := ackOf(t, p.Handle(context.Background(), a08)); code != AA {
		t.Fatal(code)
	}
	var put map[string]any
	for _, r := range sink.res[2:] {
		put = r
	}
	if put["id"] != pat["id"] {
		t.Fatalf("A08 did not update the patient's resource: %v vs %v", put["id"], pat["id"])
	}
}

func TestMLLPOverTCP(t *testing.T) {
	sink := &fakeSink{}
	p := newProcessor(t, t.TempDir(), sink)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{Handler: p}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for i, m := range [][]byte{oru, oru, []byte("MSH|^~\\&|broken")} {
		ack, err := Send(c, r, m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		code, _, _, _ := ackOf(t, ack)
		want := AA
		if i == 2 {
			want = AR
		}
		if code != want {
			t.Fatalf("message %d: %s", i, code)
		}
	}
	// A frame split across writes, with a newline between frames.
	f := Frame(oru)
	if _, err := c.Write(append([]byte("\n"), f[:10]...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := c.Write(f[10:]); err != nil {
		t.Fatal(err)
	}
	if ack, err := ReadFrame(r, MaxMessageBytes); err != nil || !strings.Contains(string(ack), "MSA|AA|MSG00042") {
		t.Fatalf("split frame: %q %v", ack, err)
	}
	if sink.txs != 1 {
		t.Fatalf("%d transactions over the socket", sink.txs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestJournalDropsATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Put(JournalEntry{Key: "a", State: StateDone, Digest: "d"}); err != nil {
		t.Fatal(err)
	}
	_, _ = j.f.WriteString(`{"k":"b","s":"pen`)
	j.Close()
	j, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, ok := j.Lookup("b"); ok || j.Len() != 1 {
		t.Fatal("the torn line was kept")
	}
	if err := j.Put(JournalEntry{Key: "c", State: StateDone}); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(oru)
	f.Add([]byte("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rPID|1||X\\F\\"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err == nil {
			_ = m.Header()
			_, _ = Map(m, AddressResolver{}, func(string, string) (string, error) { return "", nil })
		}
		_ = BuildAck(m, nil, AckOptions{})
	})
}

// pv1 builds a PV1 segment from its fields by number.
func pv1(fields map[int]string) string {
	out := make([]string, 46)
	out[0] = "PV1"
	for n, v := range fields {
		out[n] = v
	}
	return strings.Join(out, "|")
}

func TestLinkResolver(t *testing.T) {
	r := LinkResolver{Find: func(system, value string) (string, error) {
		if system == "urn:oid:1.2.3.4" && value == "MRN9" {
			return patientAddr, nil
		}
		return "", nil
	}}
	m, err := Parse(msg(`MSH|^~\&|A|F|R|RF|2024||ADT^A04|L1|P|2.5`, `PID|1||X1^^^OTHER~MRN9^^^HOSP&1.2.3.4&ISO^MR`))
	if err != nil {
		t.Fatal(err)
	}
	if a, f := r.Resolve(patientIdentifiers(m.Segment("PID"))); f != nil || a != patientAddr {
		t.Fatalf("%q %v", a, f)
	}
	if _, f := r.Resolve([]Identifier{{System: "urn:oid:9", Value: "nobody"}}); f == nil || f.Code != CodeUnknownKey || f.Ack != AE {
		t.Fatalf("unlinked: %v", f)
	}
}
