package lightproof

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// An access answer served by node0 is checked end to end against headers a
// light client verified from node1: the state's app hash (header H+1) and
// the time the decision was judged at (header H).
func TestVerifyAccessWithLightClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-validator network")
	}
	nw := startNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ks := keystore.Open(config.KeysDir(nw.homes[0]))
	patient, err := ks.Load("patient1", devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	doctor := nw.account(t, "doctor1")
	c := nw.api[0]
	if _, err := c.WaitHeight(ctx, 2); err != nil {
		t.Fatal(err)
	}

	// The chain checks who holds a wrapped key, not what it opens: a
	// registration with placeholder keys is enough to ask about access.
	var id consent.RecordID
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	holders, err := c.As(patient, nw.chainID).KeyHolders(ctx, patient.Address(), "Observation", id)
	if err != nil {
		t.Fatal(err)
	}
	add := &records.MsgAdd{ID: id, Patient: patient.Address(), ResourceType: "Observation", ContentHash: [32]byte{9, 9}, Size: 10}
	for _, h := range holders {
		add.Keys = append(add.Keys, records.WrappedKey{Recipient: h.Party})
	}
	slices.SortFunc(add.Keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
	if res, err := c.Send(ctx, patient, add); err != nil || res.Code != 0 {
		t.Fatalf("records/add: %v %+v", err, res)
	}
	grant := &consent.MsgGrant{Patient: patient.Address(), Grantee: consent.Account(doctor), Actions: consent.ActRead,
		Purpose: consent.PurposeTreatment, Types: []string{"Observation"}}
	if res, err := c.Send(ctx, patient, grant); err != nil || res.Code != 0 {
		t.Fatalf("consent/grant: %v %+v", err, res)
	}

	v, err := NewVerifier(ctx, nw.chainID, nw.rpc[1], TrustRoot{}, WithMaxWait(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	answer := func(reader string) *api.AccessView {
		var a api.AccessView
		path := fmt.Sprintf("/v1/records/%x/access?prove=true&reader=%s", id[:], nw.account(t, reader))
		// Signed by the record's patient: the endpoint answers only the
		// reader itself or the patient's side.
		if err := c.As(patient, nw.chainID).Get(ctx, path, &a); err != nil {
			t.Fatal(err)
		}
		return &a
	}
	for _, tt := range []struct {
		reader string
		basis  consent.Basis
	}{{"patient1", consent.BasisPatient}, {"doctor1", consent.BasisConsent}} {
		t.Run(tt.reader, func(t *testing.T) {
			a := answer(tt.reader)
			check, res, err := v.VerifyAccess(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if !check.Allowed || check.Basis != tt.basis || check.Patient != patient.Address() || res.HeaderHeight != a.Height+1 {
				t.Fatalf("check %+v, result %+v", check, res)
			}
		})
	}
	t.Run("tampered", func(t *testing.T) {
		a := answer("doctor1")
		a.BlockTime = a.BlockTime.Add(time.Second)
		if _, _, err := v.VerifyAccess(ctx, a); !errors.Is(err, ErrAccessMismatch) {
			t.Fatalf("another block time: %v", err)
		}
		a = answer("doctor1")
		a.Grounds = a.Grounds[:len(a.Grounds)-1]
		a.ConsentProof = nil
		if _, _, err := v.VerifyAccess(ctx, a); err == nil {
			t.Fatal("an answer without its consent verified")
		}
	})
	t.Run("unprovable refusal", func(t *testing.T) {
		a := answer("lab-admin")
		if a.Allowed {
			t.Fatalf("lab-admin allowed: %+v", a)
		}
		if _, _, err := v.VerifyAccess(ctx, a); !errors.Is(err, ErrRefusalUnproven) {
			t.Fatalf("refusal: %v", err)
		}
	})
}
