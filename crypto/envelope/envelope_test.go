package envelope

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/medchain/medchain/crypto"
)

var (
	testRecord   = [RecordIDSize]byte{0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0}
	testPatient  = crypto.Address{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	testRecord2  = [RecordIDSize]byte{15: 1}
	testPatient2 = crypto.Address{19: 1}
)

// A synthetic FHIR resource; no real person's data.
const testPlaintext = `{"resourceType":"Observation","status":"final","code":{"text":"synthetic test value"},"valueQuantity":{"value":42,"unit":"1"}}`

func TestSealOpenRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		plaintext []byte
	}{
		{name: "empty", plaintext: nil},
		{name: "one byte", plaintext: []byte{0}},
		{name: "fhir json", plaintext: []byte(testPlaintext)},
		{name: "maximum size", plaintext: make([]byte, MaxPlaintext)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, key, err := Seal(newStream(tc.name), tc.plaintext, testRecord, testPatient)
			if err != nil {
				t.Fatal(err)
			}
			if len(ct) != len(tc.plaintext)+Overhead {
				t.Fatalf("ciphertext is %d bytes, want %d", len(ct), len(tc.plaintext)+Overhead)
			}
			if ct[0] != FormatV1 {
				t.Fatalf("version byte %#x", ct[0])
			}
			pt, err := Open(ct, key, testRecord, testPatient)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pt, tc.plaintext) {
				t.Fatal("plaintext changed in a round trip")
			}
		})
	}
}

func TestSealReadsKeyThenNonce(t *testing.T) {
	want := make([]byte, DataKeySize+NonceSize)
	newStream("order").Read(want)
	ct, key, err := Seal(newStream("order"), []byte("x"), testRecord, testPatient)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key[:], want[:DataKeySize]) || !bytes.Equal(ct[1:1+NonceSize], want[DataKeySize:]) {
		t.Fatal("Seal must read the data key and then the nonce")
	}
}

func TestSealFreshKeys(t *testing.T) {
	ct1, k1, err := Seal(nil, []byte(testPlaintext), testRecord, testPatient)
	if err != nil {
		t.Fatal(err)
	}
	ct2, k2, err := Seal(nil, []byte(testPlaintext), testRecord, testPatient)
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 || bytes.Equal(ct1, ct2) {
		t.Fatal("two seals with crypto/rand gave the same key or ciphertext")
	}
}

func TestSealErrors(t *testing.T) {
	if _, _, err := Seal(newStream("big"), make([]byte, MaxPlaintext+1), testRecord, testPatient); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversize plaintext: got %v, want ErrTooLarge", err)
	}
	for _, n := range []int{0, DataKeySize - 1, DataKeySize, DataKeySize + NonceSize - 1} {
		if _, _, err := Seal(&short{n: n}, []byte("x"), testRecord, testPatient); !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			t.Errorf("reader with %d bytes: got %v, want a read error", n, err)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	ct, key, err := Seal(newStream("reject"), []byte(testPlaintext), testRecord, testPatient)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := key
	otherKey[0] ^= 1
	unknownVersion := bytes.Clone(ct)
	unknownVersion[0] = 0x02
	for _, tc := range []struct {
		name    string
		ct      []byte
		key     [DataKeySize]byte
		record  [RecordIDSize]byte
		patient crypto.Address
		wantErr error
	}{
		{name: "wrong key", ct: ct, key: otherKey, record: testRecord, patient: testPatient, wantErr: ErrDecrypt},
		{name: "wrong record id", ct: ct, key: key, record: testRecord2, patient: testPatient, wantErr: ErrDecrypt},
		{name: "wrong patient", ct: ct, key: key, record: testRecord, patient: testPatient2, wantErr: ErrDecrypt},
		{name: "unknown version", ct: unknownVersion, key: key, record: testRecord, patient: testPatient, wantErr: ErrDecrypt},
		{name: "empty", ct: nil, key: key, record: testRecord, patient: testPatient, wantErr: ErrDecrypt},
		{name: "shorter than overhead", ct: ct[:Overhead-1], key: key, record: testRecord, patient: testPatient, wantErr: ErrDecrypt},
		{name: "truncated tag", ct: ct[:len(ct)-1], key: key, record: testRecord, patient: testPatient, wantErr: ErrDecrypt},
		{name: "appended byte", ct: append(bytes.Clone(ct), 0), key: key, record: testRecord, patient: testPatient, wantErr: ErrDecrypt},
		{name: "oversize", ct: make([]byte, MaxCiphertext+1), key: key, record: testRecord, patient: testPatient, wantErr: ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := Open(tc.ct, tc.key, tc.record, tc.patient)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
		})
	}
}

func TestOpenTamperEveryByte(t *testing.T) {
	ct, key, err := Seal(newStream("tamper"), []byte(testPlaintext), testRecord, testPatient)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ct {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(ct)
			bad[i] ^= bit
			if _, err := Open(bad, key, testRecord, testPatient); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("byte %d ^ %#x: got %v, want ErrDecrypt", i, bit, err)
			}
		}
	}
}

func TestContentAD(t *testing.T) {
	ad := contentAD(testRecord, testPatient)
	want := append(append(append([]byte("medchain/record/v1"), 0), testRecord[:]...), testPatient[:]...)
	if !bytes.Equal(ad, want) || len(ad) != 55 {
		t.Fatalf("associated data %x (%d bytes)", ad, len(ad))
	}
}
