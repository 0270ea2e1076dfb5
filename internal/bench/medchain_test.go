package bench

import (
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/epcis"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/supply"
	"github.com/medchain/medchain/x/telemed"
)

func testKey(t *testing.T) *crypto.PrivKey {
	t.Helper()
	k, err := crypto.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// oneKind builds a generator over a single patient and gateway that sends
// only kind k.
func oneKind(t *testing.T, k Kind) (*Medchain, *Account) {
	t.Helper()
	p := NewAccount(testKey(t), 1)
	m, err := NewMedchain(MedchainConfig{
		ChainID: "c", Mix: Mix{k: 1}, Lanes: 1, Patients: []*Account{p},
		Gateways: []*Account{NewAccount(testKey(t), 5)}, Practitioners: []crypto.Address{{1}}, Guardians: []crypto.Address{{2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, p
}

func decode(t *testing.T, tx *Tx) *sm.Tx {
	t.Helper()
	d, err := sm.DecodeTx(tx.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if !crypto.Verify(d.Body.Signer, sm.SignBytes(d.BodyBytes), d.Sig) {
		t.Fatal("bad signature")
	}
	return d
}

func TestRecordsListTheirPatientAsOnlyKeyHolder(t *testing.T) {
	m, p := oneKind(t, KindRecord)
	tx := m.Next(0, time.Unix(1000, 0))
	d := decode(t, tx)
	if d.Body.Type != records.TypeAdd || d.Body.Sequence != 1 || d.Signer() != p.Addr {
		t.Fatalf("got %v", d)
	}
	msg, err := recordsDecode(d.Body.Msg)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Patient != p.Addr || len(msg.Keys) != 1 || msg.Keys[0].Recipient != consent.Account(p.Addr) {
		t.Fatalf("keys %+v", msg.Keys)
	}
	if err := msg.ValidateBasic(); err != nil {
		t.Fatal(err)
	}
}

func recordsDecode(b []byte) (*records.MsgAdd, error) {
	_, msg, err := sm.NewRouter(records.Module{}).DecodeMsg(sm.Body{Type: records.TypeAdd, Msg: b})
	if err != nil {
		return nil, err
	}
	return msg.(*records.MsgAdd), nil
}

func TestRejectionRollsBackOnce(t *testing.T) {
	m, p := oneKind(t, KindGuardian)
	t1 := m.Next(0, time.Now()) // set, seq 1
	t2 := m.Next(0, time.Now()) // revoke, seq 2
	t3 := m.Next(0, time.Now()) // set, seq 3
	for i, tx := range []*Tx{t1, t2, t3} {
		if d := decode(t, tx); d.Body.Sequence != uint64(i+1) {
			t.Fatalf("tx %d has sequence %d", i, d.Body.Sequence)
		}
	}
	if decode(t, t2).Body.Type != accounts.TypeRevokeGuardian {
		t.Fatal("guardian kinds do not alternate")
	}
	// t2 was rejected (say the mempool was full), so t3 was too.
	m.Rejected(t2)
	m.Rejected(t3)
	if p.Seq != 2 || !p.guardianSet {
		t.Fatalf("after rollback seq %d guardianSet %v, want 2 true", p.Seq, p.guardianSet)
	}
	t4 := m.Next(0, time.Now())
	if d := decode(t, t4); d.Body.Sequence != 2 || d.Body.Type != accounts.TypeRevokeGuardian {
		t.Fatalf("resent %s seq %d", d.Body.Type, d.Body.Sequence)
	}
}

func TestRevokeNeedsACommittedGrant(t *testing.T) {
	m, p := oneKind(t, KindRevoke)
	g := m.Next(0, time.Now())
	if decode(t, g).Body.Type != consent.TypeGrant {
		t.Fatal("with nothing to revoke the generator should grant")
	}
	m.Committed(g, &BlockTx{Events: []Event{{Type: "consent_granted", Attrs: map[string]string{"id": "42"}}}})
	r := m.Next(0, time.Now())
	d := decode(t, r)
	if d.Body.Type != consent.TypeRevoke {
		t.Fatalf("got %s", d.Body.Type)
	}
	m.Rejected(r)
	if len(p.grants) != 1 || p.grants[0] != 42 {
		t.Fatalf("a rejected revoke must give its grant back: %v", p.grants)
	}
}

func TestKVTransactions(t *testing.T) {
	g := NewKV(250, 2)
	seen := map[[32]byte]bool{}
	for i := range 100 {
		tx := g.Next(i%2, time.Time{})
		if len(tx.Raw) != 250 {
			t.Fatalf("%d bytes", len(tx.Raw))
		}
		eq := 0
		for _, c := range tx.Raw {
			if c == '=' {
				eq++
			}
			if c == ':' {
				t.Fatal("kvstore would read ':' as a separator")
			}
		}
		if eq != 1 || seen[tx.Hash] {
			t.Fatalf("tx %q: want one '=' and a new key", tx.Raw)
		}
		seen[tx.Hash] = true
	}
}

// TestCancelNeedsACommittedBooking: a payer books consecutive slots of its
// own offer; a cancel names a booking seen committed, and a rejected cancel
// gives it back.
func TestCancelNeedsACommittedBooking(t *testing.T) {
	payer := NewAccount(testKey(t), 4)
	payer.offer = 7
	m, err := NewMedchain(MedchainConfig{ChainID: "c", Mix: Mix{KindCancel: 1}, Lanes: 1, Payers: []*Account{payer}, SlotBase: 1_000_000, SlotSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	var starts []int64
	for range 2 {
		b := m.Next(0, time.Now())
		d := decode(t, b)
		if d.Body.Type != telemed.TypeBook || d.Signer() != payer.Addr {
			t.Fatalf("with nothing to cancel the generator should book: %s", d.Body.Type)
		}
		_, msg, err := sm.NewRouter(&telemed.Module{}).DecodeMsg(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		bk := msg.(*telemed.MsgBook)
		if bk.Offer != 7 {
			t.Fatalf("booked offer %d", bk.Offer)
		}
		starts = append(starts, bk.Start)
		if len(starts) == 2 {
			m.Committed(b, &BlockTx{Events: []Event{{Type: "telemed_booked", Attrs: map[string]string{"booking": "42"}}}})
		}
	}
	if starts[0] != 1_000_000 || starts[1] != 1_000_060 {
		t.Fatalf("slots %v overlap or skip", starts)
	}
	c := m.Next(0, time.Now())
	if d := decode(t, c); d.Body.Type != telemed.TypeCancel {
		t.Fatalf("got %s", d.Body.Type)
	}
	m.Rejected(c)
	if len(payer.bookings) != 1 || payer.bookings[0] != 42 {
		t.Fatalf("a rejected cancel must give its booking back: %v", payer.bookings)
	}
	if _, err := NewMedchain(MedchainConfig{ChainID: "c", Mix: Mix{KindBook: 1}, Lanes: 1}); err == nil {
		t.Fatal("a booking mix without payers was accepted")
	}
}

// TestTransferKind: a transfer is a bank/send of 1 token from a payer to
// another funded account, never to itself; a transfer mix without
// recipients is refused.
func TestTransferKind(t *testing.T) {
	a, b := NewAccount(testKey(t), 0), NewAccount(testKey(t), 3)
	m, err := NewMedchain(MedchainConfig{ChainID: "c", Mix: Mix{KindTransfer: 1}, Lanes: 1, Payers: []*Account{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		d := decode(t, m.Next(0, time.Now()))
		_, msg, err := sm.NewRouter(bank.Module{}).DecodeMsg(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		send := msg.(*bank.MsgSend)
		if send.Amount != 1 || send.To == d.Signer() || (send.To != a.Addr && send.To != b.Addr) {
			t.Fatalf("transfer %+v from %s", send, d.Signer())
		}
	}
	if _, err := NewMedchain(MedchainConfig{ChainID: "c", Mix: Mix{KindTransfer: 1}, Lanes: 1, Payers: []*Account{a}}); err == nil {
		t.Fatal("a transfer mix with one account and no recipient was accepted")
	}
}

// TestEPCISKind: the epcis kind's captures are valid supply/capture
// messages whose event documents read back (as GET /epcis/events does)
// to the units the message names.
func TestEPCISKind(t *testing.T) {
	gw := NewAccount(testKey(t), 0)
	m, err := NewMedchain(MedchainConfig{ChainID: "c", Mix: Mix{KindEPCIS: 1}, Gateways: []*Account{gw}, EPCISEvents: 5})
	if err != nil {
		t.Fatal(err)
	}
	tx := m.Next(0, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if tx == nil || tx.Type != supply.TypeCapture {
		t.Fatalf("tx %+v", tx)
	}
	stx, err := sm.DecodeTx(tx.Raw)
	if err != nil {
		t.Fatal(err)
	}
	_, msg, err := sm.NewRouter(supply.Module{}).DecodeMsg(stx.Body)
	if err != nil {
		t.Fatal(err)
	}
	evs := msg.(*supply.MsgCapture).Events
	if len(evs) != 5 {
		t.Fatalf("%d events", len(evs))
	}
	for _, e := range evs {
		parsed, err := epcis.Parse(e.JSON)
		if err != nil {
			t.Fatalf("%s: %v", e.JSON, err)
		}
		if parsed[0].EPCs[0].Key() != e.EPCs[0] || parsed[0].EventID != e.EventID {
			t.Fatalf("document names %s, message %s", parsed[0].EPCs[0].Key(), e.EPCs[0])
		}
	}
}

// TestPrebuiltRegistrations: registrations built before the run are sent
// first, each once, split among the lanes, signed by fresh keys for the
// chain; once they are gone the lanes build their own.
func TestPrebuiltRegistrations(t *testing.T) {
	m, err := NewMedchain(MedchainConfig{ChainID: "c", Mix: Mix{KindRegister: 1}, Lanes: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Prebuild(10); err != nil {
		t.Fatal(err)
	}
	built := map[[32]byte]bool{}
	for _, l := range m.lanes {
		if len(l.regs) < 3 || len(l.regs) > 4 {
			t.Fatalf("a lane holds %d of 10", len(l.regs))
		}
		for _, tx := range l.regs {
			built[tx.Hash] = true
		}
	}
	signers := map[crypto.Address]bool{}
	fromPool := 0
	for i := range 30 {
		tx := m.Next(i%3, time.Now())
		d := decode(t, tx)
		if d.Body.Type != accounts.TypeRegisterPatient || d.Body.Sequence != 0 || d.Body.ChainID != "c" || tx.Type != accounts.TypeRegisterPatient {
			t.Fatalf("not a registration: %+v", d.Body)
		}
		if signers[d.Body.Signer.Address()] {
			t.Fatal("a key registered twice")
		}
		signers[d.Body.Signer.Address()] = true
		if built[tx.Hash] {
			fromPool++
			if i >= 12 {
				t.Fatalf("transaction %d came from the pool after the pool's were due", i)
			}
		}
	}
	if fromPool != 10 {
		t.Fatalf("%d of the 10 prebuilt sent", fromPool)
	}
}
