package crypto

import (
	"encoding/hex"
	"testing"
)

// smallOrder are encodings of Ed25519 points of small order (the eight
// points of the torsion subgroup, some with a non-canonical twin).
var smallOrder = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // identity, non-canonical y
}

// A public key of small order verifies a signature R‖0 (R of small order)
// of every message under plain ZIP-215: Verify and BatchVerify must refuse
// them, alone and in a batch beside valid signatures, which still pass.
func TestSmallOrderKeysRefused(t *testing.T) {
	good, err := KeyFromSeeds(make([]byte, 32), append(make([]byte, 31), 1))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("transfer everything")
	var items []SigItem
	for _, a := range smallOrder {
		for _, r := range smallOrder[:2] {
			pubB, _ := hex.DecodeString(a)
			rB, _ := hex.DecodeString(r)
			var pub PubKey
			copy(pub[:], pubB)
			sig := append(rB, make([]byte, 32)...)
			if Verify(pub, msg, sig) {
				t.Errorf("Verify accepted key %s with signature %s‖0", a, r)
			}
			items = append(items, SigItem{Pub: pub, Msg: msg, Sig: sig}, SigItem{Pub: good.PubKey(), Msg: msg, Sig: good.Sign(msg)})
		}
	}
	for i, ok := range BatchVerify(items) {
		if want := i%2 == 1; ok != want {
			t.Errorf("BatchVerify item %d (key %x): %v, want %v", i, items[i].Pub[:4], ok, want)
		}
	}
}
