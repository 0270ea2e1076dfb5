package devnet

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/fees"
	"github.com/medchain/medchain/x/research"
	"github.com/medchain/medchain/x/telemed"
	"github.com/medchain/medchain/x/trials"
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
// records written by a lab, a doctor and a patient, an emergency custodian,
// a read that shows up in the audit trail, a telemedicine booking paid into
// escrow, and a paid research request a patient opted in to and was paid by.
func Seed(ctx context.Context, api string, keysDir string, out io.Writer) error {
	ks := keystore.Open(keysDir)
	ks.Params = keystore.LightParams()
	keys := map[string]*crypto.PrivKey{}
	for _, name := range []string{"patient1", "patient2", "doctor1", "doctor2", "labtech1", "researcher1", "sponsor-admin", "hospital-admin",
		"manufacturer-admin", "distributor-admin", "pharmacy-admin"} {
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
	var labResults []consent.RecordID
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
		if a[0] == "labtech1" {
			labResults = append(labResults, id)
		}
	}
	var p2Obs consent.RecordID
	for i, f := range []string{"p2-bp.json", "p2-immunization.json"} {
		id, err := add("patient2", "patient2", f)
		if err != nil {
			return err
		}
		if i == 0 {
			p2Obs = id
		}
	}
	chainID := signers["doctor1"].ChainID
	if _, _, err := c.ReadRecord(ctx, keys["doctor1"], chainID, first, 0); err != nil {
		return fmt.Errorf("demo: doctor1 reads: %w", err)
	}
	if err := seedTrial(ctx, c, keys, labResults); err != nil {
		return err
	}
	booking, err := demoBooking(ctx, c, signers)
	if err != nil {
		return err
	}
	request, err := demoResearch(ctx, c, signers, keys, p2Obs)
	if err != nil {
		return err
	}
	// The sponsor: the hospital pays patient1's fees.
	if _, err := c.SubmitSigned(ctx, signers["hospital-admin"], &fees.MsgGrant{Grantee: keys["patient1"].Address(),
		Limit: demoSponsorLimit, Period: 30 * 24 * 3600, PeriodLimit: demoSponsorLimit / 10}, true); err != nil {
		return fmt.Errorf("demo: hospital-admin sponsors patient1: %w", err)
	}
	if err := seedSupply(ctx, c, keys); err != nil {
		return err
	}
	fmt.Fprintf(out, `Demo data seeded:
  patient1: 5 records (2 lab results by labtech1; condition, medication, allergy by doctor1);
            consents to labtech1 (write lab results), doctor1 (read/write), dev-hospital (emergency custodian)
  patient2: 2 records of their own; opted in to researcher1's paid data request %d
            (Observation, %d per patient), paid once researcher1 read the blood pressure
  telemedicine: doctor1 offers a consultation (arbiter dev-regulator); patient1 booked it
            (booking %d, %d in escrow until doctor1 marks it done and patient1 confirms)
  trial %s (sponsor dev-sponsor, site dev-hospital): patient1 consented, enrolled by doctor1,
            a batch of patient1's 2 lab results anchored
  tokens: every development account holds %d; hospital-admin sponsors patient1's fees
            (%d in all, %d per 30 days: send with --fee-payer hospital-admin)
  supply chain: dev-manufacturer commissioned 3 units of %s lot %s, shipped them in a case
            to dev-distributor, which shipped it to dev-pharmacy, which dispensed unit S1001
Try:
  export MEDCHAIN_PASSPHRASE=%s
  medchain record list --patient patient1
  medchain record get --from doctor1 %s
  medchain audit --from patient1
  medchain telemed show --from patient1 %d
  medchain research payments --from patient2
  medchain bank balance patient1 --prove
  medchain fees show --from patient1
  medchain trial show %s
  medchain trial timeline %s --from sponsor-admin
  medchain supply verify '%s'
`, request, demoResearchPrice, booking, demoConsultPrice, DemoTrial, DevBalance, demoSponsorLimit, demoSponsorLimit/10, DemoGTIN, DemoLot, DevPassphrase, hex.EncodeToString(first[:]), booking, DemoTrial, DemoTrial, DemoUnitDL2)
	return nil
}

// Demo amounts.
const (
	demoConsultPrice  = 5_000
	demoResearchPrice = 1_000
	demoSponsorLimit  = 1_000_000
)

// demoBooking: doctor1 offers a consultation arbitrated by the regulator;
// patient1 books the slot two hours from now (cancellable for an hour). It
// returns the booking id.
func demoBooking(ctx context.Context, c *client.Client, signers map[string]*client.Signer) (uint64, error) {
	res, err := c.SubmitSigned(ctx, signers["doctor1"], &telemed.MsgOffer{Service: "general-consultation", Price: demoConsultPrice,
		Duration: 1800, Arbiter: "dev-regulator", CancelBefore: 3600, Grace: 900}, true)
	if err != nil {
		return 0, fmt.Errorf("demo: doctor1 offers: %w", err)
	}
	offer, err := eventID(res, "telemed_offer", "offer")
	if err != nil {
		return 0, err
	}
	res, err = c.SubmitSigned(ctx, signers["patient1"], &telemed.MsgBook{Offer: offer, Start: time.Now().Add(2 * time.Hour).Unix()}, true)
	if err != nil {
		return 0, fmt.Errorf("demo: patient1 books: %w", err)
	}
	return eventID(res, "telemed_booked", "booking")
}

// demoResearch: researcher1 opens a paid request for Observations; patient2
// grants the research consent it needs and opts in; researcher1 reads
// patient2's blood pressure through the gateway, which logs the read; the
// chain pays patient2 from the escrow at the end of the block that logs it.
func demoResearch(ctx context.Context, c *client.Client, signers map[string]*client.Signer, keys map[string]*crypto.PrivKey, rec consent.RecordID) (uint64, error) {
	end := time.Now().Add(30 * 24 * time.Hour).Unix()
	res, err := c.SubmitSigned(ctx, signers["researcher1"], &research.MsgOpen{Budget: 100 * demoResearchPrice, Price: demoResearchPrice,
		Types: []string{"Observation"}, Codes: []string{"http://loinc.org|85354-9"}, Purpose: "blood-pressure-outcomes", End: end}, true)
	if err != nil {
		return 0, fmt.Errorf("demo: researcher1 opens a request: %w", err)
	}
	req, err := eventID(res, "research_opened", "request")
	if err != nil {
		return 0, err
	}
	gr, err := c.Grant(ctx, signers["patient2"], &consent.MsgGrant{Patient: keys["patient2"].Address(), Grantee: consent.Account(keys["researcher1"].Address()),
		Actions: consent.ActRead, Types: []string{"Observation"}, Purpose: consent.PurposeResearch, Until: end})
	if err != nil {
		return 0, fmt.Errorf("demo: patient2 grants the research consent: %w", err)
	}
	if _, err := c.SubmitSigned(ctx, signers["patient2"], &research.MsgOptIn{Request: req, Patient: keys["patient2"].Address(), Consent: gr.ConsentID}, true); err != nil {
		return 0, fmt.Errorf("demo: patient2 opts in: %w", err)
	}
	if _, _, err := c.ReadRecord(ctx, keys["researcher1"], signers["researcher1"].ChainID, rec, 0); err != nil {
		return 0, fmt.Errorf("demo: researcher1 reads: %w", err)
	}
	return req, nil
}

func eventID(res *api.TxResult, typ, key string) (uint64, error) {
	for _, e := range res.Events {
		if e.Type == typ {
			if id, err := strconv.ParseUint(e.Attrs[key], 10, 64); err == nil {
				return id, nil
			}
		}
	}
	return 0, fmt.Errorf("demo: tx %s has no %s.%s", res.Hash, typ, key)
}

// DemoTrial is the registry id of the demo's clinical trial.
const DemoTrial = "NCT05000001"

// seedTrial registers the demo trial, has patient1 consent and doctor1
// enroll them, and anchors a batch of patient1's lab results (their
// ciphertext hashes) collected after the consent.
func seedTrial(ctx context.Context, c *client.Client, keys map[string]*crypto.PrivKey, recs []consent.RecordID) error {
	p1 := keys["patient1"].Address()
	send := func(who string, m sm.Msg) error {
		if _, err := c.Send(ctx, keys[who], m); err != nil {
			return fmt.Errorf("demo: %s %s: %w", who, m.Type(), err)
		}
		return nil
	}
	reg := &trials.MsgRegister{ID: DemoTrial, Title: "Once-weekly versus once-daily basal insulin in type 2 diabetes (demo)",
		Sites: []string{"dev-hospital"}, ProtocolHash: sha256.Sum256([]byte("demo protocol v1")), SAPHash: sha256.Sum256([]byte("demo statistical analysis plan v1")),
		Outcomes: []trials.Outcome{
			{Type: trials.OutcomePrimary, Measure: "Change in HbA1c", TimeFrame: "Baseline to week 26"},
			{Type: trials.OutcomeSecondary, Measure: "Fasting plasma glucose", TimeFrame: "Week 26"},
			{Type: trials.OutcomeSecondary, Measure: "Level 2 hypoglycaemia events", TimeFrame: "Weeks 0 to 26"},
		}, Planned: 120, LateAfter: 7 * 24 * 3600}
	for _, st := range []struct {
		who string
		m   sm.Msg
	}{
		{"sponsor-admin", reg},
		{"patient1", &trials.MsgConsent{ID: DemoTrial, Participant: p1, Version: 1}},
		{"doctor1", &trials.MsgEnroll{ID: DemoTrial, Participant: p1}},
	} {
		if err := send(st.who, st.m); err != nil {
			return err
		}
	}
	// The batch: collected after the consent's block, anchored after
	// collection (block times are whole seconds).
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	collected := time.Now().Add(-time.Second).Unix()
	reader := c.As(keys["doctor1"], "")
	var leaves [][]byte
	for _, id := range recs {
		v, err := reader.Record(ctx, id, "")
		if err != nil || len(v.Versions) == 0 {
			return fmt.Errorf("demo: record %x: %v", id, err)
		}
		var d trials.Datum
		d.Participant, d.Collected = p1, collected
		h, err := hex.DecodeString(v.Versions[len(v.Versions)-1].ContentHash)
		if err != nil || len(h) != len(d.RecordHash) {
			return fmt.Errorf("demo: record %x: content hash %q", id, v.Versions[0].ContentHash)
		}
		copy(d.RecordHash[:], h)
		leaves = append(leaves, trials.LeafHash(DemoTrial, d))
	}
	return send("doctor1", &trials.MsgAnchor{ID: DemoTrial, Root: trials.Root(leaves), Leaves: uint64(len(leaves)),
		Participants: []crypto.Address{p1}, CollectedFrom: collected, CollectedTo: collected})
}
