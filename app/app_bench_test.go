package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// benchPatients is the number of patients a benchmark network registers;
// blocks of more transactions hold several of one patient, in sequence.
const benchPatients = 1000

// noReadCache runs the benchmarks on a state without the read cache of
// the latest committed values, for a before/after comparison:
// go test ./app -run '^$' -bench FinalizeBlock -args -no-read-cache
var noReadCache = flag.Bool("no-read-cache", false, "benchmarks: a state tree without its read cache")

type benchNet struct {
	h        *apptest.Harness
	patients []*crypto.PrivKey
	seqs     map[crypto.Address]uint64
	gateway  *crypto.PrivKey
	n        uint64 // distinguishes generated records
}

func benchKey(kind string, i int) *crypto.PrivKey {
	return apptest.Key(fmt.Sprintf("bench-%s-%d", kind, i))
}

// newBenchNet registers benchPatients patients and a hospital gateway.
func newBenchNet(b *testing.B) *benchNet {
	b.Helper()
	// On disk, as a node keeps it: Pebble's in-memory file system
	// copies its files as they grow.
	var o merkle.Options
	if *noReadCache {
		o.ReadCacheBytes = -1
	}
	tree, err := merkle.OpenTreeWith(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tree.Close() })
	cfg := apptest.Config{Tree: tree}
	n := &benchNet{h: apptest.NewWithConfig(b, cfg), seqs: map[crypto.Address]uint64{}}
	var txs [][]byte
	for i := range benchPatients {
		k := benchKey("patient", i)
		n.patients = append(n.patients, k)
		txs = append(txs, sm.SignTx(k, apptest.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: k.EncKey()}))
		n.seqs[k.Address()] = 1
	}
	n.gateway = benchKey("gateway", 0)
	txs = append(txs, n.h.Sign(apptest.Key(apptest.HospitalAdmin), &accounts.MsgRegisterMember{PubKey: n.gateway.PubKey(), EncKey: n.gateway.EncKey(), Role: accounts.RoleGateway}))
	n.h.DeliverOK(b, txs...)
	return n
}

func (n *benchNet) sign(k *crypto.PrivKey, msg sm.Msg) []byte {
	a := k.Address()
	s := n.seqs[a]
	n.seqs[a] = s + 1
	return sm.SignTx(k, apptest.ChainID, s, 0, msg)
}

func (n *benchNet) fill(b []byte) {
	n.n++
	h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("bench"), n.n))
	copy(b, h[:])
}

func (n *benchNet) record(p *crypto.PrivKey) sm.Msg {
	m := &records.MsgAdd{Patient: p.Address(), ResourceType: "Observation", Size: 600}
	n.fill(m.ID[:])
	n.fill(m.ContentHash[:])
	k := records.WrappedKey{Recipient: consent.Account(p.Address())}
	n.fill(k.Enc[:])
	n.fill(k.CT[:])
	m.Keys = []records.WrappedKey{k}
	return m
}

// checkAll runs CheckTx on each transaction, as the mempool does before a
// block, so that FinalizeBlock finds the signatures verified.
func (n *benchNet) checkAll(b *testing.B, txs [][]byte) {
	for _, tx := range txs {
		r, err := n.h.App.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
		if err != nil || r.Code != 0 {
			b.Fatalf("CheckTx: %v %v", err, r.GetLog())
		}
	}
}

// blockOf builds one block of size transactions of a kind.
type blockOf func(n *benchNet, size int) [][]byte

var benchKinds = []struct {
	name  string
	setup func(b *testing.B, n *benchNet) // before the first block
	block blockOf
}{
	{name: "register_patient", block: func(n *benchNet, size int) [][]byte {
		var txs [][]byte
		for range size {
			n.n++
			k := apptest.Key("fresh-" + strconv.FormatUint(n.n, 10))
			txs = append(txs, sm.SignTx(k, apptest.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: k.EncKey()}))
		}
		return txs
	}},
	{name: "records_add", block: func(n *benchNet, size int) [][]byte {
		var txs [][]byte
		for i := range size {
			p := n.patients[i%len(n.patients)]
			txs = append(txs, n.sign(p, n.record(p)))
		}
		return txs
	}},
	{name: "consent_grant", block: func(n *benchNet, size int) [][]byte {
		doctor := consent.Account(apptest.Key(apptest.HospitalDoctor).Address())
		var txs [][]byte
		for i := range size {
			p := n.patients[i%len(n.patients)]
			txs = append(txs, n.sign(p, &consent.MsgGrant{Patient: p.Address(), Grantee: doctor, Actions: consent.ActRead | consent.ActWrite, Purpose: consent.PurposeTreatment}))
		}
		return txs
	}},
	{name: "set_guardian", block: func(n *benchNet, size int) [][]byte {
		g := apptest.Key(apptest.Patient1).Address()
		var txs [][]byte
		for i := range size {
			p := n.patients[i%len(n.patients)]
			// Alternate set and revoke per patient: the n-th block of a
			// patient sets when n is even.
			var msg sm.Msg = &accounts.MsgSetGuardian{Guardian: g}
			if (n.seqs[p.Address()]-1)%2 == 1 {
				msg = &accounts.MsgRevokeGuardian{Guardian: g}
			}
			txs = append(txs, n.sign(p, msg))
		}
		return txs
	}},
	{name: "audit_log", block: func(n *benchNet, size int) [][]byte {
		doctor := apptest.Key(apptest.HospitalDoctor).Address()
		now := n.h.Time.Add(apptest.BlockInterval).Unix()
		var txs [][]byte
		for i := range size {
			e := audit.Event{Patient: n.patients[i%len(n.patients)].Address(), Accessor: doctor, Version: 1, Time: now, Basis: string(consent.BasisConsent), Served: true}
			n.fill(e.Record[:])
			n.fill(e.ID[:])
			// A request proof whose signature does not verify: the event is
			// judged (and refused) on chain, as a forged one would be.
			p := &audit.Proof{Kind: audit.ProofRequest, Target: "/v1/records/" + hex.EncodeToString(e.Record[:]) + "/key", Expires: now + 60}
			n.fill(p.Nonce[:])
			n.fill(p.Sig[:])
			e.Proof = p
			txs = append(txs, n.sign(n.gateway, &audit.MsgLog{Events: []audit.Event{e}}))
		}
		return txs
	}},
}

// BenchmarkFinalizeBlock measures FinalizeBlock and Commit per transaction,
// for each kind of the bench mix, in blocks of 100, 1000 and 4000 transactions
// (signatures already verified by CheckTx, as in a node; the state on
// disk, commits synced). ns/op is per transaction; cpu-ns/op the process's
// CPU time per transaction over the timed blocks.
func BenchmarkFinalizeBlock(b *testing.B) {
	for _, kind := range benchKinds {
		for _, size := range []int{100, 1000, 4000} {
			b.Run(fmt.Sprintf("%s/block=%d", kind.name, size), func(b *testing.B) {
				n := newBenchNet(b)
				b.ResetTimer()
				var cpu time.Duration
				for done := 0; done < b.N; {
					b.StopTimer()
					txs := kind.block(n, min(size, b.N-done))
					n.checkAll(b, txs)
					b.StartTimer()
					c0 := processCPU()
					n.h.DeliverOK(b, txs...)
					cpu += processCPU() - c0
					done += len(txs)
				}
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// processCPU is the CPU time the process used so far (every thread:
// background compaction and GC included). On a shared machine it varies
// far less than the elapsed time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCheckTx measures CheckTx of a records/add against committed
// state (decode, signature, account, sequence).
func BenchmarkCheckTx(b *testing.B) {
	n := newBenchNet(b)
	txs := make([][]byte, 0, b.N)
	for i := range b.N {
		p := n.patients[i%len(n.patients)]
		txs = append(txs, n.sign(p, n.record(p)))
	}
	ctx := context.Background()
	b.ResetTimer()
	for _, tx := range txs {
		r, err := n.h.App.CheckTx(ctx, &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
		if err != nil || r.Code != 0 {
			b.Fatalf("CheckTx: %v %s", err, r.GetLog())
		}
	}
}

// BenchmarkProve measures a membership proof in a committed tree of 100,000
// keys (in memory).
func BenchmarkProve(b *testing.B) {
	tree := merkle.NewMemTree()
	const keys = 100_000
	key := func(i int) []byte { h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))); return h[:] }
	for i := range keys {
		tree.Set(key(i), []byte("value"))
	}
	if _, _, err := tree.Commit(); err != nil {
		b.Fatal(err)
	}
	snap, err := tree.Snapshot(tree.Version())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, p, err := snap.Prove(key(i % keys)); err != nil || p == nil {
			b.Fatal(err)
		}
	}
}
