package fhir

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/internal/fhirsubject"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
	xsession "github.com/medchain/medchain/x/session"
)

// SystemAddress is the identifier system of a medchain account address; a
// Patient resource names its medchain patient with it.
const SystemAddress = fhirsubject.SystemAddress

// draft is one resource on its way to becoming a record version.
type draft struct {
	entry   int    // Bundle entry index; -1 outside a Bundle
	prefix  string // path prefix of its issues
	typ     string
	id      consent.RecordID
	version uint32 // the version it will be
	patient crypto.Address
	res     map[string]any // the resource as sent (references rewritten)
	content []byte         // canonical JSON with its id: what is encrypted
	hash    [32]byte
	msg     *records.MsgAdd
	ver     *records.Version // once committed
	// dk is the data key, kept until the version commits so that the
	// session that wrote it can read it back (the chain wraps it to the
	// account, never to the session); zeroed then.
	dk [envelope.DataKeySize]byte
}

// decodeJSON decodes a JSON object keeping numbers as written.
func decodeJSON(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func str(v any) string { s, _ := v.(string); return s }

// subjectRef is the resource's patient reference: the element FHIR R4
// defines for its type (subject, patient or beneficiary), as
// internal/fhirsubject reads it for every write path.
func subjectRef(typ string, res map[string]any) (string, bool) {
	return fhirsubject.Reference(typ, res)
}

// addressIdentifier finds a Patient's urn:medchain:address identifier.
func addressIdentifier(res map[string]any) (string, bool) {
	return fhirsubject.AddressIdentifier(res)
}

// otherPatient refuses a write whose resource names another patient than
// the record it would be a version of.
func otherPatient(typ string, named, filed crypto.Address) *problem {
	return fail(http.StatusUnprocessableEntity, "processing", sm.Wrapf(fhirsubject.ErrOtherPatient,
		"%s names patient %s, but the record is filed under %s: a new version keeps the record's patient", typ, named, filed))
}

// rewriteRefs replaces, anywhere in v, Reference.reference values found in
// m (a Bundle's fullUrl → "Type/id").
func rewriteRefs(v any, m map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "reference" {
				if s, ok := e.(string); ok {
					if to, ok := m[s]; ok {
						x[k] = to
					}
				}
				continue
			}
			rewriteRefs(e, m)
		}
	case []any:
		for _, e := range x {
			rewriteRefs(e, m)
		}
	}
}

// localRef is a Bundle entry as other entries may reference it.
type localRef struct {
	ref     string         // "Type/id"
	typ     string         // its resource type
	patient crypto.Address // for a Patient entry
}

func unprocessable(format string, args ...any) *problem {
	return failf(http.StatusUnprocessableEntity, "processing", ErrUnprocessable, format, args...)
}

// patientAddress checks that a is a registered patient.
func patientAddress(rq *request, a crypto.Address) (crypto.Address, *problem) {
	if p := accounts.GetAccount(rq.snap, a); p == nil || p.Kind != accounts.KindPatient {
		return a, unprocessable("%s is not a registered medchain patient", a)
	}
	return a, nil
}

// resolvePatientRef resolves a reference to a patient: "Patient/{record id
// of a Patient resource}", "Patient/mc…" (an address), either under this
// server's base URL, or a Bundle entry's fullUrl.
func resolvePatientRef(rq *request, ref string, local map[string]localRef) (crypto.Address, *problem) {
	if l, ok := local[ref]; ok {
		if l.typ != "Patient" {
			return crypto.Address{}, unprocessable("reference %q is a %s, not a Patient", ref, l.typ)
		}
		return l.patient, nil
	}
	if q, ok := strings.CutPrefix(strings.TrimPrefix(ref, rq.base+"/"), "Patient?"); ok && rq.srv != nil {
		return rq.srv.conditionalPatient(rq, q)
	}
	lookup := func(id consent.RecordID) (crypto.Address, string, bool) {
		rec := records.GetRecord(rq.snap, id)
		if rec == nil || rec.Erased != 0 {
			return crypto.Address{}, "", false
		}
		return rec.Patient, rec.Type, true
	}
	a, err := fhirsubject.Resolve(ref, rq.base, lookup)
	if err != nil {
		return a, fail(http.StatusUnprocessableEntity, "processing", sm.Wrapf(ErrUnprocessable, "%v", err))
	}
	return patientAddress(rq, a)
}

// patientOf finds the medchain patient a resource is about. fallback is used
// for resources with no subject or patient element (the one patient of a
// Bundle, or the token's patient).
func patientOf(rq *request, typ string, res map[string]any, local map[string]localRef, fallback crypto.Address) (crypto.Address, *problem) {
	if typ == "Patient" {
		v, ok := addressIdentifier(res)
		if !ok && rq.srv != nil && rq.srv.cfg.Links != nil {
			return rq.srv.linkedPatient(rq, res)
		}
		if !ok {
			hint := ""
			if !rq.sess.patient.IsZero() {
				hint = fmt.Sprintf(" (for example {\"system\": %q, \"value\": %q})", SystemAddress, rq.sess.patient)
			}
			return crypto.Address{}, unprocessable("a Patient needs an identifier with system %s naming its medchain patient%s", SystemAddress, hint)
		}
		a, err := crypto.ParseAddress(v)
		if err != nil {
			return a, unprocessable("Patient.identifier %s: %v", SystemAddress, err)
		}
		return patientAddress(rq, a)
	}
	if ref, ok := subjectRef(typ, res); ok {
		if ref == "" {
			return crypto.Address{}, unprocessable("%s: the subject (or patient) needs a reference to a Patient", typ)
		}
		return resolvePatientRef(rq, ref, local)
	}
	if fallback.IsZero() {
		return fallback, unprocessable("%s has no subject or patient element: create it inside a Bundle about one patient, or with a token for one patient", typ)
	}
	return fallback, nil
}

// finish validates a draft's resource, gives it its id and makes its
// canonical content.
func finish(d *draft) *problem {
	raw, err := json.Marshal(d.res)
	if err != nil {
		return failf(http.StatusBadRequest, "structure", ErrInvalid, "%v", err)
	}
	content, err := fhirr4.SetID(raw, idString(d.id), "", time.Time{})
	if err != nil {
		return invalidResource(err, d.prefix)
	}
	d.content = content
	return nil
}

// checkWrite applies the token's scopes and the chain's write rule.
func checkWrite(rq *request, d *draft, p perm) *problem {
	if !grants(rq.sess.scopes, d.typ, p, d.patient, rq.sess.patient) {
		return failf(http.StatusForbidden, "forbidden", ErrScope, "the token's scopes (%s) do not allow writing %s of %s", rq.sess.scope, d.typ, d.patient)
	}
	if dec := consent.MayWrite(rq.snap, rq.now, rq.sess.addr, consent.Target{Patient: d.patient, Record: d.id, Type: d.typ, Codes: consent.KnownCodes(resourceCodes(d.res))}); !dec.Allowed {
		return fail(http.StatusForbidden, "forbidden", dec.Err)
	}
	return nil
}

// seal encrypts a draft under a fresh data key, wraps the key for exactly
// the parties the chain expects, stores the ciphertext and builds its
// records/add message.
func (s *Server) seal(ctx context.Context, rq *request, d *draft) *problem {
	ct, dk, err := envelope.Seal(nil, d.content, d.id, d.patient)
	if err != nil {
		if errors.Is(err, envelope.ErrTooLarge) {
			return failf(http.StatusRequestEntityTooLarge, "too-costly", ErrTooLarge, "%v", err)
		}
		return failf(http.StatusInternalServerError, "exception", ErrUnavailable, "%v", err)
	}
	defer clear(dk[:])
	t := consent.Target{Patient: d.patient, Record: d.id, Type: d.typ}
	var keys []records.WrappedKey
	for _, p := range consent.KeyHolders(rq.snap, rq.now, t) {
		ek, ok := consent.EncKeyOf(rq.snap, p)
		if !ok {
			continue // the chain expects no key for a party without an encryption key
		}
		wk, err := envelope.Wrap(nil, ek, dk, d.id, d.version)
		if err != nil {
			return failf(http.StatusInternalServerError, "exception", ErrUnavailable, "wrap for %s: %v", p, err)
		}
		keys = append(keys, records.WrappedKey{Recipient: p, Enc: wk.Enc, CT: wk.CT})
	}
	slices.SortFunc(keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
	d.hash = sha256.Sum256(ct)
	if err := s.cfg.Blobs.PutExpect(ctx, d.hash, ct); err != nil {
		return failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "store ciphertext: %v", err)
	}
	d.msg = &records.MsgAdd{ID: d.id, Patient: d.patient, ResourceType: d.typ, ContentHash: d.hash, Size: uint64(len(ct)), Keys: keys}
	d.dk = dk
	return nil
}

func newRecordID() (consent.RecordID, error) {
	var id consent.RecordID
	_, err := rand.Read(id[:])
	return id, err
}

var addRoute = func() sm.Route {
	for _, rt := range (records.Module{}).Routes() {
		if rt.Type == records.TypeAdd {
			return rt
		}
	}
	panic("records/add has no route")
}()

// chainProblem maps a chain refusal to an HTTP problem.
func chainProblem(err error, prefix string) *problem {
	p := fail(http.StatusConflict, "conflict", err)
	switch {
	case errors.Is(err, records.ErrNoWriteConsent), errors.Is(err, records.ErrNotOwner), errors.Is(err, consent.ErrNoConsent):
		p.status, p.code = http.StatusForbidden, "forbidden"
	case errors.Is(err, records.ErrErased):
		p.status, p.code = http.StatusGone, "deleted"
	case errors.Is(err, records.ErrNotPatient), errors.Is(err, records.ErrMismatch), errors.Is(err, records.ErrBadType), errors.Is(err, sm.ErrFunds):
		p.status, p.code = http.StatusUnprocessableEntity, "processing"
	case errors.Is(err, records.ErrBadSize), errors.Is(err, sm.ErrTxTooLarge):
		p.status, p.code = http.StatusRequestEntityTooLarge, "too-costly"
	}
	if prefix != "" {
		p.err = fmt.Errorf("%s: %w", prefix, p.err)
	}
	return p
}

// simulate runs the drafts' records/add messages, in order, against the
// latest state as the chain will: a write the chain would refuse is refused
// before anything is submitted. With keepGoing (a batch) a refused draft is
// reported in failed and the others go on; otherwise the first refusal is
// returned.
func (s *Server) simulate(rq *request, drafts []*draft, fee uint64, keepGoing bool) (failed map[*draft]*problem, _ *problem) {
	acct := accounts.GetAccount(rq.snap, rq.sess.addr)
	if acct == nil {
		return nil, failf(http.StatusUnauthorized, "login", ErrUnauthenticated, "%s has no account", rq.sess.addr)
	}
	if fee > 0 && acct.Balance/fee < uint64(len(drafts)) {
		return nil, fail(http.StatusUnprocessableEntity, "processing", sm.Wrapf(sm.ErrFunds, "%d writes at fee %d, balance %d", len(drafts), fee, acct.Balance))
	}
	failed = map[*draft]*problem{}
	cache := store.NewCache(rq.snap) // an overlay: never written back
	for _, d := range drafts {
		err := d.msg.ValidateBasic()
		if err == nil {
			one := store.NewCache(cache)
			ctx := sm.Context{ChainID: s.cfg.Chain.ChainID(), Height: rq.snap.Version() + 1, Time: rq.time, Store: one,
				Signer: acct.Address, Key: signingKey(rq, acct), Events: &sm.Events{}}
			if err = addRoute.Exec(ctx, d.msg); err == nil {
				one.Write()
			}
		}
		if err != nil {
			p := chainProblem(err, d.prefix)
			if !keepGoing {
				return nil, p
			}
			failed[d] = p
		}
	}
	return failed, nil
}

// signerState tracks the next sequence of an account signing through this
// server, so that one request's transactions follow another's without
// waiting for a block.
type signerState struct {
	lock chan struct{} // a mutex that a waiting request can give up on
	next uint64
	ok   bool
}

func (s *Server) signerOf(a crypto.Address) *signerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.signers[a]
	if st == nil {
		st = &signerState{lock: make(chan struct{}, 1)}
		s.signers[a] = st
	}
	return st
}

// wantSequence reads the sequence a CheckTx refusal asked for.
func wantSequence(log string) (uint64, bool) {
	i := strings.LastIndex(log, "want ")
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(log[i+5:]), 10, 64)
	return n, err == nil
}

// submit signs messages as the session's user with consecutive sequences,
// hands them to the mempool without waiting between them, then waits for
// all of them to commit. It returns the committed results in order; the
// first error stops it (earlier messages may still commit: see docs/fhir.md).
func (s *Server) submit(ctx context.Context, rq *request, msgs []sm.Msg) ([]TxOutcome, int, *problem) {
	key := rq.sess.delegated()
	if key == nil {
		return nil, 0, failf(http.StatusForbidden, "forbidden", ErrNoDelegation, "writes are signed by you: ask for a token with a session delegation")
	}
	st := s.signerOf(key.Address())
	select {
	case st.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "%v", ctx.Err())
	}
	locked := true
	unlock := func() {
		if locked {
			<-st.lock
			locked = false
		}
	}
	defer unlock()
	snap, _, err := s.cfg.Chain.Latest()
	if err != nil {
		return nil, 0, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "%v", err)
	}
	fee := s.cfg.MinFee(snap)
	seq := uint64(0)
	if c := xsession.Get(snap, key.PubKey()); c != nil { // a session key has its own sequence
		seq = c.Sequence
	}
	if st.ok && st.next > seq {
		seq = st.next
	}
	var checked []TxOutcome
	var wait func(context.Context) ([]TxOutcome, error)
	for try := 0; ; try++ {
		txs := make([][]byte, len(msgs))
		for i, m := range msgs {
			txs[i] = sm.SignTx(key, s.cfg.Chain.ChainID(), seq+uint64(i), fee, m)
		}
		checked, wait, err = s.cfg.Chain.Broadcast(ctx, txs)
		if err != nil {
			st.ok = false
			return nil, 0, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "submit: %v", err)
		}
		accepted := len(checked)
		if accepted > 0 && checked[accepted-1].Code != 0 {
			accepted--
		}
		st.next, st.ok = seq+uint64(accepted), true
		if accepted > 0 || try >= 2 || len(checked) == 0 {
			break
		}
		first := checked[0]
		if first.Codespace != sm.Codespace || first.Code != sm.ErrBadSequence.Code {
			break
		}
		want, ok := wantSequence(first.Log)
		if !ok {
			break
		}
		_, _ = wait(ctx) // nothing was accepted: returns at once
		seq = want
	}
	unlock()
	committed, werr := wait(ctx)
	accepted := len(checked)
	var p *problem
	if accepted > 0 && checked[accepted-1].Code != 0 {
		c := checked[accepted-1]
		accepted--
		p = chainProblem(outcomeErr(c), "")
	}
	if werr != nil {
		return committed, accepted, failf(http.StatusGatewayTimeout, "timeout", ErrUnavailable, "%d of %d transactions committed: %v", len(committed), len(msgs), werr)
	}
	for _, c := range committed {
		if c.Code != 0 && p == nil {
			p = chainProblem(outcomeErr(c), "")
		}
	}
	return committed, accepted, p
}

// chainErr is a transaction result as an error: it unwraps to the
// registered error of its codespace and code, so errors.Is and sm.ABCIInfo
// see the chain's stable code.
type chainErr struct {
	e   *sm.Error
	log string
}

func (c *chainErr) Error() string { return c.log }
func (c *chainErr) Unwrap() error { return c.e }

var registered = sync.OnceValue(func() map[string]*sm.Error {
	m := map[string]*sm.Error{}
	for _, e := range sm.Registered() {
		m[e.Codespace+"/"+strconv.FormatUint(uint64(e.Code), 10)] = e
	}
	return m
})

func outcomeErr(o TxOutcome) error {
	e := registered()[o.Codespace+"/"+strconv.FormatUint(uint64(o.Code), 10)]
	if e == nil {
		e = &sm.Error{Codespace: o.Codespace, Code: o.Code, Desc: o.Log}
	}
	return &chainErr{e: e, log: o.Log}
}

// commit simulates, submits and waits for a set of drafts, then loads the
// committed versions.
func (s *Server) commit(ctx context.Context, rq *request, drafts []*draft) *problem {
	fee := s.cfg.MinFee(rq.snap)
	if _, p := s.simulate(rq, drafts, fee, false); p != nil {
		return p
	}
	// The data key of an update is wrapped for the version number it will
	// get, which records/add does not carry: check it against the freshest
	// state just before submitting (the check in lockRecords covers this
	// node; this one what committed through others since the request began).
	if fresh, _, err := s.cfg.Chain.Latest(); err == nil {
		for _, d := range drafts {
			if d.version > 1 {
				if rec := records.GetRecord(fresh, d.id); rec == nil || rec.Version != d.version-1 {
					return failf(http.StatusConflict, "conflict", ErrConflict, "%s/%s changed meanwhile: read it again and retry", d.typ, idString(d.id))
				}
			}
		}
	}
	msgs := make([]sm.Msg, len(drafts))
	for i, d := range drafts {
		msgs[i] = d.msg
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CommitWait)
	defer cancel()
	committed, _, p := s.submit(ctx, rq, msgs)
	snap, _, err := s.cfg.Chain.Latest()
	if err != nil {
		return p
	}
	defer func() {
		for _, d := range drafts {
			clear(d.dk[:])
		}
	}()
	for i := range committed {
		if committed[i].Code != 0 {
			continue
		}
		d := drafts[i]
		_, ver := records.ByHash(snap, d.hash)
		if ver == nil {
			continue
		}
		d.ver = ver
		if ver.Version == d.version {
			// The sessions on this node of the accounts the key was wrapped
			// to may read the new version too (their reads are still judged
			// by consent and their session's limits first).
			rq.sess.keys.put(d.id, d.version, d.dk)
			s.auth.shareKey(holders(d.msg.Keys), d.id, d.version, d.dk)
		}
		if ver.Version != d.version && p == nil {
			// Another node's update of the same record committed first.
			s.cfg.Log.Error("record version raced: the data key was wrapped for another version", "record", idString(d.id), "wrapped_for", d.version, "got", ver.Version)
			p = failf(http.StatusConflict, "conflict", ErrConflict, "%s/%s was updated elsewhere in the same block: your version %d is not readable; write it again", d.typ, idString(d.id), ver.Version)
		}
	}
	return p
}

// lockRecords marks records as being updated through this node; a second
// concurrent update of one of them gets 409 rather than a version whose
// keys were wrapped for the wrong version number.
func (s *Server) lockRecords(ids []consent.RecordID) (func(), *problem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if s.inflight[id] {
			return nil, failf(http.StatusConflict, "conflict", ErrConflict, "%s is being updated: try again", idString(id))
		}
	}
	for _, id := range ids {
		s.inflight[id] = true
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, id := range ids {
			delete(s.inflight, id)
		}
	}, nil
}

// prefer reads the Prefer return= preference.
func prefer(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Prefer"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "return="); ok {
			return v
		}
	}
	return ""
}

// respondWritten answers a create or update.
func (s *Server) respondWritten(w http.ResponseWriter, rq *request, d *draft, status int) {
	if d.ver == nil {
		writeProblem(w, failf(http.StatusInternalServerError, "exception", ErrUnavailable, "committed, but the version is not in the latest state yet"))
		return
	}
	loc := rq.base + "/" + d.typ + "/" + idString(d.id) + "/_history/" + strconv.FormatUint(uint64(d.version), 10)
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Location", loc)
	setVersionHeaders(w, d.ver)
	switch prefer(rq.r) {
	case "minimal":
		w.WriteHeader(status)
	case "OperationOutcome":
		writeJSONValue(w, status, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
			"severity": "information", "code": "informational", "diagnostics": fmt.Sprintf("%s/%s version %d committed", d.typ, idString(d.id), d.version)}}})
	default:
		body, err := render(d.content, d.ver)
		if err != nil {
			writeProblem(w, failf(http.StatusInternalServerError, "exception", ErrUnavailable, "%v", err))
			return
		}
		writeResource(w, status, body)
	}
}

// parseBody reads and validates one resource of type typ.
func (s *Server) parseBody(rq *request, typ string) (map[string]any, *problem) {
	body, p := readBody(rq.r, s.cfg.MaxResourceBytes)
	if p != nil {
		return nil, p
	}
	res, err := fhirr4.Parse(body)
	if err != nil {
		return nil, invalidResource(err, "")
	}
	if res.Type != typ {
		return nil, unprocessable("the body is a %s, the URL names %s", res.Type, typ)
	}
	m, err := decodeJSON(body)
	if err != nil {
		return nil, failf(http.StatusBadRequest, "structure", ErrInvalid, "%v", err)
	}
	return m, nil
}

// create serves POST /fhir/{type}.
func (s *Server) create(w http.ResponseWriter, rq *request, typ string) {
	if !storable(typ) {
		writeProblem(w, notStorable(typ))
		return
	}
	res, p := s.parseBody(rq, typ)
	if p != nil {
		writeProblem(w, p)
		return
	}
	var cond *criteria
	if q := rq.r.Header.Get("If-None-Exist"); q != "" {
		c, p := parseCriteria(strings.TrimPrefix(q, "?"))
		if p != nil {
			writeProblem(w, p)
			return
		}
		cond = &c
	}
	id, err := newRecordID()
	if err != nil {
		writeProblem(w, failf(http.StatusInternalServerError, "exception", ErrUnavailable, "%v", err))
		return
	}
	d := &draft{entry: -1, typ: typ, id: id, version: 1, res: res}
	if d.patient, p = patientOf(rq, typ, res, nil, rq.sess.patient); p != nil {
		writeProblem(w, p)
		return
	}
	if cond != nil {
		// A conditional create: the record the criteria name at this
		// organization (derivedID), created under that id when absent.
		e := &bentry{index: -1, method: http.MethodPost, typ: typ, res: res, d: d, cond: cond}
		if p := s.identify(rq, s.resolver(rq), e); p != nil {
			writeProblem(w, p)
			return
		}
		if e.skip {
			if p := checkWrite(rq, d, permCreate); p != nil {
				writeProblem(w, p)
				return
			}
			s.respondExisting(w, rq, e.have)
			return
		}
	}
	s.resolveConditionalRefs(rq, res, d.patient, nil)
	if p := s.prepare(rq, d, permCreate); p != nil {
		writeProblem(w, p)
		return
	}
	if p := s.commit(rq.r.Context(), rq, []*draft{d}); p != nil {
		writeProblem(w, p)
		return
	}
	s.respondWritten(w, rq, d, http.StatusCreated)
}

// prepare checks, finishes and seals a draft whose patient is known.
func (s *Server) prepare(rq *request, d *draft, p perm) *problem {
	if pr := checkWrite(rq, d, p); pr != nil {
		return pr
	}
	if rq.sess.delegated() == nil {
		return failf(http.StatusForbidden, "forbidden", ErrNoDelegation, "writes are signed by you: ask for a token with a session delegation")
	}
	if pr := finish(d); pr != nil {
		return pr
	}
	return s.seal(rq.r.Context(), rq, d)
}

func notStorable(typ string) *problem {
	switch {
	case typ == "Bundle":
		return failf(http.StatusUnprocessableEntity, "not-supported", ErrNotSupported, "POST a transaction or batch Bundle to /fhir; Bundles are not stored as such")
	case chainViews[typ]:
		return failf(http.StatusMethodNotAllowed, "not-supported", ErrNotSupported, "%s resources reflect the chain: use medchain consent grant / the audit trail; search them with GET /fhir/%s?patient=", typ, typ)
	}
	return failf(http.StatusNotFound, "not-supported", ErrNotSupported, "no resource type %q here", typ)
}

// update serves PUT /fhir/{type}/{id}: a new version of the record.
func (s *Server) update(w http.ResponseWriter, rq *request, typ, idStr string) {
	if !storable(typ) {
		writeProblem(w, notStorable(typ))
		return
	}
	res, p := s.parseBody(rq, typ)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if got := str(res["id"]); got != idStr {
		writeProblem(w, failf(http.StatusBadRequest, "invalid", ErrInvalid, "%s.id is %q, the URL names %q", typ, got, idStr))
		return
	}
	rec, p := lookup(rq, typ, idStr)
	if p != nil {
		if p.status == http.StatusNotFound {
			p = failf(http.StatusMethodNotAllowed, "not-supported", ErrNotSupported, "%s/%s does not exist, and ids are assigned by this server: create with POST /fhir/%s", typ, idStr, typ)
		}
		writeProblem(w, p)
		return
	}
	if im := rq.r.Header.Get("If-Match"); im != "" && im != etag(rec.Version) && strings.Trim(im, `"`) != strconv.FormatUint(uint64(rec.Version), 10) {
		writeProblem(w, failf(http.StatusPreconditionFailed, "conflict", ErrConflict, "If-Match %s, but the current version is %s", im, etag(rec.Version)))
		return
	}
	d := &draft{entry: -1, typ: typ, id: rec.ID, version: rec.Version + 1, res: res}
	if d.patient, p = patientOf(rq, typ, res, nil, rec.Patient); p != nil {
		writeProblem(w, p)
		return
	}
	if d.patient != rec.Patient {
		writeProblem(w, otherPatient(typ, d.patient, rec.Patient))
		return
	}
	release, p := s.lockRecords([]consent.RecordID{rec.ID})
	if p != nil {
		writeProblem(w, p)
		return
	}
	defer release()
	s.resolveConditionalRefs(rq, res, d.patient, nil)
	if p := s.prepare(rq, d, permUpdate); p != nil {
		writeProblem(w, p)
		return
	}
	if p := s.commit(rq.r.Context(), rq, []*draft{d}); p != nil {
		writeProblem(w, p)
		return
	}
	s.respondWritten(w, rq, d, http.StatusOK)
}

// erase serves DELETE /fhir/{type}/{id}: the patient (or a guardian) erases
// the record (records/erase): later reads answer 410.
func (s *Server) erase(w http.ResponseWriter, rq *request, typ, idStr string) {
	if !storable(typ) {
		writeProblem(w, notStorable(typ))
		return
	}
	rec, p := lookup(rq, typ, idStr)
	if p != nil {
		if p.status == http.StatusGone {
			w.WriteHeader(http.StatusNoContent) // deleting a deleted resource succeeds
			return
		}
		writeProblem(w, p)
		return
	}
	if !grants(rq.sess.scopes, typ, permDelete, rec.Patient, rq.sess.patient) {
		writeProblem(w, failf(http.StatusForbidden, "forbidden", ErrScope, "the token's scopes (%s) do not allow deleting %s of %s", rq.sess.scope, typ, rec.Patient))
		return
	}
	if !accounts.CanActFor(rq.snap, rq.sess.addr, rec.Patient) {
		writeProblem(w, fail(http.StatusForbidden, "forbidden", sm.Wrapf(records.ErrNotOwner, "only the patient or a guardian erases a record")))
		return
	}
	ctx, cancel := context.WithTimeout(rq.r.Context(), s.cfg.CommitWait)
	defer cancel()
	if _, _, p := s.submit(ctx, rq, []sm.Msg{&records.MsgErase{ID: rec.ID}}); p != nil {
		writeProblem(w, p)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// respondExisting answers a conditional create whose record exists: 200
// with its location and version, and an informational OperationOutcome
// (reading the resource back is a read of its own, audited: GET it).
func (s *Server) respondExisting(w http.ResponseWriter, rq *request, rec *records.Record) {
	if rec.Erased != 0 {
		writeProblem(w, failf(http.StatusGone, "deleted", ErrGone, "%s/%s was erased by the patient: not created again", rec.Type, idString(rec.ID)))
		return
	}
	loc := rq.base + "/" + rec.Type + "/" + idString(rec.ID) + "/_history/" + strconv.FormatUint(uint64(rec.Version), 10)
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Location", loc)
	w.Header().Set("ETag", etag(rec.Version))
	writeJSONValue(w, http.StatusOK, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
		"severity": "information", "code": "duplicate", "diagnostics": existsNote(rec.Type, rec)}}})
}

// conditionalUpdate serves PUT /fhir/{type}?criteria: a new version of the
// record the criteria name at this organization, or a new record under the
// id they derive when there is none (201).
func (s *Server) conditionalUpdate(w http.ResponseWriter, rq *request, typ, q string) {
	if !storable(typ) {
		writeProblem(w, notStorable(typ))
		return
	}
	res, p := s.parseBody(rq, typ)
	if p != nil {
		writeProblem(w, p)
		return
	}
	c, p := parseCriteria(q)
	if p != nil {
		writeProblem(w, p)
		return
	}
	id, err := newRecordID()
	if err != nil {
		writeProblem(w, failf(http.StatusInternalServerError, "exception", ErrUnavailable, "%v", err))
		return
	}
	d := &draft{entry: -1, typ: typ, id: id, version: 1, res: res}
	if d.patient, p = patientOf(rq, typ, res, nil, rq.sess.patient); p != nil {
		writeProblem(w, p)
		return
	}
	e := &bentry{index: -1, method: http.MethodPut, typ: typ, res: res, d: d, cond: &c, condPut: true}
	if p := s.identify(rq, s.resolver(rq), e); p != nil {
		writeProblem(w, p)
		return
	}
	if e.erased {
		writeProblem(w, failf(http.StatusGone, "deleted", ErrGone, "%s/%s was erased by the patient", typ, idString(e.have.ID)))
		return
	}
	perm, status := permCreate, http.StatusCreated
	if d.version > 1 {
		perm, status = permUpdate, http.StatusOK
		if im := rq.r.Header.Get("If-Match"); im != "" && im != etag(e.have.Version) && strings.Trim(im, `"`) != strconv.FormatUint(uint64(e.have.Version), 10) {
			writeProblem(w, failf(http.StatusPreconditionFailed, "conflict", ErrConflict, "If-Match %s, but the current version is %s", im, etag(e.have.Version)))
			return
		}
		release, p := s.lockRecords([]consent.RecordID{d.id})
		if p != nil {
			writeProblem(w, p)
			return
		}
		defer release()
		s.resolveConditionalRefs(rq, res, d.patient, nil)
		if s.unchanged(rq, d) {
			if p := checkWrite(rq, d, permUpdate); p != nil {
				writeProblem(w, p)
				return
			}
			rec := records.GetRecord(rq.snap, d.id)
			loc := rq.base + "/" + typ + "/" + idString(rec.ID) + "/_history/" + strconv.FormatUint(uint64(rec.Version), 10)
			w.Header().Set("Location", loc)
			w.Header().Set("Content-Location", loc)
			w.Header().Set("ETag", etag(rec.Version))
			writeJSONValue(w, http.StatusOK, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
				"severity": "information", "code": "informational", "diagnostics": fmt.Sprintf("%s/%s version %d already holds this content: nothing stored", typ, idString(rec.ID), rec.Version)}}})
			return
		}
	}
	s.resolveConditionalRefs(rq, res, d.patient, nil)
	if p := s.prepare(rq, d, perm); p != nil {
		writeProblem(w, p)
		return
	}
	if p := s.commit(rq.r.Context(), rq, []*draft{d}); p != nil {
		writeProblem(w, p)
		return
	}
	s.respondWritten(w, rq, d, status)
}
