package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
)

// Codespace of the links module.
const Codespace = "links"

// Errors; codes are stable.
var (
	ErrNotLinker   = sm.Register(Codespace, 1, "signer is not an active admin, staff or gateway member of the organization")
	ErrNotPatient  = sm.Register(Codespace, 2, "not a registered patient")
	ErrNoApproval  = sm.Register(Codespace, 3, "the patient has not approved this link: give a patient-signed approval, or the patient grants the organization a consent first")
	ErrBadApproval = sm.Register(Codespace, 4, "the link approval does not verify with the key of the patient or a guardian")
	ErrExpired     = sm.Register(Codespace, 5, "the link approval has expired")
	ErrUsed        = sm.Register(Codespace, 6, "this link approval was already used")
	ErrTaken       = sm.Register(Codespace, 7, "this identifier of the organization is linked to another patient")
	ErrExists      = sm.Register(Codespace, 8, "this identifier is already linked to this patient")
	ErrNotFound    = sm.Register(Codespace, 9, "no such link")
	ErrNotAllowed  = sm.Register(Codespace, 10, "only the organization's admins, staff or gateway, the patient or a guardian may remove a link")
	ErrBadOrg      = sm.Register(Codespace, 11, "not an active member organization")
	ErrTooLong     = sm.Register(Codespace, 12, "the link approval's expiry is too far away")
)

// Limits.
const (
	MACSize = 32
	// KeySize is the size of an organization's link key.
	KeySize = 32
	// MaxApprovalLifetime bounds an approval's expiry - block time.
	MaxApprovalLifetime = 30 * 24 * 3600
	// MACDomain starts the bytes an identifier's MAC covers.
	MACDomain = "medchain/patient-link/v1"
	// ApprovalDomain starts the bytes a patient's link approval signs.
	ApprovalDomain = "medchain/patient-link-approval/v1"
)

// LinkerRoles are the member roles that make and remove links.
var LinkerRoles = []string{accounts.RoleAdmin, accounts.RoleStaff, accounts.RoleGateway}

// MAC is the keyed digest that stands for an identifier on chain.
type MAC [MACSize]byte

func (m MAC) String() string { return hex.EncodeToString(m[:]) }

// ParseMAC reads 64 hex digits.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != MACSize {
		return m, fmt.Errorf("link MAC %q: want %d hex digits", s, 2*MACSize)
	}
	copy(m[:], b)
	return m, nil
}

// Key is an organization's link key: a secret, never on chain.
type Key [KeySize]byte

// ParseKey reads 64 hex digits.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != KeySize {
		return k, fmt.Errorf("link key: want %d hex digits", 2*KeySize)
	}
	copy(k[:], b)
	return k, nil
}

// ComputeMAC is HMAC-SHA256(key, MACDomain ‖ 0x00 ‖ string(org) ‖
// string(system) ‖ string(value)), strings in the canonical encoding
// (uvarint length, then the bytes). System and value are taken exactly as
// the organization's systems write them (FHIR identifiers are
// case-sensitive): no trimming, no case folding.
func ComputeMAC(key Key, org, system, value string) MAC {
	w := codec.NewWriter(64 + len(org) + len(system) + len(value))
	w.Fixed([]byte(MACDomain))
	w.Fixed([]byte{0})
	w.String(org)
	w.String(system)
	w.String(value)
	h := hmac.New(sha256.New, key[:])
	h.Write(w.Bytes())
	var m MAC
	copy(m[:], h.Sum(nil))
	return m
}

// Link is one identifier of an organization linked to a patient.
type Link struct {
	Org     string
	MAC     MAC
	Patient crypto.Address
	Linker  crypto.Address // the member who made it
	Created int64          // block time
	// The approval: ConsentID of the patient's consent to Org it was made
	// under, or (ConsentID 0) the patient or guardian who signed.
	ConsentID uint64
	Approver  crypto.Address
}

func (l *Link) Encode(w *codec.Writer) {
	w.String(l.Org)
	w.Fixed(l.MAC[:])
	w.Fixed(l.Patient[:])
	w.Fixed(l.Linker[:])
	w.Int(l.Created)
	w.Uint(l.ConsentID)
	w.Fixed(l.Approver[:])
}

// DecodeLink decodes a stored link.
func DecodeLink(b []byte) (*Link, error) {
	r := codec.NewReader(b)
	l := &Link{Org: r.String("org", accounts.MaxIDLen)}
	r.Into("mac", l.MAC[:])
	l.Patient = sm.ReadAddress(r, "patient")
	l.Linker = sm.ReadAddress(r, "linker")
	l.Created = r.Int("created")
	l.ConsentID = r.Uint("consent_id")
	l.Approver = sm.ReadAddress(r, "approver")
	return l, r.Done()
}

// Keys.
func linkKey(org string, mac MAC) []byte {
	k := append(append([]byte{sm.PrefixLink}, org...), 0)
	return append(k, mac[:]...)
}

func byPatientKey(patient crypto.Address, org string, mac MAC) []byte {
	k := append(append([]byte{sm.PrefixLinkByPatient}, patient[:]...), org...)
	return append(append(k, 0), mac[:]...)
}

func usedKey(digest [32]byte) []byte { return append([]byte{sm.PrefixLinkApprovalUsed}, digest[:]...) }

// StoreKey is the store key of a link (for proofs).
func StoreKey(org string, mac MAC) []byte { return linkKey(org, mac) }

// Get loads the link of an organization's MAC, or nil.
func Get(kv store.Reader, org string, mac MAC) *Link {
	b := kv.Get(linkKey(org, mac))
	if b == nil {
		return nil
	}
	l, err := DecodeLink(b)
	store.Check(err)
	return l
}

func put(kv store.KV, l *Link) {
	kv.Set(linkKey(l.Org, l.MAC), codec.Marshal(l))
	kv.Set(byPatientKey(l.Patient, l.Org, l.MAC), []byte{1})
}

func remove(kv store.KV, l *Link) {
	kv.Delete(linkKey(l.Org, l.MAC))
	kv.Delete(byPatientKey(l.Patient, l.Org, l.MAC))
}

// OfPatient lists a patient's links, by organization then MAC. Each is
// loaded by its proven key and kept only when it names the patient, so a
// damaged index can shorten the list but never put another patient's link
// in it.
func OfPatient(kv store.Reader, patient crypto.Address) []*Link {
	prefix := append([]byte{sm.PrefixLinkByPatient}, patient[:]...)
	var out []*Link
	kv.Iterate(prefix, store.PrefixEnd(prefix), func(k, _ []byte) bool {
		rest := k[len(prefix):]
		if len(rest) < MACSize+1 || rest[len(rest)-MACSize-1] != 0 {
			return true
		}
		org := string(rest[:len(rest)-MACSize-1])
		var mac MAC
		copy(mac[:], rest[len(rest)-MACSize:])
		if l := Get(kv, org, mac); l != nil && l.Patient == patient {
			out = append(out, l)
		}
		return true
	})
	return out
}

// Resolver finds the patients an organization linked, from identifiers as
// its systems write them. It holds the organization's link key: build one
// only where that key lives (the organization's nodes and tools).
type Resolver struct {
	Org string
	Key Key
}

// MAC is the MAC of an identifier of the resolver's organization.
func (r *Resolver) MAC(system, value string) MAC { return ComputeMAC(r.Key, r.Org, system, value) }

// Resolve returns the link of an identifier, or nil when it is not linked.
func (r *Resolver) Resolve(kv store.Reader, system, value string) *Link {
	if r == nil || system == "" || value == "" {
		return nil
	}
	return Get(kv, r.Org, r.MAC(system, value))
}
