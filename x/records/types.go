package records

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records/recordid"
)

// RecordID identifies a record (see recordid.ID).
type RecordID = recordid.ID

// Codespace of the records module.
const Codespace = "records"

// Errors; codes are stable.
var (
	ErrNoWriteConsent = sm.Register(Codespace, 1, "no write consent for this patient and resource type")
	ErrBadType        = sm.Register(Codespace, 2, "invalid FHIR resource type")
	ErrBadHash        = sm.Register(Codespace, 3, "content hash is zero")
	ErrBadSize        = sm.Register(Codespace, 4, "content size out of range")
	ErrKeySet         = sm.Register(Codespace, 5, "wrapped keys do not match the parties entitled to read")
	ErrNotFound       = sm.Register(Codespace, 6, "record not found")
	ErrErased         = sm.Register(Codespace, 7, "record erased")
	ErrMismatch       = sm.Register(Codespace, 8, "a new version must keep the record's patient and resource type")
	ErrNotOwner       = sm.Register(Codespace, 9, "signer is neither the patient nor their guardian")
	ErrNotEntitled    = sm.Register(Codespace, 10, "recipient is not entitled to read this record")
	ErrKeyExists      = sm.Register(Codespace, 11, "recipient already holds a key for this version")
	ErrDuplicateHash  = sm.Register(Codespace, 12, "this ciphertext is already registered")
	ErrNotPatient     = sm.Register(Codespace, 13, "not a registered patient")
	ErrBadVersion     = sm.Register(Codespace, 14, "no such version")
)

// Limits.
const (
	MaxKeys       = 256
	MaxBlobBytes  = 64 << 20
	WrappedEncLen = 32
	WrappedCTLen  = 48
)

// WrappedKey is a record version's data key sealed (HPKE) to one party.
type WrappedKey struct {
	Recipient consent.Party
	Enc       [WrappedEncLen]byte // HPKE encapsulated key
	CT        [WrappedCTLen]byte  // sealed 32-byte data key and tag
}

func (k *WrappedKey) Encode(w *codec.Writer) {
	k.Recipient.Encode(w)
	w.Fixed(k.Enc[:])
	w.Fixed(k.CT[:])
}

func readWrappedKey(r *codec.Reader) WrappedKey {
	var k WrappedKey
	k.Recipient = consent.ReadParty(r, "recipient")
	r.Into("enc", k.Enc[:])
	r.Into("ct", k.CT[:])
	return k
}

func writeKeys(w *codec.Writer, ks []WrappedKey) {
	w.Uint(uint64(len(ks)))
	for i := range ks {
		ks[i].Encode(w)
	}
}

func readKeys(r *codec.Reader) []WrappedKey {
	n := r.Count("keys", MaxKeys)
	out := make([]WrappedKey, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		out = append(out, readWrappedKey(r))
	}
	return out
}

// Record is a record's identity and current state.
type Record struct {
	ID      RecordID
	Patient crypto.Address
	Type    string
	Version uint32 // latest version
	Created int64
	Erased  int64 // tombstone time; 0 while the record exists
}

func (rec *Record) Encode(w *codec.Writer) {
	w.Fixed(rec.ID[:])
	w.Fixed(rec.Patient[:])
	w.String(rec.Type)
	w.Uint(uint64(rec.Version))
	w.Int(rec.Created)
	w.Int(rec.Erased)
}

// DecodeRecord decodes a stored record.
func DecodeRecord(b []byte) (*Record, error) {
	r := codec.NewReader(b)
	rec := &Record{}
	r.Into("id", rec.ID[:])
	rec.Patient = sm.ReadAddress(r, "patient")
	rec.Type = r.String("type", consent.MaxTypeLen)
	rec.Version = readVersion(r)
	rec.Created = r.Int("created")
	rec.Erased = r.Int("erased")
	return rec, r.Done()
}

// Version is one version of a record.
type Version struct {
	Record      RecordID
	Version     uint32
	Author      crypto.Address
	ContentHash [32]byte // SHA-256 of the ciphertext
	Size        uint64
	Created     int64
}

func (v *Version) Encode(w *codec.Writer) {
	w.Fixed(v.Record[:])
	w.Uint(uint64(v.Version))
	w.Fixed(v.Author[:])
	w.Fixed(v.ContentHash[:])
	w.Uint(v.Size)
	w.Int(v.Created)
}

// DecodeVersion decodes a stored version.
func DecodeVersion(b []byte) (*Version, error) {
	r := codec.NewReader(b)
	v := &Version{}
	r.Into("record", v.Record[:])
	v.Version = readVersion(r)
	v.Author = sm.ReadAddress(r, "author")
	r.Into("content_hash", v.ContentHash[:])
	v.Size = r.Uint("size")
	v.Created = r.Int("created")
	return v, r.Done()
}

// readVersion reads a version number. A varint wider than 32 bits fails the
// reader: narrowed to a uint32 it would name another version and re-encode
// to other bytes.
func readVersion(r *codec.Reader) uint32 {
	v := r.Uint("version")
	if v > math.MaxUint32 {
		r.Fixed(fmt.Sprintf("version %d (wider than 32 bits)", v), -1) // forces an error
		return 0
	}
	return uint32(v)
}

func recordKey(id RecordID) []byte { return append([]byte{sm.PrefixRecord}, id[:]...) }

// RecordKey is the store key of a record (for proofs).
func RecordKey(id RecordID) []byte { return recordKey(id) }

func versionKey(id RecordID, v uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte{sm.PrefixRecordVersion}, id[:]...), v)
}

func wrappedKeyPrefix(id RecordID, v uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte{sm.PrefixRecordKey}, id[:]...), v)
}

func wrappedKeyKey(id RecordID, v uint32, p consent.Party) []byte {
	return append(wrappedKeyPrefix(id, v), p.Key()...)
}

func byPatientKey(p crypto.Address, id RecordID) []byte {
	return append(append([]byte{sm.PrefixRecordByPatient}, p[:]...), id[:]...)
}

func byHashKey(h [32]byte) []byte { return append([]byte{sm.PrefixRecordByHash}, h[:]...) }

// GetRecord loads a record, or nil.
func GetRecord(kv store.Reader, id RecordID) *Record {
	b := kv.Get(recordKey(id))
	if b == nil {
		return nil
	}
	rec, err := DecodeRecord(b)
	store.Check(err)
	return rec
}

// GetVersion loads a record version, or nil.
func GetVersion(kv store.Reader, id RecordID, v uint32) *Version {
	b := kv.Get(versionKey(id, v))
	if b == nil {
		return nil
	}
	ver, err := DecodeVersion(b)
	store.Check(err)
	return ver
}

// GetKey returns the data key wrapped for a party, or nil.
func GetKey(kv store.Reader, id RecordID, v uint32, p consent.Party) *WrappedKey {
	b := kv.Get(wrappedKeyKey(id, v, p))
	if b == nil {
		return nil
	}
	r := codec.NewReader(b)
	k := readWrappedKey(r)
	store.Check(r.Done())
	return &k
}

// Keys lists the wrapped keys of a version in party order.
func Keys(kv store.Reader, id RecordID, v uint32) []WrappedKey {
	var out []WrappedKey
	p := wrappedKeyPrefix(id, v)
	kv.Iterate(p, store.PrefixEnd(p), func(_, val []byte) bool {
		r := codec.NewReader(val)
		k := readWrappedKey(r)
		store.Check(r.Done())
		out = append(out, k)
		return true
	})
	return out
}

// ByPatient lists a patient's records in id order. A record is listed only
// when the index entry that names it is the one the record itself derives
// (its patient and id): index keys sit outside the Merkle tree, and a stray
// entry must not file another patient's record here.
func ByPatient(kv store.Reader, patient crypto.Address) []*Record {
	var out []*Record
	p := append([]byte{sm.PrefixRecordByPatient}, patient[:]...)
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		if len(k) != len(p)+recordid.Size {
			return true
		}
		var id RecordID
		copy(id[:], k[len(p):])
		if rec := GetRecord(kv, id); rec != nil && rec.ID == id && rec.Patient == patient {
			out = append(out, rec)
		}
		return true
	})
	return out
}

// ByHash finds the record version whose ciphertext has hash h. The index
// entry is believed only when the version it names (a proven key) carries
// exactly the content hash h; otherwise nothing is found.
func ByHash(kv store.Reader, h [32]byte) (*Record, *Version) {
	b := kv.Get(byHashKey(h))
	if len(b) != recordid.Size+4 {
		return nil, nil
	}
	var id RecordID
	copy(id[:], b)
	v := binary.BigEndian.Uint32(b[recordid.Size:])
	rec, ver := GetRecord(kv, id), GetVersion(kv, id, v)
	if rec == nil || ver == nil || rec.ID != id || ver.Record != id || ver.Version != v || ver.ContentHash != h {
		return nil, nil
	}
	return rec, ver
}
