package hl7

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Acknowledgment codes (MSA-1, original mode).
const (
	AA = "AA" // accepted and applied
	AE = "AE" // understood, not applied: an application error (ERR says why); resending after fixing the cause may succeed
	AR = "AR" // rejected: malformed, unsupported type, event, version or processing id
)

// Failure is why a message was not applied: its acknowledgment code, the
// HL7 error code (table 0357), where (ERR-2) and the text for people.
type Failure struct {
	Ack     string // AE or AR
	Code    int
	Segment string
	Seq     int
	Field   int
	Text    string
}

func (f *Failure) Error() string { return f.Text }

// reject and appError build Failures.
func reject(code int, seg string, field int, format string, args ...any) *Failure {
	return &Failure{Ack: AR, Code: code, Segment: seg, Field: field, Text: fmt.Sprintf(format, args...)}
}

func appError(code int, seg string, field int, format string, args ...any) *Failure {
	return &Failure{Ack: AE, Code: code, Segment: seg, Field: field, Text: fmt.Sprintf(format, args...)}
}

// fromParse turns a parse error into a rejection.
func fromParse(err error) *Failure {
	if pe, ok := err.(*ParseError); ok {
		return &Failure{Ack: AR, Code: pe.Code, Segment: pe.Segment, Seq: pe.Seq, Field: pe.Field, Text: pe.Error()}
	}
	return &Failure{Ack: AR, Code: CodeInternal, Text: err.Error()}
}

var errorText = map[int]string{
	CodeSegmentSequence: "Segment sequence error", CodeRequiredMissing: "Required field missing",
	CodeDataType: "Data type error", CodeTableValue: "Table value not found",
	CodeUnsupportedType: "Unsupported message type", CodeUnsupportedEvent: "Unsupported event code",
	CodeUnsupportedProcID: "Unsupported processing id", CodeUnsupportedVer: "Unsupported version id",
	CodeUnknownKey: "Unknown key identifier", CodeDuplicateKey: "Duplicate key identifier", CodeInternal: "Application internal error",
}

// AckOptions name the acknowledging application.
type AckOptions struct {
	App, Facility string    // MSH-3 and MSH-4 of the ACK (the receiver of the original)
	ControlID     string    // MSH-10 of the ACK
	Time          time.Time // MSH-7
}

// BuildAck builds the acknowledgment of a message (nil when it could not
// even be parsed: the ACK then names no original). fail nil means AA.
func BuildAck(orig *Message, fail *Failure, o AckOptions) []byte {
	enc := DefaultEncoding
	var h Header
	if orig != nil {
		enc = orig.Enc
		if enc.Truncation != 0 {
			enc.Truncation = 0 // answer in the four classic characters
		}
		h = orig.Header()
	}
	if h.Version == "" {
		h.Version = "2.5.1"
	}
	if h.ProcessingID == "" {
		h.ProcessingID = "P"
	}
	esc := func(s string) string { return Escape(s, enc) }
	app, fac := o.App, o.Facility
	if app == "" {
		app = h.ReceivingApp
	}
	if fac == "" {
		fac = h.ReceivingFacility
	}
	typ := "ACK"
	if h.Event != "" {
		typ += string(enc.Component) + esc(h.Event) + string(enc.Component) + "ACK"
	}
	F := string(enc.Field)
	var b strings.Builder
	b.WriteString("MSH" + F + enc.MSH2() + F + esc(app) + F + esc(fac) + F + esc(h.SendingApp) + F + esc(h.SendingFacility) + F +
		o.Time.UTC().Format("20060102150405") + "+0000" + F + F + typ + F + esc(o.ControlID) + F + esc(h.ProcessingID) + F + esc(h.Version) + "\r")
	code, text := AA, "accepted"
	if fail != nil {
		code, text = fail.Ack, fail.Text
	}
	b.WriteString("MSA" + F + code + F + esc(h.ControlID) + F + esc(trunc(text, 80)) + "\r")
	if fail != nil {
		C := string(enc.Component)
		loc := ""
		if fail.Segment != "" {
			seq := fail.Seq
			if seq == 0 {
				seq = 1
			}
			loc = fail.Segment + C + strconv.Itoa(seq)
			if fail.Field > 0 {
				loc += C + strconv.Itoa(fail.Field)
			}
		}
		sev := "E"
		b.WriteString("ERR" + F + F + loc + F + strconv.Itoa(fail.Code) + C + esc(errorText[fail.Code]) + C + "HL70357" + F + sev +
			F + F + F + F + esc(fail.Text) + "\r")
	}
	return []byte(b.String())
}
