package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// TestVerifyAccess: `medchain verify --access` checks the node's access
// answer end to end with a light client (here the node's own RPC as witness,
// which it warns about); a refusal for want of a consent is reported as not
// provable and exits non-zero. The request is signed, as the reader (the
// --reader key) or with --from.
func TestVerifyAccess(t *testing.T) {
	home := devNode(t)
	cfg, err := config.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	witness := "http://" + cfg.RPC.Listen
	patient, err := keystore.Open(config.KeysDir(home)).Load("patient1", devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := client.New(shared.api)
	// The chain checks who holds a wrapped key, not what it opens: a
	// registration with placeholder keys is enough to ask about access.
	var id consent.RecordID
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	holders, err := c.As(patient, "").KeyHolders(ctx, patient.Address(), "Observation", id)
	if err != nil {
		t.Fatal(err)
	}
	add := &records.MsgAdd{ID: id, Patient: patient.Address(), ResourceType: "Observation", ContentHash: [32]byte{7, 7, 7}, Size: 10}
	copy(add.ContentHash[3:], id[:])
	for _, h := range holders {
		add.Keys = append(add.Keys, records.WrappedKey{Recipient: h.Party})
	}
	slices.SortFunc(add.Keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
	if res, err := c.Send(ctx, patient, add); err != nil || res.Code != 0 {
		t.Fatalf("records/add: %v %+v", err, res)
	}
	rec := hex.EncodeToString(id[:])

	r := run(t, devEnv(), "verify", "--access", rec, "--reader", "patient1", "--witness", witness)
	if r.code != 0 {
		t.Fatalf("verify --access: %v", r)
	}
	wantContains(t, r.stdout, "allowed, basis patient", "grounds:", "access answer verified against light-client headers")
	wantContains(t, r.stderr, "the witness is the node that served the answer")

	wantContains(t, fails(t, "verify", "--access", rec, "--reader", "doctor2", "--witness", witness),
		"access answer NOT verified", "cannot be proven")
	// The answer is served only to a signed request by the reader or the
	// record's owner: the patient may ask about doctor2, doctor1 may not.
	wantContains(t, fails(t, "verify", "--access", rec, "--reader", "doctor2", "--from", "patient1", "--witness", witness),
		"access answer NOT verified", "cannot be proven")
	wantContains(t, fails(t, "verify", "--access", rec, "--reader", "doctor2", "--from", "doctor1", "--witness", witness),
		"may ask only about its own access")
	wantContains(t, fails(t, "verify", "--access", rec, "--witness", witness), "--access RECORD_ID and --reader ACCOUNT go together")
	wantContains(t, fails(t, "verify", "--access", rec, "--account", "patient1", "--reader", "patient1", "--witness", witness), "exactly one of")
}
