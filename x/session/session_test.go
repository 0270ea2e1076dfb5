package session_test

import (
	"bytes"
	"errors"

	"testing"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/session"
)

func validLimits() session.Limits {
	return session.Limits{
		Types:         []string{"consent/grant", "records/add"},
		Records:       []consent.RecordID{{1}, {2}},
		ResourceTypes: []string{"Condition", "Observation"},
		Purpose:       "treatment",
		Expires:       1_700_000_000,
	}
}

func TestLimitsValidateBasic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*session.Limits)
		valid bool
	}{
		{"valid", func(*session.Limits) {}, true},
		{"all types", func(l *session.Limits) { l.ResourceTypes = []string{session.AllTypes} }, true},
		{"no types: read-only", func(l *session.Limits) { l.Types = nil }, true},
		{"accounts message", func(l *session.Limits) { l.Types = []string{"accounts/rotate_keys"} }, false},
		{"session message", func(l *session.Limits) { l.Types = []string{"session/delegate"} }, false},
		{"malformed type", func(l *session.Limits) { l.Types = []string{"records"} }, false},
		{"types unsorted", func(l *session.Limits) { l.Types = []string{"records/add", "consent/grant"} }, false},
		{"types duplicated", func(l *session.Limits) { l.Types = []string{"records/add", "records/add"} }, false},
		{"records unsorted", func(l *session.Limits) { l.Records = []consent.RecordID{{2}, {1}} }, false},
		{"bad resource type", func(l *session.Limits) { l.ResourceTypes = []string{"observation"} }, false},
		{"resource types unsorted", func(l *session.Limits) { l.ResourceTypes = []string{"Observation", "Condition"} }, false},
		{"no purpose", func(l *session.Limits) { l.Purpose = "" }, false},
		{"purpose free text", func(l *session.Limits) { l.Purpose = "John Smith HIV" }, false},
		{"no expiry", func(l *session.Limits) { l.Expires = 0 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := validLimits()
			tc.edit(&l)
			err := l.ValidateBasic()
			if tc.valid != (err == nil) {
				t.Fatalf("ValidateBasic = %v, want valid %v", err, tc.valid)
			}
			if err != nil && !errors.Is(err, session.ErrBadLimits) {
				t.Fatalf("error %v is not ErrBadLimits", err)
			}
		})
	}
}

func TestLimitsCoversAndAllows(t *testing.T) {
	l := validLimits()
	for _, tc := range []struct {
		id   consent.RecordID
		typ  string
		want bool
	}{
		{consent.RecordID{1}, "DiagnosticReport", true}, // listed record
		{consent.RecordID{3}, "Observation", true},      // listed type
		{consent.RecordID{3}, "DiagnosticReport", false},
	} {
		if got := l.Covers(tc.id, tc.typ); got != tc.want {
			t.Errorf("Covers(%x, %s) = %v", tc.id, tc.typ, got)
		}
	}
	if !l.Allows("records/add") || l.Allows("records/erase") {
		t.Error("Allows")
	}
}

func seedMsgs() []sm.Msg {
	sk := smtest.Key("session-test", "s")
	return []sm.Msg{
		session.NewDelegate("test", sk.Address(), sk, validLimits()),
		&session.MsgRevoke{PubKey: sk.PubKey()},
	}
}

func TestSeedsCoverEveryRoute(t *testing.T) {
	have := map[string]bool{}
	for _, m := range seedMsgs() {
		have[m.Type()] = true
		if err := m.ValidateBasic(); err != nil {
			t.Errorf("seed %s: %v", m.Type(), err)
		}
	}
	for _, rt := range (session.Module{}).Routes() {
		if !have[rt.Type] {
			t.Errorf("route %s has no fuzz seed", rt.Type)
		}
		if rt.NewSigner {
			t.Errorf("route %s accepts a new signer", rt.Type)
		}
	}
}

// TestDelegateEncodingGolden pins the canonical bytes docs/transactions.md
// specifies.
func TestDelegateEncodingGolden(t *testing.T) {
	m := &session.MsgDelegate{PubKey: [32]byte{0xaa}, EncKey: [32]byte{0xbb},
		Limits: session.Limits{Types: []string{"records/add"}, Records: []consent.RecordID{{0xcc}}, ResourceTypes: []string{"Observation"}, Purpose: "fhir", Expires: 300}}
	var want bytes.Buffer
	want.Write(append([]byte{0xaa}, make([]byte, 31)...))
	want.Write(append([]byte{0xbb}, make([]byte, 31)...))
	want.Write([]byte{1, 11})
	want.WriteString("records/add")
	want.Write(append([]byte{1, 0xcc}, make([]byte, 15)...))
	want.Write([]byte{1, 11})
	want.WriteString("Observation")
	want.Write([]byte{4})
	want.WriteString("fhir")
	want.Write([]byte{0xac, 0x02}) // 300 as a varint
	want.Write(make([]byte, 64))
	if got := codec.Marshal(m); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("encoding\n got %x\nwant %x", got, want.Bytes())
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range seedMsgs() {
		f.Add(codec.Marshal(m))
	}
	f.Add(codec.Marshal(&session.Session{Account: [20]byte{1}, Limits: validLimits(), Created: 5, Revoked: 9, Sequence: 3}))
	routes := (session.Module{}).Routes()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, rt := range routes {
			msg, err := rt.Decode(b)
			if err != nil {
				if !errors.Is(err, sm.ErrTxDecode) {
					t.Fatalf("%s: decode error %v is not ErrTxDecode", rt.Type, err)
				}
				continue
			}
			if got := codec.Marshal(msg); !bytes.Equal(got, b) {
				t.Fatalf("%s: not canonical: %x re-encodes to %x", rt.Type, b, got)
			}
			_ = msg.ValidateBasic()
		}
		if s, err := session.DecodeSession(b); err == nil {
			if got := codec.Marshal(s); !bytes.Equal(got, b) {
				t.Fatalf("session: not canonical: %x re-encodes to %x", b, got)
			}
		}
	})
}
