package research

import (
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/records"
)

// Parameters.
const (
	// ParamSettleSeconds is how long after a request's end the accesses
	// made before it are still paid as their audit events arrive; then the
	// rest of the escrow returns to the researcher.
	ParamSettleSeconds = "research.settle_seconds"
	// ParamMaxRequestSeconds bounds how far after its opening a request
	// may end.
	ParamMaxRequestSeconds = "research.max_request_seconds"
)

// ParamDefs are the parameters research declares.
var ParamDefs = []params.Def{
	{Name: ParamSettleSeconds, Default: 2 * audit.MaxDelay, Min: 60, Max: 30 * 24 * 3600,
		Doc: "seconds after a data request's end during which accesses made before the end are still paid; then the rest of its escrow returns to the researcher"},
	{Name: ParamMaxRequestSeconds, Default: 2 * 366 * 24 * 3600, Min: 3600, Max: 10 * 366 * 24 * 3600,
		Doc: "how far after its opening a paid data request may end"},
}

// MaxScanPerResearcher bounds the audit events of one researcher that one
// block settles; the cursor takes up the rest in the next blocks.
const MaxScanPerResearcher = 1024

// Module plugs paid research data use into the state machine.
type Module struct{ Params *params.Registry }

var (
	_ sm.Module     = (*Module)(nil)
	_ sm.EndBlocker = (*Module)(nil)
)

func (*Module) Name() string { return Codespace }

func (m *Module) Routes() []sm.Route {
	return []sm.Route{
		{Type: TypeOpen, Decode: decodeOpen, Exec: m.execOpen},
		{Type: TypeOptIn, Decode: decodeOptIn, Exec: execOptIn},
		{Type: TypeClose, Decode: decodeClose, Exec: m.execClose},
	}
}

func idAttr(k string, v uint64) sm.Attr { return sm.Attr{Key: k, Value: strconv.FormatUint(v, 10)} }

func (mod *Module) execOpen(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgOpen)
	kv, now := ctx.Store, ctx.Time.Unix()
	a := accounts.ActiveMember(kv, ctx.Signer, accounts.RoleResearcher)
	if a == nil {
		return ErrNotResearcher
	}
	if m.End <= now {
		return sm.Wrapf(ErrBadEnd, "end %d, block time %d", m.End, now)
	}
	if max := mod.Params.Get(kv, ParamMaxRequestSeconds); uint64(m.End-now) > max {
		return sm.Wrapf(ErrTooLong, "end %d is %d s away; at most %d", m.End, m.End-now, max)
	}
	id := nextID(kv)
	q := &Request{ID: id, Researcher: ctx.Signer, Org: a.Org, Budget: m.Budget, Price: m.Price, Types: m.Types, Codes: m.Codes,
		Purpose: m.Purpose, Opened: now, End: m.End, Closes: m.End + int64(mod.Params.Get(kv, ParamSettleSeconds))}
	if err := bank.Send(kv, ctx.Signer, Escrow(id), m.Budget); err != nil {
		return err
	}
	putRequest(kv, q)
	kv.Set(closesKey(q.Closes, id), []byte{1})
	watch(kv, ctx.Signer, +1)
	ctx.Events.Emit("research_opened", idAttr("request", id), sm.Attr{Key: "researcher", Value: q.Researcher.String()},
		idAttr("budget", q.Budget), idAttr("price", q.Price), sm.Attr{Key: "end", Value: strconv.FormatInt(q.End, 10)})
	return nil
}

func nextID(kv store.KV) uint64 {
	id := uint64(1)
	if b := kv.Get(seqKey); len(b) == 8 {
		id = binary.BigEndian.Uint64(b)
	}
	kv.Set(seqKey, binary.BigEndian.AppendUint64(nil, id+1))
	return id
}

// watch counts a researcher's open requests. While it has one, the
// researcher's audit events from the cursor on are settled each block;
// the cursor starts at the next audit sequence, so accesses made before
// the researcher's first open request are never looked at.
func watch(kv store.KV, researcher crypto.Address, delta int) {
	cursor, open := readWatch(kv, researcher)
	if open == 0 {
		cursor = audit.NextSeq(kv)
	}
	open = uint64(int64(open) + int64(delta))
	if open == 0 {
		kv.Delete(watchKey(researcher))
		return
	}
	writeWatch(kv, researcher, cursor, open)
}

func readWatch(kv store.Reader, researcher crypto.Address) (cursor, open uint64) {
	if b := kv.Get(watchKey(researcher)); len(b) == 16 {
		return binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
	}
	return 0, 0
}

func writeWatch(kv store.KV, researcher crypto.Address, cursor, open uint64) {
	kv.Set(watchKey(researcher), binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, cursor), open))
}

func execOptIn(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgOptIn)
	kv, now := ctx.Store, ctx.Time.Unix()
	if p := accounts.GetAccount(kv, m.Patient); p == nil || p.Kind != accounts.KindPatient {
		return sm.Wrapf(ErrPatientNotFound, "%s", m.Patient)
	}
	if !accounts.CanActFor(kv, ctx.Signer, m.Patient) {
		return sm.Wrapf(ErrNotPatient, "%s for %s", ctx.Signer, m.Patient)
	}
	q := GetRequest(kv, m.Request)
	if q == nil {
		return sm.Wrapf(ErrUnknownRequest, "%d", m.Request)
	}
	if q.Closed != 0 || now >= q.End {
		return sm.Wrapf(ErrEnded, "request %d ended at %d", q.ID, q.End)
	}
	if GetOptIn(kv, q.ID, m.Patient) != nil {
		return sm.Wrapf(ErrAlreadyIn, "request %d", q.ID)
	}
	if pool := bank.PoolBalance(kv, Escrow(q.ID)); pool < q.Reserved || pool-q.Reserved < q.Price {
		return sm.Wrapf(ErrFull, "request %d: %d patients opted in", q.ID, q.Patients)
	}
	c := consent.GetConsent(kv, m.Consent)
	if c == nil {
		return sm.Wrapf(ErrUnknownConsent, "%d", m.Consent)
	}
	if err := fits(c, q, m.Patient, now); err != nil {
		return err
	}
	if r := LinkedRequest(kv, c.ID); r != 0 {
		return sm.Wrapf(ErrConsentLinked, "consent %d backs request %d", c.ID, r)
	}
	putOptIn(kv, &OptIn{Request: q.ID, Patient: m.Patient, Consent: c.ID, Joined: now})
	kv.Set(linkKey(c.ID), binary.BigEndian.AppendUint64(nil, q.ID))
	kv.Set(byPatientKey(m.Patient, q.ID), []byte{1})
	q.Reserved += q.Price
	q.Patients++
	putRequest(kv, q)
	ctx.Events.Emit("research_opted_in", idAttr("request", q.ID), idAttr("consent", c.ID))
	return nil
}

// fits checks that consent c may back patient's opt-in to q at now.
func fits(c *consent.Consent, q *Request, patient crypto.Address, now int64) error {
	switch {
	case c.Patient != patient || c.Grantee != consent.Account(q.Researcher):
		return sm.Wrapf(ErrConsentParties, "consent %d: patient %s, grantee %s", c.ID, c.Patient, c.Grantee)
	case c.Purpose != consent.PurposeResearch || c.Actions != consent.ActRead:
		return sm.Wrapf(ErrConsentPurpose, "consent %d: purpose %s, actions %d", c.ID, c.Purpose, c.Actions)
	case len(c.Types) == 0 || len(c.Records) != 0 || !subset(c.Types, q.Types):
		return sm.Wrapf(ErrConsentScope, "consent %d: types %v, %d listed records; request types %v", c.ID, c.Types, len(c.Records), q.Types)
	case !c.ActiveAt(now) || c.Until != q.End:
		return sm.Wrapf(ErrConsentPeriod, "consent %d is %s and ends at %d; the request ends at %d", c.ID, c.Status(now), c.Until, q.End)
	}
	return nil
}

func (mod *Module) execClose(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgClose)
	kv, now := ctx.Store, ctx.Time.Unix()
	q := GetRequest(kv, m.Request)
	if q == nil {
		return sm.Wrapf(ErrUnknownRequest, "%d", m.Request)
	}
	if q.Researcher != ctx.Signer {
		return sm.Wrapf(ErrNotOwner, "request %d", q.ID)
	}
	if q.Closed != 0 || now >= q.End {
		return sm.Wrapf(ErrEnded, "request %d ended at %d", q.ID, q.End)
	}
	// Ending early must not leave a consenting patient unpaid: their
	// consent, which ends at the original end, would still let the
	// researcher read for free.
	for _, o := range Participants(kv, q.ID) {
		if o.Amount != 0 {
			continue
		}
		if c := consent.GetConsent(kv, o.Consent); c != nil && c.ActiveAt(now) {
			return sm.Wrapf(ErrUnpaid, "request %d: patient %s (consent %d)", q.ID, o.Patient, c.ID)
		}
	}
	kv.Delete(closesKey(q.Closes, q.ID))
	q.End = now
	q.Closes = now + int64(mod.Params.Get(kv, ParamSettleSeconds))
	kv.Set(closesKey(q.Closes, q.ID), []byte{1})
	putRequest(kv, q)
	ctx.Events.Emit("research_ended", idAttr("request", q.ID), sm.Attr{Key: "closes", Value: strconv.FormatInt(q.Closes, 10)})
	return nil
}

// EndBlock pays for the new accesses of researchers with open requests,
// then closes the requests whose settle time has come.
func (mod *Module) EndBlock(ctx sm.Context) {
	kv := ctx.Store
	type watched struct {
		researcher   crypto.Address
		cursor, open uint64
	}
	var ws []watched
	p := []byte{sm.PrefixResearchWatch}
	kv.Iterate(p, store.PrefixEnd(p), func(k, v []byte) bool {
		if len(k) == 21 && len(v) == 16 {
			var a crypto.Address
			copy(a[:], k[1:])
			ws = append(ws, watched{a, binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])})
		}
		return true
	})
	for _, w := range ws {
		type hit struct {
			seq     uint64
			patient crypto.Address
		}
		var hits []hit
		audit.AccessorSeqs(kv, w.researcher, w.cursor, func(seq uint64, patient crypto.Address) bool {
			hits = append(hits, hit{seq, patient})
			return len(hits) < MaxScanPerResearcher
		})
		if len(hits) == 0 {
			continue
		}
		for _, h := range hits {
			if e := audit.GetEvent(kv, h.patient, h.seq); e != nil && e.Accessor == w.researcher && e.Seq == h.seq {
				settle(ctx, e)
			}
		}
		// A payment may have closed the researcher's last open request.
		if _, open := readWatch(kv, w.researcher); open != 0 {
			writeWatch(kv, w.researcher, hits[len(hits)-1].seq+1, open)
		}
	}
	now := ctx.Time.Unix()
	cp := []byte{sm.PrefixResearchCloses}
	var due []uint64
	kv.Iterate(cp, u64(append([]byte(nil), cp...), uint64(now)+1), func(k, _ []byte) bool {
		due = append(due, binary.BigEndian.Uint64(k[len(k)-8:]))
		return true
	})
	for _, id := range due {
		if q := GetRequest(kv, id); q != nil && q.Closed == 0 && q.Closes <= now {
			finish(ctx, q)
		}
	}
}

// settle pays for e, a served read by a researcher, when it is a paid
// access of an opt-in (see the package doc); otherwise it does nothing.
func settle(ctx sm.Context, e *audit.Event) {
	kv := ctx.Store
	if !e.Served || e.ConsentID == 0 {
		return
	}
	q := GetRequest(kv, LinkedRequest(kv, e.ConsentID))
	if q == nil || q.Closed != 0 || q.Researcher != e.Accessor || e.Time < q.Opened || e.Time >= q.End {
		return
	}
	o := GetOptIn(kv, q.ID, e.Patient)
	if o == nil || o.Consent != e.ConsentID {
		return
	}
	c := consent.GetConsent(kv, e.ConsentID)
	if c == nil || c.Patient != e.Patient || c.Grantee != consent.Account(q.Researcher) || c.Purpose != consent.PurposeResearch ||
		!inForceAt(c, e.Time) {
		return
	}
	rec := records.GetRecord(kv, e.Record)
	if rec == nil || rec.Patient != e.Patient || !c.Covers(rec.ID, rec.Type) || !slices.Contains(q.Types, rec.Type) {
		return
	}
	if o.Amount != 0 {
		if len(o.Accesses) < MaxListed {
			o.Accesses = append(o.Accesses, e.Seq)
		} else {
			o.More++
		}
		putOptIn(kv, o)
		return
	}
	if p := accounts.GetAccount(kv, e.Patient); p == nil || p.Kind != accounts.KindPatient {
		return
	}
	// The escrow holds at least the reserved prices on a sound state; were
	// it short, nothing is paid and nothing changes.
	if err := bank.Send(kv, Escrow(q.ID), e.Patient, q.Price); err != nil {
		return
	}
	o.Amount, o.PaidAt, o.Accesses = q.Price, ctx.Time.Unix(), []uint64{e.Seq}
	putOptIn(kv, o)
	q.Reserved -= q.Price
	q.Paid += q.Price
	q.PaidCount++
	putRequest(kv, q)
	// The block event names the request, not the patient.
	ctx.Events.Emit("research_paid", idAttr("request", q.ID), idAttr("amount", q.Price))
	if q.Reserved == 0 && bank.PoolBalance(kv, Escrow(q.ID)) < q.Price {
		finish(ctx, q) // spent: every opted-in patient paid, no price left
	}
}

// inForceAt reports whether c was in force at time t.
func inForceAt(c *consent.Consent, t int64) bool {
	return t >= c.Start && (c.Until == 0 || t < c.Until) && (c.Revoked == 0 || t < c.Revoked)
}

// finish closes q: the rest of its escrow returns to the researcher.
func finish(ctx sm.Context, q *Request) {
	kv := ctx.Store
	rest := bank.PoolBalance(kv, Escrow(q.ID))
	if rest > 0 {
		if err := bank.Send(kv, Escrow(q.ID), q.Researcher, rest); err != nil {
			return // cannot fail: the pool holds rest; the request stays open
		}
	}
	kv.Delete(closesKey(q.Closes, q.ID))
	q.Closed, q.Returned, q.Reserved = ctx.Time.Unix(), rest, 0
	putRequest(kv, q)
	watch(kv, q.Researcher, -1)
	ctx.Events.Emit("research_closed", idAttr("request", q.ID), idAttr("paid", q.Paid), idAttr("returned", rest))
}
