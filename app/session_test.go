package app_test

import (
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/session"
)

// This file drives session delegations and key rotation through real
// transactions: the app's authentication (session.Authorize) decides which
// key signs for which account.

// sendAs delivers msg signed by key with an explicit sequence (session and
// rotated keys do not sign for their own address).
func sendAs(t *testing.T, h *apptest.Harness, key *crypto.PrivKey, seq uint64, msg sm.Msg) *abci.ExecTxResult {
	t.Helper()
	return h.Deliver(t, sm.SignTx(key, apptest.ChainID, seq, 0, msg))[0]
}

func acctSeq(h *apptest.Harness, a crypto.Address) uint64 {
	return accounts.GetAccount(h.State(), a).Sequence
}

func sessSeq(h *apptest.Harness, pub crypto.PubKey) uint64 {
	return session.Get(h.State(), pub).Sequence
}

// addRecord registers version 1 of a record of patient1 wrapped to patient1.
func addRecord(t *testing.T, h *apptest.Harness, name, typ string) *sealed {
	t.Helper()
	p := k(apptest.Patient1)
	s := seal(t, name, p.Address(), typ, []byte(`{"resourceType":"`+typ+`","id":"`+name+`"}`))
	mustDo(t, h, apptest.Patient1, s.add(t, h.State(), 1, acctOf(apptest.Patient1)))
	return s
}

// rekey unwraps version v of s with from and wraps it to the key to.
func rekey(t *testing.T, h *apptest.Harness, s *sealed, v uint32, holder consent.Party, from *crypto.PrivKey, to crypto.EncKey) records.Rekey {
	t.Helper()
	wk := records.GetKey(h.State(), s.id, v, holder)
	if wk == nil {
		t.Fatalf("no key of %x v%d for %s", s.id, v, holder)
	}
	dk, err := envelope.Unwrap(from.ECDH(), envelope.WrappedKey{Enc: wk.Enc, CT: wk.CT}, s.id, v)
	if err != nil {
		t.Fatalf("unwrap: %v", err)
	}
	w, err := envelope.Wrap(nil, to, dk, s.id, v)
	if err != nil {
		t.Fatal(err)
	}
	return records.Rekey{ID: s.id, Version: v, Enc: w.Enc, CT: w.CT}
}

func sessionLimits(h *apptest.Harness, ttl time.Duration, types []string, resTypes ...string) session.Limits {
	return session.Limits{Types: types, ResourceTypes: resTypes, Purpose: "fhir", Expires: h.Time.Add(ttl).Unix()}
}

func TestSessionKeyActsOnlyWithinItsLimits(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	p := k(apptest.Patient1)
	obs := addRecord(t, h, "obs-1", "Observation")
	cond := addRecord(t, h, "cond-1", "Condition")

	sk := k("session-1")
	lim := sessionLimits(h, time.Hour, []string{records.TypeAdd}, "Observation")
	mustDo(t, h, apptest.Patient1, session.NewDelegate(apptest.ChainID, p.Address(), sk, lim))
	if s := session.Get(h.State(), sk.PubKey()); s == nil || s.Account != p.Address() || s.Limits.Expires != lim.Expires {
		t.Fatalf("session on chain: %+v", s)
	}

	// A new version of a covered record: the session key signs for patient1
	// with its own sequence; the account's sequence does not move.
	before := acctSeq(h, p.Address())
	v2 := seal(t, "obs-1", p.Address(), "Observation", []byte(`{"resourceType":"Observation","id":"obs-1","v":2}`))
	res := sendAs(t, h, sk, 0, v2.add(t, h.State(), 2, acctOf(apptest.Patient1)))
	wantCode(t, "covered write by session", res, nil)
	if got := records.GetVersion(h.State(), obs.id, 2); got == nil || got.Author != p.Address() {
		t.Fatalf("version 2: %+v, want authored by the account", got)
	}
	if acctSeq(h, p.Address()) != before || sessSeq(h, sk.PubKey()) != 1 {
		t.Fatalf("sequences: account %d (was %d), session %d", acctSeq(h, p.Address()), before, sessSeq(h, sk.PubKey()))
	}

	// Outside the limits: another message type, another resource type.
	wantCode(t, "type not allowed", sendAs(t, h, sk, 1, grantMsg(apptest.Patient1, acctOf(apptest.HospitalDoctor), consent.ActRead, "Observation")), session.ErrNotAllowed)
	c2 := seal(t, "cond-1", p.Address(), "Condition", []byte(`{"resourceType":"Condition","id":"cond-1","v":2}`))
	wantCode(t, "uncovered record", sendAs(t, h, sk, 1, c2.add(t, h.State(), 2, acctOf(apptest.Patient1))), session.ErrNotCovered)
	// A session cannot widen itself or make another session.
	wantCode(t, "session delegates", sendAs(t, h, sk, 2, session.NewDelegate(apptest.ChainID, p.Address(), k("session-x"), lim)), session.ErrNotAllowed)

	// Data keys for the session: only for covered records.
	sk1 := rekey(t, h, obs, 1, acctOf(apptest.Patient1), p, sk.EncKey())
	mustDo(t, h, apptest.Patient1, &records.MsgSessionKeys{Session: sk.PubKey(), Keys: []records.Rekey{sk1}})
	wk := records.GetSessionKey(h.State(), obs.id, 1, sk.PubKey())
	if wk == nil {
		t.Fatal("session key not registered")
	}
	dk, err := envelope.Unwrap(sk.ECDH(), envelope.WrappedKey{Enc: wk.Enc, CT: wk.CT}, obs.id, 1)
	if err != nil {
		t.Fatalf("session cannot open its key: %v", err)
	}
	if pt, err := envelope.Open(obs.ct, dk, obs.id, obs.patient); err != nil || string(pt) != string(obs.plain) {
		t.Fatalf("session decrypts %q, %v", pt, err)
	}
	ck := rekey(t, h, cond, 1, acctOf(apptest.Patient1), p, sk.EncKey())
	wantCode(t, "uncovered session key", do(t, h, apptest.Patient1, &records.MsgSessionKeys{Session: sk.PubKey(), Keys: []records.Rekey{ck}}), session.ErrNotCovered)
	// Only the session's account, with its own key, registers keys for it.
	wantCode(t, "session keys by another account", do(t, h, apptest.Patient2, &records.MsgSessionKeys{Session: sk.PubKey(), Keys: []records.Rekey{sk1}}), session.ErrNotOwner)

	// Revocation is effective from the next block, in CheckTx and in blocks.
	mustDo(t, h, apptest.Patient1, &session.MsgRevoke{PubKey: sk.PubKey()})
	v3 := seal(t, "obs-1", p.Address(), "Observation", []byte(`{"resourceType":"Observation","id":"obs-1","v":3}`))
	tx := sm.SignTx(sk, apptest.ChainID, 1, 0, v3.add(t, h.State(), 3, acctOf(apptest.Patient1)))
	wantCode(t, "revoked session at CheckTx", h.Check(t, tx), session.ErrRevoked)
	wantCode(t, "revoked session in a block", h.Deliver(t, tx)[0], session.ErrRevoked)
	wantCode(t, "keys for a revoked session", do(t, h, apptest.Patient1, &records.MsgSessionKeys{Session: sk.PubKey(), Keys: []records.Rekey{sk1}}), session.ErrRevoked)
}

func TestSessionExpiresByBlockTime(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	p := k(apptest.Patient1)
	addRecord(t, h, "obs-1", "Observation")
	sk := k("session-short")
	lim := sessionLimits(h, 30*time.Second, []string{records.TypeAdd}, session.AllTypes)
	mustDo(t, h, apptest.Patient1, session.NewDelegate(apptest.ChainID, p.Address(), sk, lim))
	h.Advance(time.Minute)
	h.Deliver(t) // a block past the expiry
	v2 := seal(t, "obs-1", p.Address(), "Observation", []byte(`{"v":2}`))
	tx := sm.SignTx(sk, apptest.ChainID, 0, 0, v2.add(t, h.State(), 2, acctOf(apptest.Patient1)))
	wantCode(t, "expired session at CheckTx", h.Check(t, tx), session.ErrExpired)
	wantCode(t, "expired session in a block", h.Deliver(t, tx)[0], session.ErrExpired)
	// Lifetime is bounded, and an expiry in the past is refused.
	wantCode(t, "week+1", do(t, h, apptest.Patient1, session.NewDelegate(apptest.ChainID, p.Address(), k("s-long"),
		sessionLimits(h, (session.MaxLifetime+3600)*time.Second, nil, "Observation"))), session.ErrTooLong)
	wantCode(t, "past", do(t, h, apptest.Patient1, session.NewDelegate(apptest.ChainID, p.Address(), k("s-past"),
		session.Limits{ResourceTypes: []string{"Observation"}, Purpose: "fhir", Expires: h.Time.Add(-time.Hour).Unix()})), session.ErrExpired)
}

// A recorded delegation cannot make a new session: the transaction replays
// under a used sequence, the session key is single use, and the proof binds
// the chain, the account and the limits.
func TestDelegationReplayCreatesNothing(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	p := k(apptest.Patient1)
	sk := k("session-r")
	lim := sessionLimits(h, time.Hour, nil, "Observation")
	msg := session.NewDelegate(apptest.ChainID, p.Address(), sk, lim)
	tx := h.Sign(p, msg)
	wantCode(t, "delegate", h.Deliver(t, tx)[0], nil)
	wantCode(t, "replayed tx", h.Deliver(t, tx)[0], sm.ErrBadSequence)
	// The same signed delegation in a new transaction: the key is used.
	wantCode(t, "same session key again", do(t, h, apptest.Patient1, msg), accounts.ErrKeyInUse)
	// Revoked, it is still used up.
	mustDo(t, h, apptest.Patient1, &session.MsgRevoke{PubKey: sk.PubKey()})
	wantCode(t, "revoked key again", do(t, h, apptest.Patient1, msg), accounts.ErrKeyInUse)
	// Patient2 cannot take over patient1's session key with its proof.
	wantCode(t, "proof for another account", do(t, h, apptest.Patient2, session.NewDelegate(apptest.ChainID, p.Address(), k("session-s"), lim)), session.ErrBadProof)
	// A proof for other limits or another chain does not verify.
	other := session.NewDelegate("other-chain", p.Address(), k("session-t"), lim)
	wantCode(t, "proof for another chain", do(t, h, apptest.Patient1, other), session.ErrBadProof)
	widened := session.NewDelegate(apptest.ChainID, p.Address(), k("session-u"), lim)
	widened.Limits.ResourceTypes = []string{session.AllTypes}
	wantCode(t, "limits changed after the proof", do(t, h, apptest.Patient1, widened), session.ErrBadProof)
	// A session key that is an account's key cannot be delegated.
	wantCode(t, "account key as session", do(t, h, apptest.Patient1, session.NewDelegate(apptest.ChainID, p.Address(), k(apptest.Patient2), lim)), accounts.ErrKeyInUse)
	// Revoking another account's session.
	sk2 := k("session-v")
	mustDo(t, h, apptest.Patient1, session.NewDelegate(apptest.ChainID, p.Address(), sk2, lim))
	wantCode(t, "revoke other's session", do(t, h, apptest.Patient2, &session.MsgRevoke{PubKey: sk2.PubKey()}), session.ErrNotOwner)
}

func TestRotateKeysKeepsAddressAndRecords(t *testing.T) {
	h := apptest.NewWithConfig(t, apptest.Domain())
	old := k(apptest.Patient1)
	addr := old.Address()
	recs := []*sealed{addRecord(t, h, "obs-1", "Observation"), addRecord(t, h, "cond-1", "Condition")}
	v2 := seal(t, "obs-1", addr, "Observation", []byte(`{"v":2}`))
	mustDo(t, h, apptest.Patient1, v2.add(t, h.State(), 2, acctOf(apptest.Patient1)))

	next := k("patient1-next")
	// Proofs that do not come from the new key, or name another key.
	bad := accounts.NewRotateKeys(apptest.ChainID, addr, old.PubKey(), next)
	bad.NewEncKey = k("other").EncKey()
	wantCode(t, "proof over other keys", do(t, h, apptest.Patient1, bad), accounts.ErrBadProof)
	wantCode(t, "rotate to another account's key", do(t, h, apptest.Patient1,
		accounts.NewRotateKeys(apptest.ChainID, addr, old.PubKey(), k(apptest.Patient2))), accounts.ErrKeyInUse)

	mustDo(t, h, apptest.Patient1, accounts.NewRotateKeys(apptest.ChainID, addr, old.PubKey(), next))
	a := accounts.GetAccount(h.State(), addr)
	if a == nil || a.PubKey != next.PubKey() || a.EncKey != next.EncKey() || a.Address != addr {
		t.Fatalf("account after rotation: %+v", a)
	}
	if accounts.GetAccount(h.State(), next.Address()) != nil {
		t.Fatal("rotation created an account at the new key's address")
	}

	// The old key is refused, at CheckTx and in a block.
	seq := a.Sequence
	tx := sm.SignTx(old, apptest.ChainID, seq, 0, guardianMsg(apptest.Patient2))
	wantCode(t, "old key at CheckTx", h.Check(t, tx), accounts.ErrStaleKey)
	wantCode(t, "old key in a block", h.Deliver(t, tx)[0], accounts.ErrStaleKey)

	// The client re-wraps every record key it holds to the new key; the new
	// key signs it.
	var ks []records.Rekey
	for _, s := range recs {
		rec := records.GetRecord(h.State(), s.id)
		for v := uint32(1); v <= rec.Version; v++ {
			ks = append(ks, rekey(t, h, s, v, acctOf(apptest.Patient1), old, next.EncKey()))
		}
	}
	records.SortRekeys(ks)
	wantCode(t, "rewrap by new key", sendAs(t, h, next, seq, &records.MsgRewrap{Keys: ks}), nil)
	for _, rv := range []struct {
		s *sealed
		v uint32
	}{{recs[0], 1}, {v2, 2}, {recs[1], 1}} {
		if pt := rv.s.open(t, h.State(), rv.v, acctOf(apptest.Patient1), next.ECDH()); string(pt) != string(rv.s.plain) {
			t.Fatalf("record %x v%d after rotation: %q", rv.s.id, rv.v, pt)
		}
	}
	// The new key keeps signing; the retired key cannot register anew or
	// serve another account.
	wantCode(t, "new key signs", sendAs(t, h, next, seq+1, guardianMsg(apptest.Patient2)), nil)
	wantCode(t, "retired key registers", h.Deliver(t, sm.SignTx(next, apptest.ChainID, 0, 0, &accounts.MsgRegisterPatient{EncKey: next.EncKey()}))[0], sm.ErrBadSequence)
	wantCode(t, "admin registers a bound key", do(t, h, apptest.HospitalAdmin,
		&accounts.MsgRegisterMember{PubKey: next.PubKey(), EncKey: next.EncKey(), Role: accounts.RolePractitioner}), accounts.ErrKeyInUse)

	// A second rotation retires the first new key as well.
	third := k("patient1-third")
	wantCode(t, "second rotation", sendAs(t, h, next, seq+2, accounts.NewRotateKeys(apptest.ChainID, addr, next.PubKey(), third)), nil)
	wantCode(t, "first new key retired", sendAs(t, h, next, seq+3, guardianMsg(apptest.Patient3)), accounts.ErrStaleKey)
	wantCode(t, "third key signs", sendAs(t, h, third, seq+3, guardianMsg(apptest.Patient3)), nil)

	// Only a holder re-wraps, and only its own key.
	wantCode(t, "rewrap without a key", do(t, h, apptest.Patient2, &records.MsgRewrap{Keys: ks[:1]}), records.ErrNoKeyHeld)
}

// authSessionSetup: patient1 (whose guardian is patient3) has an
// Observation wrapped to both, and a live session k("auth-session")
// covering Observations.
func authSessionSetup(t *testing.T, h *apptest.Harness) {
	p := k(apptest.Patient1)
	s := seal(t, "auth-obs", p.Address(), "Observation", []byte(`{"resourceType":"Observation"}`))
	h.DeliverOK(t, h.Sign(p, s.add(t, h.State(), 1, parties(apptest.Patient1, apptest.Patient3)...)))
	h.DeliverOK(t, h.Sign(p, session.NewDelegate(apptest.ChainID, p.Address(), k("auth-session"), sessionLimits(h, time.Hour, nil, "Observation"))))
}

func authRekey() []records.Rekey {
	return []records.Rekey{{ID: recordID("auth-obs"), Version: 1, Enc: [32]byte{1}, CT: [48]byte{2}}}
}

func init() {
	p := apptest.Key(apptest.Patient1)
	onlyPatient := func(others *sm.Error) map[string]*sm.Error {
		return map[string]*sm.Error{
			rolePatient: nil, roleOtherPatient: others, roleGuardian: others, rolePractitioner: others,
			roleAdminA: others, roleAdminB: others, roleDeactivated: sm.ErrInactive, roleNewcomer: sm.ErrUnknownSigner,
		}
	}
	authRows[accounts.TypeRotateKeys] = authRow{
		// The proof names patient1's address and key: nobody else can use it.
		msg:  fixedMsg(accounts.NewRotateKeys(apptest.ChainID, p.Address(), p.PubKey(), apptest.Key("auth-next"))),
		want: onlyPatient(accounts.ErrBadProof),
		check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
			if a := h.Account(signer); a.PubKey != apptest.Key("auth-next").PubKey() {
				t.Fatalf("keys not rotated: %+v", a)
			}
		},
	}
	authRows[records.TypeRewrap] = authRow{
		setup: authSessionSetup,
		msg:   func(*apptest.Harness) sm.Msg { return &records.MsgRewrap{Keys: authRekey()} },
		want: func() map[string]*sm.Error {
			w := onlyPatient(records.ErrNoKeyHeld)
			w[roleGuardian] = nil // the guardian holds a key of its own
			return w
		}(),
		check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
			if wk := records.GetKey(h.State(), recordID("auth-obs"), 1, consent.Account(signer.Address())); wk == nil || wk.Enc != [32]byte{1} {
				t.Fatalf("key not replaced: %+v", wk)
			}
		},
	}
	authRows[records.TypeSessionKeys] = authRow{
		setup: authSessionSetup,
		msg: func(*apptest.Harness) sm.Msg {
			return &records.MsgSessionKeys{Session: apptest.Key("auth-session").PubKey(), Keys: authRekey()}
		},
		want: onlyPatient(session.ErrNotOwner),
		check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
			if records.GetSessionKey(h.State(), recordID("auth-obs"), 1, apptest.Key("auth-session").PubKey()) == nil {
				t.Fatal("session key not registered")
			}
		},
	}
	authRows[session.TypeDelegate] = authRow{
		// The session key's proof names patient1: nobody else can claim it.
		msg: func(h *apptest.Harness) sm.Msg {
			return session.NewDelegate(apptest.ChainID, p.Address(), apptest.Key("auth-new-session"), sessionLimits(h, time.Hour, []string{records.TypeAdd}, "Observation"))
		},
		want: onlyPatient(session.ErrBadProof),
		check: func(t *testing.T, h *apptest.Harness, signer *crypto.PrivKey) {
			if s := session.Get(h.State(), apptest.Key("auth-new-session").PubKey()); s == nil || s.Account != signer.Address() {
				t.Fatalf("session = %+v", s)
			}
		},
	}
	authRows[session.TypeRevoke] = authRow{
		setup: authSessionSetup,
		msg:   fixedMsg(&session.MsgRevoke{PubKey: apptest.Key("auth-session").PubKey()}),
		want:  onlyPatient(session.ErrNotOwner),
		check: func(t *testing.T, h *apptest.Harness, _ *crypto.PrivKey) {
			if s := session.Get(h.State(), apptest.Key("auth-session").PubKey()); s.Revoked == 0 {
				t.Fatal("not revoked")
			}
		},
	}
}
