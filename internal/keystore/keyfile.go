package keystore

import (
	"bytes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
)

// Constants of format version 1. A new format takes a new version; decoders
// keep reading the old ones.
const (
	fileVersion   = 1
	kdfArgon2id   = "argon2id"
	cipherXChaCha = "xchacha20poly1305"
	saltSize      = 16
	seedsSize     = 2 * crypto.SeedSize
	keySize       = chacha20poly1305.KeySize

	// maxFileSize bounds what decodeKeyFile reads; a real file is under 1 KiB.
	maxFileSize = 16 << 10

	// adDomain separates this associated data from any other use of the key.
	adDomain = "medchain/keystore"
)

// Limits on the KDF parameters a file may carry. The KDF runs before the
// passphrase can be checked, so without them a crafted file could make Load
// allocate terabytes or spin for hours.
const (
	maxTime      = 100
	maxMemoryKiB = 4 << 20 // 4 GiB
)

// KDFParams are the Argon2id cost parameters for a new key file.
type KDFParams struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultParams is the cost for keys that guard real accounts: 3 passes over
// 64 MiB with 2 lanes.
func DefaultParams() KDFParams { return KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 2} }

// LightParams is a cheaper cost for development accounts and tests: one pass
// over 8 MiB. Still memory-hard, but not for keys that matter.
func LightParams() KDFParams { return KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1} }

// Validate reports whether p is within the limits every key file must meet.
func (p KDFParams) Validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("%w: time %d not in [1, %d]", ErrBadParams, p.Time, maxTime)
	case p.Threads < 1:
		return fmt.Errorf("%w: threads must be at least 1", ErrBadParams)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB not in [%d, %d]", ErrBadParams, p.MemoryKiB, 8*uint32(p.Threads), maxMemoryKiB)
	}
	return nil
}

// keyFile is the JSON content of a key file; doc.go shows the format.
type keyFile struct {
	Version    int            `json:"version"`
	Name       string         `json:"name"`
	Address    crypto.Address `json:"address"`
	PubKey     crypto.PubKey  `json:"pub_key"`
	EncKey     crypto.EncKey  `json:"enc_key"`
	KDF        string         `json:"kdf"`
	KDFParams  fileKDFParams  `json:"kdf_params"`
	Cipher     string         `json:"cipher"`
	Nonce      hexBytes       `json:"nonce"`
	Ciphertext hexBytes       `json:"ciphertext"`
}

// fileKDFParams holds threads as uint32 so that an out-of-range value is
// reported as such rather than as a JSON type error.
type fileKDFParams struct {
	Time      uint32   `json:"time"`
	MemoryKiB uint32   `json:"memory_kib"`
	Threads   uint32   `json:"threads"`
	Salt      hexBytes `json:"salt"`
}

type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, h), nil }

func (h *hexBytes) UnmarshalText(b []byte) error {
	v, err := hex.AppendDecode(nil, b)
	if err != nil {
		return errors.New("invalid hex")
	}
	*h = v
	return nil
}

// params returns the KDF parameters; call only on a validated file.
func (f *keyFile) params() KDFParams {
	return KDFParams{Time: f.KDFParams.Time, MemoryKiB: f.KDFParams.MemoryKiB, Threads: uint8(f.KDFParams.Threads)}
}

// sealKey encrypts key under passphrase into a new file named name, reading
// the salt and nonce from rand.
func sealKey(name, passphrase string, key *crypto.PrivKey, p KDFParams, rand io.Reader) (*keyFile, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	f := &keyFile{
		Version: fileVersion,
		Name:    name,
		Address: key.Address(),
		PubKey:  key.PubKey(),
		EncKey:  key.EncKey(),
		KDF:     kdfArgon2id,
		KDFParams: fileKDFParams{
			Time:      p.Time,
			MemoryKiB: p.MemoryKiB,
			Threads:   uint32(p.Threads),
			Salt:      make([]byte, saltSize),
		},
		Cipher: cipherXChaCha,
		Nonce:  make([]byte, chacha20poly1305.NonceSizeX),
	}
	if _, err := io.ReadFull(rand, f.KDFParams.Salt); err != nil {
		return nil, fmt.Errorf("keystore: reading salt: %w", err)
	}
	if _, err := io.ReadFull(rand, f.Nonce); err != nil {
		return nil, fmt.Errorf("keystore: reading nonce: %w", err)
	}
	seeds := seedBytes(key)
	defer clear(seeds)
	f.Ciphertext = f.aead(passphrase).Seal(nil, f.Nonce, seeds, f.associatedData())
	return f, nil
}

// open decrypts the file's key. f must have come from decodeKeyFile or sealKey.
func (f *keyFile) open(passphrase string) (*crypto.PrivKey, error) {
	seeds, err := f.aead(passphrase).Open(nil, f.Nonce, f.Ciphertext, f.associatedData())
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	defer clear(seeds)
	key, err := crypto.KeyFromSeeds(seeds[:crypto.SeedSize], seeds[crypto.SeedSize:])
	if err != nil {
		return nil, fmt.Errorf("%w: sealed seeds do not form a key", ErrCorrupt)
	}
	// Only a writer who knew the passphrase can get here with a mismatch.
	if key.PubKey() != f.PubKey || key.EncKey() != f.EncKey {
		return nil, fmt.Errorf("%w: sealed key does not match the file's public keys", ErrCorrupt)
	}
	return key, nil
}

// seedBytes returns signSeed||encSeed; the caller clears it.
func seedBytes(key *crypto.PrivKey) []byte {
	signSeed, encSeed := key.Seeds()
	seeds := make([]byte, 0, seedsSize)
	seeds = append(append(seeds, signSeed...), encSeed...)
	clear(signSeed)
	clear(encSeed)
	return seeds
}

// aead derives the file's cipher key from passphrase. It runs Argon2id, so
// the parameters must have been validated.
func (f *keyFile) aead(passphrase string) cipher.AEAD {
	p := f.params()
	pass := []byte(passphrase)
	k := argon2.IDKey(pass, f.KDFParams.Salt, p.Time, p.MemoryKiB, p.Threads, keySize)
	clear(pass)
	defer clear(k)
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		panic("keystore: NewX rejected a key of KeySize: " + err.Error())
	}
	return aead
}

// associatedData binds the fields that identify the key, so that editing one
// of them, or pairing one file's ciphertext with another's header, fails to
// decrypt. The KDF parameters and salt need no binding: they determine the
// cipher key itself.
func (f *keyFile) associatedData() []byte {
	w := codec.NewWriter(len(adDomain) + len(f.Name) + 100)
	w.String(adDomain)
	w.Uint(uint64(f.Version))
	w.String(f.Name)
	w.Fixed(f.Address[:])
	w.Fixed(f.PubKey[:])
	w.Fixed(f.EncKey[:])
	return w.Bytes()
}

func (f *keyFile) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// decodeKeyFile parses and validates a key file without running the KDF.
// Every failure wraps ErrCorrupt.
func decodeKeyFile(b []byte) (*keyFile, error) {
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, maxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f keyFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrCorrupt)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &f, nil
}

func (f *keyFile) validate() error {
	if err := CheckName(f.Name); err != nil {
		return err
	}
	switch {
	case f.Version != fileVersion:
		return fmt.Errorf("unsupported version %d", f.Version)
	case f.PubKey.Address() != f.Address:
		return errors.New("address does not match pub_key")
	case f.KDF != kdfArgon2id:
		return fmt.Errorf("unsupported kdf %q", f.KDF)
	case f.KDFParams.Threads > 255:
		return fmt.Errorf("%w: threads %d > 255", ErrBadParams, f.KDFParams.Threads)
	case len(f.KDFParams.Salt) != saltSize:
		return fmt.Errorf("salt is %d bytes, want %d", len(f.KDFParams.Salt), saltSize)
	case f.Cipher != cipherXChaCha:
		return fmt.Errorf("unsupported cipher %q", f.Cipher)
	case len(f.Nonce) != chacha20poly1305.NonceSizeX:
		return fmt.Errorf("nonce is %d bytes, want %d", len(f.Nonce), chacha20poly1305.NonceSizeX)
	case len(f.Ciphertext) != seedsSize+chacha20poly1305.Overhead:
		return fmt.Errorf("ciphertext is %d bytes, want %d", len(f.Ciphertext), seedsSize+chacha20poly1305.Overhead)
	}
	return f.params().Validate()
}
