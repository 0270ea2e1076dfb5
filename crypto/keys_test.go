package crypto

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
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

// A public key's expansion, once cached, must give the answers the
// uncached verification gives: for valid signatures, wrong messages,
// keys of small order, non-canonical and off-curve encodings, alone and
// in batches of both sizes voi treats differently (below and above its
// precomputation limit), seen for the first time and again.
func TestExpandedKeysAgree(t *testing.T) {
	var keys []PubKey
	var privs []*PrivKey
	for i := range 8 {
		k, err := KeyFromSeeds(append(make([]byte, 31), byte(i+1)), append(make([]byte, 31), byte(i+100)))
		if err != nil {
			t.Fatal(err)
		}
		keys, privs = append(keys, k.PubKey()), append(privs, k)
	}
	for _, h := range append(smallOrder,
		"0200000000000000000000000000000000000000000000000000000000000000", // not on the curve
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p: non-canonical
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	) {
		b, _ := hex.DecodeString(h)
		keys = append(keys, PubKey(b))
	}
	msg := []byte("read the record")
	var items []SigItem
	for i, pub := range keys {
		var sig []byte
		if i < len(privs) {
			sig = privs[i].Sign(msg)
		} else {
			sig = append(bytes.Clone(keys[0][:]), make([]byte, 32)...)
		}
		items = append(items,
			SigItem{Pub: pub, Msg: msg, Sig: sig},
			SigItem{Pub: pub, Msg: []byte("another record"), Sig: sig},
			SigItem{Pub: pub, Msg: msg, Sig: make([]byte, 64)},
		)
	}
	uncached := func(it SigItem) bool {
		return len(it.Sig) == SignatureSize && ed25519.VerifyWithOptions(it.Pub[:], it.Msg, it.Sig, zip215)
	}
	for round := range 3 { // the first round fills the cache, the others hit it
		var batch []SigItem
		for _, it := range items {
			want := uncached(it)
			if got := Verify(it.Pub, it.Msg, it.Sig); got != want {
				t.Fatalf("round %d: Verify(%x…) = %v, uncached %v", round, it.Pub[:4], got, want)
			}
			batch = append(batch, it)
		}
		for _, n := range []int{len(batch), 200} { // 200: above voi's precomputation limit
			var in []SigItem
			for len(in) < n {
				in = append(in, batch...)
			}
			in = in[:n]
			for i, got := range BatchVerify(in) {
				if want := uncached(in[i]); got != want {
					t.Fatalf("round %d, batch of %d: item %d (%x…) = %v, uncached %v", round, n, i, in[i].Pub[:4], got, want)
				}
			}
		}
	}
	if Verify(keys[0], msg, privs[1].Sign(msg)) {
		t.Fatal("a signature by another key verified")
	}
}
