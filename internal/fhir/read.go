package fhir

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/internal/blob"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy/cond"
	"github.com/medchain/medchain/x/records"
)

// Resource types the chain itself answers for (views of consents, of the
// trail and of clinical trials); they are never stored as records.
var chainViews = map[string]bool{"Consent": true, "AuditEvent": true, "ResearchStudy": true, "ResearchSubject": true}

func knownType(t string) bool { return fhirr4.IsResourceType(t) }

// storable reports whether resources of type t become records.
func storable(t string) bool { return fhirr4.IsResourceType(t) && t != "Bundle" && !chainViews[t] }

// parseID parses a resource id: a record id, 32 lowercase hex digits.
func parseID(s string) (consent.RecordID, bool) {
	var id consent.RecordID
	if len(s) != 2*consent.RecordIDSize || strings.ToLower(s) != s {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, false
	}
	return id, true
}

func idString(id consent.RecordID) string { return hex.EncodeToString(id[:]) }

// lookup finds the record typ/id: 404 when there is none of that type, 410
// when it was erased.
func lookup(rq *request, typ, idStr string) (*records.Record, *problem) {
	id, ok := parseID(idStr)
	if !ok {
		return nil, failf(http.StatusNotFound, "not-found", ErrNotFound, "%s/%s: ids are 32 lowercase hex digits", typ, idStr)
	}
	rec := records.GetRecord(rq.snap, id)
	if rec == nil || rec.Type != typ {
		return nil, failf(http.StatusNotFound, "not-found", ErrNotFound, "%s/%s", typ, idStr)
	}
	if rec.Erased != 0 {
		return rec, failf(http.StatusGone, "deleted", ErrGone, "%s/%s was erased at %s", typ, idStr, fhirInstant(rec.Erased))
	}
	return rec, nil
}

func fhirInstant(unix int64) string { return unixTime(unix).Format(time.RFC3339) }

func unixTime(unix int64) time.Time { return time.Unix(unix, 0).UTC() }

func sABCIErr(err error) (uint32, string, string) { return sm.ABCIInfo(err) }

// report adds an access to the trail: a served read, or a refusal with its
// code — by consent, or because the node could not serve what consent
// allowed (no delegation, a key held elsewhere, no ciphertext). The
// session's signed token request goes with it, so the chain can check that
// the accessor asked. An error means the access is not recorded: a read
// must then not be served.
func (s *Server) report(rq *request, rec *records.Record, version uint32, d consent.Decision, why error) error {
	return s.cfg.Auditor.Report(audit.Access(rec, version, rq.sess.addr, s.cfg.Now().Unix(), d, why, rq.sess.grant))
}

// notRecorded is the answer to a read whose access could not be recorded.
func notRecorded(err error) *problem {
	return failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "the access could not be recorded, so it is not served: %v", err)
}

// refused is the 403 of a consent refusal, carrying the chain's code.
func refused(d consent.Decision) *problem {
	return fail(http.StatusForbidden, "forbidden", d.Err)
}

// orgBasis finds an active read consent to the gateway's organization that
// covers the target, for a reader who is an active member of it.
func orgBasis(rq *request, t consent.Target) (consent.Decision, bool) {
	m := accounts.ActiveMember(rq.snap, rq.sess.addr)
	if m == nil || m.Org != rq.org {
		return consent.Decision{}, false
	}
	for _, c := range consent.Between(rq.snap, t.Patient, consent.Org(rq.org)) {
		if c.Actions&consent.ActRead != 0 && c.Purpose != consent.PurposeEmergency && c.ActiveAt(rq.now) && c.Covers(t.Record, t.Type) {
			d := consent.Decision{Allowed: true, Basis: consent.BasisOrg, ConsentID: c.ID, Recipient: consent.Org(rq.org)}
			if c.Condition != "" {
				d.Condition = cond.Hash(c.Condition)
			}
			// Grounds evaluates the consent's condition: a consent whose
			// condition refuses this access is no basis for it.
			if consent.Grounds(rq.snap, rq.now, rq.sess.addr, t, consent.ActRead, d) == nil {
				return d, true
			}
		}
	}
	return consent.Decision{}, false
}

// dataKey opens the data key of a version for an allowed read: with the
// delegated user key when it was wrapped to the reader, else with the
// organization key when it was wrapped to this node's organization. It
// returns the decision the read is served under.
func (s *Server) dataKey(rq *request, rec *records.Record, v uint32, d consent.Decision) ([envelope.DataKeySize]byte, consent.Decision, *problem) {
	var none [envelope.DataKeySize]byte
	if !rq.sess.covers(rq.snap, rq.now, rec) {
		return none, d, failf(http.StatusForbidden, "forbidden", ErrScope, "%s/%s is outside the token's on-chain session limits", rec.Type, idString(rec.ID))
	}
	byOrg := func(d consent.Decision) ([envelope.DataKeySize]byte, consent.Decision, *problem) {
		if dk, ok := s.orgKeys.get(rec.ID, v); ok {
			return dk, d, nil
		}
		wk := records.GetKey(rq.snap, rec.ID, v, d.Recipient)
		if wk == nil {
			return none, d, failf(http.StatusForbidden, "forbidden", ErrNotShared, "%s/%s version %d has no key for %s", rec.Type, idString(rec.ID), v, d.Recipient)
		}
		dk, err := envelope.Unwrap(s.cfg.Key.ECDH(), envelope.WrappedKey{Enc: wk.Enc, CT: wk.CT}, rec.ID, v)
		if err != nil {
			s.cfg.Log.Error("the organization key does not open a key wrapped to the organization", "org", rq.org, "err", err)
			return none, d, failf(http.StatusInternalServerError, "exception", ErrUnavailable, "the organization key does not open this record's key")
		}
		s.orgKeys.put(rec.ID, v, dk)
		return dk, d, nil
	}
	switch {
	case d.Recipient.Kind == consent.PartyOrg && d.Recipient.Org == rq.org:
		return byOrg(d)
	case d.Recipient.Kind == consent.PartyOrg:
		return none, d, failf(http.StatusForbidden, "forbidden", ErrOtherOrg, "read %s/%s through a node of %s", rec.Type, idString(rec.ID), d.Recipient.Org)
	}
	key := rq.sess.delegated()
	var wk *records.WrappedKey
	if key != nil {
		if dk, ok := rq.sess.keys.get(rec.ID, v); ok {
			return dk, d, nil
		}
		wk = rq.sess.wrappedKey(rq.snap, rq.now, rec, v) // wrapped to the session key, never the account's
	}
	if wk == nil {
		// The key wrapped to the reader is out of reach (no delegation) or
		// not there (not shared yet): a consent to the organization may do.
		if od, ok := orgBasis(rq, rec.Target()); ok {
			return byOrg(od)
		}
		if key == nil {
			return none, d, failf(http.StatusForbidden, "forbidden", ErrNoDelegation,
				"%s/%s is readable by you (%s) but its key is wrapped to you: ask for a token with a session delegation", rec.Type, idString(rec.ID), d.Basis)
		}
		return none, d, failf(http.StatusForbidden, "forbidden", ErrNotShared, "%s/%s version %d", rec.Type, idString(rec.ID), v)
	}
	dk, err := envelope.Unwrap(key.ECDH(), envelope.WrappedKey{Enc: wk.Enc, CT: wk.CT}, rec.ID, v)
	if err != nil {
		return none, d, failf(http.StatusInternalServerError, "exception", ErrUnavailable, "your key does not open this record's key")
	}
	rq.sess.keys.put(rec.ID, v, dk)
	return dk, d, nil
}

// open decides, decrypts and reports one read of a record version. The
// plaintext is the stored resource (canonical JSON with its id, without
// meta.versionId and meta.lastUpdated).
func (s *Server) open(ctx context.Context, rq *request, rec *records.Record, ver *records.Version) ([]byte, *problem) {
	d := records.MayRead(rq.snap, rq.now, rq.sess.addr, rec)
	if !d.Allowed {
		_ = s.report(rq, rec, ver.Version, d, d.Err)
		return nil, refused(d)
	}
	pt, d, p := s.decrypt(ctx, rq, rec, ver, d)
	if p != nil {
		_ = s.report(rq, rec, ver.Version, d, p.err)
		return nil, p
	}
	if err := s.report(rq, rec, ver.Version, d, nil); err != nil {
		clear(pt)
		return nil, notRecorded(err)
	}
	return pt, nil
}

// decrypt opens a version under an allowed decision, without reporting it;
// it returns the decision the read is served under. A decision under a
// consent with a condition is made again with the codes of the plaintext
// (recheckCodes), before anything of it leaves: every path that decrypts
// (read, vread, history, search, $everything, export) enforces a condition
// over codes here. A refusal returns the refusing decision and a 403.
func (s *Server) decrypt(ctx context.Context, rq *request, rec *records.Record, ver *records.Version, d consent.Decision) ([]byte, consent.Decision, *problem) {
	pt, d, p := s.decryptOnly(ctx, rq, rec, ver, d)
	if p != nil {
		return nil, d, p
	}
	d2 := recheckCodes(rq, rec.Target(), d, pt)
	if !d2.Allowed {
		clear(pt)
		return nil, d2, refused(d2)
	}
	return pt, d2, nil
}

func (s *Server) decryptOnly(ctx context.Context, rq *request, rec *records.Record, ver *records.Version, d consent.Decision) ([]byte, consent.Decision, *problem) {
	dk, d, p := s.dataKey(rq, rec, ver.Version, d)
	if p != nil {
		return nil, d, p
	}
	defer clear(dk[:])
	ct, err := s.ciphertext(ctx, rq, ver.ContentHash)
	if err != nil {
		return nil, d, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "ciphertext of %s/%s version %d: %v", rec.Type, idString(rec.ID), ver.Version, err)
	}
	pt, err := envelope.Open(ct, dk, rec.ID, rec.Patient)
	if err != nil {
		return nil, d, failf(http.StatusInternalServerError, "exception", ErrUnavailable, "%s/%s version %d does not decrypt", rec.Type, idString(rec.ID), ver.Version)
	}
	return pt, d, nil
}

// ciphertext returns a blob from this node's store, or from a peer (asked
// with a request signed by the reader's delegated key, else the gateway's).
func (s *Server) ciphertext(ctx context.Context, rq *request, h blob.Hash) ([]byte, error) {
	data, err := s.cfg.Blobs.Get(ctx, h)
	if err == nil || !(errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrCorrupt)) {
		return data, err
	}
	key := rq.sess.delegated()
	if key == nil {
		key = s.cfg.Key
	}
	var errs []error
	for _, peer := range s.cfg.Peers {
		data, err := s.fetch(ctx, peer, key, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", peer, err))
			continue
		}
		if err := s.cfg.Blobs.PutExpect(ctx, h, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("not stored on this node, and no peers configured")
	}
	return nil, errors.Join(errs...)
}

func (s *Server) fetch(ctx context.Context, peer string, key *crypto.PrivKey, h blob.Hash) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(peer, "/")+"/v1/blobs/"+blob.HashString(h), nil)
	if err != nil {
		return nil, err
	}
	if err := reqsig.Sign(req, key, s.cfg.Chain.ChainID(), s.cfg.Now(), 2*time.Minute, nil); err != nil {
		return nil, err
	}
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	return blob.ReadResponse(resp, h, envelope.MaxCiphertext)
}

func etag(v uint32) string { return `W/"` + strconv.FormatUint(uint64(v), 10) + `"` }

func setVersionHeaders(w http.ResponseWriter, ver *records.Version) {
	w.Header().Set("ETag", etag(ver.Version))
	w.Header().Set("Last-Modified", time.Unix(ver.Created, 0).UTC().Format(http.TimeFormat))
}

// read serves read (vid empty) and vread.
func (s *Server) read(w http.ResponseWriter, rq *request, typ, idStr, vid string) {
	if chainViews[typ] {
		writeProblem(w, failf(http.StatusMethodNotAllowed, "not-supported", ErrNotSupported, "%s is served by search only: GET /fhir/%s?patient=", typ, typ))
		return
	}
	rec, p := lookup(rq, typ, idStr)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if !grants(rq.sess.scopes, typ, permRead, rec.Patient, rq.sess.patient) {
		writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrScope, "the token's scopes (%s) do not allow reading %s of %s", rq.sess.scope, typ, rec.Patient))
		return
	}
	v := rec.Version
	if vid != "" {
		n, err := strconv.ParseUint(vid, 10, 32)
		if err != nil || n == 0 || n > uint64(rec.Version) {
			writeProblem(w, failf(http.StatusNotFound, "not-found", ErrNotFound, "%s/%s has versions 1 to %d", typ, idStr, rec.Version))
			return
		}
		v = uint32(n)
	}
	ver := records.GetVersion(rq.snap, rec.ID, v)
	if ver == nil {
		writeProblem(w, failf(http.StatusNotFound, "not-found", ErrNotFound, "%s/%s version %d", typ, idStr, v))
		return
	}
	pt, p := s.open(rq.r.Context(), rq, rec, ver)
	if p != nil {
		writeProblem(w, p)
		return
	}
	body, err := render(pt, ver)
	clear(pt)
	if err != nil {
		writeProblem(w, failf(http.StatusInternalServerError, "exception", ErrUnavailable, "stored resource: %v", err))
		return
	}
	setVersionHeaders(w, ver)
	writeResource(w, http.StatusOK, body)
}

// history serves GET /fhir/{type}/{id}/_history: every version the reader
// can open, newest first.
func (s *Server) history(w http.ResponseWriter, rq *request, typ, idStr string) {
	if chainViews[typ] {
		writeProblem(w, failf(http.StatusMethodNotAllowed, "not-supported", ErrNotSupported, "%s has no history here", typ))
		return
	}
	rec, p := lookup(rq, typ, idStr)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if !grants(rq.sess.scopes, typ, permRead, rec.Patient, rq.sess.patient) {
		writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrScope, "the token's scopes (%s) do not allow reading %s of %s", rq.sess.scope, typ, rec.Patient))
		return
	}
	if d := records.MayRead(rq.snap, rq.now, rq.sess.addr, rec); !d.Allowed {
		_ = s.report(rq, rec, rec.Version, d, d.Err)
		writeProblem(w, refused(d))
		return
	}
	var entries []any
	var first *problem
	for v := rec.Version; v >= 1; v-- {
		ver := records.GetVersion(rq.snap, rec.ID, v)
		if ver == nil {
			continue
		}
		pt, p := s.open(rq.r.Context(), rq, rec, ver)
		if p != nil {
			if first == nil {
				first = p
			}
			continue // a version whose key the reader cannot open is left out
		}
		body, err := render(pt, ver)
		clear(pt)
		if err != nil {
			continue
		}
		method, status := http.MethodPut, "200 OK"
		if v == 1 {
			method, status = http.MethodPost, "201 Created"
		}
		url := typ + "/" + idStr
		if v == 1 {
			url = typ
		}
		entries = append(entries, map[string]any{
			"fullUrl":  rq.base + "/" + typ + "/" + idStr,
			"resource": json.RawMessage(body),
			"request":  map[string]any{"method": method, "url": url},
			"response": map[string]any{"status": status, "etag": etag(v), "lastModified": fhirInstant(ver.Created)},
		})
	}
	if len(entries) == 0 && first != nil {
		writeProblem(w, first)
		return
	}
	out := map[string]any{"resourceType": "Bundle", "type": "history", "total": len(entries),
		"link": []any{map[string]any{"relation": "self", "url": rq.base + "/" + typ + "/" + idStr + "/_history"}}}
	if len(entries) > 0 {
		out["entry"] = entries
	}
	writeJSONValue(w, http.StatusOK, out)
}
