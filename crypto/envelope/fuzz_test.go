package envelope

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpen: Open never panics, and anything it accepts under a fixed key
// seals back to the same bytes with the same key and nonce.
func FuzzOpen(f *testing.F) {
	ct, dk, err := Seal(newStream("fuzz"), []byte(testPlaintext), testRecord, testPatient)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct)
	f.Add(ct[:Overhead])
	f.Add([]byte{FormatV1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ct []byte) {
		pt, err := Open(ct, dk, testRecord, testPatient)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, _, err := Seal(bytes.NewReader(append(dk[:], ct[1:1+NonceSize]...)), pt, testRecord, testPatient)
		if err != nil || !bytes.Equal(again, ct) {
			t.Fatal("an accepted ciphertext does not reseal to itself")
		}
	})
}

// FuzzUnwrap: ParseWrappedKey and Unwrap never panic, and only the wrapped
// key made for the recipient opens.
func FuzzUnwrap(f *testing.F) {
	k := testKey(f, "fuzz")
	dk := testDataKey("fuzz")
	w, err := Wrap(newStream("fuzz"), k.EncKey(), dk, testRecord, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(w.Bytes(), uint32(1))
	f.Add(w.Bytes(), uint32(2))
	f.Add(make([]byte, WrappedKeySize), uint32(0))
	f.Add([]byte{1, 2, 3}, uint32(1))
	f.Fuzz(func(t *testing.T, b []byte, version uint32) {
		pw, err := ParseWrappedKey(b)
		if err != nil {
			if !errors.Is(err, ErrBadWrappedKey) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		got, err := Unwrap(k.ECDH(), pw, testRecord, version)
		if err != nil {
			if !errors.Is(err, ErrUnwrap) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if pw != w || version != 1 || got != dk {
			t.Fatal("opened something other than the wrapped key")
		}
	})
}
