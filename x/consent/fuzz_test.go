package consent_test

import (
	"errors"
	"testing"

	"github.com/medchain/medchain/sm/smtest"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/consent"
)

// seedMsgs are valid messages of every route, the seeds of FuzzDecode.
func seedMsgs() []sm.Msg {
	return []sm.Msg{
		&consent.MsgGrant{Patient: addr(alice), Grantee: consent.Account(addr(doctorA)), Actions: consent.ActRead,
			Types: []string{"Condition", "Observation"}, Purpose: consent.PurposeTreatment, Until: 1767225600},
		&consent.MsgGrant{Patient: addr(alice), Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeEmergency},
		&consent.MsgGrant{Patient: addr(bob), Grantee: consent.Org(orgB), Actions: consent.ActRead | consent.ActWrite,
			Records: []consent.RecordID{rid(1), rid(2)}, Purpose: consent.PurposeResearch},
		&consent.MsgGrant{Patient: addr(alice), Grantee: consent.Org(orgA), Actions: consent.ActRead, Purpose: consent.PurposeTreatment,
			Condition: `"org-a" in encounter_orgs`},
		&consent.MsgRevoke{ID: 300},
		&consent.MsgOpenEmergency{Patient: addr(alice), Reason: "unable_to_consent"},
		&consent.MsgReviewEmergency{ID: 1, Review: "justified"},
	}
}

// FuzzDecode runs every decoder of the module on the same bytes: the decoder
// of every route and the stored-state decoders. None may panic; whatever
// decodes must re-encode to exactly the input (one encoding per value), and
// a message decoder fails only with ErrTxDecode.
func FuzzDecode(f *testing.F) {
	for _, m := range seedMsgs() {
		f.Add(codec.Marshal(m))
	}
	f.Add(codec.Marshal(&consent.Consent{ID: 1, Patient: addr(alice), Grantor: addr(gina), Grantee: consent.Org(orgA),
		Actions: consent.ActRead, Types: []string{"Observation"}, Purpose: consent.PurposeCare, Start: 5, Until: 50, Revoked: 9}))
	f.Add(codec.Marshal(&consent.Consent{ID: 3, Patient: addr(alice), Grantor: addr(alice), Grantee: consent.Org(orgA),
		Actions: consent.ActRead, Purpose: consent.PurposeTreatment, Start: 5, Condition: `role == "practitioner"`}))
	f.Add(codec.Marshal(&consent.Emergency{ID: 2, Patient: addr(alice), Practitioner: addr(doctorA), Org: orgA, Reason: "life_threatening",
		Opened: 1, Expires: 2, Reviewed: 2, Reviewer: addr(adminA), Review: "inconclusive"}))
	routes := (&consent.Module{}).Routes()
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, routes, b)
		if c, ok := smtest.FuzzCanonical(t, "consent", b, consent.DecodeConsent); ok {
			_ = c.Status(0)
		}
		smtest.FuzzCanonical(t, "emergency", b, consent.DecodeEmergency)
	})
}

// TestDecodeRejectsWideValues: a field held in fewer than 64 bits must not
// accept a varint wider than the field, or two encodings would decode to the
// same message (one value, one encoding).
func TestDecodeRejectsWideValues(t *testing.T) {
	grant := func(kind, actions []byte) []byte {
		var b []byte
		p := addr(alice)
		g := addr(doctorA)
		b = append(b, p[:]...)
		b = append(b, kind...)
		b = append(b, g[:]...)
		b = append(b, actions...)
		b = append(b, 0, 0) // no types, no records
		b = append(b, 9)    // purpose length
		b = append(b, consent.PurposeTreatment...)
		return append(b, 0) // until
	}
	route := (&consent.Module{}).Routes()[0]
	if _, err := route.Decode(grant([]byte{1}, []byte{1})); err != nil {
		t.Fatalf("the plain encoding does not decode: %v", err)
	}
	for name, b := range map[string][]byte{
		"party kind 257":  grant([]byte{0x81, 0x02}, []byte{1}),
		"actions 257":     grant([]byte{1}, []byte{0x81, 0x02}),
		"actions 1<<32+1": grant([]byte{1}, []byte{0x81, 0x80, 0x80, 0x80, 0x10}),
	} {
		if m, err := route.Decode(b); !errors.Is(err, sm.ErrTxDecode) {
			t.Errorf("%s: decoded %+v, %v; want ErrTxDecode", name, m, err)
		}
	}
}
