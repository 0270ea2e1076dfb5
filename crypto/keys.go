package crypto

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519/extra/cache"
)

// Sizes of the fixed-size key material.
const (
	PubKeySize    = 32
	SignatureSize = 64
	AddressSize   = 20
	EncKeySize    = 32
	SeedSize      = 32
)

// AddressPrefix starts the text form of every address.
const AddressPrefix = "mc"

// PubKey is an Ed25519 public key.
type PubKey [PubKeySize]byte

// Address identifies an account: the first 20 bytes of SHA-256(public key).
type Address [AddressSize]byte

// EncKey is an X25519 public key, the HPKE recipient key of an account.
type EncKey [EncKeySize]byte

// Address derives the account address of the key.
func (p PubKey) Address() Address {
	h := sha256.Sum256(p[:])
	var a Address
	copy(a[:], h[:AddressSize])
	return a
}

func (p PubKey) String() string { return hex.EncodeToString(p[:]) }

// String renders the address as "mc" followed by 40 lowercase hex digits.
func (a Address) String() string { return AddressPrefix + hex.EncodeToString(a[:]) }

// IsZero reports whether a is the all-zero address.
func (a Address) IsZero() bool { return a == Address{} }

// MarshalText implements encoding.TextMarshaler (JSON at the edges).
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

func (p PubKey) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

func (p *PubKey) UnmarshalText(b []byte) error {
	return decodeHexFixed(string(b), p[:], "public key")
}

func (e EncKey) String() string               { return hex.EncodeToString(e[:]) }
func (e EncKey) MarshalText() ([]byte, error) { return []byte(e.String()), nil }
func (e *EncKey) UnmarshalText(b []byte) error {
	return decodeHexFixed(string(b), e[:], "encryption key")
}

// ErrBadAddress is returned for text that is not an address.
var ErrBadAddress = errors.New("not an address: want mc followed by 40 hex digits")

// ParseAddress parses the text form of an address.
func ParseAddress(s string) (Address, error) {
	var a Address
	if !strings.HasPrefix(s, AddressPrefix) || len(s) != len(AddressPrefix)+2*AddressSize {
		return a, ErrBadAddress
	}
	if _, err := hex.Decode(a[:], []byte(s[len(AddressPrefix):])); err != nil {
		return a, ErrBadAddress
	}
	return a, nil
}

// ParsePubKey parses 64 hex digits.
func ParsePubKey(s string) (PubKey, error) {
	var p PubKey
	return p, decodeHexFixed(s, p[:], "public key")
}

// ParseEncKey parses 64 hex digits.
func ParseEncKey(s string) (EncKey, error) {
	var e EncKey
	return e, decodeHexFixed(s, e[:], "encryption key")
}

func decodeHexFixed(s string, dst []byte, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%s: want %d hex digits, got %d", what, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// PrivKey is an Ed25519 signing key together with the account's X25519
// decryption key. Both are derived from independent 32-byte seeds.
type PrivKey struct {
	sign ed25519.PrivateKey
	enc  *ecdh.PrivateKey
}

// GenerateKey makes a new key pair from r (crypto/rand when r is nil).
func GenerateKey(r io.Reader) (*PrivKey, error) {
	if r == nil {
		r = rand.Reader
	}
	var seeds [2 * SeedSize]byte
	if _, err := io.ReadFull(r, seeds[:]); err != nil {
		return nil, err
	}
	return KeyFromSeeds(seeds[:SeedSize], seeds[SeedSize:])
}

// KeyFromSeeds rebuilds a key from its signing and encryption seeds.
func KeyFromSeeds(signSeed, encSeed []byte) (*PrivKey, error) {
	if len(signSeed) != SeedSize || len(encSeed) != SeedSize {
		return nil, errors.New("key seeds must be 32 bytes each")
	}
	enc, err := ecdh.X25519().NewPrivateKey(encSeed)
	if err != nil {
		return nil, err
	}
	return &PrivKey{sign: ed25519.NewKeyFromSeed(signSeed), enc: enc}, nil
}

// Seeds returns the signing and encryption seeds (secret material).
func (k *PrivKey) Seeds() (signSeed, encSeed []byte) {
	return k.sign.Seed(), k.enc.Bytes()
}

// PubKey returns the Ed25519 public key.
func (k *PrivKey) PubKey() PubKey {
	var p PubKey
	copy(p[:], k.sign[SeedSize:])
	return p
}

// EncKey returns the X25519 public key.
func (k *PrivKey) EncKey() EncKey {
	var e EncKey
	copy(e[:], k.enc.PublicKey().Bytes())
	return e
}

// ECDH returns the X25519 private key for HPKE decryption.
func (k *PrivKey) ECDH() *ecdh.PrivateKey { return k.enc }

// Address is the address of the signing key.
func (k *PrivKey) Address() Address { return k.PubKey().Address() }

// Sign signs msg with Ed25519 (pure, no prehash).
func (k *PrivKey) Sign(msg []byte) []byte { return ed25519.Sign(k.sign, msg) }

// zip215 is ZIP-215's rules (the same accept/reject set for single and
// batch verification, as CometBFT's) with one more: a public key of small
// order is refused. Under ZIP-215 alone such a key "signs" every message
// (the all-zero key with the all-zero signature verifies against anything:
// found by FuzzParseHeaders in internal/reqsig), so anyone could act as an
// account, a session key or a forwarding gateway that had one.
var zip215 = &ed25519.Options{Verify: &ed25519.VerifyOptions{
	AllowSmallOrderA:   false,
	AllowSmallOrderR:   true,
	AllowNonCanonicalA: true,
	AllowNonCanonicalR: true,
}}

// expanded keeps the expanded form of the public keys that signed last:
// the key's point decompressed and a table of its multiples, which voi
// otherwise computes for every signature it checks (a third of a batch's
// cost per signature). The accounts that sign most (a hospital's gateway,
// a patient's recent transactions) repeat, as CometBFT's own vote
// verification assumes with the same cache. The expansion is a function of
// the key's 32 bytes alone and carries the key's checks (valid, small
// order, canonical) that the options apply on each use, so a cached key
// gives the same answers as a fresh one (TestExpandedKeysAgree).
var expanded = cache.NewVerifier(cache.NewLRUCache(ExpandedKeys))

// ExpandedKeys is how many expanded public keys (about 1.5 KiB each) the
// verifier keeps.
const ExpandedKeys = 4096

// Verify checks an Ed25519 signature with ZIP-215 rules, refusing public
// keys of small order.
func Verify(pub PubKey, msg, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	return expanded.VerifyWithOptions(pub[:], msg, sig, zip215)
}

// SigItem is one signature to check in a batch.
type SigItem struct {
	Pub PubKey
	Msg []byte
	Sig []byte
}

// BatchVerify checks many signatures at once and reports each one's validity.
// ZIP-215 makes batch and single verification accept exactly the same set, so
// the result does not depend on how signatures were grouped.
func BatchVerify(items []SigItem) []bool {
	ok := make([]bool, len(items))
	if len(items) == 0 {
		return ok
	}
	if len(items) == 1 {
		ok[0] = Verify(items[0].Pub, items[0].Msg, items[0].Sig)
		return ok
	}
	bv := ed25519.NewBatchVerifierWithCapacity(len(items))
	for _, it := range items {
		expanded.AddWithOptions(bv, it.Pub[:], it.Msg, it.Sig, zip215)
	}
	_, valid := bv.Verify(rand.Reader)
	copy(ok, valid)
	return ok
}
