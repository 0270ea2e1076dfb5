package exec_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/exec"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/supply"
	"github.com/medchain/medchain/x/telemed"
	"github.com/medchain/medchain/x/trials"
)

// The random network: apptest's domain network, the supply organizations
// and a trial sponsor.
const (
	orgSponsor   = "dev-sponsor"
	sponsorAdmin = "sponsor-admin"
	trialID      = "NCT00000042"
)

func randomConfig(e exec.Execution) apptest.Config {
	cfg := apptest.Supply()
	cfg.OrgEncKeys = true
	cfg.Orgs = append(cfg.Orgs, accounts.GenesisOrg{ID: orgSponsor, Name: "Sponsor", Type: trials.SponsorType})
	cfg.Members = append(append(cfg.Members, apptest.DomainMembers...), apptest.Member{Name: sponsorAdmin, Org: orgSponsor, Role: accounts.RoleAdmin})
	cfg.Options.Execution = e
	return cfg
}

// gen builds random blocks of every kind of transaction, many of them in
// conflict: the same signers several times a block, the same patients,
// consents granted and revoked in one block, bank sends between the same
// few accounts, fees into the one fee pool, next-id counters, failures of
// every kind.
type gen struct {
	rng      *rand.Rand
	h        *apptest.Harness
	n        uint64
	fresh    []*crypto.PrivKey // keys that may or may not be registered yet
	funded   []*crypto.PrivKey // genesis accounts with a balance
	patients []*crypto.PrivKey
	doctor   *crypto.PrivKey
	gateways []*crypto.PrivKey
	consents uint64 // consent ids granted so far (an upper bound)
	slot     int64
	booked   []uint64 // booking ids seen in events
}

func k(name string) *crypto.PrivKey { return apptest.Key(name) }

func newGen(t *testing.T, seed uint64) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, 42)), h: apptest.NewWithConfig(t, randomConfig(exec.Serial))}
	g.patients = []*crypto.PrivKey{k(apptest.Patient1), k(apptest.Patient2)}
	g.funded = append([]*crypto.PrivKey{k(apptest.HospitalDoctor), k(apptest.HospitalNurse), k(apptest.LabAdmin), k(apptest.Patient3)}, g.patients...)
	g.doctor = k(apptest.HospitalDoctor)
	g.gateways = []*crypto.PrivKey{k(apptest.HospitalGateway), k(apptest.LabGateway)}
	for i := range 12 {
		g.fresh = append(g.fresh, k("fresh-"+strconv.Itoa(i)))
	}
	h := g.h
	h.SupplyMasterData(t)
	// Automations that fire in EndBlock: a record of patient 3 grants the
	// doctor read access to its immunizations for an hour (its
	// observations stay its own); a completed consultation of patient 2
	// releases its escrow; patient 3 is notified of its records.
	h.DeliverOK(t,
		h.Sign(k(apptest.Patient3), &policy.MsgAddRule{Event: policy.EventRecordAdded,
			Action: policy.Action{Kind: policy.ActionGrantConsent, Grantee: consent.Account(g.doctor.Address()), Actions: consent.ActRead, Types: []string{"Immunization"}, Purpose: consent.PurposeTreatment, Seconds: 3600}}),
		h.Sign(k(apptest.Patient2), &policy.MsgAddRule{Event: policy.EventConsultationCompleted, Action: policy.Action{Kind: policy.ActionReleaseEscrow}}),
		h.Sign(k(apptest.Patient3), &policy.MsgAddRule{Event: policy.EventRecordAdded, Action: policy.Action{Kind: policy.ActionNotify, To: consent.Account(k(apptest.Patient3).Address()), Topic: "record"}}),
		h.Sign(g.doctor, &telemed.MsgOffer{Service: "general-consultation", Price: 50, Duration: 60, Arbiter: apptest.OrgLab}),
		h.Sign(k(sponsorAdmin), &trials.MsgRegister{ID: trialID, Title: "t", Sites: []string{apptest.OrgHospital},
			ProtocolHash: [32]byte{1}, SAPHash: [32]byte{2}, Outcomes: []trials.Outcome{{Type: trials.OutcomePrimary, Measure: "HbA1c", TimeFrame: "26 weeks"}}, Planned: 100, LateAfter: 86400}),
	)
	g.slot = h.Time.Add(time.Hour).Unix()
	return g
}

func (g *gen) fill(b []byte) {
	g.n++
	h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("parallel"), g.n))
	copy(b, h[:])
}

func (g *gen) pick(ks []*crypto.PrivKey) *crypto.PrivKey { return ks[g.rng.IntN(len(ks))] }

// sign signs msg by key with its next sequence, sometimes with a fee (the
// fee pool is one key every fee writes), sometimes wrongly (a sequence
// ahead, a bad signature, another chain).
func (g *gen) sign(key *crypto.PrivKey, msg sm.Msg) []byte {
	switch r := g.rng.IntN(40); {
	case r == 0:
		return sm.SignTx(key, apptest.ChainID, g.h.Seq(key)+3, 0, msg)
	case r == 1:
		raw := g.h.Sign(key, msg)
		raw[len(raw)-1] ^= 1
		return raw
	case r == 2:
		return sm.SignTx(key, "other-chain", g.h.Seq(key), 0, msg)
	case r < 14:
		return g.h.SignFee(key, uint64(g.rng.IntN(3)), msg)
	}
	return g.h.Sign(key, msg)
}

func (g *gen) tx() []byte {
	rng := g.rng
	switch rng.IntN(13) {
	case 0: // register: a fresh key, maybe already registered, maybe twice
		key := g.pick(g.fresh)
		return sm.SignTx(key, apptest.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: key.EncKey()})
	case 1: // grant
		p := g.pick(g.patients)
		g.consents++
		return g.sign(p, &consent.MsgGrant{Patient: p.Address(), Grantee: consent.Account(g.doctor.Address()), Actions: consent.ActRead, Purpose: consent.PurposeTreatment})
	case 2: // revoke a recent consent, often one granted in this block, often someone else's
		id := g.consents + 1 - uint64(rng.IntN(4))
		return g.sign(g.pick(g.patients), &consent.MsgRevoke{ID: max(id, 1)})
	case 3: // guardian
		p := g.pick(g.patients)
		other := g.pick(g.patients)
		if rng.IntN(2) == 0 {
			return g.sign(p, &accounts.MsgSetGuardian{Guardian: other.Address()})
		}
		return g.sign(p, &accounts.MsgRevokeGuardian{Guardian: other.Address()})
	case 4, 5: // a record, by the patient for itself (fails when others hold keys)
		// Patient 1 also grants and revokes: whether its record needs the
		// doctor's key depends on consents granted or revoked just before
		// (a listing of its consents, a range read).
		p := g.pick(append([]*crypto.PrivKey{k(apptest.Patient3), k(apptest.Patient3), k(apptest.Patient1)}, g.fresh[:4]...))
		m := &records.MsgAdd{Patient: p.Address(), ResourceType: "Observation", Size: 600}
		g.fill(m.ID[:])
		if rng.IntN(10) == 0 {
			m.ID = records.RecordID{1} // the same id again: refused after the first
		}
		g.fill(m.ContentHash[:])
		wk := records.WrappedKey{Recipient: consent.Account(p.Address())}
		g.fill(wk.Enc[:])
		g.fill(wk.CT[:])
		m.Keys = []records.WrappedKey{wk}
		return g.sign(p, m)
	case 6: // audit events of a gateway (refused one by one: no real proof)
		m := &audit.MsgLog{Events: make([]audit.Event, 1+rng.IntN(2))}
		for i := range m.Events {
			e := &m.Events[i]
			e.Patient, e.Accessor = g.pick(g.patients).Address(), g.doctor.Address()
			g.fill(e.Record[:])
			g.fill(e.ID[:])
			e.Version, e.Time, e.Basis, e.Served = 1, g.h.Time.Unix(), string(consent.BasisConsent), true
			p := &audit.Proof{Kind: audit.ProofRequest, Target: "/v1/records/" + hex.EncodeToString(e.Record[:]) + "/key", Expires: g.h.Time.Unix() + 60}
			g.fill(p.Nonce[:])
			g.fill(p.Sig[:])
			e.Proof = p
		}
		return g.sign(g.pick(g.gateways), m)
	case 7: // bank sends between the same few accounts, some beyond the balance
		from, to := g.pick(g.funded), g.pick(g.funded)
		amount := uint64(1 + rng.IntN(100))
		if rng.IntN(15) == 0 {
			amount = 10 * apptest.Balance
		}
		return g.sign(from, &bank.MsgSend{To: to.Address(), Amount: amount})
	case 8: // telemed: book (escrow pool, next booking id), cancel, done
		switch rng.IntN(3) {
		case 0:
			g.slot += 60
			if rng.IntN(5) == 0 {
				g.slot -= 60 // a slot already booked
			}
			return g.sign(g.pick(g.patients), &telemed.MsgBook{Offer: 1, Start: g.slot})
		case 1:
			return g.sign(g.pick(g.patients), telemed.Cancel(g.booking()))
		}
		if len(g.booked) > 0 && rng.IntN(2) == 0 { // an older booking, whose slot has begun
			return g.sign(g.doctor, telemed.Done(g.booked[rng.IntN(len(g.booked))]))
		}
		return g.sign(g.doctor, telemed.Done(g.booking()))
	case 9: // supply: commission fresh units (the supply event sequence)
		return g.sign(k(apptest.ManufacturerAdmin), g.capture())
	case 10: // trials: consent and enrolment of the same participants
		p := g.pick(g.patients)
		if rng.IntN(2) == 0 {
			return g.sign(p, &trials.MsgConsent{ID: trialID, Participant: p.Address(), Version: 1})
		}
		return g.sign(g.doctor, &trials.MsgEnroll{ID: trialID, Participant: p.Address()})
	case 11: // encounters read by consent conditions
		if rng.IntN(2) == 0 {
			return g.sign(g.doctor, &policy.MsgEncounter{Action: policy.TypeAdmit, Patient: g.pick(g.patients).Address()})
		}
		return g.sign(g.doctor, &policy.MsgEncounter{Action: policy.TypeDischarge, Patient: g.pick(g.patients).Address()})
	}
	// A transaction that does not decode.
	return []byte{0x01, 0x02, 0x03}
}

// booking is one of the last bookings made, or one not made yet.
func (g *gen) booking() uint64 {
	if len(g.booked) == 0 || g.rng.IntN(8) == 0 {
		return uint64(len(g.booked) + 1)
	}
	return g.booked[max(0, len(g.booked)-1-g.rng.IntN(6))]
}

func (g *gen) capture() *supply.MsgCapture {
	m := &supply.MsgCapture{Events: make([]supply.CaptureEvent, 1+g.rng.IntN(3))}
	for i := range m.Events {
		var id [16]byte
		g.fill(id[:])
		serial := fmt.Sprintf("%09d", binary.BigEndian.Uint64(id[:])%1_000_000_000)
		payload := "0" + "0614141" + serial
		sscc := payload + string(gs1.CheckDigit(payload))
		doc := fmt.Sprintf(`{"type":"ObjectEvent","epcList":["urn:epc:id:sscc:0614141.%s"],"eventID":"%x"}`, serial, id)
		sum := sha256.Sum256([]byte(doc))
		m.Events[i] = supply.CaptureEvent{Hash: "ni:///sha-256;" + hex.EncodeToString(sum[:]) + "?ver=CBV2.0", EventID: fmt.Sprintf("urn:uuid:%x", id),
			Type: supply.ObjectEvent, Action: supply.ActionAdd, BizStep: "commissioning", Disposition: "active",
			EventTime: g.h.Time.UnixMilli(), EPCs: []string{"(00)" + sscc}, JSON: []byte(doc)}
	}
	return m
}

// block builds and finalizes (serially) one random block, some of its
// transactions in bundles.
func (g *gen) block(t *testing.T, size int) {
	g.slot = max(g.slot, g.h.Time.Unix()+10) - 60
	var txs [][]byte
	for len(txs) < size {
		if g.rng.IntN(10) == 0 {
			var inner [][]byte
			for range 2 + g.rng.IntN(4) {
				inner = append(inner, g.tx())
			}
			txs = append(txs, sm.EncodeBundle(inner))
			continue
		}
		txs = append(txs, g.tx())
	}
	if g.rng.IntN(2) == 0 {
		g.h.Advance(time.Duration(g.rng.IntN(600)) * time.Second)
	}
	resp := g.h.Finalize(t, txs...)
	g.h.ResyncAll()
	for _, r := range resp.TxResults {
		for _, e := range r.Events {
			if e.Type != "telemed_booked" {
				continue
			}
			for _, a := range e.Attributes {
				if a.Key == "booking" {
					id, _ := strconv.ParseUint(a.Value, 10, 64)
					g.booked = append(g.booked, id)
				}
			}
		}
	}
}

// TestParallelMatchesSerial executes random blocks serially, then replays
// them on apps that execute in parallel with 1, 2, 4 and 8 workers, and
// compares every FinalizeBlock response (codes, logs, events, validator
// updates, app hash) byte for byte.
func TestParallelMatchesSerial(t *testing.T) {
	seeds, blocks := []uint64{1, 2}, 10
	if testing.Short() {
		seeds, blocks = seeds[:1], 6
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			g := newGen(t, seed)
			for range blocks {
				g.block(t, 20+g.rng.IntN(150))
			}
			failed, ok := 0, 0
			for _, b := range g.h.Blocks {
				for _, r := range b.Resp.TxResults {
					if r.Code == 0 {
						ok++
					} else {
						failed++
					}
				}
			}
			if ok < 200 || failed < 50 {
				t.Fatalf("%d transactions succeeded and %d failed: the mix does not exercise enough", ok, failed)
			}
			for _, workers := range []int{1, 2, 4, 8} {
				replay := apptest.NewWithConfig(t, randomConfig(exec.Execution{Workers: workers, MinTxs: 1}))
				for _, blk := range g.h.Blocks {
					replay.Advance(blk.Time.Sub(replay.NextTime()))
					got := replay.Finalize(t, blk.Txs...)
					sameResponse(t, workers, blk, got)
				}
			}
		})
	}
}

func sameResponse(t *testing.T, workers int, want apptest.Block, got *abci.ResponseFinalizeBlock) {
	t.Helper()
	for i, w := range want.Resp.TxResults {
		g := got.TxResults[i]
		if !bytes.Equal(mustMarshal(t, w), mustMarshal(t, g)) {
			t.Fatalf("workers=%d block %d tx %d: parallel\n%v\nserial\n%v", workers, want.Height, i, g, w)
		}
	}
	if !bytes.Equal(mustMarshal(t, want.Resp), mustMarshal(t, got)) {
		t.Fatalf("workers=%d block %d: responses differ (app hash %X parallel, %X serial)", workers, want.Height, got.AppHash, want.Resp.AppHash)
	}
}

func mustMarshal(t *testing.T, m interface{ Marshal() ([]byte, error) }) []byte {
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
