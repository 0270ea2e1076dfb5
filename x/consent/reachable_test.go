package consent

import (
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// TestKeyHoldersSkipUnreachable: a deactivated grantee and a departed
// organization receive no new keys, though their consents still exist.
func TestKeyHoldersSkipUnreachable(t *testing.T) {
	kv := store.NewMemory()
	mk := func(b byte, kind accounts.Kind, org string, active bool) crypto.Address {
		var pub crypto.PubKey
		pub[0] = b
		a := &accounts.Account{Address: pub.Address(), PubKey: pub, EncKey: crypto.EncKey{b}, Kind: kind, Org: org, Role: accounts.RolePractitioner, Active: active}
		accounts.PutAccount(kv, a)
		return a.Address
	}
	accounts.PutOrg(kv, &accounts.Org{ID: "live", Name: "Live", Type: "hospital", Active: true, EncKey: crypto.EncKey{9}})
	accounts.PutOrg(kv, &accounts.Org{ID: "gone", Name: "Gone", Type: "hospital", Active: false, EncKey: crypto.EncKey{8}})
	patient := mk(1, accounts.KindPatient, "", true)
	active := mk(2, accounts.KindMember, "live", true)
	inactive := mk(3, accounts.KindMember, "live", false)
	for i, g := range []Party{Account(active), Account(inactive), Org("live"), Org("gone")} {
		c := &Consent{ID: uint64(i + 1), Patient: patient, Grantor: patient, Grantee: g, Actions: ActRead, Purpose: PurposeTreatment}
		putConsent(kv, c)
		kv.Set(byPatientKey(patient, g, c.ID), []byte{1})
	}
	got := KeyHolders(kv, 100, Target{Patient: patient, Type: "Observation"})
	want := map[string]bool{string(Account(patient).Key()): true, string(Account(active).Key()): true, string(Org("live").Key()): true}
	if len(got) != len(want) {
		t.Fatalf("key holders %v, want the patient, the active grantee and the live org", got)
	}
	for _, p := range got {
		if !want[string(p.Key())] {
			t.Errorf("unexpected key holder %s", p)
		}
	}
}
