package api

import (
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/research"
	"github.com/medchain/medchain/x/telemed"
)

// Telemedicine and research routes (docs/api.md). Offers and data requests
// are public, like the organizations that publish them; a booking names its
// patient and a participation names the patient and what was read, so they
// are served only to signed reads of the parties (docs/security.md).
func (s *Server) routeEscrow() {
	s.handle("GET /v1/telemed/offers", s.offers)
	s.handle("GET /v1/telemed/offers/{id}", s.offer)
	s.handleSigned("GET /v1/telemed/bookings/{id}", bookingGuard, s.booking)
	s.handleSigned("GET /v1/accounts/{address}/bookings", selfOrOwnerGuard, s.accountBookings)
	s.handleSigned("GET /v1/orgs/{id}/disputes", orgAdminGuard, s.orgDisputes)
	s.handle("GET /v1/research/requests", s.researchRequests)
	s.handle("GET /v1/research/requests/{id}", s.researchRequest)
	s.handleSigned("GET /v1/research/requests/{id}/participants", requestOwnerGuard, s.researchParticipants)
	s.handleSigned("GET /v1/patients/{address}/research", patientGuard(groundOwner), s.patientResearch)
}

// OfferView is a telemedicine offer as the API shows it.
type OfferView struct {
	ID           uint64 `json:"id"`
	Provider     string `json:"provider"`
	Org          string `json:"org"`
	Service      string `json:"service"`
	Price        uint64 `json:"price"`
	Duration     int64  `json:"duration_seconds"`
	Arbiter      string `json:"arbiter"`
	CancelBefore int64  `json:"cancel_before_seconds"`
	Grace        int64  `json:"no_show_grace_seconds"`
	Created      int64  `json:"created"`
	Withdrawn    int64  `json:"withdrawn,omitempty"`
}

func offerView(o *telemed.Offer) OfferView {
	return OfferView{ID: o.ID, Provider: o.Provider.String(), Org: o.Org, Service: o.Service, Price: o.Price, Duration: o.Duration,
		Arbiter: o.Arbiter, CancelBefore: o.CancelBefore, Grace: o.Grace, Created: o.Created, Withdrawn: o.Withdrawn}
}

// BookingView is a booking as its parties see it.
type BookingView struct {
	ID         uint64 `json:"id"`
	Offer      uint64 `json:"offer"`
	Patient    string `json:"patient"`
	Provider   string `json:"provider"`
	Arbiter    string `json:"arbiter"`
	Price      uint64 `json:"price"`
	Escrow     string `json:"escrow"`
	Held       uint64 `json:"held"` // the escrow pool's balance now
	Start      int64  `json:"start"`
	End        int64  `json:"end"`
	CancelBy   int64  `json:"patient_cancel_before"`
	ReclaimAt  int64  `json:"provider_no_show_after"`
	State      string `json:"state"`
	Booked     int64  `json:"booked"`
	ReleaseAt  int64  `json:"release_at,omitempty"`
	DisputedBy string `json:"disputed_by,omitempty"`
	Closed     int64  `json:"closed,omitempty"`
	Outcome    string `json:"outcome,omitempty"`
	ToProvider uint64 `json:"to_provider"`
	ToPatient  uint64 `json:"to_patient"`
}

func bookingView(kv store.Reader, b *telemed.Booking) BookingView {
	v := BookingView{ID: b.ID, Offer: b.Offer, Patient: b.Patient.String(), Provider: b.Provider.String(), Arbiter: b.Arbiter,
		Price: b.Price, Escrow: telemed.Escrow(b.ID).String(), Held: bank.PoolBalance(kv, telemed.Escrow(b.ID)), Start: b.Start, End: b.End,
		CancelBy: b.Start - b.CancelBefore, ReclaimAt: b.End + b.Grace, State: telemed.StateName(b.State), Booked: b.Booked,
		ReleaseAt: b.Due, Closed: b.Closed, Outcome: b.Outcome, ToProvider: b.ToProvider, ToPatient: b.ToPatient}
	if !b.DisputedBy.IsZero() {
		v.DisputedBy = b.DisputedBy.String()
	}
	return v
}

// RequestView is a research data request as the API shows it.
type RequestView struct {
	ID         uint64   `json:"id"`
	Researcher string   `json:"researcher"`
	Org        string   `json:"org"`
	Budget     uint64   `json:"budget"`
	Price      uint64   `json:"price"`
	Types      []string `json:"resource_types"`
	Codes      []string `json:"codes"`
	Purpose    string   `json:"purpose"`
	Opened     int64    `json:"opened"`
	End        int64    `json:"end"`
	Closes     int64    `json:"closes"`
	Escrow     string   `json:"escrow"`
	Held       uint64   `json:"held"`
	Reserved   uint64   `json:"reserved"`
	Paid       uint64   `json:"paid"`
	Patients   uint32   `json:"patients"`
	PaidCount  uint32   `json:"paid_patients"`
	Closed     int64    `json:"closed,omitempty"`
	Returned   uint64   `json:"returned"`
}

func requestView(kv store.Reader, q *research.Request) RequestView {
	codes := q.Codes
	if codes == nil {
		codes = []string{}
	}
	return RequestView{ID: q.ID, Researcher: q.Researcher.String(), Org: q.Org, Budget: q.Budget, Price: q.Price, Types: q.Types, Codes: codes,
		Purpose: q.Purpose, Opened: q.Opened, End: q.End, Closes: q.Closes, Escrow: research.Escrow(q.ID).String(),
		Held: bank.PoolBalance(kv, research.Escrow(q.ID)), Reserved: q.Reserved, Paid: q.Paid, Patients: q.Patients, PaidCount: q.PaidCount,
		Closed: q.Closed, Returned: q.Returned}
}

// PaidAccess is one audit event a research payment bought.
type PaidAccess struct {
	Seq     uint64 `json:"seq"`
	Record  string `json:"record"`
	Version uint32 `json:"version"`
	Time    int64  `json:"time"`
	Node    string `json:"node"`
}

// ParticipationView is a patient's opt-in to a request with its payment
// and, access by access, what it bought.
type ParticipationView struct {
	Request  uint64       `json:"request"`
	Patient  string       `json:"patient"`
	Consent  uint64       `json:"consent"`
	Joined   int64        `json:"joined"`
	Amount   uint64       `json:"amount"` // 0 until the first paid access
	PaidAt   int64        `json:"paid_at,omitempty"`
	Accesses []PaidAccess `json:"accesses"`
	More     uint64       `json:"more_accesses"`
}

func participationView(kv store.Reader, o *research.OptIn) ParticipationView {
	v := ParticipationView{Request: o.Request, Patient: o.Patient.String(), Consent: o.Consent, Joined: o.Joined, Amount: o.Amount,
		PaidAt: o.PaidAt, Accesses: []PaidAccess{}, More: o.More}
	for _, seq := range o.Accesses {
		if e := audit.GetEvent(kv, o.Patient, seq); e != nil {
			v.Accesses = append(v.Accesses, PaidAccess{Seq: seq, Record: hex.EncodeToString(e.Record[:]), Version: e.Version, Time: e.Time, Node: e.Node})
		}
	}
	return v
}

func pathID(w http.ResponseWriter, r *http.Request, what string) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%s id must be a number", what))
		return 0, false
	}
	return id, true
}

// queryAddress reads an optional address query parameter.
func queryAddress(w http.ResponseWriter, r *http.Request, name string) (crypto.Address, bool) {
	q := r.URL.Query().Get(name)
	if q == "" {
		return crypto.Address{}, true
	}
	a, err := crypto.ParseAddress(q)
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%s: %v", name, err))
		return a, false
	}
	return a, true
}

func (s *Server) offers(w http.ResponseWriter, r *http.Request) {
	provider, ok := queryAddress(w, r, "provider")
	if !ok {
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	out := []OfferView{}
	for _, o := range telemed.Offers(snap, provider, r.URL.Query().Get("all") != "true") {
		out = append(out, offerView(o))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "offers": out})
}

func (s *Server) offer(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "offer")
	if !ok {
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	o := telemed.GetOffer(snap, id)
	if o == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "offer %d", id))
		return
	}
	writeJSON(w, http.StatusOK, offerView(o))
}

func (s *Server) booking(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "booking")
	if !ok {
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	b := telemed.GetBooking(snap, id)
	if b == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "booking %d", id))
		return
	}
	writeJSON(w, http.StatusOK, bookingView(snap, b))
}

func (s *Server) accountBookings(w http.ResponseWriter, r *http.Request) {
	p, snap, ok := s.patientState(w, r)
	if !ok {
		return
	}
	out := []BookingView{}
	for _, b := range telemed.BookingsOf(snap, p) {
		out = append(out, bookingView(snap, b))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "bookings": out})
}

func (s *Server) orgDisputes(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	out := []BookingView{}
	for _, b := range telemed.Disputes(snap, r.PathValue("id")) {
		out = append(out, bookingView(snap, b))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "disputes": out})
}

func (s *Server) researchRequests(w http.ResponseWriter, r *http.Request) {
	researcher, ok := queryAddress(w, r, "researcher")
	if !ok {
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	out := []RequestView{}
	for _, q := range research.Requests(snap, researcher, r.URL.Query().Get("all") != "true") {
		out = append(out, requestView(snap, q))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "requests": out})
}

func (s *Server) researchRequest(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "request")
	if !ok {
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	q := research.GetRequest(snap, id)
	if q == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "request %d", id))
		return
	}
	writeJSON(w, http.StatusOK, requestView(snap, q))
}

func (s *Server) researchParticipants(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "request")
	if !ok {
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	if research.GetRequest(snap, id) == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "request %d", id))
		return
	}
	out := []ParticipationView{}
	for _, o := range research.Participants(snap, id) {
		out = append(out, participationView(snap, o))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "participants": out})
}

func (s *Server) patientResearch(w http.ResponseWriter, r *http.Request) {
	p, snap, ok := s.patientState(w, r)
	if !ok {
		return
	}
	out := []ParticipationView{}
	var total uint64
	for _, o := range research.OptInsOf(snap, p) {
		out = append(out, participationView(snap, o))
		total += o.Amount
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "total_paid": total, "participations": out})
}

// bookingGuard: the booking's patient (owner grounds), its provider, or an
// admin of its arbiter organization. An unknown booking is let through:
// the handler answers 404, which names no one.
func bookingGuard(r *http.Request, w who) error {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		return sm.Wrapf(ErrBadRequest, "booking id must be a number")
	}
	b := telemed.GetBooking(w.latest, id)
	if b == nil || w.acct.Address == b.Provider || w.grounds(b.Patient, groundOwner) {
		return nil
	}
	if o := accounts.AdminOrg(w.latest, w.acct.Address); o != nil && o.ID == b.Arbiter {
		return nil
	}
	return forbidden("%s is neither a party to booking %d nor its arbiter", w.acct.Address, id)
}

// selfOrOwnerGuard: the {address} account itself, or owner grounds for it
// when it is a patient (a guardian).
func selfOrOwnerGuard(r *http.Request, w who) error {
	a, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		return sm.Wrapf(ErrBadRequest, "%v", err)
	}
	if a == w.acct.Address || w.grounds(a, groundOwner) {
		return nil
	}
	return forbidden("%s may list only its own bookings or those of a patient it acts for", w.acct.Address)
}

// orgAdminGuard: an active admin of the {id} organization.
func orgAdminGuard(r *http.Request, w who) error {
	if o := accounts.AdminOrg(w.latest, w.acct.Address); o != nil && o.ID == r.PathValue("id") {
		return nil
	}
	return forbidden("%s is not an admin of organization %q", w.acct.Address, r.PathValue("id"))
}

// requestOwnerGuard: the researcher of the {id} request. An unknown request
// is let through (404).
func requestOwnerGuard(r *http.Request, w who) error {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		return sm.Wrapf(ErrBadRequest, "request id must be a number")
	}
	if q := research.GetRequest(w.latest, id); q == nil || q.Researcher == w.acct.Address {
		return nil
	}
	return forbidden("%s is not the researcher of request %d", w.acct.Address, id)
}

// patientOfEscrowKey names the patient whose data an escrow key holds: a
// booking, a party's booking listing, an opt-in or a patient's opt-in
// listing.
func patientOfEscrowKey(kv store.Reader, key []byte) (crypto.Address, bool) {
	var none, a crypto.Address
	body := key[1:]
	switch key[0] {
	case sm.PrefixTelemedBooking:
		if len(body) == 8 {
			if b := telemed.GetBooking(kv, beUint64(body)); b != nil {
				return b.Patient, true
			}
		}
	case sm.PrefixTelemedByParty, sm.PrefixResearchByPatient:
		if len(body) >= len(a) {
			copy(a[:], body)
			if acct := accounts.GetAccount(kv, a); acct != nil && acct.Kind == accounts.KindPatient {
				return a, true
			}
		}
	case sm.PrefixResearchOptIn:
		if len(body) >= 8+len(a) {
			copy(a[:], body[8:])
			return a, true
		}
	}
	return none, false
}
