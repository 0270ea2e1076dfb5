package consent_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
)

// Size of the benchmark state.
const (
	benchOrgs       = 20
	benchMembers    = 50 // per organization
	benchPatients   = 20000
	benchConsents   = 4  // per patient: two to practitioners, one to an organization, one revoked
	benchGuardianOf = 10 // every tenth patient has a guardian
)

func synthAddr(kind string, i int) crypto.Address {
	h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("consent-bench/"+kind), uint64(i)))
	var a crypto.Address
	copy(a[:], h[:])
	return a
}

type benchQuery struct {
	who crypto.Address
	t   consent.Target
}

// benchState writes a consortium of benchOrgs organizations and
// benchPatients patients with their consents into kv, through the grant and
// revoke handlers, and returns a mix of read checks: allowed by an account
// consent, by an organization consent, by guardianship, and refused.
func benchState(b *testing.B, kv store.KV, now time.Time) []benchQuery {
	b.Helper()
	var members []crypto.Address
	for o := range benchOrgs {
		id := fmt.Sprintf("org-%02d", o)
		accounts.PutOrg(kv, &accounts.Org{ID: id, Name: id, Type: "hospital", Active: true, EncKey: crypto.EncKey{1}})
		for m := range benchMembers {
			a := synthAddr("member", o*benchMembers+m)
			accounts.PutAccount(kv, &accounts.Account{Address: a, Kind: accounts.KindMember, Org: id, Role: accounts.RolePractitioner, Active: true})
			members = append(members, a)
		}
	}
	routes := map[string]sm.Route{}
	for _, rt := range append((accounts.Module{}).Routes(), (&consent.Module{Params: params.NewRegistry(consent.ParamDefs...)}).Routes()...) {
		routes[rt.Type] = rt
	}
	run := func(signer crypto.Address, msg sm.Msg) {
		ctx := sm.Context{ChainID: "bench", Height: 2, Time: now, Store: kv, Signer: signer, Events: &sm.Events{}}
		if err := routes[msg.Type()].Exec(ctx, msg); err != nil {
			b.Fatalf("%s: %v", msg.Type(), err)
		}
	}
	var qs []benchQuery
	for p := range benchPatients {
		pa := synthAddr("patient", p)
		accounts.PutAccount(kv, &accounts.Account{Address: pa, Kind: accounts.KindPatient, Active: true})
		if p%benchGuardianOf == 0 {
			g := synthAddr("guardian", p)
			accounts.PutAccount(kv, &accounts.Account{Address: g, Kind: accounts.KindPatient, Active: true})
			run(pa, &accounts.MsgSetGuardian{Guardian: g})
			qs = append(qs, benchQuery{g, consent.Target{Patient: pa, Type: "Observation"}})
		}
		doc1, doc2 := members[(p*7)%len(members)], members[(p*13+1)%len(members)]
		org := fmt.Sprintf("org-%02d", (p*3)%benchOrgs)
		run(pa, &consent.MsgGrant{Patient: pa, Grantee: consent.Account(doc1), Actions: consent.ActRead, Types: []string{"Condition", "Observation"}, Purpose: consent.PurposeTreatment})
		run(pa, &consent.MsgGrant{Patient: pa, Grantee: consent.Account(doc2), Actions: consent.ActRead | consent.ActWrite, Purpose: consent.PurposeCare})
		run(pa, &consent.MsgGrant{Patient: pa, Grantee: consent.Org(org), Actions: consent.ActRead, Types: []string{"Immunization"}, Purpose: consent.PurposeTreatment})
		run(pa, &consent.MsgGrant{Patient: pa, Grantee: consent.Account(doc2), Actions: consent.ActRead, Purpose: consent.PurposeResearch})
		run(pa, &consent.MsgRevoke{ID: uint64(p*benchConsents + benchConsents)})
		if p%97 == 0 {
			orgMember := members[((p*3)%benchOrgs)*benchMembers+p%benchMembers]
			qs = append(qs,
				benchQuery{doc1, consent.Target{Patient: pa, Type: "Observation"}},                           // account consent
				benchQuery{doc1, consent.Target{Patient: pa, Type: "Procedure"}},                             // refused: not covered
				benchQuery{orgMember, consent.Target{Patient: pa, Type: "Immunization"}},                     // organization consent
				benchQuery{members[(p*11+5)%len(members)], consent.Target{Patient: pa, Type: "Observation"}}, // stranger
				benchQuery{pa, consent.Target{Patient: pa, Type: "Observation"}},                             // the patient
			)
		}
	}
	return qs
}

// BenchmarkMayRead measures one read decision per op against a state of
// 20,000 patients with four consents each, 1,000 practitioners in 20
// organizations: on a memory store, and on a committed snapshot (what
// the API and gateways query).
func BenchmarkMayRead(b *testing.B) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	bench := func(b *testing.B, kv store.Reader, qs []benchQuery) {
		allowed := 0
		for _, q := range qs {
			if consent.MayRead(kv, now.Unix(), q.who, q.t).Allowed {
				allowed++
			}
		}
		if allowed == 0 || allowed == len(qs) {
			b.Fatalf("%d of %d checks allowed: the mix is wrong", allowed, len(qs))
		}
		runtime.GC() // the setup's garbage is not the checks' cost
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			q := qs[i%len(qs)]
			consent.MayRead(kv, now.Unix(), q.who, q.t)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	}
	b.Run("memory", func(b *testing.B) {
		kv := store.NewMemory()
		qs := benchState(b, kv, now)
		bench(b, kv, qs)
	})
	b.Run("committed", func(b *testing.B) {
		tree := merkle.NewMemTree()
		qs := benchState(b, tree, now)
		if _, _, err := tree.Commit(); err != nil {
			b.Fatal(err)
		}
		snap, err := tree.Snapshot(tree.Version())
		if err != nil {
			b.Fatal(err)
		}
		bench(b, snap, qs)
	})
}
