package devnet

import (
	"context"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/x/consent"
)

//go:embed demo/*.json
var demoFS embed.FS

// DemoPlaceholder is the patient reference the demo's FHIR files carry
// (demo/*.json, "Patient/demo-patient-1" or "-2"): the development keys are
// new on every home, so the reference is set to the patient's address when
// the file is used. A record must name the patient it is filed under
// (internal/fhirsubject).
const DemoPlaceholder = "Patient/demo-patient-"

// DemoResource returns the demo FHIR file name with its patient reference
// set to "Patient/" + patient's address.
func DemoResource(name string, patient crypto.Address) ([]byte, error) {
	data, err := demoFS.ReadFile("demo/" + name)
	if err != nil {
		return nil, err
	}
	re := regexp.MustCompile(`"` + regexp.QuoteMeta(DemoPlaceholder) + `[0-9]+"`)
	return re.ReplaceAll(data, []byte(`"Patient/`+patient.String()+`"`)), nil
}

// Seed fills a new development network with a small demo through the node's
// API, exactly as users would: consents, then realistic synthetic FHIR
// records written by a lab, a doctor and a patient, a research consent, an
// emergency custodian, and a read that shows up in the audit trail.
func Seed(ctx context.Context, api string, keysDir string, out io.Writer) error {
	ks := keystore.Open(keysDir)
	ks.Params = keystore.LightParams()
	keys := map[string]*crypto.PrivKey{}
	for _, name := range []string{"patient1", "patient2", "doctor1", "doctor2", "labtech1", "researcher1"} {
		k, err := ks.Load(name, DevPassphrase)
		if err != nil {
			return fmt.Errorf("demo: key %s: %w", name, err)
		}
		keys[name] = k
	}
	c := client.New(api)
	if _, err := c.WaitHeight(ctx, 2); err != nil {
		return err
	}
	signers := map[string]*client.Signer{}
	for name, k := range keys {
		s, err := c.NewSigner(ctx, k)
		if err != nil {
			return err
		}
		signers[name] = s
	}
	addr := func(n string) crypto.Address { return keys[n].Address() }
	grant := func(patient string, g consent.Party, acts uint8, types []string, purpose string, until int64) error {
		_, err := c.Grant(ctx, signers[patient], &consent.MsgGrant{Patient: addr(patient), Grantee: g, Actions: acts, Types: types, Purpose: purpose, Until: until})
		if err != nil {
			return fmt.Errorf("demo: %s grants %s: %w", patient, g, err)
		}
		return nil
	}
	add := func(author, patient, file string) (consent.RecordID, error) {
		data, err := DemoResource(file, addr(patient))
		if err != nil {
			return consent.RecordID{}, err
		}
		res, err := c.AddRecord(ctx, signers[author], addr(patient), data, nil)
		if err != nil {
			return consent.RecordID{}, fmt.Errorf("demo: %s adds %s: %w", author, file, err)
		}
		return res.ID, nil
	}
	steps := []func() error{
		func() error {
			return grant("patient1", consent.Account(addr("labtech1")), consent.ActWrite, []string{"DiagnosticReport", "Observation"}, consent.PurposeTreatment, 0)
		},
		func() error {
			return grant("patient1", consent.Account(addr("doctor1")), consent.ActRead|consent.ActWrite, nil, consent.PurposeTreatment, 0)
		},
		func() error {
			return grant("patient1", consent.Org("dev-hospital"), consent.ActRead, nil, consent.PurposeEmergency, 0)
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	var first consent.RecordID
	for i, a := range [][2]string{
		{"labtech1", "p1-hba1c.json"}, {"labtech1", "p1-glucose.json"},
		{"doctor1", "p1-condition.json"}, {"doctor1", "p1-medication.json"}, {"doctor1", "p1-allergy.json"},
	} {
		id, err := add(a[0], "patient1", a[1])
		if err != nil {
			return err
		}
		if i == 0 {
			first = id
		}
	}
	for _, f := range []string{"p2-bp.json", "p2-immunization.json"} {
		if _, err := add("patient2", "patient2", f); err != nil {
			return err
		}
	}
	if err := grant("patient2", consent.Account(addr("researcher1")), consent.ActRead, []string{"Observation"}, consent.PurposeResearch, time.Now().Add(30*24*time.Hour).Unix()); err != nil {
		return err
	}
	chainID := signers["doctor1"].ChainID
	if _, _, err := c.ReadRecord(ctx, keys["doctor1"], chainID, first, 0); err != nil {
		return fmt.Errorf("demo: doctor1 reads: %w", err)
	}
	fmt.Fprintf(out, `Demo data seeded:
  patient1: 5 records (2 lab results by labtech1; condition, medication, allergy by doctor1);
            consents to labtech1 (write lab results), doctor1 (read/write), dev-hospital (emergency custodian)
  patient2: 2 records of their own; a research consent to researcher1 for 30 days
Try:
  export MEDCHAIN_PASSPHRASE=%s
  medchain record list --patient patient1
  medchain record get --from doctor1 %s
  medchain audit --from patient1
`, DevPassphrase, hex.EncodeToString(first[:]))
	return nil
}
