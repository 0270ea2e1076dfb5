package api

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// ParseRecordID parses 32 hex digits.
func ParseRecordID(s string) (consent.RecordID, error) {
	var id consent.RecordID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != consent.RecordIDSize {
		return id, sm.Wrapf(ErrBadRequest, "record id must be 32 hex digits")
	}
	copy(id[:], b)
	return id, nil
}

// ParseParty parses an "mc…" address or "org:ID".
func ParseParty(s string) (consent.Party, error) {
	if id, ok := strings.CutPrefix(s, "org:"); ok {
		return consent.Org(id), nil
	}
	a, err := crypto.ParseAddress(s)
	if err != nil {
		return consent.Party{}, sm.Wrapf(ErrBadRequest, "party must be an address or org:ID")
	}
	return consent.Account(a), nil
}

// PartyView is a party in JSON: {"kind":"account","address":"mc…"} or {"kind":"org","org":"id"}.
type PartyView struct {
	Kind    string `json:"kind"`
	Address string `json:"address,omitempty"`
	Org     string `json:"org,omitempty"`
	EncKey  string `json:"enc_key,omitempty"`
}

func partyView(p consent.Party) PartyView {
	if p.Kind == consent.PartyOrg {
		return PartyView{Kind: "org", Org: p.Org}
	}
	return PartyView{Kind: "account", Address: p.Address.String()}
}

// WrappedKeyView is a wrapped data key.
type WrappedKeyView struct {
	Recipient PartyView `json:"recipient"`
	Enc       string    `json:"enc"` // hex, HPKE encapsulated key
	CT        string    `json:"ct"`  // hex, sealed data key
}

// VersionView is one version of a record.
type VersionView struct {
	Version     uint32           `json:"version"`
	Author      string           `json:"author"`
	ContentHash string           `json:"content_hash"`
	Size        uint64           `json:"size"`
	Created     time.Time        `json:"created"`
	Keys        []WrappedKeyView `json:"keys,omitempty"`
}

// RecordView is a record's on-chain metadata: no health data.
type RecordView struct {
	ID       string        `json:"id"`
	Patient  string        `json:"patient"`
	Type     string        `json:"resource_type"`
	Version  uint32        `json:"version"`
	Created  time.Time     `json:"created"`
	Erased   *time.Time    `json:"erased,omitempty"`
	Versions []VersionView `json:"versions,omitempty"`
	Height   int64         `json:"height"`
}

func unix(t int64) time.Time { return time.Unix(t, 0).UTC() }

func recordView(kv store.Reader, rec *records.Record, withVersions bool, keysFor *consent.Party) RecordView {
	v := RecordView{ID: hex.EncodeToString(rec.ID[:]), Patient: rec.Patient.String(), Type: rec.Type, Version: rec.Version, Created: unix(rec.Created)}
	if rec.Erased != 0 {
		t := unix(rec.Erased)
		v.Erased = &t
	}
	if !withVersions {
		return v
	}
	for n := uint32(1); n <= rec.Version; n++ {
		ver := records.GetVersion(kv, rec.ID, n)
		if ver == nil {
			continue
		}
		vv := VersionView{Version: n, Author: ver.Author.String(), ContentHash: hex.EncodeToString(ver.ContentHash[:]), Size: ver.Size, Created: unix(ver.Created)}
		for _, k := range records.Keys(kv, rec.ID, n) {
			if keysFor != nil && string(k.Recipient.Key()) != string(keysFor.Key()) {
				continue
			}
			vv.Keys = append(vv.Keys, WrappedKeyView{Recipient: partyView(k.Recipient), Enc: hex.EncodeToString(k.Enc[:]), CT: hex.EncodeToString(k.CT[:])})
		}
		v.Versions = append(v.Versions, vv)
	}
	return v
}

func (s *Server) pathAddress(w http.ResponseWriter, r *http.Request) (crypto.Address, bool) {
	a, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return a, false
	}
	return a, true
}

// patientState reads the {address} path value and opens the state named by
// ?height=, answering the error itself when either is bad.
func (s *Server) patientState(w http.ResponseWriter, r *http.Request) (crypto.Address, *merkle.Snapshot, bool) {
	p, ok := s.pathAddress(w, r)
	if !ok {
		return p, nil, false
	}
	snap, ok := s.state(w, r)
	return p, snap, ok
}

func (s *Server) patientRecords(w http.ResponseWriter, r *http.Request, me who) {
	p, snap, ok := s.patientState(w, r)
	if !ok {
		return
	}
	// Care grounds only from consents with a condition: the records those
	// consents allow the signer to read now (at the state asked for).
	narrowed := me.conditionedCare(p)
	now := s.timeOf(snap)
	out := []RecordView{}
	for _, rec := range records.ByPatient(snap, p) {
		if t := r.URL.Query().Get("type"); t != "" && rec.Type != t {
			continue
		}
		if narrowed && !records.MayRead(snap, now, me.acct.Address, rec).Allowed {
			continue
		}
		v := recordView(snap, rec, false, nil)
		v.Height = snap.Version()
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "records": out})
}

func (s *Server) record(w http.ResponseWriter, r *http.Request) {
	id, err := ParseRecordID(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	var keysFor *consent.Party
	if f := r.URL.Query().Get("keys_for"); f != "" {
		p, err := ParseParty(f)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		keysFor = &p
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	rec := records.GetRecord(snap, id)
	if rec == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "record %x", id))
		return
	}
	v := recordView(snap, rec, true, keysFor)
	v.Height = snap.Version()
	if rec.Erased != 0 {
		writeJSON(w, http.StatusGone, v)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// AccessView answers "may X read record R now, and under which consent?".
type AccessView struct {
	Record      string `json:"record"`
	Reader      string `json:"reader"`
	Allowed     bool   `json:"allowed"`
	Basis       string `json:"basis,omitempty"`
	ConsentID   uint64 `json:"consent_id,omitempty"`
	EmergencyID uint64 `json:"emergency_id,omitempty"`
	// Condition names (its hash) the consent condition that allowed or
	// refused the read, when one did (docs/policies.md).
	Condition string    `json:"condition,omitempty"`
	Recipient PartyView `json:"key_recipient"`
	Code      uint32    `json:"code,omitempty"`
	Codespace string    `json:"codespace,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Height    int64     `json:"height"`
	BlockTime time.Time `json:"block_time"`
	// Proofs of the state the decision rests on (with prove=true): the
	// record, the consent when there is one, and Grounds: every proven key
	// the decision reads (consent.GroundKeys), present or proven absent.
	RecordProof  *Proof   `json:"record_proof,omitempty"`
	ConsentProof *Proof   `json:"consent_proof,omitempty"`
	Grounds      []*Proof `json:"grounds,omitempty"`
}

func (s *Server) access(w http.ResponseWriter, r *http.Request) {
	id, err := ParseRecordID(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	reader, err := crypto.ParseAddress(r.URL.Query().Get("reader"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "reader: %v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	rec := records.GetRecord(snap, id)
	if rec == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "record %x", id))
		return
	}
	now := s.timeOf(snap)
	v := AccessView{Record: hex.EncodeToString(id[:]), Reader: reader.String(), Height: snap.Version(), BlockTime: unix(now)}
	target := rec.Target()
	d := records.MayRead(snap, now, reader, rec)
	if errors.Is(d.Err, records.ErrErased) {
		v.Code, v.Codespace, v.Reason = records.ErrErased.Code, records.Codespace, "record erased"
	} else {
		v.Allowed, v.Basis, v.ConsentID, v.EmergencyID = d.Allowed, string(d.Basis), d.ConsentID, d.EmergencyID
		v.Recipient, v.Condition = partyView(d.Recipient), d.Condition
		if !d.Allowed {
			v.Code, v.Codespace, v.Reason = sm.ABCIInfo(d.Err)
			if ce := consent.AsConditionError(d.Err); ce != nil {
				v.ConsentID, v.Condition = ce.ConsentID, ce.Hash
			}
		}
	}
	if r.URL.Query().Get("prove") == "true" {
		if err := proveAccess(snap, now, reader, target, d, &v); err != nil {
			backendErr(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// proveAccess fills v's proofs: the record, the consent, and every ground of
// the decision. Index keys have no proofs and none is needed: the grounds are
// the proven keys the indexes point at, and consent.Grounds re-derives the
// decision from them alone.
func proveAccess(snap *merkle.Snapshot, now int64, reader crypto.Address, t consent.Target, d consent.Decision, v *AccessView) error {
	var err error
	if v.RecordProof, err = BuildProof(snap, records.RecordKey(t.Record)); err != nil {
		return err
	}
	if v.ConsentID != 0 {
		if v.ConsentProof, err = BuildProof(snap, consent.ConsentKey(v.ConsentID)); err != nil {
			return err
		}
	}
	for _, k := range consent.GroundKeys(snap, now, reader, t, consent.ActRead, d) {
		p, err := BuildProof(snap, k)
		if err != nil {
			return err
		}
		v.Grounds = append(v.Grounds, p)
	}
	return nil
}

func (s *Server) keyHolders(w http.ResponseWriter, r *http.Request) {
	p, ok := s.pathAddress(w, r)
	if !ok {
		return
	}
	typ := r.URL.Query().Get("type")
	if !consent.ValidResourceType(typ) {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "type must be a FHIR resource type"))
		return
	}
	var id consent.RecordID
	if q := r.URL.Query().Get("record"); q != "" {
		var err error
		if id, err = ParseRecordID(q); err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	out := []PartyView{}
	for _, party := range consent.KeyHolders(snap, s.timeOf(snap), consent.Target{Patient: p, Record: id, Type: typ}) {
		key, ok := consent.EncKeyOf(snap, party)
		if !ok {
			continue
		}
		pv := partyView(party)
		pv.EncKey = key.String()
		out = append(out, pv)
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "block_time": unix(s.timeOf(snap)), "key_holders": out})
}

// ConsentView is a consent in JSON.
type ConsentView struct {
	ID      uint64     `json:"id"`
	Patient string     `json:"patient"`
	Grantor string     `json:"grantor"`
	Grantee PartyView  `json:"grantee"`
	Actions []string   `json:"actions"`
	Types   []string   `json:"types,omitempty"`
	Records []string   `json:"records,omitempty"`
	Purpose string     `json:"purpose"`
	Start   time.Time  `json:"start"`
	Until   *time.Time `json:"until,omitempty"`
	Revoked *time.Time `json:"revoked,omitempty"`
	Status  string     `json:"status"`
	// Condition is the consent's CEL condition, when it has one.
	Condition string `json:"condition,omitempty"`
}

func consentView(c *consent.Consent, now int64) ConsentView {
	v := ConsentView{ID: c.ID, Patient: c.Patient.String(), Grantor: c.Grantor.String(), Grantee: partyView(c.Grantee),
		Types: c.Types, Purpose: c.Purpose, Start: unix(c.Start), Status: c.Status(now), Condition: c.Condition}
	if c.Actions&consent.ActRead != 0 {
		v.Actions = append(v.Actions, "read")
	}
	if c.Actions&consent.ActWrite != 0 {
		v.Actions = append(v.Actions, "write")
	}
	for _, id := range c.Records {
		v.Records = append(v.Records, hex.EncodeToString(id[:]))
	}
	if c.Until != 0 {
		t := unix(c.Until)
		v.Until = &t
	}
	if c.Revoked != 0 {
		t := unix(c.Revoked)
		v.Revoked = &t
	}
	return v
}

func (s *Server) writeConsents(w http.ResponseWriter, r *http.Request, snap *merkle.Snapshot, cs []*consent.Consent) {
	now := s.timeOf(snap)
	if r.URL.Query().Get("format") == "fhir" {
		writeFHIR(w, http.StatusOK, consentBundle(cs, now))
		return
	}
	out := []ConsentView{}
	for _, c := range cs {
		out = append(out, consentView(c, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "consents": out})
}

func (s *Server) patientConsents(w http.ResponseWriter, r *http.Request) {
	p, snap, ok := s.patientState(w, r)
	if !ok {
		return
	}
	s.writeConsents(w, r, snap, consent.ByPatient(snap, p))
}

func (s *Server) granteeConsents(w http.ResponseWriter, r *http.Request) {
	g, err := ParseParty(r.PathValue("party"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	s.writeConsents(w, r, snap, consent.ByGrantee(snap, g))
}

func (s *Server) consentByID(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "consent id must be a number"))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	c := consent.GetConsent(snap, id)
	if c == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "consent %d", id))
		return
	}
	if r.URL.Query().Get("format") == "fhir" {
		writeFHIR(w, http.StatusOK, fhirConsent(c, s.timeOf(snap)))
		return
	}
	writeJSON(w, http.StatusOK, consentView(c, s.timeOf(snap)))
}

// EventView is an access event.
type EventView struct {
	Seq         uint64    `json:"seq"`
	Patient     string    `json:"patient"`
	Accessor    string    `json:"accessor"`
	Record      string    `json:"record"`
	Version     uint32    `json:"version,omitempty"`
	Time        time.Time `json:"time"`
	Node        string    `json:"node"`
	Served      bool      `json:"served"`
	Basis       string    `json:"basis,omitempty"`
	ConsentID   uint64    `json:"consent_id,omitempty"`
	EmergencyID uint64    `json:"emergency_id,omitempty"`
	Emergency   bool      `json:"emergency"`
	Reason      string    `json:"reason,omitempty"`
	// Condition names (its hash) the condition of consent_id, which allowed
	// a served read or refused one (docs/policies.md).
	Condition string    `json:"condition,omitempty"`
	Logged    time.Time `json:"logged"` // block time at which the chain recorded it
	Late      bool      `json:"late"`   // logged more than an hour after the access
	Proof     string    `json:"proof"`  // SHA-256 of the accessor's signed request behind it
}

func eventView(e audit.Event) EventView {
	return EventView{Seq: e.Seq, Patient: e.Patient.String(), Accessor: e.Accessor.String(), Record: hex.EncodeToString(e.Record[:]),
		Version: e.Version, Time: unix(e.Time), Node: e.Node, Served: e.Served, Basis: e.Basis, ConsentID: e.ConsentID,
		EmergencyID: e.EmergencyID, Emergency: e.Flagged(), Reason: e.Reason, Condition: e.Condition,
		Logged: unix(e.Logged), Late: e.Late(), Proof: hex.EncodeToString(e.ProofHash[:])}
}

func parseTimeParam(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return 0, sm.Wrapf(ErrBadRequest, "%s must be RFC 3339 or unix seconds", name)
	}
	return t.Unix(), nil
}

func (s *Server) patientAudit(w http.ResponseWriter, r *http.Request) {
	p, ok := s.pathAddress(w, r)
	if !ok {
		return
	}
	from, err1 := parseTimeParam(r, "from")
	to, err2 := parseTimeParam(r, "to")
	if err := errors.Join(err1, err2); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	f := audit.Filter{From: from, To: to}
	if a := r.URL.Query().Get("accessor"); a != "" {
		addr, err := crypto.ParseAddress(a)
		if err != nil {
			writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "accessor: %v", err))
			return
		}
		f.Accessor = addr
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	evs := audit.Trail(snap, p, f)
	if r.URL.Query().Get("format") == "fhir" {
		writeFHIR(w, http.StatusOK, auditBundle(evs))
		return
	}
	out := []EventView{}
	for _, e := range evs {
		out = append(out, eventView(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "events": out})
}

// SignalView is a suspicious-access warning.
type SignalView struct {
	Kind     string    `json:"kind"`
	Accessor string    `json:"accessor"`
	Time     time.Time `json:"time"`
	Detail   string    `json:"detail"`
}

func (s *Server) patientSignals(w http.ResponseWriter, r *http.Request) {
	p, snap, ok := s.patientState(w, r)
	if !ok {
		return
	}
	o := audit.DefaultSignalOptions
	if n, err := queryInt(r, "max_patients", int64(o.MaxPatients)); err == nil && n > 0 {
		o.MaxPatients = int(n)
	}
	if n, err := queryInt(r, "window", o.Window); err == nil && n > 0 {
		o.Window = n
	}
	out := []SignalView{}
	for _, sg := range audit.Signals(snap, p, s.timeOf(snap), o) {
		out = append(out, SignalView{Kind: sg.Kind, Accessor: sg.Accessor.String(), Time: unix(sg.Time), Detail: sg.Detail})
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "signals": out})
}

// EmergencyView is an emergency access.
type EmergencyView struct {
	ID           uint64     `json:"id"`
	Patient      string     `json:"patient"`
	Practitioner string     `json:"practitioner"`
	Org          string     `json:"org"`
	Reason       string     `json:"reason"`
	Opened       time.Time  `json:"opened"`
	Expires      time.Time  `json:"expires"`
	Open         bool       `json:"open"`
	Reviewed     *time.Time `json:"reviewed,omitempty"`
	Reviewer     string     `json:"reviewer,omitempty"`
	Review       string     `json:"review,omitempty"`
}

func emergencyView(e *consent.Emergency, now int64) EmergencyView {
	v := EmergencyView{ID: e.ID, Patient: e.Patient.String(), Practitioner: e.Practitioner.String(), Org: e.Org, Reason: e.Reason,
		Opened: unix(e.Opened), Expires: unix(e.Expires), Open: e.OpenAt(now)}
	if e.Reviewed != 0 {
		t := unix(e.Reviewed)
		v.Reviewed, v.Reviewer, v.Review = &t, e.Reviewer.String(), e.Review
	}
	return v
}

func (s *Server) writeEmergencies(w http.ResponseWriter, r *http.Request, snap *merkle.Snapshot, es []*consent.Emergency) {
	now := s.timeOf(snap)
	out := []EmergencyView{}
	for _, e := range es {
		out = append(out, emergencyView(e, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "emergencies": out})
}

func (s *Server) patientEmergencies(w http.ResponseWriter, r *http.Request) {
	p, snap, ok := s.patientState(w, r)
	if !ok {
		return
	}
	s.writeEmergencies(w, r, snap, consent.EmergenciesOf(snap, p))
}

func (s *Server) orgEmergencies(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	s.writeEmergencies(w, r, snap, consent.EmergenciesByOrg(snap, r.PathValue("id")))
}
