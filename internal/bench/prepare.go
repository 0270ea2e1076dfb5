package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/telemed"
)

// DevKeys are the development accounts the mix uses, read from a node
// home's keystore (devnet writes them there).
type DevKeys struct {
	Practitioners []crypto.Address
	Guardians     []crypto.Address // the development patients
	Gateways      []*crypto.PrivKey
	// Patients are the development patients' keys (funded in genesis): the
	// payers of telemedicine bookings.
	Patients []*crypto.PrivKey
	// Provider is a development practitioner's key, with its organization,
	// that publishes the payers' offers.
	Provider    *crypto.PrivKey
	ProviderOrg string
	// Arbiter is a development organization other than the provider's.
	Arbiter string
}

// LoadDevKeys reads the development keys under home with
// devnet.DevPassphrase. It leaves out the gateway key the home's node runs
// with: that node signs audit batches with it, and two signers of one
// account would race for its sequence.
func LoadDevKeys(home string) (DevKeys, error) {
	var k DevKeys
	own := ""
	if cfg, err := config.Load(home); err == nil {
		own = cfg.Gateway.Key
	}
	ks := keystore.Open(config.KeysDir(home))
	for _, a := range devnet.Accounts {
		switch {
		case a.Kind == "patient":
		case a.Role == accounts.RolePractitioner:
		case a.Role == accounts.RoleGateway && a.Name != own:
		default:
			continue
		}
		key, err := ks.Load(a.Name, devnet.DevPassphrase)
		if err != nil {
			return k, fmt.Errorf("development key %s in %s: %w", a.Name, config.KeysDir(home), err)
		}
		switch {
		case a.Kind == "patient":
			k.Guardians = append(k.Guardians, key.Address())
			k.Patients = append(k.Patients, key)
		case a.Role == accounts.RolePractitioner:
			k.Practitioners = append(k.Practitioners, key.Address())
			if k.Provider == nil {
				k.Provider, k.ProviderOrg = key, a.Org
			}
		default:
			k.Gateways = append(k.Gateways, key)
		}
	}
	for _, a := range devnet.Accounts {
		if a.Org != "" && a.Org != k.ProviderOrg {
			k.Arbiter = a.Org
			break
		}
	}
	return k, nil
}

// PrepareOptions describe the setup of a medchain run.
type PrepareOptions struct {
	API         string // a node's API, for the chain id and the gateways' sequences
	Client      *http.Client
	Intake      Intake
	Observer    Observer
	Keys        DevKeys
	Accounts    int // fresh patients to register
	Mix         Mix
	AuditEvents int
	EPCISEvents int // events per supply/capture (kind epcis)
	Lanes       int // of the run
	Batch       int // transactions per submission during setup
	// Registrations is how many registrations of fresh keys the run is
	// expected to send: they are built before it (Medchain.Prebuild).
	Registrations int
	Progress      io.Writer
}

// PrepareMedchain registers o.Accounts fresh patients (in parallel batches,
// through the run's intake) and returns the generator of the run.
func PrepareMedchain(ctx context.Context, o PrepareOptions) (*Medchain, *Setup, error) {
	start := time.Now()
	c := client.New(o.API)
	if o.Client != nil {
		c.HTTP = o.Client
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, nil, err
	}
	var gateways []*Account
	for _, k := range o.Keys.Gateways {
		seq, err := c.Sequence(ctx, k.Address())
		if err != nil {
			return nil, nil, err
		}
		gateways = append(gateways, NewAccount(k, seq))
	}
	keys := make([]*crypto.PrivKey, o.Accounts)
	for i := range keys {
		if keys[i], err = crypto.GenerateKey(nil); err != nil {
			return nil, nil, err
		}
	}
	setupLanes := 8
	if o.Intake.MaxBatch() == 1 {
		setupLanes = 32
	}
	batch := o.Batch
	if batch <= 0 {
		batch = 500
	}
	// No block may hold more self-registrations than the chain allows:
	// keep at most that many on their way.
	window, err := registrationCap(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if err := SubmitAll(ctx, o.Intake, o.Observer, RegisterTxs(st.ChainID, keys), setupLanes, batch, window, 5*time.Minute, o.Progress); err != nil {
		return nil, nil, err
	}
	patients := make([]*Account, len(keys))
	for i, k := range keys {
		patients[i] = NewAccount(k, 1) // registration used sequence 0
	}
	payers, err := preparePayers(ctx, c, o)
	if err != nil {
		return nil, nil, err
	}
	m, err := NewMedchain(MedchainConfig{
		ChainID: st.ChainID, Mix: o.Mix, Lanes: o.Lanes, Patients: patients, Gateways: gateways,
		Practitioners: o.Keys.Practitioners, Guardians: o.Keys.Guardians, AuditEvents: o.AuditEvents, EPCISEvents: o.EPCISEvents,
		Payers: payers, SlotBase: time.Now().Add(24 * time.Hour).Unix(), SlotSeconds: benchSlot,
	})
	if err != nil {
		return nil, nil, err
	}
	if err := m.Prebuild(o.Registrations); err != nil {
		return nil, nil, err
	}
	return m, &Setup{Accounts: len(keys), Seconds: time.Since(start).Seconds(), Classes: m.Classes}, nil
}

// benchSlot is the duration of the bench's telemedicine offers (the
// shortest allowed), so that a payer's consecutive slots, booked a day
// ahead, stay within telemed.max_advance_seconds for half a million
// bookings.
const benchSlot = telemed.MinDuration

// preparePayers, when the mix books telemedicine slots, has the
// development practitioner publish one offer per development patient (at
// price 1, so a payer's balance lasts) and returns the patients as payers
// with their sequences and offers.
func preparePayers(ctx context.Context, c *client.Client, o PrepareOptions) ([]*Account, error) {
	if o.Mix[KindBook] == 0 && o.Mix[KindCancel] == 0 && o.Mix[KindTransfer] == 0 {
		return nil, nil
	}
	offers := o.Mix[KindBook] > 0 || o.Mix[KindCancel] > 0
	k := o.Keys
	if k.Provider == nil || k.Arbiter == "" || len(k.Patients) == 0 {
		return nil, fmt.Errorf("telemedicine bookings need the development practitioners and patients")
	}
	s, _, err := c.NewAccountSigner(ctx, k.Provider)
	if err != nil {
		return nil, err
	}
	var out []*Account
	for _, pk := range k.Patients {
		if !offers { // transfers only: funded patients, no offers
			seq, err := c.Sequence(ctx, pk.Address())
			if err != nil {
				return nil, err
			}
			out = append(out, NewAccount(pk, seq))
			continue
		}
		res, err := c.SubmitSigned(ctx, s, &telemed.MsgOffer{Service: "bench-consultation", Price: 1, Duration: benchSlot, Arbiter: k.Arbiter}, true)
		if err != nil {
			return nil, fmt.Errorf("bench offer: %w", err)
		}
		var offer uint64
		for _, e := range res.Events {
			if e.Type == "telemed_offer" {
				offer, _ = strconv.ParseUint(e.Attrs["offer"], 10, 64)
			}
		}
		if offer == 0 {
			return nil, fmt.Errorf("bench offer: tx %s names no offer", res.Hash)
		}
		seq, err := c.Sequence(ctx, pk.Address())
		if err != nil {
			return nil, err
		}
		a := NewAccount(pk, seq)
		a.offer = offer
		out = append(out, a)
	}
	return out, nil
}

// registrationCap reads accounts.max_self_registrations_per_block from the
// node (GET /v1/params).
func registrationCap(ctx context.Context, c *client.Client) (int, error) {
	var out struct {
		Params []struct {
			Name  string `json:"name"`
			Value uint64 `json:"value"`
		} `json:"params"`
	}
	// A node just started has no committed state to answer from until its
	// first block.
	if _, err := c.WaitHeight(ctx, 1); err != nil {
		return 0, fmt.Errorf("bench: reading the registration cap: %w", err)
	}
	if err := c.Get(ctx, "/v1/params", &out); err != nil {
		return 0, fmt.Errorf("bench: reading the registration cap: %w", err)
	}
	for _, p := range out.Params {
		if p.Name == accounts.ParamMaxSelfRegistrations {
			if p.Value == 0 {
				return 0, fmt.Errorf("bench: %s is 0 on this chain: patients cannot register", p.Name)
			}
			return int(min(p.Value, 1<<20)), nil
		}
	}
	return 0, nil // a chain without the cap
}
