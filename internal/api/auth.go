package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/ratelimit"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/links"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/session"
	"github.com/medchain/medchain/x/trials"
)

// Who may read patient data on /v1 (docs/api.md, "Authentication"). Every
// patient-scoped read is a request signed with internal/reqsig by a key
// whose account can sign in the latest committed state; the grounds below
// are judged in that state at its block time, whatever ?height= names, so a
// revoked grantee cannot read the past either.
//
//   - owner: the patient, or a guardian the patient delegated to;
//   - care: owner, or a grantee of an active consent of the patient (the
//     account itself, or an active member of the grantee organization; an
//     emergency-custody consent counts only for a practitioner with an open
//     emergency access, below), or a practitioner with an open emergency
//     access to the patient;
//   - oversight (emergency accesses only): owner, an admin of an
//     organization holding the patient's active emergency-custody consent
//     (they review the accesses), or an admin of an active regulator
//     organization.
const (
	groundOwner     = "owner"
	groundCare      = "care"
	groundOversight = "oversight"
)

// who is the authenticated signer of a request, with the state its
// authorization is judged in.
type who struct {
	acct   *accounts.Account
	latest *merkle.Snapshot
	now    int64
}

// guard decides whether w may be served r: nil allows; an error wrapping
// ErrForbidden refuses with 403, ErrBadRequest with 400.
type guard func(r *http.Request, w who) error

// access classes of routes, for the OpenAPI check.
const (
	accessPublic   = "public"
	accessSigned   = "signed"
	accessOptional = "optional" // signed when the request names patient data
)

// SignerCheck returns a reqsig Verifier.Authorize function: the claimed key
// must be the current key of an account that can sign in the latest
// committed state (a rotated account signs with its new key), or a live
// session key of such an account (x/session; the gateway then bounds what
// the session reads by its limits). latest returns that state and its block
// time (unix seconds). It runs before a signature is checked or a nonce
// stored.
func SignerCheck(latest func() (store.Reader, int64, error)) func(crypto.PubKey) error {
	return func(pub crypto.PubKey) error {
		kv, now, err := latest()
		if err != nil {
			return err
		}
		_, _, err = signerStanding(kv, pub, now)
		return err
	}
}

// signerStanding resolves the account pub signs for (its current key or a
// live session of it) and requires that it can sign.
func signerStanding(kv store.Reader, pub crypto.PubKey, now int64) (*accounts.Account, *session.Session, error) {
	a, sess, err := session.Reader(kv, pub, now)
	if err != nil {
		return nil, nil, fmt.Errorf("no account with key %s: %w", pub, err)
	}
	if !accounts.CanSign(kv, a) {
		return nil, nil, fmt.Errorf("account %s cannot sign (inactive, or its organization is)", a.Address)
	}
	return a, sess, nil
}

// handleSigned registers a route that requires a signed request allowed by g.
func (s *Server) handleSigned(pattern string, g guard, h http.HandlerFunc) {
	s.routeAccess[pattern] = accessSigned
	s.handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		if s.authorize(w, r, g) {
			h(w, r)
		}
	})
}

// handleSignedWho is handleSigned for a handler that needs the signer.
func (s *Server) handleSignedWho(pattern string, g guard, h func(http.ResponseWriter, *http.Request, who)) {
	s.routeAccess[pattern] = accessSigned
	s.handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		if me, ok := s.authorizeWho(w, r, g); ok {
			h(w, r, me)
		}
	})
}

// handleOptional registers a route that requires a signed request allowed
// by g only when needs(r) says the request names patient data.
func (s *Server) handleOptional(pattern string, needs func(r *http.Request) bool, g guard, h http.HandlerFunc) {
	s.routeAccess[pattern] = accessOptional
	s.handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !needs(r) || s.authorize(w, r, g) {
			h(w, r)
		}
	})
}

// authorize authenticates r and applies g, answering the refusal itself.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, g guard) bool {
	_, ok := s.authorizeWho(w, r, g)
	return ok
}

// authorizeWho is authorize, returning the authenticated signer too.
func (s *Server) authorizeWho(w http.ResponseWriter, r *http.Request, g guard) (who, bool) {
	if len(r.Header.Values(reqsig.HeaderSignature)) == 0 {
		writeErr(w, http.StatusUnauthorized, sm.Wrapf(ErrUnauthenticated,
			"this read names patient data: sign the request (X-Medchain-Signer, -Expires, -Nonce, -Signature; see docs/api.md)"))
		return who{}, false
	}
	pub, err := s.verifier.Verify(r, nil)
	if err != nil {
		ratelimit.SetRetryAfter(w.Header(), err)
		status := reqsig.StatusCode(err)
		base := ErrUnauthenticated
		switch status {
		case http.StatusForbidden:
			base = ErrForbidden
		case http.StatusTooManyRequests:
			base = ErrRateLimited
			s.limited.WithLabelValues("key").Inc()
		case http.StatusServiceUnavailable:
			base = ErrBusy
		}
		writeErr(w, status, sm.Wrapf(base, "%v", err))
		return who{}, false
	}
	latest, err := s.b.State(0)
	if err != nil {
		backendErr(w, err)
		return who{}, false
	}
	now := s.timeOf(latest)
	acct, sess, err := signerStanding(latest, pub, now)
	if err == nil && sess != nil {
		// A session's limits name records and types, not listings: a
		// session key reads records through the gateway only.
		err = fmt.Errorf("key %s is a session key: sign reads of patient listings with the account's key", pub)
	}
	if err != nil {
		writeErr(w, http.StatusForbidden, sm.Wrapf(ErrForbidden, "%v", err))
		return who{}, false
	}
	me := who{acct: acct, latest: latest, now: now}
	if err := g(r, me); err != nil {
		status := http.StatusForbidden
		if errors.Is(err, ErrBadRequest) {
			status = http.StatusBadRequest
		}
		writeErr(w, status, err)
		return who{}, false
	}
	return me, true
}

// grounds reports whether w may read patient's data of the given kind.
func (w who) grounds(patient crypto.Address, kind string) bool {
	kv, me := w.latest, w.acct
	if accounts.CanActFor(kv, me.Address, patient) {
		return true
	}
	switch kind {
	case groundCare:
		if w.openEmergency(patient) {
			return true
		}
		for _, c := range consent.ByPatient(kv, patient) {
			if c.ActiveAt(w.now) && c.Purpose != consent.PurposeEmergency && w.isGrantee(c.Grantee) {
				return true
			}
		}
	case groundOversight:
		if me.Kind != accounts.KindMember || me.Role != accounts.RoleAdmin {
			return false
		}
		if consent.Custody(kv, w.now, patient, me.Org) != nil {
			return true
		}
		return w.regulatorAdmin()
	}
	return false
}

// conditionedCare reports whether w's care grounds for patient rest only on
// consents with a condition (docs/policies.md): record metadata is then
// shown only for the records those consents allow w to read now, so a
// condition narrows the listings as it narrows reads. Call it once
// grounds(patient, groundCare) holds.
func (w who) conditionedCare(patient crypto.Address) bool {
	if accounts.CanActFor(w.latest, w.acct.Address, patient) || w.openEmergency(patient) {
		return false
	}
	for _, c := range consent.ByPatient(w.latest, patient) {
		if c.Condition == "" && c.ActiveAt(w.now) && c.Purpose != consent.PurposeEmergency && w.isGrantee(c.Grantee) {
			return false
		}
	}
	return true
}

// isGrantee: the party is w's account, or w's organization (w an active member).
func (w who) isGrantee(p consent.Party) bool {
	if p.Kind == consent.PartyAccount {
		return p.Address == w.acct.Address
	}
	return w.acct.Kind == accounts.KindMember && p.Org == w.acct.Org
}

func (w who) openEmergency(patient crypto.Address) bool {
	for _, e := range consent.EmergenciesOf(w.latest, patient) {
		if e.Practitioner == w.acct.Address && e.OpenAt(w.now) {
			return true
		}
	}
	return false
}

func (w who) regulatorAdmin() bool {
	o := accounts.AdminOrg(w.latest, w.acct.Address)
	return o != nil && o.Active && o.Type == "regulator"
}

func forbidden(format string, args ...any) error {
	return sm.Wrapf(ErrForbidden, format, args...)
}

// patientGuard allows a request whose {address} is a patient w may read
// with the given grounds.
func patientGuard(kind string) guard {
	return func(r *http.Request, w who) error {
		p, err := crypto.ParseAddress(r.PathValue("address"))
		if err != nil {
			return sm.Wrapf(ErrBadRequest, "%v", err)
		}
		if !w.grounds(p, kind) {
			return forbidden("%s may not read this data of patient %s (%s grounds needed)", w.acct.Address, p, kind)
		}
		return nil
	}
}

// recordGuard resolves the patient of the {id} record in the latest state.
// An unknown record is let through: the handler answers 404, which says
// nothing about any patient.
func recordGuard(r *http.Request, w who) error {
	id, err := ParseRecordID(r.PathValue("id"))
	if err != nil {
		return err
	}
	rec := records.GetRecord(w.latest, id)
	if rec == nil {
		return nil
	}
	if !w.grounds(rec.Patient, groundCare) {
		return forbidden("%s may not read record %x", w.acct.Address, id)
	}
	if rec.Erased == 0 && w.conditionedCare(rec.Patient) {
		// Grounds only from consents with a condition: this record's
		// metadata only while one of them allows reading it (the refusal
		// carries its code, consent/24 for a condition).
		if d := records.MayRead(w.latest, w.now, w.acct.Address, rec); !d.Allowed {
			return d.Err
		}
	}
	return nil
}

// accessGuard: a reader may ask about itself; otherwise as recordGuard but
// with owner grounds (who may read is the patient's business).
func accessGuard(r *http.Request, w who) error {
	id, err := ParseRecordID(r.PathValue("id"))
	if err != nil {
		return err
	}
	if q := r.URL.Query().Get("reader"); q == w.acct.Address.String() {
		return nil
	}
	rec := records.GetRecord(w.latest, id)
	if rec == nil || w.grounds(rec.Patient, groundOwner) {
		return nil
	}
	return forbidden("%s may ask only about its own access to record %x", w.acct.Address, id)
}

// consentGuard: the consent's patient (owner grounds) or its grantee.
func consentGuard(r *http.Request, w who) error {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		return sm.Wrapf(ErrBadRequest, "consent id must be a number")
	}
	c := consent.GetConsent(w.latest, id)
	if c == nil || w.isGrantee(c.Grantee) || w.grounds(c.Patient, groundOwner) {
		return nil
	}
	return forbidden("%s is neither the patient, a guardian nor the grantee of consent %d", w.acct.Address, id)
}

// granteeGuard: the grantee account itself, or an active member of the
// grantee organization.
func granteeGuard(r *http.Request, w who) error {
	p, err := ParseParty(r.PathValue("party"))
	if err != nil {
		return err
	}
	if !w.isGrantee(p) {
		return forbidden("%s may list only its own or its organization's consents", w.acct.Address)
	}
	return nil
}

// orgEmergencyGuard: an admin of the organization (its reviewers) or of a
// regulator.
func orgEmergencyGuard(r *http.Request, w who) error {
	if o := accounts.AdminOrg(w.latest, w.acct.Address); o != nil && (o.ID == r.PathValue("id") || w.regulatorAdmin()) {
		return nil
	}
	return forbidden("%s is not an admin of organization %q or of a regulator", w.acct.Address, r.PathValue("id"))
}

// patientAccountPath reports whether the {address} of r may hold patient
// data: a patient account, or an address with no account (the transaction
// index lists a session's or a rotated key's transactions under the key's
// own address, not the account's), whose list then needs a signature.
func (s *Server) patientAccountPath(r *http.Request) bool {
	a, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		return false // the handler answers 400
	}
	latest, err := s.b.State(0)
	if err != nil {
		return true // fail closed
	}
	acct := accounts.GetAccount(latest, a)
	return acct == nil || acct.Kind == accounts.KindPatient
}

// patientKeyGuard and patientKey protect /v1/proof: a proof of a key that
// holds patient data (a record, its versions and wrapped keys, a consent, an
// emergency access, an audit event, a guardian delegation) needs owner or
// care grounds for that patient; a proof that such a key is absent names no
// patient and stays public.
func (s *Server) patientProofKey(r *http.Request) bool {
	key, err := proofKey(r)
	if err != nil {
		return false // the handler answers 400
	}
	latest, err := s.b.State(0)
	if err != nil {
		return true
	}
	_, named := patientOfKey(latest, key)
	if _, scoped, _ := trials.TrialOfKey(key); scoped {
		return true // a participation or an anchor: names participants
	}
	return named
}

func patientKeyGuard(r *http.Request, w who) error {
	key, err := proofKey(r)
	if err != nil {
		return err
	}
	if _, scoped, _ := trials.TrialOfKey(key); scoped {
		if trialKeyAllowed(w.latest, key, w.acct) {
			return nil
		}
		return forbidden("%s may not read this trial participant-level state (docs/trials.md)", w.acct.Address)
	}
	p, named := patientOfKey(w.latest, key)
	if !named || w.grounds(p, groundCare) {
		return nil
	}
	return forbidden("%s may not read patient %s's state", w.acct.Address, p)
}

// patientOfKey names the patient whose data a state key holds, if any.
func patientOfKey(kv store.Reader, key []byte) (crypto.Address, bool) {
	var none crypto.Address
	if len(key) == 0 {
		return none, false
	}
	body := key[1:]
	addrAt := func() (crypto.Address, bool) {
		var a crypto.Address
		if len(body) < len(a) {
			return none, false
		}
		copy(a[:], body)
		return a, true
	}
	switch key[0] {
	case sm.PrefixGuardian, sm.PrefixAudit:
		return addrAt()
	case sm.PrefixRecord, sm.PrefixRecordVersion, sm.PrefixRecordKey, sm.PrefixSessionDataKey:
		var id consent.RecordID
		if len(body) < len(id) {
			return none, false
		}
		copy(id[:], body)
		if rec := records.GetRecord(kv, id); rec != nil {
			return rec.Patient, true
		}
	case sm.PrefixConsent:
		if len(body) == 8 {
			if c := consent.GetConsent(kv, beUint64(body)); c != nil {
				return c.Patient, true
			}
		}
	case sm.PrefixEmergency:
		if len(body) == 8 {
			if e := consent.GetEmergency(kv, beUint64(body)); e != nil {
				return e.Patient, true
			}
		}
	case sm.PrefixTelemedBooking, sm.PrefixTelemedByParty, sm.PrefixResearchOptIn, sm.PrefixResearchByPatient:
		return patientOfEscrowKey(kv, key)
	case sm.PrefixFeesAllowance:
		// granter ‖ grantee: an allowance to a patient tells which
		// organization pays for the patient.
		if len(body) == 40 {
			var g crypto.Address
			copy(g[:], body[20:])
			if a := accounts.GetAccount(kv, g); a != nil && a.Kind == accounts.KindPatient {
				return g, true
			}
		}
	case sm.PrefixLink:
		if v := kv.Get(key); v != nil {
			if l, err := links.DecodeLink(v); err == nil {
				return l.Patient, true
			}
		}
	case sm.PrefixPolicyEncounter, sm.PrefixPolicyRule:
		return patientOfPolicyKey(kv, key)
	case sm.PrefixAccount:
		// A patient's account is public like every account (its keys are
		// what others wrap data keys to); it holds no health data.
	}
	return none, false
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// patientTxPrefixes are the transaction types whose events and logs name
// patients, records or accessors.
var patientTxPrefixes = []string{"records/", "consent/", "audit/", "accounts/set_guardian", "accounts/revoke_guardian",
	"trials/consent", "trials/enroll", "trials/withdraw", "trials/anchor", "fees/grant", "fees/revoke", "policy/"}

// redactPatientData removes, from a transaction result served publicly,
// what names patient data: the events and log of a patient-scoped
// transaction (its hash, height, code, type and signer stay). The chain
// itself is replicated to every consortium node; the public API does not
// index it by patient.
func redactPatientData(res *TxResult) {
	for _, p := range patientTxPrefixes {
		if strings.HasPrefix(res.Type, p) {
			res.Events, res.Log, res.Redacted = nil, "", true
			return
		}
	}
}

// signedBy reports whether r carries a valid signed request by the account
// signer (an "mc…" address). A request without signature headers is not;
// one with bad headers is not either (the route stays public).
func (s *Server) signedBy(r *http.Request, signer string) bool {
	if len(r.Header.Values(reqsig.HeaderSignature)) == 0 {
		return false
	}
	pub, err := s.verifier.Verify(r, nil)
	return err == nil && pub.Address().String() == signer
}
