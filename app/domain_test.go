package app_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// This file drives records, consent and audit through real transactions:
// a client seals a record off chain, wraps its data key for the parties
// the chain names, and registers it; readers unwrap their key from
// committed state and decrypt.

// detRand is a deterministic stream (SHA-256 in counter mode) in place of
// crypto/rand, so that every run seals and signs the same bytes.
type detRand struct {
	seed [32]byte
	n    uint64
	buf  []byte
}

func detStream(seed string) *detRand { return &detRand{seed: sha256.Sum256([]byte(seed))} }

func (r *detRand) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		b := sha256.Sum256(binary.BigEndian.AppendUint64(r.seed[:], r.n))
		r.n++
		r.buf = append(r.buf, b[:]...)
	}
	copy(p, r.buf)
	r.buf = r.buf[len(p):]
	return len(p), nil
}

var _ io.Reader = (*detRand)(nil)

func recordID(name string) consent.RecordID {
	h := sha256.Sum256([]byte("record/" + name))
	var id consent.RecordID
	copy(id[:], h[:])
	return id
}

// sealed is one record version as its writer's client holds it: the
// plaintext, the ciphertext stored off chain, and the data key.
type sealed struct {
	id      consent.RecordID
	patient crypto.Address
	typ     string
	plain   []byte
	ct      []byte
	dataKey [envelope.DataKeySize]byte
}

// fail stops the test, or panics when there is none (t is nil where an
// authorization row builds its message).
func fail(t testing.TB, format string, args ...any) {
	if t == nil {
		panic(fmt.Sprintf(format, args...))
	}
	t.Helper()
	t.Fatalf(format, args...)
}

// seal encrypts plaintext as a version of the record named name.
func seal(t testing.TB, name string, patient crypto.Address, typ string, plaintext []byte) *sealed {
	ct, dk, err := envelope.Seal(detStream(name+string(plaintext)), plaintext, recordID(name), patient)
	if err != nil {
		fail(t, "seal: %v", err)
	}
	return &sealed{id: recordID(name), patient: patient, typ: typ, plain: plaintext, ct: ct, dataKey: dk}
}

func (s *sealed) hash() [32]byte { return sha256.Sum256(s.ct) }

// wrap wraps the data key of version v for the parties with the encryption
// keys state publishes, sorted by party key as the chain requires.
func (s *sealed) wrap(t testing.TB, kv store.Reader, v uint32, ps ...consent.Party) []records.WrappedKey {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b consent.Party) int { return bytes.Compare(a.Key(), b.Key()) })
	out := make([]records.WrappedKey, len(ps))
	for i, p := range ps {
		pk, ok := consent.EncKeyOf(kv, p)
		if !ok {
			fail(t, "%s has no encryption key", p)
		}
		w, err := envelope.Wrap(detStream(fmt.Sprintf("%x/%d/%s", s.id, v, p)), pk, s.dataKey, s.id, v)
		if err != nil {
			fail(t, "wrap: %v", err)
		}
		out[i] = records.WrappedKey{Recipient: p, Enc: w.Enc, CT: w.CT}
	}
	return out
}

// add is the records/add of version v with keys for the parties.
func (s *sealed) add(t testing.TB, kv store.Reader, v uint32, ps ...consent.Party) *records.MsgAdd {
	return &records.MsgAdd{ID: s.id, Patient: s.patient, ResourceType: s.typ, ContentHash: s.hash(), Size: uint64(len(s.ct)), Keys: s.wrap(t, kv, v, ps...)}
}

// open reads version v as the party: its wrapped key from committed state,
// unwrapped with priv, then the ciphertext decrypted.
func (s *sealed) open(t *testing.T, kv store.Reader, v uint32, p consent.Party, priv *ecdh.PrivateKey) []byte {
	t.Helper()
	wk := records.GetKey(kv, s.id, v, p)
	if wk == nil {
		t.Fatalf("no key of %x v%d for %s", s.id, v, p)
	}
	ver := records.GetVersion(kv, s.id, v)
	if ver == nil || ver.ContentHash != s.hash() {
		t.Fatalf("version %d of %x: %+v", v, s.id, ver)
	}
	dk, err := envelope.Unwrap(priv, envelope.WrappedKey{Enc: wk.Enc, CT: wk.CT}, s.id, v)
	if err != nil {
		t.Fatalf("%s cannot unwrap its key: %v", p, err)
	}
	pt, err := envelope.Open(s.ct, dk, s.id, s.patient)
	if err != nil {
		t.Fatalf("%s cannot decrypt: %v", p, err)
	}
	return pt
}

func acctOf(name string) consent.Party { return consent.Account(k(name).Address()) }

func parties(names ...string) []consent.Party {
	out := make([]consent.Party, len(names))
	for i, n := range names {
		out[i] = acctOf(n)
	}
	return out
}

// do delivers msg signed by signer alone in a block and returns its result.
func do(t *testing.T, h *apptest.Harness, signer string, msg sm.Msg) *abci.ExecTxResult {
	t.Helper()
	return h.Deliver(t, h.Sign(k(signer), msg))[0]
}

func mustDo(t *testing.T, h *apptest.Harness, signer string, msg sm.Msg) *abci.ExecTxResult {
	t.Helper()
	res := do(t, h, signer, msg)
	wantCode(t, msg.Type()+" by "+signer, res, nil)
	return res
}

// refuse delivers msg, expects err, and checks that the block changed no
// state but the signer's account (the sequence a failed message still
// uses): consents, records, keys and the trail are as before.
func refuse(t *testing.T, h *apptest.Harness, signer string, msg sm.Msg, err *sm.Error) {
	t.Helper()
	before := dump(h.State())
	res := do(t, h, signer, msg)
	wantCode(t, msg.Type()+" by "+signer, res, err)
	if len(res.Events) != 0 {
		t.Fatalf("refused %s emitted %v", msg.Type(), res.Events)
	}
	after := dump(h.State())
	skip := string(accounts.AccountKey(k(signer).Address()))
	if before[skip] == after[skip] {
		t.Fatalf("refused %s did not use the signer's sequence", msg.Type())
	}
	for key := range mapsUnion(before, after) {
		if key != skip && before[key] != after[key] {
			t.Fatalf("refused %s changed key %x (prefix 0x%02x): %x -> %x", msg.Type(), key, key[0], before[key], after[key])
		}
	}
}

func mapsUnion(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// attrs collects the attributes of the result's events of a type (an
// attribute may repeat).
func attrs(t *testing.T, res *abci.ExecTxResult, typ string) map[string][]string {
	t.Helper()
	var out map[string][]string
	for _, e := range res.Events {
		if e.Type != typ {
			continue
		}
		if out != nil {
			t.Fatalf("two %s events", typ)
		}
		out = map[string][]string{}
		for _, a := range e.Attributes {
			out[a.Key] = append(out[a.Key], a.Value)
		}
	}
	if out == nil {
		t.Fatalf("no %s event in %v", typ, res.Events)
	}
	return out
}

func grantMsg(patient string, grantee consent.Party, actions uint8, types ...string) *consent.MsgGrant {
	return &consent.MsgGrant{Patient: k(patient).Address(), Grantee: grantee, Actions: actions, Types: types, Purpose: consent.PurposeTreatment}
}

func custodyMsg(patient, org string) *consent.MsgGrant {
	return &consent.MsgGrant{Patient: k(patient).Address(), Grantee: consent.Org(org), Actions: consent.ActRead, Purpose: consent.PurposeEmergency}
}

// consentID is the id in a result's consent_granted event.
func consentID(t *testing.T, res *abci.ExecTxResult) uint64 {
	t.Helper()
	var id uint64
	if _, err := fmt.Sscan(attrs(t, res, "consent_granted")["id"][0], &id); err != nil {
		t.Fatal(err)
	}
	return id
}

func now(h *apptest.Harness) int64 { return h.Time.Unix() }

func obsTarget(patient string, id consent.RecordID) consent.Target {
	return consent.Target{Patient: k(patient).Address(), Record: id, Type: "Observation"}
}

func observation(value string) []byte {
	return []byte(`{"resourceType":"Observation","status":"final","code":{"text":"glucose"},"valueQuantity":{"value":` + value + `}}`)
}

// TestLabAddsRecord: a lab practitioner holding a write consent registers a
// result with keys for exactly the parties consent names.
func TestLabAddsRecord(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	p1 := apptest.Patient1
	h.DeliverOK(t, h.Sign(k(p1), guardianMsg(apptest.Patient3)))
	write := consentID(t, mustDo(t, h, p1, grantMsg(p1, acctOf(apptest.LabTech), consent.ActWrite, "Observation")))
	mustDo(t, h, p1, grantMsg(p1, acctOf(apptest.HospitalDoctor), consent.ActRead, "Observation"))

	rec := seal(t, "lab-1", k(p1).Address(), "Observation", observation("5.4"))
	holders := parties(p1, apptest.Patient3, apptest.HospitalDoctor)
	if got := consent.KeyHolders(h.State(), now(h), obsTarget(p1, rec.id)); !sameParties(got, holders) {
		t.Fatalf("KeyHolders = %v, want the patient, the guardian and the reader", got)
	}
	kv := h.State()

	t.Run("refused", func(t *testing.T) {
		refuse(t, h, apptest.LabTech, rec.add(t, kv, 1, parties(p1, apptest.Patient3)...), records.ErrKeySet)
		refuse(t, h, apptest.LabTech, rec.add(t, kv, 1, append(holders, acctOf(apptest.Patient2))...), records.ErrKeySet)
		refuse(t, h, apptest.LabTech, rec.add(t, kv, 1, append(holders, consent.Org(apptest.OrgLab))...), records.ErrKeySet)
		refuse(t, h, apptest.LabTech, rec.add(t, kv, 1, parties(p1, apptest.Patient3, apptest.LabTech)...), records.ErrKeySet)
		// Reading is not writing; a write consent covers its types only;
		// the lab's admin holds no consent.
		refuse(t, h, apptest.HospitalDoctor, rec.add(t, kv, 1, holders...), records.ErrNoWriteConsent)
		cond := seal(t, "lab-cond", k(p1).Address(), "Condition", []byte(`{"resourceType":"Condition"}`))
		refuse(t, h, apptest.LabTech, cond.add(t, kv, 1, parties(p1, apptest.Patient3)...), records.ErrNoWriteConsent)
		refuse(t, h, apptest.LabAdmin, rec.add(t, kv, 1, holders...), records.ErrNoWriteConsent)
		// A consent only the patient or a guardian can give.
		refuse(t, h, apptest.Patient2, grantMsg(p1, acctOf(apptest.LabAdmin), consent.ActWrite, "Observation"), consent.ErrNotPatientOrGuardian)
		refuse(t, h, apptest.LabTech, grantMsg(p1, acctOf(apptest.LabAdmin), consent.ActWrite, "Observation"), consent.ErrNotPatientOrGuardian)
		refuse(t, h, apptest.HospitalAdmin, grantMsg(p1, consent.Org(apptest.OrgHospital), consent.ActRead|consent.ActWrite), consent.ErrNotPatientOrGuardian)
		// Unsorted keys never reach the mempool.
		bad := rec.add(t, kv, 1, holders...)
		slices.Reverse(bad.Keys)
		tx := h.Sign(k(apptest.LabTech), bad)
		wantCode(t, "CheckTx", h.Check(t, tx), records.ErrKeySet)
		h.Resync(k(apptest.LabTech))
	})

	res := mustDo(t, h, apptest.LabTech, rec.add(t, kv, 1, holders...))
	ev := attrs(t, res, "record_added")
	if ev["author"][0] != k(apptest.LabTech).Address().String() || ev["version"][0] != "1" || ev["type"][0] != "Observation" {
		t.Fatalf("record_added %v", ev)
	}
	d := consent.MayWrite(h.State(), now(h), k(apptest.LabTech).Address(), obsTarget(p1, rec.id))
	if !d.Allowed || d.Basis != consent.BasisConsent || d.ConsentID != write {
		t.Fatalf("MayWrite = %+v", d)
	}
	for name, priv := range map[string]*ecdh.PrivateKey{
		p1: k(p1).ECDH(), apptest.Patient3: k(apptest.Patient3).ECDH(), apptest.HospitalDoctor: k(apptest.HospitalDoctor).ECDH(),
	} {
		if got := rec.open(t, h.State(), 1, acctOf(name), priv); !bytes.Equal(got, rec.plain) {
			t.Fatalf("%s read %q", name, got)
		}
	}
	if records.GetKey(h.State(), rec.id, 1, acctOf(apptest.LabTech)) != nil {
		t.Fatal("the writer got a key without a read consent")
	}

	t.Run("organization write consent", func(t *testing.T) {
		p2 := apptest.Patient2
		orgWrite := consentID(t, mustDo(t, h, p2, grantMsg(p2, consent.Org(apptest.OrgLab), consent.ActWrite, "Observation")))
		r2 := seal(t, "lab-2", k(p2).Address(), "Observation", observation("6.1"))
		d := consent.MayWrite(h.State(), now(h), k(apptest.LabTech).Address(), obsTarget(p2, r2.id))
		if !d.Allowed || d.Basis != consent.BasisOrg || d.ConsentID != orgWrite || d.Recipient != consent.Org(apptest.OrgLab) {
			t.Fatalf("MayWrite = %+v", d)
		}
		// A write-only consent to the lab gives the lab no key.
		mustDo(t, h, apptest.LabTech, r2.add(t, h.State(), 1, acctOf(p2)))
		refuse(t, h, apptest.HospitalDoctor, seal(t, "hosp-2", k(p2).Address(), "Observation", observation("7")).add(t, h.State(), 1, acctOf(p2)), records.ErrNoWriteConsent)
	})
}

func sameParties(got, want []consent.Party) bool {
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b consent.Party) int { return bytes.Compare(a.Key(), b.Key()) })
	return slices.Equal(got, want)
}

// TestMayRead follows one patient's consents through grants, revocation
// and expiry, asking the chain's state what a reader may do.
func TestMayRead(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	p1, p2 := apptest.Patient1, apptest.Patient2
	doctor, tech := k(apptest.HospitalDoctor).Address(), k(apptest.LabTech).Address()
	h.DeliverOK(t, h.Sign(k(p1), guardianMsg(apptest.Patient3)))
	readObs := consentID(t, mustDo(t, h, p1, grantMsg(p1, acctOf(apptest.HospitalDoctor), consent.ActRead, "Observation")))
	until := h.NextTime().Unix() + 60
	timed := grantMsg(p1, acctOf(apptest.LabTech), consent.ActRead)
	timed.Until = until
	expiring := consentID(t, mustDo(t, h, p1, timed))
	orgRead := consentID(t, mustDo(t, h, p2, grantMsg(p2, consent.Org(apptest.OrgHospital), consent.ActRead)))
	obs, cond := obsTarget(p1, recordID("r1")), consent.Target{Patient: k(p1).Address(), Record: recordID("r2"), Type: "Condition"}

	type want struct {
		basis     consent.Basis
		id        uint64
		recipient consent.Party
		err       *sm.Error
	}
	check := func(t *testing.T, name string, who crypto.Address, tg consent.Target, w want) {
		t.Helper()
		d := consent.MayRead(h.State(), now(h), who, tg)
		if w.err != nil {
			if d.Allowed {
				t.Fatalf("%s: allowed %+v, want %v", name, d, w.err.Desc)
			}
			code, space, _ := sm.ABCIInfo(d.Err)
			if code != w.err.Code || space != w.err.Codespace {
				t.Fatalf("%s: refused with %v, want %s/%d", name, d.Err, w.err.Codespace, w.err.Code)
			}
			return
		}
		if !d.Allowed || d.Basis != w.basis || d.ConsentID != w.id || d.Recipient != w.recipient {
			t.Fatalf("%s: %+v, want %+v", name, d, w)
		}
	}
	check(t, "patient", k(p1).Address(), obs, want{consent.BasisPatient, 0, acctOf(p1), nil})
	check(t, "guardian", k(apptest.Patient3).Address(), cond, want{consent.BasisGuardian, 0, acctOf(apptest.Patient3), nil})
	check(t, "grantee, covered type", doctor, obs, want{consent.BasisConsent, readObs, consent.Account(doctor), nil})
	check(t, "grantee, other type", doctor, cond, want{err: consent.ErrNoConsent})
	check(t, "another patient", k(p2).Address(), obs, want{err: consent.ErrNoConsent})
	check(t, "the grantee's admin", k(apptest.HospitalAdmin).Address(), obs, want{err: consent.ErrNoConsent})
	check(t, "practitioner through the organization", doctor, obsTarget(p2, recordID("r3")),
		want{consent.BasisOrg, orgRead, consent.Org(apptest.OrgHospital), nil})
	check(t, "another organization", tech, obsTarget(p2, recordID("r3")), want{err: consent.ErrNoConsent})
	check(t, "timed consent, before its end", tech, cond, want{consent.BasisConsent, expiring, consent.Account(tech), nil})

	mustDo(t, h, p1, &consent.MsgRevoke{ID: readObs})
	revokedAt := h.Height
	check(t, "revoked, the next block", doctor, obs, want{err: consent.ErrConsentRevoked})
	// The state before the revocation still says what was allowed then.
	old, err := h.App.SnapshotAt(revokedAt - 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := consent.MayRead(old, now(h)-int64(apptest.BlockInterval/time.Second), doctor, obs); !d.Allowed {
		t.Fatalf("before the revocation: %+v", d)
	}
	refuse(t, h, p1, &consent.MsgRevoke{ID: readObs}, consent.ErrRevoked)
	refuse(t, h, apptest.HospitalDoctor, &consent.MsgRevoke{ID: orgRead}, consent.ErrNotPatientOrGuardian)

	if now(h) >= until {
		t.Fatalf("the test took too many blocks: %d >= %d", now(h), until)
	}
	check(t, "timed consent, still before its end", tech, cond, want{consent.BasisConsent, expiring, consent.Account(tech), nil})
	h.Advance(time.Duration(until-h.NextTime().Unix()) * time.Second)
	h.Finalize(t)
	if now(h) != until {
		t.Fatalf("block time %d, want %d", now(h), until)
	}
	check(t, "timed consent, at its end", tech, cond, want{err: consent.ErrConsentExpired})
	// An expired consent no longer names a key holder.
	if got := consent.KeyHolders(h.State(), now(h), cond); !sameParties(got, parties(p1, apptest.Patient3)) {
		t.Fatalf("KeyHolders after expiry = %v", got)
	}
}

// TestShare: after a new read grant, the patient shares an existing
// version with the new reader.
func TestShare(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	p1 := apptest.Patient1
	rec := seal(t, "share-1", k(p1).Address(), "Observation", observation("4.2"))
	mustDo(t, h, p1, rec.add(t, h.State(), 1, acctOf(p1)))
	doctorKey := func() []records.WrappedKey { return rec.wrap(t, h.State(), 1, acctOf(apptest.HospitalDoctor)) }
	share := func(ks []records.WrappedKey) *records.MsgShare {
		return &records.MsgShare{ID: rec.id, Version: 1, Keys: ks}
	}

	refuse(t, h, p1, share(doctorKey()), records.ErrNotEntitled)
	mustDo(t, h, p1, grantMsg(p1, acctOf(apptest.HospitalDoctor), consent.ActRead, "Observation"))
	refuse(t, h, p1, share(rec.wrap(t, h.State(), 1, acctOf(apptest.Patient2))), records.ErrNotEntitled)
	refuse(t, h, p1, share(rec.wrap(t, h.State(), 1, acctOf(apptest.HospitalDoctor), acctOf(apptest.Patient2))), records.ErrNotEntitled)
	refuse(t, h, apptest.HospitalDoctor, share(doctorKey()), records.ErrNotOwner)
	refuse(t, h, p1, &records.MsgShare{ID: rec.id, Version: 2, Keys: doctorKey()}, records.ErrBadVersion)
	refuse(t, h, p1, &records.MsgShare{ID: recordID("nope"), Version: 1, Keys: doctorKey()}, records.ErrNotFound)

	res := mustDo(t, h, p1, share(doctorKey()))
	if ev := attrs(t, res, "record_shared"); ev["keys"][0] != "1" || ev["version"][0] != "1" {
		t.Fatalf("record_shared %v", ev)
	}
	if got := rec.open(t, h.State(), 1, acctOf(apptest.HospitalDoctor), k(apptest.HospitalDoctor).ECDH()); !bytes.Equal(got, rec.plain) {
		t.Fatalf("doctor read %q", got)
	}
	refuse(t, h, p1, share(doctorKey()), records.ErrKeyExists)
	// A key wrapped for someone else does not open for the doctor.
	wk := records.GetKey(h.State(), rec.id, 1, acctOf(p1))
	if _, err := envelope.Unwrap(k(apptest.HospitalDoctor).ECDH(), envelope.WrappedKey{Enc: wk.Enc, CT: wk.CT}, rec.id, 1); err == nil {
		t.Fatal("the doctor opened the patient's key")
	}
}

// TestVersions: a new version supersedes the last; history stays.
func TestVersions(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	p1, p2 := apptest.Patient1, apptest.Patient2
	v1 := seal(t, "ver", k(p1).Address(), "Observation", observation("1"))
	v2 := seal(t, "ver", k(p1).Address(), "Observation", observation("2"))
	if v1.id != v2.id || v1.hash() == v2.hash() {
		t.Fatal("two versions of one record need one id and two ciphertexts")
	}
	mustDo(t, h, p1, v1.add(t, h.State(), 1, acctOf(p1)))
	mustDo(t, h, p1, grantMsg(p1, acctOf(apptest.HospitalDoctor), consent.ActRead, "Observation"))
	res := mustDo(t, h, p1, v2.add(t, h.State(), 2, acctOf(p1), acctOf(apptest.HospitalDoctor)))
	if attrs(t, res, "record_added")["version"][0] != "2" {
		t.Fatal("not version 2")
	}
	kv := h.State()
	if rec := records.GetRecord(kv, v1.id); rec.Version != 2 || rec.Type != "Observation" || rec.Patient != k(p1).Address() {
		t.Fatalf("record %+v", rec)
	}
	for v, s := range map[uint32]*sealed{1: v1, 2: v2} {
		if got := s.open(t, kv, v, acctOf(p1), k(p1).ECDH()); !bytes.Equal(got, s.plain) {
			t.Fatalf("version %d reads %q", v, got)
		}
		if _, ver := records.ByHash(kv, s.hash()); ver == nil || ver.Version != v {
			t.Fatalf("ByHash of version %d = %+v", v, ver)
		}
	}
	// The new reader holds a key for the version written after the grant only.
	if records.GetKey(kv, v1.id, 1, acctOf(apptest.HospitalDoctor)) != nil || records.GetKey(kv, v1.id, 2, acctOf(apptest.HospitalDoctor)) == nil {
		t.Fatal("doctor's keys on the wrong versions")
	}

	other := seal(t, "ver", k(p2).Address(), "Observation", observation("3"))
	refuse(t, h, p2, other.add(t, kv, 3, acctOf(p2)), records.ErrMismatch)
	asCondition := seal(t, "ver", k(p1).Address(), "Condition", []byte(`{"resourceType":"Condition"}`))
	refuse(t, h, p1, asCondition.add(t, kv, 3, acctOf(p1)), records.ErrMismatch)
	again := *v1
	again.id = recordID("another")
	refuse(t, h, p1, again.add(t, kv, 1, acctOf(p1), acctOf(apptest.HospitalDoctor)), records.ErrDuplicateHash)
	refuse(t, h, p1, v2.add(t, kv, 3, acctOf(p1), acctOf(apptest.HospitalDoctor)), records.ErrDuplicateHash)
}

// TestErase: a tombstone; keys go, hashes and versions stay.
func TestErase(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	p1 := apptest.Patient1
	h.DeliverOK(t, h.Sign(k(p1), guardianMsg(apptest.Patient3)))
	mustDo(t, h, p1, grantMsg(p1, acctOf(apptest.HospitalDoctor), consent.ActRead))
	readers := parties(p1, apptest.Patient3, apptest.HospitalDoctor)
	v1 := seal(t, "erase", k(p1).Address(), "Observation", observation("1"))
	v2 := seal(t, "erase", k(p1).Address(), "Observation", observation("2"))
	mustDo(t, h, p1, v1.add(t, h.State(), 1, readers...))
	mustDo(t, h, p1, v2.add(t, h.State(), 2, readers...))

	refuse(t, h, apptest.HospitalDoctor, &records.MsgErase{ID: v1.id}, records.ErrNotOwner)
	refuse(t, h, apptest.Patient2, &records.MsgErase{ID: v1.id}, records.ErrNotOwner)
	res := mustDo(t, h, p1, &records.MsgErase{ID: v1.id})
	ev := attrs(t, res, "record_erased")
	h1, h2 := v1.hash(), v2.hash()
	if want := []string{hex.EncodeToString(h1[:]), hex.EncodeToString(h2[:])}; !slices.Equal(ev["content_hash"], want) {
		t.Fatalf("record_erased content hashes %v, want %v", ev["content_hash"], want)
	}
	if ev["patient"][0] != k(p1).Address().String() {
		t.Fatalf("record_erased %v", ev)
	}
	kv := h.State()
	rec := records.GetRecord(kv, v1.id)
	if rec == nil || rec.Erased != now(h) || rec.Version != 2 {
		t.Fatalf("record %+v", rec)
	}
	for v := uint32(1); v <= 2; v++ {
		if ks := records.Keys(kv, v1.id, v); len(ks) != 0 {
			t.Fatalf("version %d keeps %d wrapped keys", v, len(ks))
		}
		if records.GetVersion(kv, v1.id, v) == nil {
			t.Fatalf("version %d is gone", v)
		}
	}
	if r, _ := records.ByHash(kv, h2); r == nil || r.ID != v1.id {
		t.Fatal("the erased record's hash is not registered any more")
	}
	refuse(t, h, p1, &records.MsgErase{ID: v1.id}, records.ErrErased)
	v3 := seal(t, "erase", k(p1).Address(), "Observation", observation("3"))
	refuse(t, h, p1, v3.add(t, kv, 3, readers...), records.ErrErased)
	refuse(t, h, p1, &records.MsgShare{ID: v1.id, Version: 1, Keys: v1.wrap(t, kv, 1, acctOf(apptest.HospitalDoctor))}, records.ErrErased)
}

// TestEmergency: a patient names a custodian organization; its
// practitioner opens a time-boxed access; its admin reviews it.
func TestEmergency(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Config{Members: apptest.DomainMembers})
	p1, hosp := apptest.Patient1, apptest.OrgHospital
	doctor := k(apptest.HospitalDoctor).Address()
	open := &consent.MsgOpenEmergency{Patient: k(p1).Address(), Reason: "unable_to_consent"}

	// Custody needs the organization's key: keys are wrapped to it.
	refuse(t, h, p1, custodyMsg(p1, hosp), consent.ErrBadGrantee)
	mustDo(t, h, apptest.HospitalAdmin, &accounts.MsgSetOrgKey{EncKey: apptest.OrgKey(hosp).EncKey()})
	refuse(t, h, apptest.HospitalDoctor, open, consent.ErrNoCustodian)
	custody := consentID(t, mustDo(t, h, p1, custodyMsg(p1, hosp)))

	// Records written from now on carry a key for the custodian.
	rec := seal(t, "allergy", k(p1).Address(), "AllergyIntolerance", []byte(`{"resourceType":"AllergyIntolerance","code":{"text":"penicillin"}}`))
	refuse(t, h, p1, rec.add(t, h.State(), 1, acctOf(p1)), records.ErrKeySet)
	mustDo(t, h, p1, rec.add(t, h.State(), 1, acctOf(p1), consent.Org(hosp)))
	target := consent.Target{Patient: k(p1).Address(), Record: rec.id, Type: rec.typ}
	if d := consent.MayRead(h.State(), now(h), doctor, target); d.Allowed {
		t.Fatalf("custody alone is access: %+v", d)
	}

	refuse(t, h, apptest.LabTech, open, consent.ErrNoCustodian)
	refuse(t, h, apptest.HospitalAdmin, open, consent.ErrNotPractitioner)
	refuse(t, h, apptest.HospitalDoctor, &consent.MsgOpenEmergency{Patient: k(apptest.Patient2).Address(), Reason: "life_threatening"}, consent.ErrNoCustodian)
	// The reason is a code: free text (health data) is refused.
	refuse(t, h, apptest.HospitalDoctor, &consent.MsgOpenEmergency{Patient: k(p1).Address(), Reason: "unconscious on arrival, medication unknown"}, consent.ErrBadReasonCode)
	res := mustDo(t, h, apptest.HospitalDoctor, open)
	secs := int64(h.App.Params().Get(h.State(), consent.ParamEmergencySeconds))
	ev := attrs(t, res, "emergency_opened")
	if ev["id"][0] != "1" || ev["org"][0] != hosp || ev["practitioner"][0] != doctor.String() || ev["patient"][0] != k(p1).Address().String() ||
		ev["expires"][0] != fmt.Sprint(now(h)+secs) {
		t.Fatalf("emergency_opened %v (block time %d, %d s)", ev, now(h), secs)
	}
	refuse(t, h, apptest.HospitalDoctor, open, consent.ErrEmergencyOpen)

	d := consent.MayRead(h.State(), now(h), doctor, target)
	if !d.Allowed || d.Basis != consent.BasisEmergency || d.EmergencyID != 1 || d.ConsentID != custody || d.Recipient != consent.Org(hosp) {
		t.Fatalf("during the emergency: %+v", d)
	}
	// The hospital's gateway opens the record with the organization's key
	// and reports the flagged read.
	if got := rec.open(t, h.State(), 1, consent.Org(hosp), apptest.OrgKey(hosp).ECDH()); !bytes.Equal(got, rec.plain) {
		t.Fatalf("gateway read %q", got)
	}
	mustDo(t, h, apptest.HospitalGateway, &audit.MsgLog{Events: []audit.Event{attributed(apptest.HospitalDoctor, audit.Event{
		Patient: k(p1).Address(), Accessor: doctor, Record: rec.id, Version: 1, Time: now(h), Served: true,
		Basis: string(d.Basis), ConsentID: d.ConsentID, EmergencyID: d.EmergencyID,
	})}})
	if tr := audit.Trail(h.State(), k(p1).Address(), audit.Filter{}); len(tr) != 1 || !tr[0].Flagged() || tr[0].Node != hosp {
		t.Fatalf("trail %+v", tr)
	}
	// Another practitioner of the hospital has no access.
	if d := consent.MayRead(h.State(), now(h), k(apptest.HospitalAdmin).Address(), target); d.Allowed {
		t.Fatalf("colleague: %+v", d)
	}

	// Expired without review: no access, and a warning for the patient.
	em := consent.GetEmergency(h.State(), 1)
	h.Advance(time.Duration(em.Expires-h.NextTime().Unix()) * time.Second)
	h.Finalize(t)
	if d := consent.MayRead(h.State(), now(h), doctor, target); d.Allowed {
		t.Fatalf("after expiry (block time %d, expires %d): %+v", now(h), em.Expires, d)
	}
	if sig := audit.Signals(h.State(), k(p1).Address(), now(h), audit.DefaultSignalOptions); len(sig) != 1 || sig[0].Kind != "emergency_unreviewed" || sig[0].Accessor != doctor {
		t.Fatalf("signals %+v", sig)
	}

	refuse(t, h, apptest.LabAdmin, &consent.MsgReviewEmergency{ID: 1, Review: "justified"}, consent.ErrNotReviewer)
	refuse(t, h, apptest.HospitalDoctor, &consent.MsgReviewEmergency{ID: 1, Review: "justified"}, consent.ErrNotReviewer)
	refuse(t, h, apptest.HospitalAdmin, &consent.MsgReviewEmergency{ID: 9, Review: "justified"}, consent.ErrNoEmergency)
	// The review is an outcome code: free text (health data) is refused.
	refuse(t, h, apptest.HospitalAdmin, &consent.MsgReviewEmergency{ID: 1, Review: "justified: anaphylaxis suspected"}, consent.ErrBadReviewOutcome)
	mustDo(t, h, apptest.HospitalAdmin, &consent.MsgReviewEmergency{ID: 1, Review: "justified"})
	em = consent.GetEmergency(h.State(), 1)
	if em.Reviewed != now(h) || em.Reviewer != k(apptest.HospitalAdmin).Address() || em.Reason != "unable_to_consent" || em.Review != "justified" {
		t.Fatalf("review %+v", em)
	}
	refuse(t, h, apptest.HospitalAdmin, &consent.MsgReviewEmergency{ID: 1, Review: "unjustified"}, consent.ErrEmergencyReviewed)
	if sig := audit.Signals(h.State(), k(p1).Address(), now(h), audit.DefaultSignalOptions); len(sig) != 0 {
		t.Fatalf("signals after review %+v", sig)
	}

	// A review closes a session before its time is up.
	mustDo(t, h, apptest.HospitalDoctor, open)
	if d := consent.MayRead(h.State(), now(h), doctor, target); !d.Allowed || d.EmergencyID != 2 {
		t.Fatalf("second session: %+v", d)
	}
	mustDo(t, h, apptest.HospitalAdmin, &consent.MsgReviewEmergency{ID: 2, Review: "inconclusive"})
	if d := consent.MayRead(h.State(), now(h), doctor, target); d.Allowed {
		t.Fatalf("after an early review: %+v", d)
	}
}

// TestAudit: gateways report reads in batches; the patient reads the trail
// and the signals derived from it.
func TestAudit(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	p1, p2, p3 := k(apptest.Patient1).Address(), k(apptest.Patient2).Address(), k(apptest.Patient3).Address()
	doctor, labAdmin := k(apptest.HospitalDoctor).Address(), k(apptest.LabAdmin).Address()
	r1 := seal(t, "audit-1", p1, "Observation", observation("1"))
	r2 := seal(t, "audit-2", p2, "Observation", observation("2"))
	r3 := seal(t, "audit-3", p3, "Observation", observation("3"))
	mustDo(t, h, apptest.Patient1, r1.add(t, h.State(), 1, acctOf(apptest.Patient1)))
	mustDo(t, h, apptest.Patient2, r2.add(t, h.State(), 1, acctOf(apptest.Patient2)))
	mustDo(t, h, apptest.Patient3, r3.add(t, h.State(), 1, acctOf(apptest.Patient3)))
	read := consentID(t, mustDo(t, h, apptest.Patient1, grantMsg(apptest.Patient1, acctOf(apptest.HospitalDoctor), consent.ActRead)))

	names := map[crypto.Address]string{doctor: apptest.HospitalDoctor, labAdmin: apptest.LabAdmin}
	ev := func(patient, accessor crypto.Address, rec consent.RecordID, at int64, reason string) audit.Event {
		e := audit.Event{Patient: patient, Accessor: accessor, Record: rec, Version: 1, Time: at, Reason: reason}
		if reason == "" {
			e.Served, e.Basis, e.ConsentID = true, string(consent.BasisConsent), read
		}
		return attributed(names[accessor], e)
	}
	next := h.NextTime().Unix()
	noConsent := reasonOf(consent.MayRead(h.State(), now(h), labAdmin, obsTarget(apptest.Patient1, r1.id)).Err)
	if !strings.HasPrefix(noConsent, "consent/17: ") {
		t.Fatalf("refusal reason %q", noConsent)
	}
	mustDo(t, h, apptest.HospitalGateway, &audit.MsgLog{Events: []audit.Event{
		ev(p1, doctor, r1.id, next-30, ""),
		ev(p1, labAdmin, r1.id, next-20, noConsent),
		ev(p2, doctor, r2.id, next-10, ""),
	}})
	next = h.NextTime().Unix()
	mustDo(t, h, apptest.LabGateway, &audit.MsgLog{Events: []audit.Event{ev(p1, doctor, r1.id, next, "")}})

	trail := audit.Trail(h.State(), p1, audit.Filter{})
	if len(trail) != 3 {
		t.Fatalf("trail %+v", trail)
	}
	for i, want := range []struct {
		seq      uint64
		node     string
		accessor crypto.Address
		served   bool
	}{{1, apptest.OrgHospital, doctor, true}, {2, apptest.OrgHospital, labAdmin, false}, {4, apptest.OrgLab, doctor, true}} {
		e := trail[i]
		if e.Seq != want.seq || e.Node != want.node || e.Accessor != want.accessor || e.Served != want.served || e.Record != r1.id {
			t.Fatalf("trail[%d] = %+v, want %+v", i, e, want)
		}
	}
	if trail[1].Reason != noConsent || trail[0].ConsentID != read {
		t.Fatalf("trail %+v", trail)
	}
	seqs := func(evs []audit.Event) []uint64 {
		var out []uint64
		for _, e := range evs {
			out = append(out, e.Seq)
		}
		return out
	}
	if got := seqs(audit.Trail(h.State(), p1, audit.Filter{Accessor: doctor})); !slices.Equal(got, []uint64{1, 4}) {
		t.Errorf("trail by accessor %v", got)
	}
	if got := seqs(audit.Trail(h.State(), p1, audit.Filter{From: trail[1].Time, To: trail[2].Time})); !slices.Equal(got, []uint64{2}) {
		t.Errorf("trail by time %v", got)
	}
	if got := seqs(audit.ByAccessor(h.State(), doctor, 0, 0)); !slices.Equal(got, []uint64{1, 3, 4}) {
		t.Errorf("by accessor %v", got)
	}
	if got := seqs(audit.Trail(h.State(), p2, audit.Filter{})); !slices.Equal(got, []uint64{3}) {
		t.Errorf("patient 2's trail %v", got)
	}

	t.Run("events judged one by one", func(t *testing.T) {
		before := len(audit.Trail(h.State(), p1, audit.Filter{}))
		next := h.NextTime().Unix()
		// Too far ahead: refused alone (sent again later); more than an
		// hour late: logged and marked late; another patient's record:
		// refused alone.
		res := mustDo(t, h, apptest.HospitalGateway, &audit.MsgLog{Events: []audit.Event{
			ev(p1, doctor, r1.id, next+audit.MaxAhead+1, ""),
			ev(p1, doctor, r1.id, next-audit.MaxDelay-1, ""),
			ev(p2, doctor, r1.id, next, ""), // patient 1's record reported as patient 2's
			ev(p1, doctor, r1.id, next+audit.MaxAhead, ""),
		}})
		var codes []string
		for _, e := range res.Events {
			if e.Type == audit.EventRejected {
				for _, a := range e.Attributes {
					if a.Key == "code" {
						codes = append(codes, a.Value)
					}
				}
			}
		}
		if want := []string{"audit/3", "audit/6"}; !slices.Equal(codes, want) {
			t.Fatalf("refused %v, want %v", codes, want)
		}
		tr := audit.Trail(h.State(), p1, audit.Filter{})
		if len(tr) != before+2 || !tr[before].Late() || tr[before+1].Late() {
			t.Fatalf("trail %+v", tr[before:])
		}
		refuse(t, h, apptest.HospitalDoctor, &audit.MsgLog{Events: []audit.Event{ev(p1, doctor, r1.id, next, "")}}, audit.ErrNotGateway)
	})

	t.Run("signals", func(t *testing.T) {
		// The lab admin reads 3 patients' records within the hour,
		// patient 1's among them: bulk, with at most 2 per window.
		opts := audit.SignalOptions{Window: 3600, MaxPatients: 2}
		next := h.NextTime().Unix()
		mustDo(t, h, apptest.HospitalGateway, &audit.MsgLog{Events: []audit.Event{
			ev(p2, labAdmin, r2.id, next-2, ""), ev(p3, labAdmin, r3.id, next-1, ""), ev(p1, labAdmin, r1.id, next, ""),
		}})

		// Refusals under a revoked consent: the reason is the decision's.
		mustDo(t, h, apptest.Patient1, &consent.MsgRevoke{ID: read})
		revoked := reasonOf(consent.MayRead(h.State(), now(h), doctor, obsTarget(apptest.Patient1, r1.id)).Err)
		if !strings.HasPrefix(revoked, "consent/19: ") {
			t.Fatalf("refusal reason %q", revoked)
		}
		mustDo(t, h, apptest.HospitalGateway, &audit.MsgLog{Events: []audit.Event{ev(p1, doctor, r1.id, now(h), revoked)}})

		var got []string
		for _, s := range audit.Signals(h.State(), p1, now(h), opts) {
			got = append(got, s.Kind+" "+s.Accessor.String())
		}
		slices.Sort(got)
		want := []string{"bulk_reads " + labAdmin.String(), "refused_expired_or_revoked " + doctor.String()}
		if !slices.Equal(got, want) {
			t.Fatalf("signals %v, want %v", got, want)
		}
		// Patient 2 was read by the doctor and the lab admin, not in bulk
		// by the doctor; the lab admin's bulk reads show there too.
		var p2got []string
		for _, s := range audit.Signals(h.State(), p2, now(h), opts) {
			p2got = append(p2got, s.Kind+" "+s.Accessor.String())
		}
		if want := []string{"bulk_reads " + labAdmin.String()}; !slices.Equal(p2got, want) {
			t.Fatalf("patient 2's signals %v, want %v", p2got, want)
		}
	})
}

var auditSeq uint64

// attributed gives an event an id and the accessor's signed request for
// the record's key, as a gateway reports it.
func attributed(accessor string, e audit.Event) audit.Event {
	auditSeq++
	e.ID[0] = 0xa1
	binary.BigEndian.PutUint64(e.ID[8:], auditSeq)
	p := &audit.Proof{Kind: audit.ProofRequest, Target: "/v1/records/" + hex.EncodeToString(e.Record[:]) + "/key", Expires: e.Time + 60}
	binary.BigEndian.PutUint64(p.Nonce[8:], auditSeq)
	copy(p.Sig[:], k(accessor).Sign(audit.RequestSignBytes(apptest.ChainID, p.Target, p.Expires, p.Nonce)))
	e.Proof = p
	return e
}

// reasonOf is how a gateway words a refusal in the trail: the error's
// codespace/code, then its text.
func reasonOf(err error) string {
	code, space, log := sm.ABCIInfo(err)
	r := fmt.Sprintf("%s/%d: %s", space, code, log)
	if len(r) > audit.MaxReasonLen {
		r = r[:audit.MaxReasonLen]
	}
	return r
}

// TestNoPlaintextOnChain runs the record flows with a record full of
// distinctive strings and then looks for them everywhere the chain keeps
// or says anything: every key and value of the committed state, every
// transaction delivered, every event attribute.
func TestNoPlaintextOnChain(t *testing.T) {
	secrets := []string{
		"Wilhelmina Quarterflax", // the patient's name
		"MRN-90417-XQ",           // a medical record number
		"1961-02-17",             // a birth date
		"ZQX-4471-8",             // a code
		"187.43",                 // a value
	}
	plain := func(value string) []byte {
		return []byte(`{"resourceType":"Observation","subject":{"display":"` + secrets[0] + `","identifier":"` + secrets[1] +
			`","birthDate":"` + secrets[2] + `"},"code":{"coding":[{"code":"` + secrets[3] + `"}]},"valueQuantity":{"value":` + value + `}}`)
	}
	h := apptest.NewWithConfig(t, apptest.Domain())
	p1 := apptest.Patient1
	h.DeliverOK(t, h.Sign(k(p1), guardianMsg(apptest.Patient3)))
	mustDo(t, h, p1, grantMsg(p1, acctOf(apptest.LabTech), consent.ActWrite, "Observation"))
	mustDo(t, h, p1, custodyMsg(p1, apptest.OrgHospital))
	v1 := seal(t, "secret", k(p1).Address(), "Observation", plain(secrets[4]))
	mustDo(t, h, apptest.LabTech, v1.add(t, h.State(), 1, acctOf(p1), acctOf(apptest.Patient3), consent.Org(apptest.OrgHospital)))
	mustDo(t, h, p1, grantMsg(p1, acctOf(apptest.HospitalDoctor), consent.ActRead, "Observation"))
	mustDo(t, h, p1, &records.MsgShare{ID: v1.id, Version: 1, Keys: v1.wrap(t, h.State(), 1, acctOf(apptest.HospitalDoctor))})
	v2 := seal(t, "secret", k(p1).Address(), "Observation", plain("191.07"))
	readers := []consent.Party{acctOf(p1), acctOf(apptest.Patient3), acctOf(apptest.HospitalDoctor), consent.Org(apptest.OrgHospital)}
	mustDo(t, h, apptest.LabTech, v2.add(t, h.State(), 2, readers...))
	mustDo(t, h, apptest.HospitalGateway, &audit.MsgLog{Events: []audit.Event{attributed(apptest.HospitalDoctor, audit.Event{
		Patient: k(p1).Address(), Accessor: k(apptest.HospitalDoctor).Address(), Record: v1.id, Version: 2, Time: now(h),
		Served: true, Basis: string(consent.BasisConsent), ConsentID: 3,
	})}})
	// The flow is real: the doctor reads the plaintext off chain.
	if got := v2.open(t, h.State(), 2, acctOf(apptest.HospitalDoctor), k(apptest.HospitalDoctor).ECDH()); !bytes.Equal(got, v2.plain) {
		t.Fatalf("doctor read %q", got)
	}

	// Everything the chain holds or said, as (where, bytes).
	type blob struct {
		where string
		b     []byte
	}
	var all []blob
	h.State().Iterate(nil, nil, func(key, v []byte) bool {
		all = append(all, blob{fmt.Sprintf("state key %x", key), bytes.Clone(key)}, blob{fmt.Sprintf("state value at %x", key), bytes.Clone(v)})
		return true
	})
	ntx := 0
	for _, b := range h.Blocks {
		for i, tx := range b.Txs {
			all = append(all, blob{fmt.Sprintf("block %d tx %d", b.Height, i), tx})
			ntx++
		}
		evs := b.Resp.Events
		for _, r := range b.Resp.TxResults {
			evs = append(evs, r.Events...)
			all = append(all, blob{fmt.Sprintf("block %d log", b.Height), []byte(r.Log)})
		}
		for _, e := range evs {
			for _, a := range e.Attributes {
				all = append(all, blob{fmt.Sprintf("block %d event %s.%s", b.Height, e.Type, a.Key), []byte(a.Key + "=" + a.Value)})
			}
		}
	}
	if ntx != 8 {
		t.Fatalf("%d transactions recorded, want the flow's 8", ntx)
	}
	forms := func(s string) [][]byte {
		return [][]byte{
			[]byte(s), []byte(strings.ToLower(s)), []byte(strings.ToUpper(s)),
			[]byte(hex.EncodeToString([]byte(s))), []byte(strings.ToUpper(hex.EncodeToString([]byte(s)))),
			[]byte(base64.StdEncoding.EncodeToString([]byte(s))),
		}
	}
	find := func(needle []byte) (string, bool) {
		for _, b := range all {
			if bytes.Contains(b.b, needle) {
				return b.where, true
			}
		}
		return "", false
	}
	for _, s := range secrets {
		for _, f := range forms(s) {
			if where, ok := find(f); ok {
				t.Errorf("%q (as %q) found in %s", s, f, where)
			}
		}
	}
	// The search works: what the chain is meant to hold is found.
	hash := v2.hash()
	for name, needle := range map[string][]byte{
		"the content hash in state":    hash[:],
		"the content hash in an event": []byte(hex.EncodeToString(hash[:])),
		"the wrapped key in a tx":      records.GetKey(h.State(), v1.id, 1, acctOf(apptest.HospitalDoctor)).CT[:],
		"the resource type":            []byte("Observation"),
		"the patient's address":        []byte(k(p1).Address().String()),
	} {
		if _, ok := find(needle); !ok {
			t.Errorf("control: %s not found", name)
		}
	}
}
