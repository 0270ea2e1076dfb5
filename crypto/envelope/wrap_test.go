package envelope

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/medchain/medchain/crypto"
)

func testKey(t testing.TB, label string) *crypto.PrivKey {
	t.Helper()
	k, err := crypto.GenerateKey(newStream(label))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testDataKey(label string) [DataKeySize]byte { return sha256.Sum256([]byte(label)) }

func TestWrapUnwrapRoundTrip(t *testing.T) {
	patient := testKey(t, "patient")
	for _, tc := range []struct {
		name    string
		record  [RecordIDSize]byte
		version uint32
	}{
		{name: "version 0", record: testRecord, version: 0},
		{name: "version 1", record: testRecord, version: 1},
		{name: "max version", record: [RecordIDSize]byte{0: 0xff, 15: 0xff}, version: math.MaxUint32},
		{name: "zero record id", version: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dk := testDataKey(tc.name)
			w, err := Wrap(newStream(tc.name), patient.EncKey(), dk, tc.record, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Unwrap(patient.ECDH(), w, tc.record, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if got != dk {
				t.Fatal("data key changed in a round trip")
			}
		})
	}
}

func TestWrapIsFresh(t *testing.T) {
	k := testKey(t, "fresh")
	dk := testDataKey("fresh")
	w1, err := Wrap(nil, k.EncKey(), dk, testRecord, 1)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := Wrap(nil, k.EncKey(), dk, testRecord, 1)
	if err != nil {
		t.Fatal(err)
	}
	if w1.Enc == w2.Enc || w1.CT == w2.CT {
		t.Fatal("two wraps with crypto/rand share an ephemeral key")
	}
}

func TestWrapDeterministic(t *testing.T) {
	k := testKey(t, "det")
	dk := testDataKey("det")
	w1, err1 := Wrap(newStream("eph"), k.EncKey(), dk, testRecord, 1)
	w2, err2 := Wrap(newStream("eph"), k.EncKey(), dk, testRecord, 1)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if w1 != w2 {
		t.Fatal("the same reader gave different wrapped keys")
	}
}

func TestUnwrapRejects(t *testing.T) {
	patient := testKey(t, "patient")
	grantee := testKey(t, "grantee")
	dk := testDataKey("reject")
	w, err := Wrap(newStream("reject"), patient.EncKey(), dk, testRecord, 3)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdh.P256().NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		priv    *ecdh.PrivateKey
		record  [RecordIDSize]byte
		version uint32
		wantErr error
	}{
		{name: "other recipient", priv: grantee.ECDH(), record: testRecord, version: 3, wantErr: ErrUnwrap},
		{name: "other record id", priv: patient.ECDH(), record: testRecord2, version: 3, wantErr: ErrUnwrap},
		{name: "earlier version", priv: patient.ECDH(), record: testRecord, version: 2, wantErr: ErrUnwrap},
		{name: "later version", priv: patient.ECDH(), record: testRecord, version: 4, wantErr: ErrUnwrap},
		{name: "nil key", priv: nil, record: testRecord, version: 3, wantErr: ErrBadKey},
		{name: "P-256 key", priv: p256, record: testRecord, version: 3, wantErr: ErrBadKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Unwrap(tc.priv, w, tc.record, tc.version)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if got != ([DataKeySize]byte{}) {
				t.Fatal("key material returned with an error")
			}
		})
	}
}

func TestUnwrapTamperEveryByte(t *testing.T) {
	k := testKey(t, "tamper")
	w, err := Wrap(newStream("tamper"), k.EncKey(), testDataKey("tamper"), testRecord, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := w.Bytes()
	for i := range b {
		for _, bit := range []byte{0x01, 0x40} {
			bad := bytes.Clone(b)
			bad[i] ^= bit
			bw, err := ParseWrappedKey(bad)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Unwrap(k.ECDH(), bw, testRecord, 1); !errors.Is(err, ErrUnwrap) {
				t.Fatalf("byte %d ^ %#x: got %v, want ErrUnwrap", i, bit, err)
			}
		}
	}
}

// sealWithAAD wraps like Wrap but with a chosen AEAD associated data.
func sealWithAAD(t *testing.T, recipient crypto.EncKey, dk [DataKeySize]byte, aad []byte) WrappedKey {
	t.Helper()
	pk, err := kemScheme.UnmarshalBinaryPublicKey(recipient[:])
	if err != nil {
		t.Fatal(err)
	}
	s, err := suite.NewSender(pk, wrapInfo(testRecord, 1))
	if err != nil {
		t.Fatal(err)
	}
	enc, sealer, err := s.Setup(newStream("aad"))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := sealer.Seal(dk[:], aad)
	if err != nil {
		t.Fatal(err)
	}
	var w WrappedKey
	copy(w.Enc[:], enc)
	copy(w.CT[:], ct)
	return w
}

// The AAD is the recipient's own key: a wrapped key sealed with any other
// AAD, such as another reader's key, does not open.
func TestUnwrapChecksAAD(t *testing.T) {
	k := testKey(t, "aad")
	other := testKey(t, "other")
	dk := testDataKey("aad")
	own, otherKey := k.EncKey(), other.EncKey()
	for _, tc := range []struct {
		name    string
		aad     []byte
		wantErr error
	}{
		{name: "own key", aad: own[:], wantErr: nil},
		{name: "other reader's key", aad: otherKey[:], wantErr: ErrUnwrap},
		{name: "empty", aad: nil, wantErr: ErrUnwrap},
		{name: "own key and more", aad: append(own[:], 0), wantErr: ErrUnwrap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Unwrap(k.ECDH(), sealWithAAD(t, own, dk, tc.aad), testRecord, 1)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if err == nil && got != dk {
				t.Fatal("wrong data key")
			}
		})
	}
}

func TestWrapRejectsLowOrderKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  crypto.EncKey
	}{
		{name: "zero", key: crypto.EncKey{}},
		{name: "one", key: crypto.EncKey{0: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Wrap(newStream("low"), tc.key, testDataKey("low"), testRecord, 1); !errors.Is(err, ErrBadKey) {
				t.Fatalf("got %v, want ErrBadKey", err)
			}
		})
	}
}

func TestUnwrapRejectsLowOrderEnc(t *testing.T) {
	k := testKey(t, "low enc")
	w, err := Wrap(newStream("low enc"), k.EncKey(), testDataKey("low enc"), testRecord, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.Enc = [EncSize]byte{}
	if _, err := Unwrap(k.ECDH(), w, testRecord, 1); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("got %v, want ErrUnwrap", err)
	}
}

func TestWrapReadError(t *testing.T) {
	k := testKey(t, "short")
	for _, n := range []int{0, EncSize - 1} {
		if _, err := Wrap(&short{n: n}, k.EncKey(), testDataKey("short"), testRecord, 1); !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			t.Errorf("reader with %d bytes: got %v, want a read error", n, err)
		}
	}
}

func TestWrappedKeyBytes(t *testing.T) {
	k := testKey(t, "bytes")
	w, err := Wrap(newStream("bytes"), k.EncKey(), testDataKey("bytes"), testRecord, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := w.Bytes()
	if len(b) != WrappedKeySize || !bytes.Equal(b[:EncSize], w.Enc[:]) || !bytes.Equal(b[EncSize:], w.CT[:]) {
		t.Fatalf("Bytes() = %x", b)
	}
	back, err := ParseWrappedKey(b)
	if err != nil || back != w {
		t.Fatalf("ParseWrappedKey(Bytes()) = %v, %v", back, err)
	}
	for _, n := range []int{0, WrappedKeySize - 1, WrappedKeySize + 1} {
		if _, err := ParseWrappedKey(make([]byte, n)); !errors.Is(err, ErrBadWrappedKey) {
			t.Errorf("%d bytes: got %v, want ErrBadWrappedKey", n, err)
		}
	}
}

func TestWrapInfo(t *testing.T) {
	info := wrapInfo(testRecord, 0x01020304)
	want := append(append(append([]byte("medchain/datakey/v1"), 0), testRecord[:]...), 1, 2, 3, 4)
	if !bytes.Equal(info, want) || len(info) != 40 {
		t.Fatalf("info %x (%d bytes)", info, len(info))
	}
}

func TestSuiteIDs(t *testing.T) {
	if KEMID != 0x0020 || KDFID != 0x0001 || AEADID != 0x0002 {
		t.Fatalf("suite %#04x/%#04x/%#04x", KEMID, KDFID, AEADID)
	}
	if kemScheme.EncapsulationSeedSize() != 32 || kemScheme.CiphertextSize() != EncSize {
		t.Fatal("unexpected KEM sizes")
	}
}

// The whole flow: a patient seals a record and wraps its key for themself
// and a grantee; each reads it back.
func TestRecordFlow(t *testing.T) {
	patient := testKey(t, "flow patient")
	grantee := testKey(t, "flow grantee")
	rnd := newStream("flow")
	ct, dk, err := Seal(rnd, []byte(testPlaintext), testRecord, patient.Address())
	if err != nil {
		t.Fatal(err)
	}
	for _, reader := range []*crypto.PrivKey{patient, grantee} {
		w, err := Wrap(rnd, reader.EncKey(), dk, testRecord, 1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unwrap(reader.ECDH(), w, testRecord, 1)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := Open(ct, got, testRecord, patient.Address())
		if err != nil {
			t.Fatal(err)
		}
		if string(pt) != testPlaintext {
			t.Fatal("wrong plaintext")
		}
	}
}
