package hl7

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Sink is where a message's resources go: a FHIR server.
type Sink interface {
	// Transaction applies a transaction Bundle, all or nothing.
	Transaction(ctx context.Context, bundle map[string]any) error
	// Find returns the id of the resource of type typ carrying the
	// identifier (system|value), or "" when there is none.
	Find(ctx context.Context, typ, identifier string) (string, error)
}

// SinkError is a refusal by the sink. Definite means nothing was written
// (a 4xx); otherwise the outcome is unknown (a timeout, a 5xx) and the
// message stays pending in the journal until a resend settles it.
type SinkError struct {
	Status   int
	Code     string // medchain's stable code, when the server gave one
	Text     string
	Definite bool
}

func (e *SinkError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d (%s): %s", e.Status, e.Code, e.Text)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Text)
}

// Processor acknowledges and applies messages (a Handler for Server).
type Processor struct {
	Sink     Sink
	Resolver Resolver
	Journal  *Journal
	// App and Facility name this receiver in ACKs (MSH-3, MSH-4); empty
	// means the original's MSH-5 and MSH-6.
	App, Facility string
	Now           func() time.Time
	Log           *slog.Logger
}

var _ Handler = (*Processor)(nil)

// Handle implements Handler: it always returns an ACK.
func (p *Processor) Handle(ctx context.Context, raw []byte) []byte {
	m, f := p.process(ctx, raw)
	if m == nil {
		m = headerOnly(raw)
	}
	if f != nil {
		p.log().Info("hl7 message not applied", "ack", f.Ack, "code", f.Code, "reason", f.Text, "control_id", controlID(m))
	}
	return p.ack(m, f)
}

func (p *Processor) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

func (p *Processor) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

func controlID(m *Message) string {
	if m == nil {
		return ""
	}
	return m.Header().ControlID
}

func (p *Processor) ack(m *Message, f *Failure) []byte {
	id := "ACK"
	if m != nil {
		sum := sha256.Sum256([]byte(messageKey(m.Header())))
		id = "ACK" + hex.EncodeToString(sum[:8])
	}
	return BuildAck(m, f, AckOptions{App: p.App, Facility: p.Facility, ControlID: id, Time: p.now()})
}

// headerOnly parses the MSH line alone, to address the NAK of a message
// whose body is malformed; nil when even that fails.
func headerOnly(raw []byte) *Message {
	line := raw
	if i := bytes.IndexAny(raw, "\r\n"); i >= 0 {
		line = raw[:i]
	}
	m, err := Parse(line)
	if err != nil {
		return nil
	}
	return m
}

// messageKey identifies a message for duplicate detection: HL7 makes
// MSH-10 unique per sending application and facility.
func messageKey(h Header) string {
	return h.SendingApp + "^" + h.SendingFacility + "^" + h.ControlID
}

// digest is the hash of what follows MSH: a retransmission may restamp
// MSH-7, never the content.
func digest(raw []byte) string {
	body := raw
	if i := bytes.IndexAny(raw, "\r\n"); i >= 0 {
		body = raw[i:]
	} else {
		body = nil
	}
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\r"))
	body = bytes.ReplaceAll(body, []byte("\n"), []byte("\r"))
	sum := sha256.Sum256(bytes.Trim(body, "\r"))
	return hex.EncodeToString(sum[:])
}

func (p *Processor) process(ctx context.Context, raw []byte) (*Message, *Failure) {
	m, err := Parse(raw)
	if err != nil {
		return nil, fromParse(err)
	}
	h := m.Header()
	switch h.ProcessingID {
	case "P", "T", "D":
	default:
		return m, reject(CodeUnsupportedProcID, "MSH", 11, "processing id %q is not P, T or D", trunc(h.ProcessingID, 4))
	}
	key, dg := messageKey(h), digest(raw)
	if e, ok := p.Journal.Lookup(key); ok {
		switch {
		case e.Digest != dg && e.State != StateAborted:
			return m, reject(CodeDuplicateKey, "MSH", 10, "control id %q of %s^%s was already used by a different message", trunc(h.ControlID, 40), h.SendingApp, h.SendingFacility)
		case e.State == StateDone:
			return m, nil // the ACK is rebuilt the same; nothing is applied again
		case e.State == StatePending && e.Marker != "":
			typ, marker := splitMarker(e.Marker)
			id, err := p.Sink.Find(ctx, typ, marker)
			if err != nil {
				return m, appError(CodeInternal, "", 0, "cannot tell whether an earlier attempt of this message was applied: %v; send it again later", err)
			}
			if id != "" {
				if err := p.Journal.Put(JournalEntry{Key: key, State: StateDone, Digest: dg}); err != nil {
					return m, appError(CodeInternal, "", 0, "journal: %v", err)
				}
				return m, nil
			}
		}
	}
	lookup := func(typ, ident string) (string, error) { return p.Sink.Find(ctx, typ, ident) }
	plan, f := Map(m, p.Resolver, lookup)
	if f != nil {
		return m, f
	}
	marker := ""
	if plan.Marker != "" {
		marker = plan.MarkerType + " " + plan.Marker
	}
	if err := p.Journal.Put(JournalEntry{Key: key, State: StatePending, Digest: dg, Marker: marker}); err != nil {
		return m, appError(CodeInternal, "", 0, "journal: %v", err)
	}
	if err := p.Sink.Transaction(ctx, plan.Bundle); err != nil {
		var se *SinkError
		if errors.As(err, &se) && se.Definite {
			_ = p.Journal.Put(JournalEntry{Key: key, State: StateAborted, Digest: dg})
		}
		return m, appError(CodeInternal, "", 0, "not stored: %v", err)
	}
	if err := p.Journal.Put(JournalEntry{Key: key, State: StateDone, Digest: dg}); err != nil {
		p.log().Error("hl7 journal: applied but not recorded", "err", err)
	}
	return m, nil
}

func splitMarker(s string) (typ, ident string) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:]
		}
	}
	return "", s
}
