package fhir

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/links"
	"github.com/medchain/medchain/x/records"
)

// Errors of patient linking and conditional interactions. Codes 30 and up,
// clear of codes other FHIR features may add.
var (
	ErrNotLinked   = sm.Register(Codespace, 30, "the Patient names no linked medchain patient: link its identifier (medchain link add) or give it a urn:medchain:address identifier")
	ErrNoLinkKey   = sm.Register(Codespace, 31, "this node has no patient-link key: linked identifiers and conditional interactions need the organization's link key (medchain link keygen)")
	ErrConditional = sm.Register(Codespace, 32, "unsupported conditional criteria: use identifier=system|value or _id=ID")
)

// RecordIDDomain starts the bytes a conditional record id is derived from.
const RecordIDDomain = "medchain/fhir-record-id/v1"

// identifier is a FHIR Identifier's system and value.
type identifier struct{ system, value string }

// identifiers lists a resource's identifiers that have both a system and a
// value, in order.
func identifiers(res map[string]any) []identifier {
	list, _ := res["identifier"].([]any)
	var out []identifier
	for _, x := range list {
		m, _ := x.(map[string]any)
		if sys, val := str(m["system"]), str(m["value"]); sys != "" && val != "" {
			out = append(out, identifier{sys, val})
		}
	}
	return out
}

// criteria are parsed conditional criteria: one identifier, or one id.
type criteria struct {
	id    *identifier
	recID consent.RecordID
	hasID bool
}

// key is the canonical text a conditional record id is derived from.
func (c criteria) key() string { return "identifier=" + c.id.system + "|" + c.id.value }

// parseCriteria reads conditional criteria (the query of If-None-Exist,
// ifNoneExist, a conditional update's URL or a conditional reference):
// exactly one identifier=system|value, or one _id.
func parseCriteria(q string) (criteria, *problem) {
	bad := func(format string, args ...any) (criteria, *problem) {
		return criteria{}, failf(http.StatusBadRequest, "not-supported", ErrConditional, format, args...)
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return bad("criteria %q: %v", q, err)
	}
	if len(vals) != 1 {
		return bad("criteria %q: give exactly one of identifier=system|value or _id=ID", q)
	}
	if ids, ok := vals["_id"]; ok {
		if len(ids) != 1 {
			return bad("one _id")
		}
		id, ok := parseID(ids[0])
		if !ok {
			return bad("_id %q: not an id of this server", ids[0])
		}
		return criteria{recID: id, hasID: true}, nil
	}
	toks, ok := vals["identifier"]
	if !ok || len(toks) != 1 {
		return bad("criteria %q: give exactly one of identifier=system|value or _id=ID", q)
	}
	sys, val, found := strings.Cut(toks[0], "|")
	if !found || sys == "" || val == "" || strings.Contains(val, ",") {
		return bad("identifier %q: want one system|value, both given", toks[0])
	}
	return criteria{id: &identifier{sys, val}}, nil
}

// derivedID is the record id of the resource of type typ of patient that
// conditional criteria (or an import's identity key) name at this
// organization: HMAC-SHA256 under the organization's link key of
// RecordIDDomain ‖ 0x00 ‖ org ‖ patient ‖ typ ‖ key, first 16 bytes. The
// same import, conditional create or conditional reference finds the same
// record again without reading any content; the id reveals nothing of the
// key without the organization's secret.
func derivedID(r *links.Resolver, patient crypto.Address, typ, key string) consent.RecordID {
	w := codec.NewWriter(96 + len(key))
	w.Fixed([]byte(RecordIDDomain))
	w.Fixed([]byte{0})
	w.String(r.Org)
	w.Fixed(patient[:])
	w.String(typ)
	w.String(key)
	h := hmac.New(sha256.New, r.Key[:])
	h.Write(w.Bytes())
	var id consent.RecordID
	copy(id[:], h.Sum(nil))
	return id
}

// importKey is an entry's identity for an import: its ifNoneExist criteria,
// else its first identifier, else its fullUrl, else the id it was sent
// with; "" when it has none (it gets a random id).
func importKey(res map[string]any, fullURL string, c *criteria) string {
	if c != nil && c.id != nil {
		return c.key()
	}
	if ids := identifiers(res); len(ids) > 0 {
		return criteria{id: &ids[0]}.key()
	}
	if fullURL != "" {
		return "fullUrl=" + fullURL
	}
	if id := str(res["id"]); id != "" {
		return "id=" + id
	}
	return ""
}

// resolver is the organization's link resolver, when this node has the
// organization's link key.
func (s *Server) resolver(rq *request) *links.Resolver {
	if r := s.cfg.Links; r != nil && r.Org == rq.org {
		return r
	}
	return nil
}

// existing finds the live record of patient a conditional id names: the
// record when it exists, is of typ and the patient's; erased is true when it
// was erased (an import does not bring it back).
func existing(rq *request, id consent.RecordID, typ string, patient crypto.Address) (rec *records.Record, erased bool) {
	rec = records.GetRecord(rq.snap, id)
	if rec == nil || rec.Type != typ || rec.Patient != patient {
		return nil, false
	}
	return rec, rec.Erased != 0
}

// linkedPatient resolves a Patient resource without an address identifier
// through the organization's patient links.
func (s *Server) linkedPatient(rq *request, res map[string]any) (crypto.Address, *problem) {
	ids := identifiers(res)
	if len(ids) == 0 {
		return crypto.Address{}, unprocessable("a Patient needs an identifier: with system %s naming its medchain patient, or one of %s's identifiers (an MRN) linked to the patient (medchain link add)", SystemAddress, rq.org)
	}
	r := s.resolver(rq)
	if r == nil {
		return crypto.Address{}, fail(http.StatusUnprocessableEntity, "processing", sm.Wrapf(ErrNoLinkKey,
			"a Patient needs an identifier with system %s naming its medchain patient, or this node needs %s's link key (config/link_key.json) to resolve its identifiers", SystemAddress, rq.org))
	}
	var found []crypto.Address
	for _, id := range ids {
		if l := r.Resolve(rq.snap, id.system, id.value); l != nil && !slices.Contains(found, l.Patient) {
			found = append(found, l.Patient)
		}
	}
	switch len(found) {
	case 1:
		return patientAddress(rq, found[0])
	case 0:
		var systems []string
		for _, id := range ids {
			if !slices.Contains(systems, id.system) {
				systems = append(systems, id.system)
			}
		}
		sys := systems[0]
		// The values are the organization's identifiers (MRNs): they are not
		// repeated here, so the outcome can be logged safely.
		return crypto.Address{}, fail(http.StatusUnprocessableEntity, "processing", sm.Wrapf(ErrNotLinked,
			"none of the Patient's identifiers (systems %s) is linked to a medchain patient of %s. Link the patient once, with the patient's approval (medchain link approve) or under the patient's consent to %s: "+
				"medchain link add --from MEMBER --patient ADDRESS --system %s --value VALUE; or add the identifier {\"system\": %q, \"value\": \"mc…\"}",
			strings.Join(systems, ", "), rq.org, rq.org, sys, SystemAddress))
	}
	return crypto.Address{}, unprocessable("the Patient's identifiers are linked to %d different medchain patients", len(found))
}

// conditionalPatient resolves a conditional Patient reference
// (Patient?identifier=system|value): an address identifier, or a link.
func (s *Server) conditionalPatient(rq *request, q string) (crypto.Address, *problem) {
	c, p := parseCriteria(q)
	if p != nil {
		return crypto.Address{}, p
	}
	if c.hasID {
		rec := records.GetRecord(rq.snap, c.recID)
		if rec == nil || rec.Erased != 0 || rec.Type != "Patient" {
			return crypto.Address{}, unprocessable("Patient?_id=%s is not a Patient of this server", idString(c.recID))
		}
		return rec.Patient, nil
	}
	if c.id.system == SystemAddress {
		a, err := crypto.ParseAddress(c.id.value)
		if err != nil {
			return a, unprocessable("Patient?identifier=%s|…: %v", SystemAddress, err)
		}
		return patientAddress(rq, a)
	}
	return s.linkedPatient(rq, map[string]any{"identifier": []any{map[string]any{"system": c.id.system, "value": c.id.value}}})
}

// condRef is a conditional reference's target: type and criteria.
func condRef(ref string) (typ, q string, ok bool) {
	typ, q, ok = strings.Cut(ref, "?")
	if !ok || !knownType(typ) || q == "" {
		return "", "", false
	}
	return typ, q, true
}

// resolveConditionalRefs rewrites, anywhere in v, conditional references
// (Type?identifier=system|value, Type?_id=ID) that resolve: to an entry of
// the same Bundle of that type carrying the identifier (or made with those
// ifNoneExist criteria), else to the patient's record of that type the
// same criteria made at this organization (a conditional create or an
// import; see derivedID). Others are left as they are.
func (s *Server) resolveConditionalRefs(rq *request, v any, patient crypto.Address, inBundle func(typ string, id identifier) string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k != "reference" {
				s.resolveConditionalRefs(rq, e, patient, inBundle)
				continue
			}
			ref, _ := e.(string)
			typ, q, ok := condRef(ref)
			if !ok {
				continue
			}
			c, p := parseCriteria(q)
			if p != nil {
				continue
			}
			if c.hasID {
				if rec := records.GetRecord(rq.snap, c.recID); rec != nil && rec.Type == typ && rec.Erased == 0 {
					x[k] = typ + "/" + idString(rec.ID)
				}
				continue
			}
			if inBundle != nil {
				if to := inBundle(typ, *c.id); to != "" {
					x[k] = to
					continue
				}
			}
			if r := s.resolver(rq); r != nil && !patient.IsZero() {
				if rec, erased := existing(rq, derivedID(r, patient, typ, c.key()), typ, patient); rec != nil && !erased {
					x[k] = typ + "/" + idString(rec.ID)
				}
			}
		}
	case []any:
		for _, e := range x {
			s.resolveConditionalRefs(rq, e, patient, inBundle)
		}
	}
}

// existsNote says why a conditional create stored nothing: the resource
// already exists.
func existsNote(typ string, rec *records.Record) string {
	return fmt.Sprintf("%s/%s already exists (version %d): nothing stored", typ, idString(rec.ID), rec.Version)
}

// unchanged reports whether a conditional update would store what the
// record's current version already holds, so that a re-import writes no
// new version. It needs to read that version — a read like any other:
// decided by consent, opened with a key this node may use, and reported to
// the trail; when the writer may not read it, the update is written.
func (s *Server) unchanged(rq *request, d *draft) bool {
	rec := records.GetRecord(rq.snap, d.id)
	if rec == nil || rec.Erased != 0 || rec.Version != d.version-1 {
		return false
	}
	ver := records.GetVersion(rq.snap, rec.ID, rec.Version)
	if ver == nil {
		return false
	}
	if p := finish(d); p != nil {
		return false
	}
	dec := records.MayRead(rq.snap, rq.now, rq.sess.addr, rec)
	if !dec.Allowed {
		return false
	}
	pt, dec, p := s.decrypt(rq.r.Context(), rq, rec, ver, dec)
	if p != nil {
		return false
	}
	defer clear(pt)
	if s.report(rq, rec, ver.Version, dec, nil) != nil {
		return false
	}
	if bytes.Equal(pt, d.content) {
		return true
	}
	eq, err := fhirr4.Equal(pt, d.content)
	return err == nil && eq
}
