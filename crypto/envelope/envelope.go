package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/medchain/medchain/crypto"
)

// Sizes of the content envelope. They are part of the format.
const (
	// DataKeySize is the size of a record's AES-256 data key.
	DataKeySize = 32
	// RecordIDSize is the size of a record id.
	RecordIDSize = 16
	// NonceSize is the size of the AES-GCM nonce stored in the ciphertext.
	NonceSize = 12
	// TagSize is the size of an AES-GCM authentication tag.
	TagSize = 16
	// Overhead is what Seal adds to the plaintext: version, nonce and tag.
	Overhead = 1 + NonceSize + TagSize
	// MaxPlaintext bounds a record's plaintext (16 MiB).
	MaxPlaintext = 16 << 20
	// MaxCiphertext bounds what Open accepts.
	MaxCiphertext = MaxPlaintext + Overhead
)

// FormatV1 is the first byte of every content ciphertext of this format.
const FormatV1 byte = 0x01

// contentLabel starts the associated data of a record's content; the 0x00
// after it keeps labels from running into the bytes that follow.
const contentLabel = "medchain/record/v1"

var (
	// ErrDecrypt is returned by Open for any ciphertext that does not
	// decrypt: wrong key, record id or patient, truncated, tampered, or of
	// an unknown format version. Which one is deliberately not told apart.
	ErrDecrypt = errors.New("envelope: record decryption failed")
	// ErrUnwrap is returned by Unwrap when the wrapped key does not open
	// with the given private key, record id and version.
	ErrUnwrap = errors.New("envelope: data key unwrap failed")
	// ErrTooLarge is returned for a plaintext over MaxPlaintext or a
	// ciphertext over MaxCiphertext.
	ErrTooLarge = errors.New("envelope: record too large")
	// ErrBadKey is returned for a key that is not a usable X25519 key.
	ErrBadKey = errors.New("envelope: not a usable X25519 key")
	// ErrBadWrappedKey is returned by ParseWrappedKey for input that is not
	// exactly WrappedKeySize bytes.
	ErrBadWrappedKey = errors.New("envelope: a wrapped key is exactly 80 bytes")
)

// Seal encrypts a record's plaintext under a fresh data key, bound to the
// record id and the patient. It reads the data key (32 bytes) and then the
// nonce (12 bytes) from r, which is crypto/rand when nil. The caller wraps
// the returned data key for each reader with Wrap and then forgets it.
func Seal(r io.Reader, plaintext []byte, recordID [RecordIDSize]byte, patient crypto.Address) (ct []byte, dataKey [DataKeySize]byte, err error) {
	if len(plaintext) > MaxPlaintext {
		return nil, dataKey, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(plaintext), MaxPlaintext)
	}
	if r == nil {
		r = rand.Reader
	}
	var nonce [NonceSize]byte
	if _, err := io.ReadFull(r, dataKey[:]); err != nil {
		return nil, [DataKeySize]byte{}, fmt.Errorf("envelope: reading randomness: %w", err)
	}
	if _, err := io.ReadFull(r, nonce[:]); err != nil {
		return nil, [DataKeySize]byte{}, fmt.Errorf("envelope: reading randomness: %w", err)
	}
	ct = make([]byte, 1+NonceSize, Overhead+len(plaintext))
	ct[0] = FormatV1
	copy(ct[1:], nonce[:])
	ct = newGCM(dataKey).Seal(ct, nonce[:], plaintext, contentAD(recordID, patient))
	return ct, dataKey, nil
}

// Open decrypts a ciphertext made by Seal. Every failure to authenticate is
// ErrDecrypt; the record id and patient must be the ones it was sealed for.
func Open(ct []byte, dataKey [DataKeySize]byte, recordID [RecordIDSize]byte, patient crypto.Address) ([]byte, error) {
	if len(ct) > MaxCiphertext {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(ct), MaxCiphertext)
	}
	if len(ct) < Overhead {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte minimum", ErrDecrypt, len(ct), Overhead)
	}
	if ct[0] != FormatV1 {
		return nil, fmt.Errorf("%w: unknown format version 0x%02x", ErrDecrypt, ct[0])
	}
	nonce, body := ct[1:1+NonceSize], ct[1+NonceSize:]
	pt, err := newGCM(dataKey).Open(nil, nonce, body, contentAD(recordID, patient))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// contentAD is the AES-GCM associated data of a record's content:
// "medchain/record/v1" ‖ 0x00 ‖ record id (16) ‖ patient address (20).
func contentAD(recordID [RecordIDSize]byte, patient crypto.Address) []byte {
	ad := make([]byte, 0, len(contentLabel)+1+RecordIDSize+crypto.AddressSize)
	ad = append(ad, contentLabel...)
	ad = append(ad, 0x00)
	ad = append(ad, recordID[:]...)
	return append(ad, patient[:]...)
}

func newGCM(key [DataKeySize]byte) cipher.AEAD {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // unreachable: the key is always 32 bytes
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err) // unreachable: AES has a 16-byte block
	}
	return gcm
}
