package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/internal/epcis"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/supply"
)

// Supply-chain routes (docs/supply.md): verification and master data on
// /v1, public like the organizations they name (units, products, places
// and organizations; never patients); the EPCIS 2.0 REST binding on
// /epcis, for signed requests of members.
func (s *Server) routeSupply() {
	s.handle("GET /v1/supply/verify", s.supplyVerify)
	s.handle("GET /v1/supply/products/{gtin}", s.supplyProduct)
	s.handle("GET /v1/supply/recalls/{gtin}/{lot}", s.supplyRecall)
	s.handle("GET /v1/supply/notices/{org}", s.supplyNotices)
	s.epcisJobs = &epcisJobs{jobs: map[string]*epcis.CaptureJob{}}
	h := epcis.NewHandler(&epcisBackend{s: s}, epcis.Options{Authenticate: s.epcisCaller, MaxBodyBytes: EPCISMaxBody})
	for _, rt := range epcis.Routes() {
		if rt != "OPTIONS /epcis/capture" {
			s.routeAccess[rt] = accessSigned
		}
		s.handleLimit(rt, h.ServeHTTP, EPCISMaxBody)
	}
}

// EPCISMaxBody limits an EPCIS capture document.
const EPCISMaxBody = 8 << 20

// UnitView is a unit as verification shows it.
type UnitView struct {
	Key          string `json:"key"`
	GTIN         string `json:"gtin,omitempty"`
	Lot          string `json:"lot,omitempty"`
	Expiry       string `json:"expiry,omitempty"`
	Brand        string `json:"manufacturer"`
	Custodian    string `json:"custodian"`
	Status       string `json:"status"`
	Parent       string `json:"packed_in,omitempty"`
	Contents     uint64 `json:"contents,omitempty"`
	ShipFrom     string `json:"shipped_from,omitempty"`
	ShipTo       string `json:"shipped_to,omitempty"`
	Commissioned int64  `json:"commissioned"`
	Case         string `json:"investigation,omitempty"`
}

// ProvenanceView is one event of a unit's provenance.
type ProvenanceView struct {
	Hash        string    `json:"event_hash"`
	Seq         uint64    `json:"seq"`
	Org         string    `json:"org"`
	Type        string    `json:"type"`
	Action      string    `json:"action"`
	BizStep     string    `json:"biz_step"`
	Disposition string    `json:"disposition,omitempty"`
	EventTime   time.Time `json:"event_time"`
	RecordTime  time.Time `json:"record_time"`
	Height      int64     `json:"height"`
	To          string    `json:"to,omitempty"`
}

// ProductView is a registered product.
type ProductView struct {
	GTIN     string `json:"gtin"`
	Org      string `json:"manufacturer"`
	Name     string `json:"name"`
	NDC      string `json:"ndc"`
	Strength string `json:"strength"`
	Form     string `json:"dosage_form"`
	PackSize uint64 `json:"pack_size"`
}

// RecallView is a recalled lot; Holders (GET /v1/supply/recalls) are the
// current custodians of its units that are not dispensed or destroyed.
type RecallView struct {
	GTIN    string   `json:"gtin"`
	Lot     string   `json:"lot"`
	Org     string   `json:"recalled_by"`
	Reason  string   `json:"reason"`
	Time    int64    `json:"time"`
	Height  int64    `json:"height"`
	Holders []Holder `json:"holders,omitempty"`
}

// Holder is an organization holding units of a recalled lot.
type Holder struct {
	Org   string   `json:"org"`
	Units []string `json:"units"`
}

// CaseView is a suspect-product investigation.
type CaseView struct {
	State      string   `json:"state"`
	FlaggedBy  string   `json:"flagged_by"`
	Reason     string   `json:"reason"`
	Opened     int64    `json:"opened"`
	ClosedBy   string   `json:"closed_by,omitempty"`
	Closed     int64    `json:"closed,omitempty"`
	Notified   []string `json:"notified,omitempty"`
	Terminated int64    `json:"terminated,omitempty"`
}

// Verification is GET /v1/supply/verify: the DSCSA verification answer
// with the proofs it rests on (each against the app hash in the header of
// block Height+1; medchain verify --supply checks them).
type Verification struct {
	ID         string           `json:"id"`
	Key        string           `json:"key"`
	Status     string           `json:"status"`
	Signals    []string         `json:"signals"`
	Height     int64            `json:"height"`
	Unit       *UnitView        `json:"unit,omitempty"`
	Product    *ProductView     `json:"product,omitempty"`
	Recall     *RecallView      `json:"recall,omitempty"`
	Case       *CaseView        `json:"investigation,omitempty"`
	Provenance []ProvenanceView `json:"provenance"`
	Proofs     []*Proof         `json:"proofs"`
}

func productView(p *supply.Product) *ProductView {
	return &ProductView{GTIN: p.GTIN, Org: p.Org, Name: p.Name, NDC: p.NDC, Strength: p.Strength, Form: p.Form, PackSize: p.PackSize}
}

func recallView(r *supply.Recall) *RecallView {
	return &RecallView{GTIN: r.GTIN, Lot: r.Lot, Org: r.Org, Reason: r.Reason, Time: r.Time, Height: r.Height}
}

// BuildVerification answers the verification of id in snap.
func BuildVerification(snap interface {
	store.Reader
	Version() int64
}, prove func(key []byte) (*Proof, error), id, holder string, day gs1.Date) (*Verification, error) {
	d, err := gs1.Parse(id)
	if err != nil {
		return nil, sm.Wrapf(ErrBadRequest, "id: %v", err)
	}
	if _, ok := d.SGTIN(); !ok && d.SSCC == "" {
		return nil, sm.Wrapf(ErrBadRequest, "id %q names no serialised unit: want a GTIN with a serial (AI 21) or an SSCC", id)
	}
	v := supply.Verify(snap, d, holder, day)
	out := &Verification{ID: id, Key: v.Key, Status: v.Status, Signals: v.Signals, Height: snap.Version(), Provenance: []ProvenanceView{}}
	if out.Signals == nil {
		out.Signals = []string{}
	}
	if u := v.Unit; u != nil {
		out.Unit = &UnitView{Key: u.Key, GTIN: u.GTIN, Lot: u.Lot, Expiry: u.Expiry, Brand: u.Brand, Custodian: u.Owner,
			Status: supply.StatusName(u.Status), Parent: u.Parent, Contents: u.Children, ShipFrom: u.ShipFrom, ShipTo: u.ShipTo,
			Commissioned: u.Commissioned}
		if u.Case != 0 {
			out.Unit.Case = supply.CaseName(u.Case)
		}
	}
	if v.Product != nil {
		out.Product = productView(v.Product)
	}
	if v.Recall != nil {
		out.Recall = recallView(v.Recall)
	}
	if c := v.Case; c != nil {
		out.Case = &CaseView{State: supply.CaseName(c.State), FlaggedBy: c.FlaggedBy, Reason: c.Reason, Opened: c.Opened,
			ClosedBy: c.ClosedBy, Closed: c.Closed, Notified: c.Notified, Terminated: c.Terminated}
	}
	for _, e := range v.Provenance {
		out.Provenance = append(out.Provenance, ProvenanceView{Hash: e.Hash, Seq: e.Seq, Org: e.Org, Type: e.Type, Action: e.Action,
			BizStep: e.BizStep, Disposition: e.Disposition, EventTime: time.UnixMilli(e.EventTime).UTC(),
			RecordTime: time.Unix(e.Time, 0).UTC(), Height: e.Height, To: e.To})
	}
	for _, k := range v.ProofKeys() {
		p, err := prove(k)
		if err != nil {
			return nil, err
		}
		out.Proofs = append(out.Proofs, p)
	}
	return out, nil
}

func (s *Server) supplyVerify(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > 512 {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "id: a Digital Link, element string or EPC URN is required"))
		return
	}
	holder := r.URL.Query().Get("holder")
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	t := time.Unix(s.timeOf(snap), 0).UTC()
	v, err := BuildVerification(snap, func(k []byte) (*Proof, error) { return BuildProof(snap, k) }, id, holder,
		gs1.Date{Year: t.Year(), Month: int(t.Month()), Day: t.Day()})
	if err != nil {
		if errors.Is(err, ErrBadRequest) {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		backendErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) supplyProduct(w http.ResponseWriter, r *http.Request) {
	g, err := gs1.ParseGTIN(r.PathValue("gtin"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	p := supply.GetProduct(snap, string(g))
	if p == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "no product %s", g))
		return
	}
	writeJSON(w, http.StatusOK, productView(p))
}

func (s *Server) supplyRecall(w http.ResponseWriter, r *http.Request) {
	g, err := gs1.ParseGTIN(r.PathValue("gtin"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	lot := r.PathValue("lot")
	if err := gs1.ValidateLot(lot); err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	rc := supply.GetRecall(snap, string(g), lot)
	if rc == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "lot %s of %s is not recalled", lot, g))
		return
	}
	v := recallView(rc)
	byOrg := map[string]int{}
	for _, k := range supply.LotUnits(snap, string(g), lot) {
		u := supply.GetUnit(snap, k)
		if u == nil || supply.Terminal(u.Status) {
			continue
		}
		i, ok := byOrg[u.Owner]
		if !ok {
			i = len(v.Holders)
			byOrg[u.Owner] = i
			v.Holders = append(v.Holders, Holder{Org: u.Owner})
		}
		v.Holders[i].Units = append(v.Holders[i].Units, k)
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) supplyNotices(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if err := accounts.ValidateOrgID(org); err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	units := supply.Notices(snap, org)
	if units == nil {
		units = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"org": org, "illegitimate_units": units})
}

// epcisCaller authenticates a request to the binding: a signed request
// (docs/api.md) of an active member. The signature covers the body, which
// is read here and handed on.
func (s *Server) epcisCaller(r *http.Request) (epcis.Caller, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, EPCISMaxBody+1))
		if err != nil {
			return "", fmt.Errorf("could not read the request: %v", err)
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	pub, err := s.verifier.Verify(r, body)
	if err != nil {
		return "", fmt.Errorf("sign the request (X-Medchain-Signer, -Expires, -Nonce, -Signature; docs/api.md): %v", err)
	}
	latest, err := s.b.State(0)
	if err != nil {
		return "", err
	}
	acct, sess, err := signerStanding(latest, pub, s.timeOf(latest))
	if err == nil && sess != nil {
		err = fmt.Errorf("key %s is a session key", pub)
	}
	if err != nil {
		return "", err
	}
	if acct.Kind != accounts.KindMember {
		return "", fmt.Errorf("%s is not a member of an organization", acct.Address)
	}
	return epcis.Caller(acct.Address.String()), nil
}

// epcisJobs are the capture jobs this node ran (node-local, like the
// binding's job resource; the newest MaxEPCISJobs are kept).
type epcisJobs struct {
	mu    sync.Mutex
	seq   uint64
	jobs  map[string]*epcis.CaptureJob
	owner map[string]string // job → organization
	order []string
	sign  sync.Mutex // one capture at a time: the capture key's sequence
}

// MaxEPCISJobs is how many capture jobs a node remembers.
const MaxEPCISJobs = 1000

// epcisBackend implements the binding over the chain: captures become
// supply/capture transactions signed with Options.SupplyKey (an account of
// the node's organization), queries read committed state.
type epcisBackend struct{ s *Server }

// callerOrg is the organization of an authenticated caller.
func (b *epcisBackend) callerOrg(caller epcis.Caller) (string, store.Reader, error) {
	latest, err := b.s.b.State(0)
	if err != nil {
		return "", nil, err
	}
	addr, err := crypto.ParseAddress(string(caller))
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", epcis.ErrForbidden, err)
	}
	a := accounts.ActiveMember(latest, addr)
	if a == nil {
		return "", nil, fmt.Errorf("%w: %s is not an active member", epcis.ErrForbidden, caller)
	}
	return a.Org, latest, nil
}

// maxCaptureTxBytes keeps a capture transaction under sm.MaxTxBytes with
// room for the envelope.
const maxCaptureTxBytes = sm.MaxTxBytes - 4096

func (b *epcisBackend) Capture(ctx context.Context, caller epcis.Caller, events []epcis.Event, behaviour string) (string, error) {
	org, latest, err := b.callerOrg(caller)
	if err != nil {
		return "", err
	}
	key := b.s.opts.SupplyKey
	if key == nil {
		return "", fmt.Errorf("%w: this node has no EPCIS capture key (config supply.capture_key); capture with 'medchain supply capture'", epcis.ErrForbidden)
	}
	signer := accounts.ActiveMember(latest, key.Address())
	if signer == nil || signer.Org != org {
		return "", fmt.Errorf("%w: this node captures for its own organization only", epcis.ErrForbidden)
	}
	jobs := b.s.epcisJobs
	jobs.mu.Lock()
	jobs.seq++
	id := fmt.Sprintf("%d-%d", time.Now().UnixNano()/1e6, jobs.seq)
	job := &epcis.CaptureJob{ID: id, CreatedAt: time.Now().UTC(), Running: true, Behaviour: behaviour}
	if jobs.owner == nil {
		jobs.owner = map[string]string{}
	}
	jobs.jobs[id], jobs.owner[id] = job, org
	jobs.order = append(jobs.order, id)
	if len(jobs.order) > MaxEPCISJobs {
		old := jobs.order[0]
		jobs.order = jobs.order[1:]
		delete(jobs.jobs, old)
		delete(jobs.owner, old)
	}
	jobs.mu.Unlock()
	go b.run(job, key, events, behaviour)
	return id, nil
}

// run captures the events: one transaction for the whole document
// (rollback: all or nothing), or one per event (proceed: each on its own).
func (b *epcisBackend) run(job *epcis.CaptureJob, key *crypto.PrivKey, events []epcis.Event, behaviour string) {
	jobs := b.s.epcisJobs
	var errs []epcis.EventError
	type part struct {
		idx []int
		msg *supply.MsgCapture
	}
	var parts []part
	fail := func(i int, code, msg string) {
		errs = append(errs, epcis.EventError{Index: i, EventID: events[i].EventID, Hash: events[i].Hash, Code: code, Message: msg})
	}
	whole := part{msg: &supply.MsgCapture{}}
	for i, e := range events {
		c, err := epcis.CaptureEvent(e)
		if err != nil {
			fail(i, "supply/1", err.Error())
			continue
		}
		if behaviour == "proceed" {
			parts = append(parts, part{idx: []int{i}, msg: &supply.MsgCapture{Events: []supply.CaptureEvent{c}}})
		} else {
			whole.idx = append(whole.idx, i)
			whole.msg.Events = append(whole.msg.Events, c)
		}
	}
	if behaviour != "proceed" {
		switch {
		case len(errs) > 0:
			// rollback: nothing is captured
		case len(whole.msg.Events) > supply.MaxEventsInMsg || len(sm.SignTx(key, b.s.opts.ChainID, 0, 0, whole.msg)) > maxCaptureTxBytes:
			for _, i := range whole.idx {
				fail(i, "supply/1", fmt.Sprintf("the document is too large for one transaction (at most %d events, %d bytes): capture it with GS1-Capture-Error-Behaviour: proceed, or split it", supply.MaxEventsInMsg, maxCaptureTxBytes))
			}
		default:
			parts = []part{whole}
		}
	}
	jobs.sign.Lock()
	if bs, ok := b.s.b.(BatchSubmitter); ok && len(parts) > 1 {
		// proceed: every event's transaction at once, with consecutive
		// sequences, then each one's fate from its block — a document
		// of N events takes a block or two, not N.
		msgs := make([]*supply.MsgCapture, len(parts))
		for k, p := range parts {
			msgs[k] = p.msg
		}
		for k, r := range b.submitAll(bs, key, msgs) {
			if r.code != "" {
				for _, i := range parts[k].idx {
					fail(i, r.code, r.log)
				}
			}
		}
	} else {
		for _, p := range parts {
			code, msg := b.submit(key, p.msg)
			if code != "" {
				for _, i := range p.idx {
					fail(i, code, msg)
				}
			}
		}
	}
	jobs.sign.Unlock()
	slices.SortFunc(errs, func(a, b epcis.EventError) int { return a.Index - b.Index })
	jobs.mu.Lock()
	job.Errors = errs
	job.Running, job.Success, job.FinishedAt = false, len(errs) == 0, time.Now().UTC()
	jobs.mu.Unlock()
}

// submit signs msg with the capture key at its committed sequence and
// waits for the block; it returns the refusal code ("supply/12") and log,
// or "" when the transaction committed successfully.
func (b *epcisBackend) submit(key *crypto.PrivKey, msg *supply.MsgCapture) (string, string) {
	latest, err := b.s.b.State(0)
	if err != nil {
		return "api/7", "the node's state is unavailable"
	}
	a := accounts.GetAccount(latest, key.Address())
	if a == nil {
		return "api/7", "the capture key has no account"
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.s.opts.CommitWait)
	defer cancel()
	res, err := b.s.b.Submit(ctx, sm.SignTx(key, b.s.opts.ChainID, a.Sequence, 0, msg), true)
	if err != nil {
		return "api/4", "the transaction was not committed: " + err.Error()
	}
	if res.Code != 0 {
		return res.Codespace + "/" + strconv.FormatUint(uint64(res.Code), 10), res.Log
	}
	return "", ""
}

type fate struct{ code, log string }

// submitAll signs msgs with the capture key's consecutive sequences from
// its committed one, hands them to the mempool in one batch, and waits for
// each to commit (polling its result), until CommitWait. A transaction the
// mempool refused gets the refusal's code; one not seen committed in time,
// api/4.
func (b *epcisBackend) submitAll(bs BatchSubmitter, key *crypto.PrivKey, msgs []*supply.MsgCapture) []fate {
	out := make([]fate, len(msgs))
	latest, err := b.s.b.State(0)
	a := (*accounts.Account)(nil)
	if err == nil {
		a = accounts.GetAccount(latest, key.Address())
	}
	if a == nil {
		for k := range out {
			out[k] = fate{"api/7", "the capture key has no account, or the node's state is unavailable"}
		}
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.s.opts.CommitWait)
	defer cancel()
	raws := make([][]byte, len(msgs))
	for k, m := range msgs {
		raws[k] = sm.SignTx(key, b.s.opts.ChainID, a.Sequence+uint64(k), 0, m)
	}
	items, err := bs.SubmitBatch(ctx, raws)
	if err != nil || len(items) != len(raws) {
		for k := range out {
			out[k] = fate{"api/4", fmt.Sprintf("the transactions were not submitted: %v", err)}
		}
		return out
	}
	var waiting []int
	for k, it := range items {
		if it.Code != 0 {
			out[k] = fate{it.Codespace + "/" + strconv.FormatUint(uint64(it.Code), 10), it.Log}
			continue
		}
		waiting = append(waiting, k)
	}
	for len(waiting) > 0 {
		left := waiting[:0]
		for _, k := range waiting {
			h := sm.TxHash(raws[k])
			r, err := b.s.b.Tx(ctx, h[:])
			switch {
			case err != nil || r == nil || !r.Committed:
				left = append(left, k)
			case r.Code != 0:
				out[k] = fate{r.Codespace + "/" + strconv.FormatUint(uint64(r.Code), 10), r.Log}
			}
		}
		waiting = left
		if len(waiting) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			for _, k := range waiting {
				out[k] = fate{"api/4", "the transaction was not committed: " + ctx.Err().Error()}
			}
			return out
		case <-time.After(100 * time.Millisecond):
		}
	}
	return out
}

func (b *epcisBackend) Job(_ context.Context, caller epcis.Caller, id string) (epcis.CaptureJob, error) {
	org, _, err := b.callerOrg(caller)
	if err != nil {
		return epcis.CaptureJob{}, err
	}
	jobs := b.s.epcisJobs
	jobs.mu.Lock()
	defer jobs.mu.Unlock()
	j, ok := jobs.jobs[id]
	if !ok || jobs.owner[id] != org {
		return epcis.CaptureJob{}, epcis.ErrNoSuchCapture
	}
	out := *j
	out.Errors = append([]epcis.EventError(nil), j.Errors...)
	return out, nil
}

// Query answers from the supply module's query index (supply.FindEvents):
// the events naming a unit through its provenance, else by bizLocation,
// event time, bizStep, disposition or record time, else every event in
// capture order. Candidates are checked against the stored event's fields
// first, and only those are parsed and matched against the whole query, so
// a query costs in proportion to what its index lists, not to every event
// captured. Every member sees every event (the consortium's shared chain of
// custody). The page token is the position of the last event served: its
// sequence, or for a query planned by event time "t<unix ms>.<sequence>".
func (b *epcisBackend) Query(_ context.Context, caller epcis.Caller, q epcis.Query) ([]epcis.StoredEvent, string, error) {
	_, latest, err := b.callerOrg(caller)
	if err != nil {
		return nil, "", err
	}
	f := eventFilter(q)
	after, err := parsePageToken(q.PageToken)
	if err != nil {
		return nil, "", epcis.ErrBadPageToken
	}
	var out []epcis.StoredEvent
	var last supply.Cursor
	next := ""
	var scanErr error
	err = supply.FindEvents(latest, f, after, func(e *supply.StoredEvent, at supply.Cursor) bool {
		evs, err := epcis.Parse(e.JSON)
		if err != nil || len(evs) != 1 {
			scanErr = fmt.Errorf("stored event %s: %v", e.Hash, err)
			return false
		}
		rt := time.Unix(e.Time, 0).UTC()
		if !q.Matches(evs[0], rt) {
			return true
		}
		if len(out) == q.PerPage {
			next = pageToken(last)
			return false
		}
		out, last = append(out, epcis.StoredEvent{JSON: e.JSON, RecordTime: rt}), at
		return true
	})
	if errors.Is(err, supply.ErrCursor) {
		return nil, "", epcis.ErrBadPageToken
	}
	if err != nil {
		return nil, "", err
	}
	if scanErr != nil {
		return nil, "", scanErr
	}
	return out, next, nil
}

// eventFilter is the part of an EPCIS query the supply index answers. The
// identifiers it narrows by are the exact keys of one of MATCH_epc,
// MATCH_anyEPC or MATCH_parentID (not GTIN patterns, which match units the
// index cannot list): the events in their provenance are a superset of the
// answer, which q.Matches then narrows.
func eventFilter(q epcis.Query) supply.EventFilter {
	f := supply.EventFilter{Types: q.EventTypes, Actions: q.Actions, BizSteps: q.BizSteps, Dispositions: q.Dispositions}
	exact := func(keys []string) bool {
		for _, k := range keys {
			if epcis.IsKeyPattern(k) {
				return false
			}
		}
		return len(keys) > 0
	}
	for _, keys := range [][]string{q.MatchEPC, q.MatchAnyEPC, q.MatchParent} {
		if exact(keys) {
			f.Units = keys
			break
		}
	}
	for _, l := range q.BizLocations {
		// "(414)" + 13-digit GLN [+ "(254)" + extension]
		if len(l) < 18 || !strings.HasPrefix(l, "(414)") {
			f.Locations = nil
			break
		}
		f.Locations = append(f.Locations, l[5:18])
	}
	ms := func(t *time.Time) *int64 {
		if t == nil {
			return nil
		}
		v := t.UnixMilli()
		return &v
	}
	f.GEEventTime, f.LTEventTime = ms(q.GEEventTime), ms(q.LTEventTime)
	// Record times are whole seconds (the block time): GE t holds from the
	// second after a fractional t, LT t up to t's second when t is whole.
	if t := q.GERecordTime; t != nil {
		v := t.Unix()
		if t.Nanosecond() != 0 {
			v++
		}
		f.GERecordTime = &v
	}
	if t := q.LTRecordTime; t != nil {
		v := t.Unix()
		if t.Nanosecond() != 0 {
			v++
		}
		f.LTRecordTime = &v
	}
	return f
}

func pageToken(c supply.Cursor) string {
	if c.Time != 0 {
		return "t" + strconv.FormatInt(c.Time, 10) + "." + strconv.FormatUint(c.Seq, 10)
	}
	return strconv.FormatUint(c.Seq, 10)
}

func parsePageToken(s string) (supply.Cursor, error) {
	if s == "" {
		return supply.Cursor{}, nil
	}
	if rest, ok := strings.CutPrefix(s, "t"); ok {
		ts, ss, ok := strings.Cut(rest, ".")
		if !ok {
			return supply.Cursor{}, epcis.ErrBadPageToken
		}
		t, err1 := strconv.ParseInt(ts, 10, 64)
		seq, err2 := strconv.ParseUint(ss, 10, 64)
		if err1 != nil || err2 != nil || t <= 0 {
			return supply.Cursor{}, epcis.ErrBadPageToken
		}
		return supply.Cursor{Time: t, Seq: seq}, nil
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return supply.Cursor{}, epcis.ErrBadPageToken
	}
	return supply.Cursor{Seq: seq}, nil
}
