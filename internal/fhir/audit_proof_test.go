package fhir

import (
	"bytes"
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/x/audit"
)

// TestSessionProofSignsTokenBytes: the chain checks a session's access
// events against the bytes the user signed for the token; audit rebuilds
// them from the proof, and they must be TokenSignBytes exactly.
func TestSessionProofSignsTokenBytes(t *testing.T) {
	addr := crypto.Address{7, 7, 7}
	challenge := bytes.Repeat([]byte{3}, ChallengeSize)
	for _, tt := range []struct {
		name    string
		req     TokenRequest
		session []byte
		digest  []byte
	}{
		{"user scope", TokenRequest{Scope: "user/*.read", Expires: 1_800_000_000}, nil, nil},
		{"launch and session", TokenRequest{Scope: "patient/*.read launch/patient", Expires: 1_800_000_001, Patient: "mc1patient"}, bytes.Repeat([]byte{5}, 32), bytes.Repeat([]byte{9}, 32)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := TokenSignBytes("chain-x", "org-a", challenge, addr, tt.req.Scope, tt.req.Expires, tt.req.Patient, tt.session, tt.digest)
			p := sessionProof("org-a", challenge, &tt.req, tt.session, tt.digest, make([]byte, 64))
			if err := p.ValidateBasic(); err != nil {
				t.Fatal(err)
			}
			if got := p.SignBytes("chain-x", addr); !bytes.Equal(got, want) {
				t.Fatalf("audit signs %x\nthe token request %x", got, want)
			}
			if p.Kind != audit.ProofSession {
				t.Fatalf("kind %d", p.Kind)
			}
		})
	}
}
