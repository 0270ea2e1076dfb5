package exec_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/exec"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/telemed"
)

// mixNet is a network ready for blocks of the bench's default mix
// (internal/bench.DefaultMix: register=1, grant=1, revoke=1, guardian=1,
// record=4, audit=2, book=1, cancel=1, transfer=1), each account playing
// one role as the load generator's do: records patients, consent patients
// with committed grants to revoke, guardian patients, gateways, and funded
// payers with an offer each and committed bookings to cancel.
type mixNet struct {
	h        *apptest.Harness
	rng      *rand.Rand
	n        uint64
	records  []*crypto.PrivKey
	consents []*crypto.PrivKey
	grants   map[crypto.Address][]uint64
	guards   []*crypto.PrivKey
	guardSet map[crypto.Address]bool
	gateways []*crypto.PrivKey
	payers   []*crypto.PrivKey
	offer    map[crypto.Address]uint64
	bookings map[crypto.Address][]uint64
	slot     map[crypto.Address]int64
	doctor   *crypto.PrivKey
}

func (m *mixNet) fill(b []byte) {
	m.n++
	h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("mix"), m.n))
	copy(b, h[:])
}

func newMixNet(b *testing.B, patients, gateways, payers int) *mixNet {
	m := &mixNet{h: apptest.NewWithConfig(b, apptest.Domain()), rng: rand.New(rand.NewPCG(7, 7)),
		grants: map[crypto.Address][]uint64{}, guardSet: map[crypto.Address]bool{}, offer: map[crypto.Address]uint64{},
		bookings: map[crypto.Address][]uint64{}, slot: map[crypto.Address]int64{}, doctor: k(apptest.HospitalDoctor)}
	h := m.h
	var txs [][]byte
	deliver := func() {
		for len(txs) > 0 {
			n := min(len(txs), 1000)
			h.DeliverOK(b, txs[:n]...)
			txs = txs[n:]
		}
	}
	for i := range patients {
		key := k("mix-patient-" + strconv.Itoa(i))
		txs = append(txs, sm.SignTx(key, apptest.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: key.EncKey()}))
		switch i % 4 {
		case 0, 1:
			m.records = append(m.records, key)
		case 2:
			m.consents = append(m.consents, key)
		case 3:
			m.guards = append(m.guards, key)
		}
	}
	admin := k(apptest.HospitalAdmin)
	for i := range gateways {
		g := k("mix-gateway-" + strconv.Itoa(i))
		m.gateways = append(m.gateways, g)
		txs = append(txs, h.Sign(admin, &accounts.MsgRegisterMember{PubKey: g.PubKey(), EncKey: g.EncKey(), Role: accounts.RoleGateway}))
	}
	funders := []*crypto.PrivKey{k(apptest.Patient1), k(apptest.Patient2), k(apptest.Patient3), k(apptest.HospitalNurse), k(apptest.LabAdmin)}
	for i := range payers {
		p := k("mix-payer-" + strconv.Itoa(i))
		m.payers = append(m.payers, p)
		txs = append(txs, sm.SignTx(p, apptest.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: p.EncKey()}))
	}
	deliver()
	// Payers are funded; the doctor offers one consultation per payer.
	for i, p := range m.payers {
		txs = append(txs, h.Sign(funders[i%len(funders)], &bank.MsgSend{To: p.Address(), Amount: apptest.Balance / uint64(payers) * uint64(len(funders)) / 2}))
		txs = append(txs, h.Sign(m.doctor, &telemed.MsgOffer{Service: "general-consultation", Price: 1, Duration: 60, Arbiter: apptest.OrgLab}))
	}
	deliver()
	for i, p := range m.payers {
		m.offer[p.Address()] = uint64(i + 1)
		m.slot[p.Address()] = h.Time.Add(24 * time.Hour).Unix()
	}
	// Committed grants and bookings, for revokes and cancels.
	for range 2 {
		var signers []crypto.Address
		for _, p := range m.consents {
			txs = append(txs, m.grant(p))
			signers = append(signers, p.Address())
		}
		for _, p := range m.payers {
			txs = append(txs, m.book(p))
			signers = append(signers, p.Address())
		}
		for len(txs) > 0 {
			n := min(len(txs), 1000)
			for i, r := range h.DeliverOK(b, txs[:n]...) {
				for _, e := range r.Events {
					for _, a := range e.Attributes {
						id, _ := strconv.ParseUint(a.Value, 10, 64)
						switch {
						case e.Type == "consent_granted" && a.Key == "id":
							m.grants[signers[i]] = append(m.grants[signers[i]], id)
						case e.Type == "telemed_booked" && a.Key == "booking":
							m.bookings[signers[i]] = append(m.bookings[signers[i]], id)
						}
					}
				}
			}
			txs, signers = txs[n:], signers[n:]
		}
	}
	return m
}

func (m *mixNet) grant(p *crypto.PrivKey) []byte {
	return m.h.Sign(p, &consent.MsgGrant{Patient: p.Address(), Grantee: consent.Account(m.doctor.Address()), Actions: consent.ActRead | consent.ActWrite, Purpose: consent.PurposeTreatment})
}

func (m *mixNet) book(p *crypto.PrivKey) []byte {
	a := p.Address()
	m.slot[a] += 60
	return m.h.Sign(p, &telemed.MsgBook{Offer: m.offer[a], Start: m.slot[a]})
}

// block builds size transactions of the default mix against the
// committed state.
func (m *mixNet) block(size int) [][]byte {
	weights := []int{1, 1, 1, 1, 4, 2, 1, 1, 1}
	total := 13
	pick := func(ks []*crypto.PrivKey) *crypto.PrivKey { return ks[m.rng.IntN(len(ks))] }
	var txs [][]byte
	for len(txs) < size {
		x := m.rng.IntN(total)
		kind := 0
		for x >= weights[kind] {
			x -= weights[kind]
			kind++
		}
		switch kind {
		case 0:
			m.n++
			key := k("mix-fresh-" + strconv.FormatUint(m.n, 10))
			txs = append(txs, sm.SignTx(key, apptest.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: key.EncKey()}))
		case 1:
			txs = append(txs, m.grant(pick(m.consents)))
		case 2:
			p := pick(m.consents)
			ids := m.grants[p.Address()]
			if len(ids) == 0 {
				txs = append(txs, m.grant(p))
				continue
			}
			m.grants[p.Address()] = ids[1:]
			txs = append(txs, m.h.Sign(p, &consent.MsgRevoke{ID: ids[0]}))
		case 3:
			p := pick(m.guards)
			g := m.doctor.Address()
			var msg sm.Msg = &accounts.MsgSetGuardian{Guardian: g}
			if m.guardSet[p.Address()] {
				msg = &accounts.MsgRevokeGuardian{Guardian: g}
			}
			m.guardSet[p.Address()] = !m.guardSet[p.Address()]
			txs = append(txs, m.h.Sign(p, msg))
		case 4:
			p := pick(m.records)
			msg := &records.MsgAdd{Patient: p.Address(), ResourceType: "Observation", Size: 600}
			m.fill(msg.ID[:])
			m.fill(msg.ContentHash[:])
			wk := records.WrappedKey{Recipient: consent.Account(p.Address())}
			m.fill(wk.Enc[:])
			m.fill(wk.CT[:])
			msg.Keys = []records.WrappedKey{wk}
			txs = append(txs, m.h.Sign(p, msg))
		case 5:
			now := m.h.NextTime().Unix()
			e := audit.Event{Patient: pick(m.records).Address(), Accessor: m.doctor.Address(), Version: 1, Time: now, Basis: string(consent.BasisConsent), Served: true}
			m.fill(e.Record[:])
			m.fill(e.ID[:])
			p := &audit.Proof{Kind: audit.ProofRequest, Target: "/v1/records/" + hex.EncodeToString(e.Record[:]) + "/key", Expires: now + 60}
			m.fill(p.Nonce[:])
			m.fill(p.Sig[:])
			e.Proof = p
			txs = append(txs, m.h.Sign(pick(m.gateways), &audit.MsgLog{Events: []audit.Event{e}}))
		case 6:
			txs = append(txs, m.book(pick(m.payers)))
		case 7:
			p := pick(m.payers)
			ids := m.bookings[p.Address()]
			if len(ids) == 0 {
				txs = append(txs, m.book(p))
				continue
			}
			m.bookings[p.Address()] = ids[1:]
			txs = append(txs, m.h.Sign(p, telemed.Cancel(ids[0])))
		case 8:
			from, to := pick(m.payers), pick(m.payers)
			for to == from {
				to = pick(m.payers)
			}
			txs = append(txs, m.h.Sign(from, &bank.MsgSend{To: to.Address(), Amount: 1}))
		}
	}
	return txs
}

// verified is the Verifier of a node whose mempool checked every
// signature already.
type verified struct{}

func (verified) VerifyBlock([]*exec.BlockTx) {}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDeliverBlockParallel executes one block of ~5,000 default-mix
// transactions (signatures verified beforehand, as a node's mempool does;
// the state tree in memory; the block's writes hashed into the tree, as
// DeliverBlock does) serially and in parallel with 1 and 2 workers, from
// the same committed state each time (the working version rolled back).
// It reports wall time per block, CPU time per transaction, and the share
// of transactions parallel execution ran again after a conflict.
func BenchmarkDeliverBlockParallel(b *testing.B) {
	m := newMixNet(b, 4000, 32, 400)
	txs := m.block(5000)
	blk := exec.BlockContext{ChainID: apptest.ChainID, Height: m.h.Height + 1, Time: m.h.NextTime()}
	var want []byte
	for _, e := range []struct {
		name string
		exec exec.Execution
	}{{"serial", exec.Serial}, {"parallel/workers=1", exec.Execution{Workers: 1}}, {"parallel/workers=2", exec.Execution{Workers: 2}}} {
		b.Run(e.name, func(b *testing.B) {
			core, _ := app.NewCore()
			core.SetExecution(e.exec)
			reexec, blocks := 0, 0
			runtime.GC()
			cpu0 := cpuTime()
			for b.Loop() {
				res := core.DeliverBlock(m.h.Tree, blk, txs, verified{})
				m.h.Tree.Rollback()
				if want == nil {
					want = res.AppHash
					failed := 0
					for _, r := range res.Txs {
						if r.Code != 0 {
							failed++
						}
					}
					b.Logf("%d transactions, %d failed", len(res.Txs), failed)
				}
				if string(res.AppHash) != string(want) {
					b.Fatalf("app hash %X, serial %X", res.AppHash, want)
				}
				reexec += res.Reexecuted
				blocks++
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(cpu.Microseconds())/float64(blocks*len(txs)), "cpu-µs/tx")
			b.ReportMetric(float64(blocks*len(txs))/b.Elapsed().Seconds(), "tx/s")
			b.ReportMetric(100*float64(reexec)/float64(blocks*len(txs)), "%reexec")
		})
	}
}

// BenchmarkDeliverBlockSize executes blocks of the default mix of the size
// a node makes at 10,000 tx/s with 300 ms blocks (3,000 transactions) and
// of the size it makes once it has fallen behind (17,500: the 4 MiB cap),
// serially over the same state, to tell whether a large block costs more
// per transaction by itself (cpu-µs/tx), without the node's other work.
func BenchmarkDeliverBlockSize(b *testing.B) {
	m := newMixNet(b, 4000, 32, 400)
	all := m.block(17_500) // the small block is its start: each signer's sequences still follow on
	blk := exec.BlockContext{ChainID: apptest.ChainID, Height: m.h.Height + 1, Time: m.h.NextTime()}
	for _, n := range []int{3_000, 17_500} {
		txs := all[:n]
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			core, _ := app.NewCore()
			runtime.GC()
			cpu0 := cpuTime()
			blocks := 0
			for b.Loop() {
				core.DeliverBlock(m.h.Tree, blk, txs, verified{})
				m.h.Tree.Rollback()
				blocks++
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(cpu.Microseconds())/float64(blocks*len(txs)), "cpu-µs/tx")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(blocks*len(txs)), "µs/tx")
		})
	}
}
