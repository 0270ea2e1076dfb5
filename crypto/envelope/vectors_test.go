package envelope

import (
	"bytes"
	"crypto/ecdh"
	stdhpke "crypto/hpke"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/medchain/medchain/crypto"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/vectors.json from the code instead of checking it")

const (
	vectorsPath   = "testdata/vectors.json"
	jsVectorsPath = "testdata/js_vectors.json"
)

// hexBytes is a byte string written as lowercase hex in JSON.
type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

func (h *hexBytes) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	*h = v
	return err
}

type vectorFile struct {
	Description string   `json:"description"`
	Mode        uint8    `json:"mode"`
	KEMID       uint16   `json:"kem_id"`
	KDFID       uint16   `json:"kdf_id"`
	AEADID      uint16   `json:"aead_id"`
	Vectors     []vector `json:"vectors"`
}

// vector is one record sealed and its key wrapped for one reader, with the
// intermediates another implementation needs to check each step.
type vector struct {
	Name        string         `json:"name"`
	RecipientSK hexBytes       `json:"recipient_sk"`
	RecipientPK hexBytes       `json:"recipient_pk"`
	RecordID    hexBytes       `json:"record_id"`
	Patient     crypto.Address `json:"patient"`
	PatientRaw  hexBytes       `json:"patient_raw"`
	Version     uint32         `json:"version"`
	Plaintext   string         `json:"plaintext"`

	DataKey      hexBytes `json:"data_key"`
	ContentNonce hexBytes `json:"content_nonce"`
	ContentAAD   hexBytes `json:"content_aad"`
	ContentCT    hexBytes `json:"content_ct"`

	Info       hexBytes `json:"hpke_info"`
	AAD        hexBytes `json:"hpke_aad"`
	IKME       hexBytes `json:"ikm_e"`
	SKE        hexBytes `json:"sk_e"`
	Enc        hexBytes `json:"enc"`
	WrappedCT  hexBytes `json:"wrapped_ct"`
	WrappedKey hexBytes `json:"wrapped_key"`
}

// Synthetic FHIR resources with made-up values; no real person's data.
const (
	heartRate   = `{"resourceType":"Observation","id":"synthetic-hr-1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/synthetic-1"},"effectiveDateTime":"2026-01-02T03:04:05Z","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`
	temperature = `{"resourceType":"Observation","id":"synthetic-temp-1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8310-5","display":"Body temperature"}]},"subject":{"reference":"Patient/synthetic-2"},"valueQuantity":{"value":37.2,"unit":"°C","system":"http://unitsofmeasure.org","code":"Cel"},"note":[{"text":"synthetic — test vector"}]}`
	condition   = `{"resourceType":"Condition","id":"synthetic-cond-1","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"text":"synthetic condition"},"subject":{"reference":"Patient/synthetic-3"}}`
)

type vectorSpec struct {
	name      string
	plaintext string
	version   uint32
	recordID  *[RecordIDSize]byte // drawn from the stream when nil
	tweakSK   func(sk *[32]byte)  // applied to the drawn recipient key
}

var vectorSpecs = []vectorSpec{
	{name: "observation-heart-rate", plaintext: heartRate, version: 1},
	{name: "empty-plaintext", plaintext: "", version: 0},
	{name: "max-version-non-ascii", plaintext: temperature, version: math.MaxUint32,
		recordID: &[RecordIDSize]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	// X25519 clamps these bits away: both sides must take the raw 32 bytes
	// as the private key and clamp in the scalar multiplication.
	{name: "unclamped-recipient-key", plaintext: condition, version: 2,
		tweakSK: func(sk *[32]byte) { sk[0] |= 0x07; sk[31] |= 0xc0 }},
}

// makeVector draws, in order, the recipient key (32 bytes), the record id
// (16, unless fixed), the patient address (20), Seal's data key and nonce
// (44) and Wrap's ikmE (32) from a stream seeded with the vector's name.
func makeVector(t *testing.T, spec vectorSpec) vector {
	t.Helper()
	rnd := newStream("medchain/envelope/vectors/" + spec.name)
	var sk [32]byte
	rnd.Read(sk[:])
	if spec.tweakSK != nil {
		spec.tweakSK(&sk)
	}
	priv, err := ecdh.X25519().NewPrivateKey(sk[:])
	if err != nil {
		t.Fatal(err)
	}
	var recipient crypto.EncKey
	copy(recipient[:], priv.PublicKey().Bytes())
	var recordID [RecordIDSize]byte
	if spec.recordID != nil {
		recordID = *spec.recordID
	} else {
		rnd.Read(recordID[:])
	}
	var patient crypto.Address
	rnd.Read(patient[:])

	ct, dk, err := Seal(rnd, []byte(spec.plaintext), recordID, patient)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{r: rnd}
	w, err := Wrap(rec, recipient, dk, recordID, spec.version)
	if err != nil {
		t.Fatal(err)
	}
	_, skE := kemScheme.DeriveKeyPair(rec.read)
	skEBytes, err := skE.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return vector{
		Name:         spec.name,
		RecipientSK:  sk[:],
		RecipientPK:  recipient[:],
		RecordID:     recordID[:],
		Patient:      patient,
		PatientRaw:   patient[:],
		Version:      spec.version,
		Plaintext:    spec.plaintext,
		DataKey:      dk[:],
		ContentNonce: ct[1 : 1+NonceSize],
		ContentAAD:   contentAD(recordID, patient),
		ContentCT:    ct,
		Info:         wrapInfo(recordID, spec.version),
		AAD:          recipient[:],
		IKME:         rec.read,
		SKE:          skEBytes,
		Enc:          w.Enc[:],
		WrappedCT:    w.CT[:],
		WrappedKey:   w.Bytes(),
	}
}

func marshalVectors(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// TestVectors regenerates testdata/vectors.json and checks it is unchanged
// (or rewrites it with -rewrite).
func TestVectors(t *testing.T) {
	file := vectorFile{
		Description: "medchain record envelope v1 (crypto/envelope/doc.go). content_ct = 0x01 || content_nonce || AES-256-GCM(data_key, content_nonce, plaintext, content_aad). " +
			"wrapped_key = enc || wrapped_ct, where (enc, wrapped_ct) = HPKE base mode SealBase(pkR=recipient_pk, info=hpke_info, aad=hpke_aad, pt=data_key) with the ephemeral key DeriveKeyPair(ikm_e). " +
			"patient is the address text form, \"mc\" || hex(patient_raw).",
		Mode:   0,
		KEMID:  KEMID,
		KDFID:  KDFID,
		AEADID: AEADID,
	}
	for _, spec := range vectorSpecs {
		file.Vectors = append(file.Vectors, makeVector(t, spec))
	}
	got := marshalVectors(file)
	if *rewrite {
		if err := os.MkdirAll(filepath.Dir(vectorsPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the code; if the change is intended, run go test -run TestVectors -rewrite", vectorsPath)
	}
}

// TestVectorsFromFile decrypts the checked-in vectors and checks each
// intermediate, with this package and with Go's own crypto/hpke as a second
// HPKE implementation.
func TestVectorsFromFile(t *testing.T) {
	var file vectorFile
	readJSON(t, vectorsPath, &file)
	if len(file.Vectors) < 3 {
		t.Fatalf("%d vectors, want at least 3", len(file.Vectors))
	}
	if file.Mode != 0 || file.KEMID != KEMID || file.KDFID != KDFID || file.AEADID != AEADID {
		t.Fatal("suite in the file is not the package's")
	}
	for _, v := range file.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			priv := checkKeyPair(t, "recipient_sk and recipient_pk", v.RecipientSK, v.RecipientPK)
			recordID, patient := recordIDOf(t, v.RecordID), v.Patient
			if !bytes.Equal(v.PatientRaw, patient[:]) {
				t.Fatal("patient_raw is not the patient address")
			}
			if !bytes.Equal(v.Info, wrapInfo(recordID, v.Version)) || !bytes.Equal(v.AAD, v.RecipientPK) {
				t.Fatal("hpke_info or hpke_aad is not the documented layout")
			}
			if !bytes.Equal(v.ContentAAD, contentAD(recordID, patient)) {
				t.Fatal("content_aad is not the documented layout")
			}
			if !bytes.Equal(v.WrappedKey, append(bytes.Clone(v.Enc), v.WrappedCT...)) {
				t.Fatal("wrapped_key is not enc || wrapped_ct")
			}
			if len(v.ContentCT) < Overhead || v.ContentCT[0] != FormatV1 || !bytes.Equal(v.ContentCT[1:1+NonceSize], v.ContentNonce) {
				t.Fatal("content_ct does not start with 0x01 || content_nonce")
			}

			// The ephemeral key, derived by Go's crypto/hpke. Its Bytes are
			// clamped; sk_e is the unclamped output of DeriveKeyPair, as in
			// RFC 9180's own vectors, so compare public keys.
			eph, err := stdhpke.DHKEM(ecdh.X25519()).DeriveKeyPair(v.IKME)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(eph.PublicKey().Bytes(), v.Enc) {
				t.Fatal("DeriveKeyPair(ikm_e) does not give enc")
			}
			checkKeyPair(t, "sk_e and enc", v.SKE, v.Enc)

			// Unwrap with this package and with crypto/hpke.
			w, err := ParseWrappedKey(v.WrappedKey)
			if err != nil {
				t.Fatal(err)
			}
			dk, err := Unwrap(priv, w, recordID, v.Version)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dk[:], v.DataKey) {
				t.Fatal("unwrapped data key differs from data_key")
			}
			if got := stdOpen(t, priv, v.Enc, v.Info, v.AAD, v.WrappedCT); !bytes.Equal(got, v.DataKey) {
				t.Fatal("crypto/hpke unwraps a different data key")
			}

			pt, err := Open(v.ContentCT, dk, recordID, patient)
			if err != nil {
				t.Fatal(err)
			}
			if string(pt) != v.Plaintext {
				t.Fatal("content decrypts to a different plaintext")
			}
		})
	}
}

// jsVector is a record sealed in JavaScript (@hpke/core and WebCrypto) by
// js/make_js_vectors.mjs.
type jsVector struct {
	Name        string         `json:"name"`
	RecipientSK hexBytes       `json:"recipient_sk"`
	RecipientPK hexBytes       `json:"recipient_pk"`
	RecordID    hexBytes       `json:"record_id"`
	Patient     crypto.Address `json:"patient"`
	Version     uint32         `json:"version"`
	Plaintext   string         `json:"plaintext"`
	DataKey     hexBytes       `json:"data_key"`
	WrappedKey  hexBytes       `json:"wrapped_key"`
	ContentCT   hexBytes       `json:"content_ct"`
}

type jsVectorFile struct {
	Description string     `json:"description"`
	Producer    string     `json:"producer"`
	Vectors     []jsVector `json:"vectors"`
}

// TestJSVectors: Go reads what the browser code wrote.
func TestJSVectors(t *testing.T) {
	var file jsVectorFile
	readJSON(t, jsVectorsPath, &file)
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range file.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			priv := checkKeyPair(t, "recipient_sk and recipient_pk", v.RecipientSK, v.RecipientPK)
			recordID, patient := recordIDOf(t, v.RecordID), v.Patient
			w, err := ParseWrappedKey(v.WrappedKey)
			if err != nil {
				t.Fatal(err)
			}
			dk, err := Unwrap(priv, w, recordID, v.Version)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dk[:], v.DataKey) {
				t.Fatal("unwrapped data key differs from data_key")
			}
			if got := stdOpen(t, priv, w.Enc[:], wrapInfo(recordID, v.Version), v.RecipientPK, w.CT[:]); !bytes.Equal(got, v.DataKey) {
				t.Fatal("crypto/hpke unwraps a different data key")
			}
			pt, err := Open(v.ContentCT, dk, recordID, patient)
			if err != nil {
				t.Fatal(err)
			}
			if string(pt) != v.Plaintext {
				t.Fatal("content decrypts to a different plaintext")
			}
			// And the bindings hold for JavaScript's output too.
			if _, err := Unwrap(priv, w, recordID, v.Version+1); err == nil {
				t.Fatal("unwrapped under another version")
			}
			if _, err := Open(v.ContentCT, dk, recordID, crypto.Address{}); err == nil {
				t.Fatal("opened for another patient")
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkKeyPair parses an X25519 private key and checks its public key.
func checkKeyPair(t *testing.T, what string, sk, pk []byte) *ecdh.PrivateKey {
	t.Helper()
	priv, err := ecdh.X25519().NewPrivateKey(sk)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(priv.PublicKey().Bytes(), pk) {
		t.Fatalf("%s: the public key does not belong to the private key", what)
	}
	return priv
}

func recordIDOf(t *testing.T, b []byte) [RecordIDSize]byte {
	t.Helper()
	if len(b) != RecordIDSize {
		t.Fatalf("record_id is %d bytes", len(b))
	}
	return [RecordIDSize]byte(b)
}

func stdOpen(t *testing.T, priv *ecdh.PrivateKey, enc, info, aad, ct []byte) []byte {
	t.Helper()
	k, err := stdhpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	r, err := stdhpke.NewRecipient(enc, k, stdhpke.HKDFSHA256(), stdhpke.AES256GCM(), info)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := r.Open(aad, ct)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}
