package envelope

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/hpke"

	"github.com/medchain/medchain/crypto"
)

// Sizes of a wrapped data key. They are part of the format.
const (
	// EncSize is the size of the HPKE encapsulated key (an X25519 public key).
	EncSize = 32
	// WrappedCTSize is the size of the HPKE-sealed data key: key and tag.
	WrappedCTSize = DataKeySize + TagSize
	// WrappedKeySize is the size of a wrapped key's bytes: enc ‖ ct.
	WrappedKeySize = EncSize + WrappedCTSize
)

// HPKE identifiers of the suite (RFC 9180, section 7), in base mode.
const (
	KEMID  = uint16(hpke.KEM_X25519_HKDF_SHA256) // 0x0020
	KDFID  = uint16(hpke.KDF_HKDF_SHA256)        // 0x0001
	AEADID = uint16(hpke.AEAD_AES256GCM)         // 0x0002
)

// keyLabel starts the HPKE info of a wrapped data key.
const keyLabel = "medchain/datakey/v1"

var (
	suite     = hpke.NewSuite(hpke.KEM_X25519_HKDF_SHA256, hpke.KDF_HKDF_SHA256, hpke.AEAD_AES256GCM)
	kemScheme = hpke.KEM_X25519_HKDF_SHA256.Scheme()
)

// WrappedKey is a record's data key sealed to one reader with HPKE.
type WrappedKey struct {
	Enc [EncSize]byte       // the sender's ephemeral X25519 public key
	CT  [WrappedCTSize]byte // the sealed data key followed by the GCM tag
}

// Bytes returns enc ‖ ct, the form stored on chain.
func (w WrappedKey) Bytes() []byte {
	b := make([]byte, 0, WrappedKeySize)
	b = append(b, w.Enc[:]...)
	return append(b, w.CT[:]...)
}

// ParseWrappedKey parses the output of Bytes.
func ParseWrappedKey(b []byte) (WrappedKey, error) {
	var w WrappedKey
	if len(b) != WrappedKeySize {
		return w, fmt.Errorf("%w: got %d", ErrBadWrappedKey, len(b))
	}
	copy(w.Enc[:], b[:EncSize])
	copy(w.CT[:], b[EncSize:])
	return w, nil
}

// Wrap seals dataKey to the recipient's X25519 key with HPKE base mode,
// bound to the record id and version (in the HPKE info) and to the
// recipient key itself (as the AEAD associated data), so that a wrapped key
// cannot be passed off for another record, version or reader. It reads the
// 32-byte ephemeral input keying material (ikmE) from r, crypto/rand when nil.
func Wrap(r io.Reader, recipient crypto.EncKey, dataKey [DataKeySize]byte, recordID [RecordIDSize]byte, version uint32) (WrappedKey, error) {
	var w WrappedKey
	pkR, err := kemScheme.UnmarshalBinaryPublicKey(recipient[:])
	if err != nil {
		return w, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	sender, err := suite.NewSender(pkR, wrapInfo(recordID, version))
	if err != nil {
		return w, fmt.Errorf("envelope: HPKE sender: %w", err)
	}
	if r == nil {
		r = rand.Reader
	}
	enc, sealer, err := sender.Setup(r)
	switch {
	case errors.Is(err, hpke.ErrInvalidKEMSharedSecret):
		return w, fmt.Errorf("%w: recipient key is a low-order point", ErrBadKey)
	case err != nil:
		return w, fmt.Errorf("envelope: HPKE setup: %w", err)
	}
	ct, err := sealer.Seal(dataKey[:], recipient[:])
	if err != nil {
		return w, fmt.Errorf("envelope: HPKE seal: %w", err)
	}
	if len(enc) != EncSize || len(ct) != WrappedCTSize {
		return w, fmt.Errorf("envelope: HPKE output of %d+%d bytes, want %d+%d", len(enc), len(ct), EncSize, WrappedCTSize)
	}
	copy(w.Enc[:], enc)
	copy(w.CT[:], ct)
	return w, nil
}

// Unwrap opens a wrapped key with the reader's X25519 private key (for an
// account key k, pass k.ECDH()). Any failure to open is ErrUnwrap.
func Unwrap(priv *ecdh.PrivateKey, w WrappedKey, recordID [RecordIDSize]byte, version uint32) ([DataKeySize]byte, error) {
	var key [DataKeySize]byte
	if priv == nil || priv.Curve() != ecdh.X25519() {
		return key, fmt.Errorf("%w: want an X25519 private key", ErrBadKey)
	}
	skR, err := kemScheme.UnmarshalBinaryPrivateKey(priv.Bytes())
	if err != nil {
		return key, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	receiver, err := suite.NewReceiver(skR, wrapInfo(recordID, version))
	if err != nil {
		return key, fmt.Errorf("envelope: HPKE receiver: %w", err)
	}
	opener, err := receiver.Setup(w.Enc[:])
	if err != nil {
		return key, ErrUnwrap // enc is a low-order point
	}
	pt, err := opener.Open(w.CT[:], priv.PublicKey().Bytes())
	if err != nil || len(pt) != DataKeySize {
		return key, ErrUnwrap
	}
	copy(key[:], pt)
	return key, nil
}

// wrapInfo is the HPKE info of a wrapped data key:
// "medchain/datakey/v1" ‖ 0x00 ‖ record id (16) ‖ version (4, big-endian).
func wrapInfo(recordID [RecordIDSize]byte, version uint32) []byte {
	info := make([]byte, 0, len(keyLabel)+1+RecordIDSize+4)
	info = append(info, keyLabel...)
	info = append(info, 0x00)
	info = append(info, recordID[:]...)
	return binary.BigEndian.AppendUint32(info, version)
}
