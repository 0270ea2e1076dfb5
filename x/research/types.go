package research

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
)

// Codespace of the research module.
const Codespace = "research"

// Errors; codes are stable, one per refusal reason.
var (
	ErrBadRequest      = sm.Register(Codespace, 1, "invalid data request")
	ErrNotResearcher   = sm.Register(Codespace, 2, "signer is not an active researcher of an active member organization")
	ErrBadEnd          = sm.Register(Codespace, 3, "request end is not after the block time")
	ErrTooLong         = sm.Register(Codespace, 4, "request end is further away than research.max_request_seconds allows")
	ErrUnknownRequest  = sm.Register(Codespace, 5, "no such data request")
	ErrNotPatient      = sm.Register(Codespace, 6, "signer is neither the patient nor their guardian")
	ErrEnded           = sm.Register(Codespace, 7, "the data request has ended: it takes no opt-ins")
	ErrAlreadyIn       = sm.Register(Codespace, 8, "the patient has already opted in to this request")
	ErrFull            = sm.Register(Codespace, 9, "the request's budget is reserved for the patients already opted in")
	ErrUnknownConsent  = sm.Register(Codespace, 10, "no such consent")
	ErrConsentParties  = sm.Register(Codespace, 11, "the consent is not the patient's to the request's researcher")
	ErrConsentPurpose  = sm.Register(Codespace, 12, "the consent is not a read-only consent of purpose research")
	ErrConsentScope    = sm.Register(Codespace, 13, "the consent's scope is not a set of the request's resource types")
	ErrConsentPeriod   = sm.Register(Codespace, 14, "the consent is not in force or does not end at the request's end")
	ErrConsentLinked   = sm.Register(Codespace, 15, "the consent already backs an opt-in")
	ErrNotOwner        = sm.Register(Codespace, 16, "only the request's researcher may close it")
	ErrBadOptIn        = sm.Register(Codespace, 17, "invalid message: a request id, patient or consent id is missing")
	ErrPatientNotFound = sm.Register(Codespace, 18, "the patient is not a registered patient")
	ErrUnpaid          = sm.Register(Codespace, 19, "a patient who opted in, with a consent still in force, has not been paid: the request cannot end before its end date")
)

// Limits.
const (
	MaxTypes      = consent.MaxScopeTypes
	MaxCodes      = 32
	MaxCodeLen    = 128
	MaxPurposeLen = 64
	// MaxListed bounds the accesses an opt-in lists beside its payment;
	// further ones are counted (More).
	MaxListed = 64
)

// Request is a researcher's paid data request.
type Request struct {
	ID         uint64
	Researcher crypto.Address
	Org        string
	Budget     uint64 // escrowed at opening
	Price      uint64 // paid once to each consenting patient whose data is read
	Types      []string
	Codes      []string
	Purpose    string
	Opened     int64
	End        int64  // accesses before End are paid; opt-ins until End
	Closes     int64  // when the rest of the escrow returns (End + settle time)
	Reserved   uint64 // Price × opted-in patients not yet paid
	Paid       uint64 // paid to patients so far
	Patients   uint32 // opted in
	PaidCount  uint32 // of whom paid
	Closed     int64  // 0 while open
	Returned   uint64 // returned to the researcher at closing
}

func (q *Request) Encode(w *codec.Writer) {
	w.Uint(q.ID)
	w.Fixed(q.Researcher[:])
	w.String(q.Org)
	w.Uint(q.Budget)
	w.Uint(q.Price)
	w.Strings(q.Types)
	w.Strings(q.Codes)
	w.String(q.Purpose)
	w.Int(q.Opened)
	w.Int(q.End)
	w.Int(q.Closes)
	w.Uint(q.Reserved)
	w.Uint(q.Paid)
	w.Uint(uint64(q.Patients))
	w.Uint(uint64(q.PaidCount))
	w.Int(q.Closed)
	w.Uint(q.Returned)
}

// DecodeRequest decodes a stored request.
func DecodeRequest(b []byte) (*Request, error) {
	r := codec.NewReader(b)
	q := &Request{ID: r.Uint("id"), Researcher: sm.ReadAddress(r, "researcher")}
	q.Org = r.String("org", accounts.MaxIDLen)
	q.Budget = r.Uint("budget")
	q.Price = r.Uint("price")
	q.Types = r.Strings("types", MaxTypes, consent.MaxTypeLen)
	q.Codes = r.Strings("codes", MaxCodes, MaxCodeLen)
	q.Purpose = r.String("purpose", MaxPurposeLen)
	q.Opened = r.Int("opened")
	q.End = r.Int("end")
	q.Closes = r.Int("closes")
	q.Reserved = r.Uint("reserved")
	q.Paid = r.Uint("paid")
	q.Patients = readU32(r, "patients")
	q.PaidCount = readU32(r, "paid_count")
	q.Closed = r.Int("closed")
	q.Returned = r.Uint("returned")
	return q, r.Done()
}

func readU32(r *codec.Reader, field string) uint32 {
	v := r.Uint(field)
	if v > 1<<32-1 {
		r.Fixed(field+" wider than 32 bits", -1) // forces an error
		return 0
	}
	return uint32(v)
}

// OptIn is a patient's participation in a request and its payment.
type OptIn struct {
	Request uint64
	Patient crypto.Address
	Consent uint64
	Joined  int64
	Amount  uint64 // paid; 0 until the first paid access
	PaidAt  int64
	// Accesses are the audit sequences of the patient's trail the payment
	// bought: the first is the access that triggered it, the others later
	// accesses under the same consent (at most MaxListed; More counts the
	// rest).
	Accesses []uint64
	More     uint64
}

func (o *OptIn) Encode(w *codec.Writer) {
	w.Uint(o.Request)
	w.Fixed(o.Patient[:])
	w.Uint(o.Consent)
	w.Int(o.Joined)
	w.Uint(o.Amount)
	w.Int(o.PaidAt)
	w.Uint(uint64(len(o.Accesses)))
	for _, s := range o.Accesses {
		w.Uint(s)
	}
	w.Uint(o.More)
}

// DecodeOptIn decodes a stored opt-in.
func DecodeOptIn(b []byte) (*OptIn, error) {
	r := codec.NewReader(b)
	o := &OptIn{Request: r.Uint("request"), Patient: sm.ReadAddress(r, "patient"), Consent: r.Uint("consent")}
	o.Joined = r.Int("joined")
	o.Amount = r.Uint("amount")
	o.PaidAt = r.Int("paid_at")
	n := r.Count("accesses", MaxListed)
	for i := 0; i < n && r.Err() == nil; i++ {
		o.Accesses = append(o.Accesses, r.Uint("access"))
	}
	o.More = r.Uint("more")
	return o, r.Done()
}

// Escrow is the pool address holding a request's budget.
func Escrow(id uint64) crypto.Address {
	return bank.ModuleAddress(Codespace, "request/"+strconv.FormatUint(id, 10))
}

// ValidCode reports whether c is an eligibility code "system|code": printable
// ASCII without spaces, a non-empty system and code, at most MaxCodeLen.
func ValidCode(c string) bool {
	sys, code, ok := strings.Cut(c, "|")
	if !ok || sys == "" || code == "" || len(c) > MaxCodeLen || strings.Contains(code, "|") {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] <= ' ' || c[i] > '~' {
			return false
		}
	}
	return true
}

// ValidPurpose reports whether p is a purpose code: 1 to MaxPurposeLen of
// a-z, 0-9, '-', '_', '.' (never free text).
func ValidPurpose(p string) bool {
	if p == "" || len(p) > MaxPurposeLen {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Keys.
func u64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func requestKey(id uint64) []byte { return u64([]byte{sm.PrefixResearchRequest}, id) }
func optInKey(req uint64, p crypto.Address) []byte {
	return append(u64([]byte{sm.PrefixResearchOptIn}, req), p[:]...)
}
func linkKey(consentID uint64) []byte { return u64([]byte{sm.PrefixResearchConsent}, consentID) }
func watchKey(a crypto.Address) []byte {
	return append([]byte{sm.PrefixResearchWatch}, a[:]...)
}
func closesKey(t int64, id uint64) []byte {
	return u64(u64([]byte{sm.PrefixResearchCloses}, uint64(t)), id)
}
func byPatientKey(p crypto.Address, id uint64) []byte {
	return u64(append([]byte{sm.PrefixResearchByPatient}, p[:]...), id)
}

// RequestKey and OptInKey are store keys (for proofs).
func RequestKey(id uint64) []byte                  { return requestKey(id) }
func OptInKey(req uint64, p crypto.Address) []byte { return optInKey(req, p) }

var seqKey = []byte{sm.PrefixResearchSeq}

// GetRequest loads a request, or nil.
func GetRequest(kv store.Reader, id uint64) *Request {
	b := kv.Get(requestKey(id))
	if b == nil {
		return nil
	}
	q, err := DecodeRequest(b)
	store.Check(err)
	return q
}

func putRequest(kv store.KV, q *Request) { kv.Set(requestKey(q.ID), codec.Marshal(q)) }

// GetOptIn loads a patient's opt-in to a request, or nil.
func GetOptIn(kv store.Reader, req uint64, p crypto.Address) *OptIn {
	b := kv.Get(optInKey(req, p))
	if b == nil {
		return nil
	}
	o, err := DecodeOptIn(b)
	store.Check(err)
	return o
}

func putOptIn(kv store.KV, o *OptIn) { kv.Set(optInKey(o.Request, o.Patient), codec.Marshal(o)) }

// LinkedRequest returns the request a consent backs an opt-in to, or 0.
func LinkedRequest(kv store.Reader, consentID uint64) uint64 {
	if b := kv.Get(linkKey(consentID)); len(b) == 8 {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// Requests lists requests in id order; with researcher non-zero only its
// own, and with open only those not closed.
func Requests(kv store.Reader, researcher crypto.Address, open bool) []*Request {
	var out []*Request
	p := []byte{sm.PrefixResearchRequest}
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		q, err := DecodeRequest(v)
		store.Check(err)
		if (researcher.IsZero() || q.Researcher == researcher) && (!open || q.Closed == 0) {
			out = append(out, q)
		}
		return true
	})
	return out
}

// Participants lists a request's opt-ins, by patient address.
func Participants(kv store.Reader, req uint64) []*OptIn {
	var out []*OptIn
	p := u64([]byte{sm.PrefixResearchOptIn}, req)
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		o, err := DecodeOptIn(v)
		store.Check(err)
		out = append(out, o)
		return true
	})
	return out
}

// OptInsOf lists a patient's opt-ins (with their payments), in request order.
func OptInsOf(kv store.Reader, patient crypto.Address) []*OptIn {
	var out []*OptIn
	p := append([]byte{sm.PrefixResearchByPatient}, patient[:]...)
	kv.Iterate(p, store.PrefixEnd(p), func(k, _ []byte) bool {
		if len(k) != len(p)+8 {
			return true
		}
		if o := GetOptIn(kv, binary.BigEndian.Uint64(k[len(p):]), patient); o != nil {
			out = append(out, o)
		}
		return true
	})
	return out
}

// subset reports whether every element of a (sorted) is in b (sorted).
func subset(a, b []string) bool {
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			return false
		}
	}
	return true
}
