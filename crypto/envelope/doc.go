// Package envelope is the end-to-end encryption of health records: each
// record is encrypted with its own random data key, and that key is wrapped
// with HPKE (RFC 9180) for the patient and for every grantee whose consent
// covers the record. Encryption and decryption happen in clients (CLI,
// browser, an organization's gateway), never on validators; the chain holds
// only wrapped keys and the hash of the ciphertext.
//
// Pure: no I/O; randomness is read only from the io.Reader a caller passes
// (crypto/rand when nil), so tests and test vectors are deterministic.
//
// # Caller's contract
//
//   - Call Seal once per record version. It returns the ciphertext and a fresh
//     data key; a data key is never reused for a second plaintext.
//   - Wrap the data key for the patient and for each current grantee, then
//     drop it. A reader gets the key back with Unwrap and decrypts with Open.
//   - A reader who once unwrapped a key may have kept it: content written after
//     a revocation goes into a new version (Seal again, Wrap for the remaining
//     readers), never under the old data key.
//   - The record id is 16 random bytes chosen by the writer; the patient is
//     the patient's account address; the version is the record's version
//     number. All three must be the same at decryption as at encryption.
//
// # Content ciphertext (format version 1)
//
// AES-256-GCM under the 32-byte data key, with a 12-byte random nonce:
//
//	offset  size  field
//	0       1     format version, 0x01
//	1       12    nonce
//	13      n     AES-256-GCM ciphertext of the n-byte plaintext
//	13+n    16    GCM tag
//
// The GCM associated data (55 bytes) binds the ciphertext to its record and
// patient:
//
//	"medchain/record/v1" (18 ASCII bytes) ‖ 0x00 ‖ record id (16) ‖ patient address (20)
//
// The plaintext is at most MaxPlaintext (16 MiB) bytes. Open reports every
// failure, including an unknown version byte, as ErrDecrypt.
//
// # Wrapped data key
//
// HPKE base mode (mode 0x00) with DHKEM(X25519, HKDF-SHA256) (KEM 0x0020),
// HKDF-SHA256 (KDF 0x0001) and AES-256-GCM (AEAD 0x0002). The sender runs
// SetupBaseS(pkR, info) and seals the data key once (sequence number 0):
//
//	pkR   the reader's 32-byte X25519 public key (its account's crypto.EncKey)
//	info  "medchain/datakey/v1" (19 ASCII bytes) ‖ 0x00 ‖ record id (16) ‖ version (uint32, big-endian)   (40 bytes)
//	aad   pkR (32 bytes), so that a key wrapped for one reader fails for another
//	pt    the data key (32 bytes)
//
// The wrapped key is 80 bytes, enc ‖ ct:
//
//	offset  size  field
//	0       32    enc: the encapsulated key (the ephemeral X25519 public key)
//	32      32    the sealed data key
//	64      16    GCM tag
//
// # Test vectors
//
// testdata/vectors.json holds vectors made by this package from seeded
// streams, with every intermediate a second HPKE implementation needs: the
// recipient key pair, the HPKE ikmE (input to DeriveKeyPair for the ephemeral
// key), info, aad, enc and ct, and the content nonce, associated data and
// ciphertext. js/envelope.test.mjs checks them with @hpke/core and WebCrypto;
// testdata/js_vectors.json, made in JavaScript by js/make_js_vectors.mjs, is
// checked here. Regenerate vectors.json with
//
//	go test ./crypto/envelope -run TestVectors -rewrite
package envelope
