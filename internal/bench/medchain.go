package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"time"

	cryptorand "crypto/rand"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/supply"
	"github.com/medchain/medchain/x/telemed"
)

// Account is a signing account of the load, with the sequence its next
// transaction carries.
type Account struct {
	Key  *crypto.PrivKey
	Addr crypto.Address
	Seq  uint64

	gen         uint64 // bumped on each rollback; older transactions no longer roll back
	guardian    crypto.Address
	guardianSet bool
	mu          sync.Mutex // guards grants and bookings: the observer adds, the lane takes
	grants      []uint64   // consents granted and seen committed, not yet revoked
	bookings    []uint64   // bookings seen committed, not yet cancelled
	offer       uint64     // a payer's own telemedicine offer (one payer per offer: its slots never overlap)
	slot        uint64     // the payer's next slot of that offer
}

// NewAccount wraps a key whose next sequence is seq.
func NewAccount(k *crypto.PrivKey, seq uint64) *Account {
	return &Account{Key: k, Addr: k.Address(), Seq: seq}
}

// Patients play one role each, so that every transaction's preconditions
// are known without reading state: a records patient never grants read
// access nor has a guardian, so the only key holder of its records is
// itself (consent.KeyHolders).
type role int

const (
	roleRecords role = iota
	roleConsent
	roleGuardian
	roleGateway
	rolePayer
	numRoles
)

var roleNames = [numRoles]string{"records", "consent", "guardian", "gateway", "payer"}

func roleOf(k Kind) (role, bool) {
	switch k {
	case KindRecord:
		return roleRecords, true
	case KindGrant, KindRevoke:
		return roleConsent, true
	case KindGuardian:
		return roleGuardian, true
	case KindAudit, KindEPCIS:
		return roleGateway, true
	case KindBook, KindCancel, KindTransfer:
		return rolePayer, true
	}
	return 0, false // register: a fresh key each time
}

// MedchainConfig describes the medchain load.
type MedchainConfig struct {
	ChainID string
	Mix     Mix
	Lanes   int
	// Patients are registered patients (sequence known); they are split
	// among the roles in proportion to the mix.
	Patients []*Account
	// Gateways are gateway accounts of member organizations (audit/log).
	Gateways []*Account
	// Practitioners receive grants and appear as accessors in audit events.
	Practitioners []crypto.Address
	// Guardians are accounts that patients name as guardians.
	Guardians []crypto.Address
	// AuditEvents is the number of access events per audit/log (default 1).
	AuditEvents int
	// EPCISEvents is the number of EPCIS events per supply/capture
	// (default 10).
	EPCISEvents int
	// RecordSize is the ciphertext size a record claims (default 600).
	RecordSize uint64
	// Payers are funded accounts (the development patients) that book
	// telemedicine slots, each of its own offer (Account.offer), from
	// SlotBase on; one slot lasts SlotSeconds.
	Payers      []*Account
	SlotBase    int64
	SlotSeconds int64
}

// Medchain generates medchain's transaction mix. It implements Generator.
type Medchain struct {
	cfg     MedchainConfig
	lanes   []*mlane
	Classes map[string]int // accounts per role
	targets []crypto.Address
	payees  []crypto.Address // recipients of transfers: the payers and the practitioners
}

type mlane struct {
	rng     *rand.Rand
	weights Mix
	accts   [numRoles][]*Account
	next    [numRoles]int
	regs    []*Tx // registrations built before the run (Prebuild), taken first
}

// ref is what a transaction changed in its account, to undo on rejection.
type ref struct {
	kind        Kind
	acct        *Account
	gen, seq    uint64
	guardianSet bool   // before the transaction
	revoked     uint64 // the consent a revoke names, or the booking a cancel names
}

var resourceTypes = []string{"Observation", "Condition", "MedicationRequest", "DiagnosticReport", "Immunization", "AllergyIntolerance", "Procedure", "Encounter"}

// NewMedchain splits the accounts among roles and lanes.
func NewMedchain(cfg MedchainConfig) (*Medchain, error) {
	if cfg.Lanes <= 0 {
		cfg.Lanes = 1
	}
	if cfg.AuditEvents <= 0 {
		cfg.AuditEvents = 1
	}
	if cfg.EPCISEvents <= 0 {
		cfg.EPCISEvents = 10
	}
	if cfg.EPCISEvents > supply.MaxEventsInMsg {
		return nil, fmt.Errorf("at most %d EPCIS events per transaction", supply.MaxEventsInMsg)
	}
	if cfg.AuditEvents > audit.MaxEvents {
		return nil, fmt.Errorf("at most %d audit events per transaction", audit.MaxEvents)
	}
	if cfg.RecordSize == 0 {
		cfg.RecordSize = 600
	}
	m := &Medchain{cfg: cfg, Classes: map[string]int{}}
	mix := cfg.Mix
	if (mix[KindGrant] > 0 || mix[KindGuardian] > 0 || mix[KindAudit] > 0) && len(cfg.Practitioners) == 0 {
		return nil, fmt.Errorf("the mix needs practitioners (development keys)")
	}
	if mix[KindGuardian] > 0 && len(cfg.Guardians) == 0 {
		return nil, fmt.Errorf("the mix needs guardian accounts (development patients)")
	}
	if (mix[KindAudit] > 0 || mix[KindEPCIS] > 0) && len(cfg.Gateways) == 0 {
		return nil, fmt.Errorf("the mix has audit/log or EPCIS capture but no gateway key is available")
	}
	if (mix[KindBook] > 0 || mix[KindCancel] > 0) && (len(cfg.Payers) == 0 || cfg.SlotSeconds <= 0) {
		return nil, fmt.Errorf("the mix has telemedicine bookings but no funded payer with an offer (development patients)")
	}
	if mix[KindTransfer] > 0 && (len(cfg.Payers) == 0 || len(cfg.Payers)+len(cfg.Practitioners) < 2) {
		return nil, fmt.Errorf("the mix has transfers but no funded payer and recipient (development patients and practitioners)")
	}
	for _, a := range cfg.Payers {
		m.payees = append(m.payees, a.Addr)
	}
	m.payees = append(m.payees, cfg.Practitioners...)
	// Patients per role in proportion to the weights of their kinds.
	w := [numRoles]float64{
		roleRecords:  mix[KindRecord],
		roleConsent:  mix[KindGrant] + mix[KindRevoke],
		roleGuardian: mix[KindGuardian],
	}
	counts := apportion(len(cfg.Patients), w[:roleGateway])
	byRole := [numRoles][]*Account{}
	i := 0
	for r, n := range counts {
		byRole[r] = cfg.Patients[i : i+n]
		i += n
	}
	byRole[roleGateway] = cfg.Gateways
	byRole[rolePayer] = cfg.Payers
	for j, a := range byRole[roleGuardian] {
		a.guardian = cfg.Guardians[j%len(cfg.Guardians)]
	}
	for r := range numRoles {
		m.Classes[roleNames[r]] = len(byRole[r])
	}
	for _, a := range byRole[roleRecords] {
		m.targets = append(m.targets, a.Addr)
	}
	if len(m.targets) == 0 {
		for _, a := range cfg.Patients {
			m.targets = append(m.targets, a.Addr)
		}
	}
	if mix[KindAudit] > 0 && len(m.targets) == 0 {
		return nil, fmt.Errorf("audit events need patients")
	}
	for range cfg.Lanes {
		var seed [32]byte
		_, _ = cryptorand.Read(seed[:])
		m.lanes = append(m.lanes, &mlane{rng: rand.New(rand.NewChaCha8(seed))})
	}
	var lanesWith [numRoles]int
	for r := range numRoles {
		for j, a := range byRole[r] {
			l := m.lanes[j%cfg.Lanes]
			l.accts[r] = append(l.accts[r], a)
		}
		lanesWith[r] = min(len(byRole[r]), cfg.Lanes)
	}
	// A lane sends the kinds of the roles it holds accounts of, weighted
	// up by how few lanes hold that role, so that the lanes together send
	// the configured mix.
	for _, l := range m.lanes {
		l.weights = Mix{}
		for k, wk := range mix {
			r, ok := roleOf(k)
			switch {
			case !ok:
				l.weights[k] = wk
			case len(l.accts[r]) > 0:
				l.weights[k] = wk * float64(cfg.Lanes) / float64(lanesWith[r])
			}
		}
	}
	return m, nil
}

// apportion splits n into parts proportional to w (largest remainder),
// giving each positive weight at least one when n allows.
func apportion(n int, w []float64) []int {
	out := make([]int, len(w))
	var total float64
	positive := 0
	for _, x := range w {
		total += x
		if x > 0 {
			positive++
		}
	}
	if total == 0 || n == 0 {
		return out
	}
	left := n
	if n >= positive {
		for i, x := range w {
			if x > 0 {
				out[i] = 1
				left--
			}
		}
	}
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	given := 0
	for i, x := range w {
		exact := float64(left) * x / total
		out[i] += int(exact)
		given += int(exact)
		rems = append(rems, rem{i, exact - float64(int(exact))})
	}
	for left-given > 0 {
		best := -1
		for j, r := range rems {
			if w[r.i] > 0 && (best < 0 || r.r > rems[best].r) {
				best = j
			}
		}
		out[rems[best].i]++
		rems[best].r = -1
		given++
	}
	return out
}

func (l *mlane) take(r role) *Account {
	as := l.accts[r]
	if len(as) == 0 {
		return nil
	}
	a := as[l.next[r]%len(as)]
	l.next[r]++
	return a
}

func (m *Medchain) pick(l *mlane, as []crypto.Address) crypto.Address {
	return as[l.rng.IntN(len(as))]
}

func (l *mlane) fill(b []byte) {
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], l.rng.Uint64())
		copy(b[i:], w[:])
	}
}

// Next builds lane's next transaction.
func (m *Medchain) Next(lane int, now time.Time) *Tx {
	l := m.lanes[lane]
	k := l.weights.Pick(l.rng.Float64())
	if k == KindRevoke {
		if tx := m.revoke(l); tx != nil {
			return tx
		}
		k = KindGrant // nothing to revoke yet: grant instead
	}
	if k == KindCancel {
		if tx := m.cancel(l); tx != nil {
			return tx
		}
		k = KindBook // nothing to cancel yet: book instead
	}
	switch k {
	case KindRegister:
		if n := len(l.regs); n > 0 {
			tx := l.regs[n-1]
			l.regs = l.regs[:n-1]
			return tx
		}
		key, err := crypto.GenerateKey(nil)
		if err != nil {
			return nil
		}
		return registerTx(m.cfg.ChainID, key)
	case KindGrant:
		a := l.take(roleConsent)
		if a == nil {
			return nil
		}
		msg := &consent.MsgGrant{Patient: a.Addr, Grantee: consent.Account(m.pick(l, m.cfg.Practitioners)),
			Actions: consent.ActRead | consent.ActWrite, Purpose: consent.PurposeTreatment}
		return m.sign(a, msg, ref{kind: KindGrant})
	case KindGuardian:
		a := l.take(roleGuardian)
		if a == nil {
			return nil
		}
		r := ref{kind: KindGuardian, guardianSet: a.guardianSet}
		var msg sm.Msg = &accounts.MsgSetGuardian{Guardian: a.guardian}
		if a.guardianSet {
			msg = &accounts.MsgRevokeGuardian{Guardian: a.guardian}
		}
		a.guardianSet = !a.guardianSet
		return m.sign(a, msg, r)
	case KindRecord:
		a := l.take(roleRecords)
		if a == nil {
			return nil
		}
		msg := &records.MsgAdd{Patient: a.Addr, ResourceType: resourceTypes[l.rng.IntN(len(resourceTypes))], Size: m.cfg.RecordSize}
		l.fill(msg.ID[:])
		l.fill(msg.ContentHash[:])
		k := records.WrappedKey{Recipient: consent.Account(a.Addr)}
		l.fill(k.Enc[:])
		l.fill(k.CT[:])
		msg.Keys = []records.WrappedKey{k}
		return m.sign(a, msg, ref{kind: KindRecord})
	case KindAudit:
		a := l.take(roleGateway)
		if a == nil {
			return nil
		}
		msg := &audit.MsgLog{Events: make([]audit.Event, m.cfg.AuditEvents)}
		for i := range msg.Events {
			e := &msg.Events[i]
			e.Patient = m.pick(l, m.targets)
			e.Accessor = m.pick(l, m.cfg.Practitioners)
			l.fill(e.Record[:])
			e.Version, e.Time, e.Basis, e.Served = 1, now.Unix(), string(consent.BasisConsent), true
			// Well formed, but neither the record nor the signature is
			// real: the chain refuses each event on its own (audit/5).
			l.fill(e.ID[:])
			p := &audit.Proof{Kind: audit.ProofRequest, Target: "/v1/records/" + hex.EncodeToString(e.Record[:]) + "/key", Expires: now.Unix() + 60}
			l.fill(p.Nonce[:])
			l.fill(p.Sig[:])
			e.Proof = p
		}
		return m.sign(a, msg, ref{kind: KindAudit})
	case KindEPCIS:
		a := l.take(roleGateway)
		if a == nil {
			return nil
		}
		return m.sign(a, m.epcis(l, now), ref{kind: KindEPCIS})
	case KindBook:
		a := l.take(rolePayer)
		if a == nil {
			return nil
		}
		start := m.cfg.SlotBase + int64(a.slot)*m.cfg.SlotSeconds
		a.slot++
		return m.sign(a, &telemed.MsgBook{Offer: a.offer, Start: start}, ref{kind: KindBook})
	case KindTransfer:
		a := l.take(rolePayer)
		if a == nil {
			return nil
		}
		to := m.pick(l, m.payees)
		for to == a.Addr {
			to = m.pick(l, m.payees)
		}
		return m.sign(a, &bank.MsgSend{To: to, Amount: 1}, ref{kind: KindTransfer})
	}
	return nil
}

// epcis builds a capture of cfg.EPCISEvents commissioning events, each of
// one fresh SSCC (any organization may commission a logistic unit, so the
// events commit): a real EPCIS 2.0 event document of about 450 bytes each.
// The hash is SHA-256 of the document in the CBV 2.0 hash's form, not the
// CBV algorithm itself (that runs at the node's edge, docs/supply.md).
func (m *Medchain) epcis(l *mlane, now time.Time) *supply.MsgCapture {
	msg := &supply.MsgCapture{Events: make([]supply.CaptureEvent, m.cfg.EPCISEvents)}
	for i := range msg.Events {
		serial := fmt.Sprintf("%010d", l.rng.Uint64()%10_000_000_000) // extension digit and serial reference
		payload := serial[:1] + "0614141" + serial[1:]
		sscc := payload + string(gs1.CheckDigit(payload))
		var id [16]byte
		l.fill(id[:])
		eventID := fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:])
		doc := fmt.Sprintf(`{"type":"ObjectEvent","eventTime":%q,"eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sscc:0614141.%s"],`+
			`"action":"ADD","bizStep":"commissioning","disposition":"active","readPoint":{"id":"urn:epc:id:sgln:0614141.00001.0"},"eventID":%q}`,
			now.UTC().Format("2006-01-02T15:04:05.000Z"), serial, eventID)
		sum := sha256.Sum256([]byte(doc))
		msg.Events[i] = supply.CaptureEvent{Hash: "ni:///sha-256;" + hex.EncodeToString(sum[:]) + "?ver=CBV2.0", EventID: eventID,
			Type: supply.ObjectEvent, Action: supply.ActionAdd, BizStep: "commissioning", Disposition: "active",
			EventTime: now.UnixMilli(), EPCs: []string{"(00)" + sscc}, JSON: []byte(doc)}
	}
	return msg
}

func (m *Medchain) cancel(l *mlane) *Tx {
	for range len(l.accts[rolePayer]) {
		a := l.take(rolePayer)
		a.mu.Lock()
		if len(a.bookings) == 0 {
			a.mu.Unlock()
			continue
		}
		id := a.bookings[0]
		a.bookings = a.bookings[1:]
		a.mu.Unlock()
		return m.sign(a, telemed.Cancel(id), ref{kind: KindCancel, revoked: id})
	}
	return nil
}

func (m *Medchain) revoke(l *mlane) *Tx {
	for range len(l.accts[roleConsent]) {
		a := l.take(roleConsent)
		a.mu.Lock()
		if len(a.grants) == 0 {
			a.mu.Unlock()
			continue
		}
		id := a.grants[0]
		a.grants = a.grants[1:]
		a.mu.Unlock()
		return m.sign(a, &consent.MsgRevoke{ID: id}, ref{kind: KindRevoke, revoked: id})
	}
	return nil
}

func (m *Medchain) sign(a *Account, msg sm.Msg, r ref) *Tx {
	r.acct, r.gen, r.seq = a, a.gen, a.Seq
	raw := sm.SignTx(a.Key, m.cfg.ChainID, a.Seq, 0, msg)
	a.Seq++
	return newTx(raw, msg.Type(), &r)
}

func newTx(raw []byte, typ string, r *ref) *Tx {
	tx := &Tx{Raw: raw, Hash: sha256.Sum256(raw), Type: typ}
	if r != nil {
		tx.ref = r
	}
	return tx
}

// Rejected undoes what a transaction that never entered the mempool
// changed. Its account's later transactions were rejected too (their
// sequences no longer follow), so the first rejection rolls the account
// back to before it and the later ones only return what they took.
func (m *Medchain) Rejected(tx *Tx) {
	r, ok := tx.ref.(*ref)
	if !ok {
		return
	}
	a := r.acct
	switch r.kind {
	case KindRevoke:
		a.mu.Lock()
		a.grants = append(a.grants, r.revoked)
		a.mu.Unlock()
	case KindCancel:
		a.mu.Lock()
		a.bookings = append(a.bookings, r.revoked)
		a.mu.Unlock()
	}
	if r.gen != a.gen {
		return
	}
	a.gen++
	a.Seq = r.seq
	if r.kind == KindGuardian {
		a.guardianSet = r.guardianSet
	}
}

// Committed learns the ids of committed grants and bookings, to revoke
// and cancel them later.
func (m *Medchain) Committed(tx *Tx, bt *BlockTx) {
	r, ok := tx.ref.(*ref)
	if !ok || (r.kind != KindGrant && r.kind != KindBook) || bt.Code != 0 {
		return
	}
	typ, attr, list := "consent_granted", "id", &r.acct.grants
	if r.kind == KindBook {
		typ, attr, list = "telemed_booked", "booking", &r.acct.bookings
	}
	for _, e := range bt.Events {
		if e.Type != typ {
			continue
		}
		if id, err := strconv.ParseUint(e.Attrs[attr], 10, 64); err == nil {
			r.acct.mu.Lock()
			*list = append(*list, id)
			r.acct.mu.Unlock()
		}
	}
}

// maxPrebuilt bounds Prebuild: 200,000 registrations hold about 70 MB and
// take some seconds to build on two cores (a 60 s window at 10,500/s of the
// default mix needs 56,000).
const maxPrebuilt = 200_000

// Prebuild builds up to n (at most maxPrebuilt) registrations of fresh keys ahead of the run
// (expected: about as many as the run will send), split among the lanes
// that send them, on every core. A registration depends on nothing the run
// learns, and a fresh key costs more than a signature, so the load
// generator then takes less of the machine during the window; once a
// lane's are sent, it builds them as it goes.
func (m *Medchain) Prebuild(n int) error {
	var lanes []*mlane
	for _, l := range m.lanes {
		if l.weights[KindRegister] > 0 {
			lanes = append(lanes, l)
		}
	}
	n = min(n, maxPrebuilt)
	if n <= 0 || len(lanes) == 0 {
		return nil
	}
	txs := make([]*Tx, n)
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := w; i < n; i += len(errs) {
				k, err := crypto.GenerateKey(nil)
				if err != nil {
					errs[w] = err
					return
				}
				txs[i] = registerTx(m.cfg.ChainID, k)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, tx := range txs {
		l := lanes[i%len(lanes)]
		l.regs = append(l.regs, tx)
	}
	return nil
}

// RegisterTxs signs one accounts/register_patient per key.
func RegisterTxs(chainID string, keys []*crypto.PrivKey) []*Tx {
	out := make([]*Tx, len(keys))
	for i, k := range keys {
		out[i] = registerTx(chainID, k)
	}
	return out
}

// registerTx is k's accounts/register_patient (sequence 0, no fee).
func registerTx(chainID string, k *crypto.PrivKey) *Tx {
	return newTx(sm.SignTx(k, chainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: k.EncKey()}), accounts.TypeRegisterPatient, nil)
}
