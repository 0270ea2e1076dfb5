package sm_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
)

// TestFeePayerEncoding: a body without a fee payer keeps its old bytes; one
// with a fee payer carries it after the message and round-trips; a zero
// fee payer written out is not canonical and is refused.
func TestFeePayerEncoding(t *testing.T) {
	base := sm.Body{ChainID: "c", Sequence: 3, Fee: 7, Type: "bank/send", Msg: []byte{1, 2}}
	plain := codec.Marshal(base)
	var payer crypto.Address
	payer[0], payer[19] = 0xAB, 0xCD
	withPayer := base
	withPayer.FeePayer = payer
	paid := codec.Marshal(withPayer)
	if !bytes.Equal(paid[:len(plain)], plain) || !bytes.Equal(paid[len(plain):], payer[:]) {
		t.Fatalf("fee payer is not appended after the message")
	}
	got, err := sm.DecodeBody(paid)
	if err != nil || got.FeePayer != payer {
		t.Fatalf("decode: %+v %v", got, err)
	}
	if got, err := sm.DecodeBody(plain); err != nil || got.FeePayer != (crypto.Address{}) {
		t.Fatalf("plain: %+v %v", got, err)
	}
	zero := append(bytes.Clone(plain), make([]byte, 20)...)
	if _, err := sm.DecodeBody(zero); !errors.Is(err, sm.ErrTxDecode) {
		t.Fatalf("zero fee payer: %v", err)
	}
	if _, err := sm.DecodeBody(append(bytes.Clone(plain), 1, 2, 3)); !errors.Is(err, sm.ErrTxDecode) {
		t.Fatalf("short fee payer: %v", err)
	}
}
