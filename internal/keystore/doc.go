// Package keystore keeps an account's private key in a passphrase-encrypted
// file, one file per named key in a directory (usually HOME/keys).
//
// A key is stored as <name>.json, mode 0600, in a directory of mode 0700.
// Names are 1-64 characters of [a-z0-9._-] and start with a letter or digit,
// so a name can never leave the directory or hide as a dot file.
//
// The file is JSON, format version 1:
//
//	{
//	  "version": 1,
//	  "name": "alice",
//	  "address": "mc<40 hex>",
//	  "pub_key": "<64 hex>",
//	  "enc_key": "<64 hex>",
//	  "kdf": "argon2id",
//	  "kdf_params": {"time": 3, "memory_kib": 65536, "threads": 2, "salt": "<32 hex>"},
//	  "cipher": "xchacha20poly1305",
//	  "nonce": "<48 hex>",
//	  "ciphertext": "<160 hex>"
//	}
//
// Its public part (name, address, public keys) is readable without the
// passphrase; it is what List, Info and FindByAddress return. The ciphertext
// is the 64 bytes signSeed||encSeed sealed with XChaCha20-Poly1305 under a
// 32-byte key that Argon2id derives from the passphrase and salt. The cipher's associated data binds the
// version, name, address and public keys, so a file whose public fields were
// edited or swapped with another file's does not decrypt. The KDF parameters
// are stored in the file, and decoding rejects parameters beyond fixed limits
// before running the KDF, so a crafted file cannot make Load allocate
// gigabytes.
//
// Contract:
//   - Errors are the sentinels below, wrapped with %w; test with errors.Is.
//     ErrWrongPassphrase also covers a file whose sealed or bound fields were
//     altered: the cipher cannot tell the two apart.
//   - Passphrases and seeds never appear in errors. Buffers holding them are
//     cleared after use; Go gives no stronger guarantee than that.
//   - Files are written atomically (temp file, fsync, link into place, fsync
//     the directory) and never overwritten: Create and Import of an existing
//     name fail with ErrExists, also when two processes race.
//   - A Store holds no state besides its configuration and is safe for
//     concurrent use. Open does no I/O; the directory is made on first write.
//   - Passphrase policy (minimum length, confirmation) belongs to the caller.
package keystore
