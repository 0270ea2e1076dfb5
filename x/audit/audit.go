// Package audit keeps the on-chain trail of record accesses: every read a
// node served and every attempt it refused, reported in batches by the
// node's gateway account and stored per patient. Each event carries the
// accessor's signed request (Proof), verified against the accessor's
// account key, and must name an existing record of its patient; events are
// judged one by one, so one bad or early event never costs the others, and
// a late one is logged and marked late. The patient lists the trail of
// their records; Signals derives suspicious-access warnings from it.
// Deterministic; no I/O.
package audit

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy/cond"
	"github.com/medchain/medchain/x/records"
)

// Codespace of the audit module.
const Codespace = "audit"

// Errors; codes are stable. An audit/log transaction fails as a whole only
// with ErrNotGateway or a malformed message (ErrBadEvent, tx/…); every other
// error judges one event, which is left out of the trail while the others
// are logged (see execLog).
var (
	ErrNotGateway = sm.Register(Codespace, 1, "signer is not an active gateway of a member organization")
	ErrBadEvent   = sm.Register(Codespace, 2, "invalid access event")
	// ErrClockSkew: the event claims a time ahead of the block time; the
	// gateway keeps it and sends it again later.
	ErrClockSkew       = sm.Register(Codespace, 3, "access event time ahead of the block time: send it again later")
	ErrDuplicate       = sm.Register(Codespace, 4, "access event already logged")
	ErrUnknownRecord   = sm.Register(Codespace, 5, "access event names no existing record version")
	ErrWrongPatient    = sm.Register(Codespace, 6, "access event names a record of another patient")
	ErrNotAttributable = sm.Register(Codespace, 7, "access event is not backed by the accessor's signed request")
	ErrRequestReused   = sm.Register(Codespace, 8, "the signed request already backs another access event")
)

// Limits.
const (
	MaxEvents    = 512
	MaxReasonLen = 128
	// An event logged more than MaxDelay seconds after it happened is
	// accepted and marked late (Late); one claiming more than MaxAhead
	// seconds ahead of the block time is refused with ErrClockSkew, to be
	// sent again once the chain's time has caught up.
	MaxDelay = 3600
	MaxAhead = 300
	// IDSize is the size of an event's id.
	IDSize = 16
)

// Event is one access, served or refused.
type Event struct {
	Seq         uint64       // assigned on chain
	ID          [IDSize]byte // chosen at random by the reporting gateway: a resent event is recognized
	Patient     crypto.Address
	Accessor    crypto.Address
	Record      consent.RecordID
	Version     uint32
	Time        int64  // when the node served or refused it
	Node        string // organization whose gateway reported it (assigned on chain)
	Basis       string // consent.Basis of a served read
	ConsentID   uint64
	EmergencyID uint64
	Served      bool
	Reason      string   // why it was refused ("consent/17: ..."), empty when served
	Logged      int64    // block time at which the chain recorded it (assigned)
	ProofHash   [32]byte // the hash of Proof (assigned); ProofOf loads it
	// Condition names (cond.Hash) the condition of the consent ConsentID
	// when that consent is the patient's and has one (assigned from state
	// when logged): the condition that allowed a served read, or refused
	// one ("consent/24"). Consents are never amended, so the consent's
	// condition is the one its decisions evaluated.
	Condition string
	// Proof is the accessor's signed request behind the access, carried
	// by MsgLog; nil in events read from state.
	Proof *Proof
}

// Encode writes the event as stored in state.
func (e *Event) Encode(w *codec.Writer) {
	w.Uint(e.Seq)
	w.Fixed(e.ID[:])
	e.encodeAccess(w)
	w.String(e.Node)
	w.Int(e.Logged)
	w.Fixed(e.ProofHash[:])
	if e.Condition != "" {
		// Trailing and only when present: events without a condition keep
		// the encoding they had before conditions existed.
		w.String(e.Condition)
	}
}

// encodeAccess writes the fields the gateway reports.
func (e *Event) encodeAccess(w *codec.Writer) {
	w.Fixed(e.Patient[:])
	w.Fixed(e.Accessor[:])
	w.Fixed(e.Record[:])
	w.Uint(uint64(e.Version))
	w.Int(e.Time)
	w.String(e.Basis)
	w.Uint(e.ConsentID)
	w.Uint(e.EmergencyID)
	w.Bool(e.Served)
	w.String(e.Reason)
}

func readAccess(r *codec.Reader, e *Event) {
	e.Patient = sm.ReadAddress(r, "patient")
	e.Accessor = sm.ReadAddress(r, "accessor")
	r.Into("record", e.Record[:])
	if v := r.Uint("version"); v > math.MaxUint32 {
		// Narrowed, it would name another version and re-encode differently.
		fail(r, fmt.Sprintf("version %d (wider than 32 bits)", v))
	} else {
		e.Version = uint32(v)
	}
	e.Time = r.Int("time")
	e.Basis = r.String("basis", 32)
	e.ConsentID = r.Uint("consent_id")
	e.EmergencyID = r.Uint("emergency_id")
	e.Served = r.Bool("served")
	e.Reason = r.String("reason", MaxReasonLen)
}

func readEvent(r *codec.Reader) Event {
	var e Event
	e.Seq = r.Uint("seq")
	r.Into("id", e.ID[:])
	readAccess(r, &e)
	e.Node = r.String("node", accounts.MaxIDLen)
	e.Logged = r.Int("logged")
	r.Into("proof_hash", e.ProofHash[:])
	if r.Err() == nil && r.Remaining() > 0 {
		e.Condition = r.String("condition", maxConditionName)
		if e.Condition == "" && r.Err() == nil {
			fail(r, "condition (present but empty)") // it would re-encode as absent
		}
	}
	return e
}

// maxConditionName bounds Event.Condition (cond.Hash is 16 hex digits).
const maxConditionName = 64

// conditionOf names the condition of the patient's consent id, or "".
func conditionOf(kv store.Reader, patient crypto.Address, id uint64) string {
	if id == 0 {
		return ""
	}
	c := consent.GetConsent(kv, id)
	if c == nil || c.Patient != patient || c.Condition == "" {
		return ""
	}
	return cond.Hash(c.Condition)
}

// fail makes the reader fail with msg.
func fail(r *codec.Reader, msg string) { r.Fixed(msg, -1) }

// Reason is the refusal reason of an access event: the error's stable code
// and description ("consent/17: no consent covers this access"), without
// the details a wrapped error adds (no free text on chain). A refusal by a
// consent's condition names the consent and the condition instead
// ("consent/24: consent 7 condition 1f2e3d4c5b6a7980").
func Reason(why error) string {
	code, space, msg := sm.ABCIInfo(why)
	var e *sm.Error
	if errors.As(why, &e) {
		msg = e.Desc
	}
	r := fmt.Sprintf("%s/%d: %s", space, code, msg)
	if ce := consent.AsConditionError(why); ce != nil {
		// Which condition refused: the consent and its condition's hash
		// (no expression text, which the consent itself holds).
		r = fmt.Sprintf("%s/%d: %s", space, code, ce.Trail())
	}
	if len(r) > MaxReasonLen {
		r = r[:MaxReasonLen]
	}
	return r
}

// Flagged reports whether the access was an emergency (break-glass) read.
func (e *Event) Flagged() bool { return e.EmergencyID != 0 }

// Late reports whether the event reached the chain more than MaxDelay
// seconds after the access (a halted chain, a node down for long).
func (e *Event) Late() bool { return e.Logged-e.Time > MaxDelay }

// TypeLog is the message type of a batch of access events.
const TypeLog = "audit/log"

// MsgLog reports accesses served or refused by the signer's node, each with
// the accessor's signed request (Event.Proof). On the wire the proofs are
// listed once, in order of first use, and each event names its proof by
// index, so a session's many reads carry its grant once.
type MsgLog struct{ Events []Event }

func (m *MsgLog) Type() string { return TypeLog }

// proofTable lists the distinct proofs in order of first use and each
// event's index into it (-1 for an event without a proof).
func (m *MsgLog) proofTable() ([][]byte, []int) {
	var table [][]byte
	at := map[string]int{}
	idx := make([]int, len(m.Events))
	for i := range m.Events {
		p := m.Events[i].Proof
		if p == nil {
			idx[i] = -1
			continue
		}
		b := codec.Marshal(p)
		j, ok := at[string(b)]
		if !ok {
			j = len(table)
			at[string(b)] = j
			table = append(table, b)
		}
		idx[i] = j
	}
	return table, idx
}

func (m *MsgLog) Encode(w *codec.Writer) {
	table, idx := m.proofTable()
	w.Uint(uint64(len(table)))
	for _, b := range table {
		w.Fixed(b)
	}
	w.Uint(uint64(len(m.Events)))
	for i := range m.Events {
		w.Fixed(m.Events[i].ID[:])
		m.Events[i].encodeAccess(w)
		if idx[i] < 0 {
			w.Uint(math.MaxUint32) // no proof: refused by the decoder
		} else {
			w.Uint(uint64(idx[i]))
		}
	}
}

func (m *MsgLog) ValidateBasic() error {
	if len(m.Events) == 0 {
		return sm.Wrapf(ErrBadEvent, "empty batch")
	}
	for i := range m.Events {
		if err := m.Events[i].ValidateReport(); err != nil {
			return sm.Wrapf(ErrBadEvent, "event %d: %v", i, err)
		}
	}
	return nil
}

// ValidateReport checks, without state, an event as a gateway reports it.
func (e *Event) ValidateReport() error {
	switch {
	case e.Seq != 0 || e.Node != "" || e.Logged != 0 || e.ProofHash != [32]byte{} || e.Condition != "":
		return fmt.Errorf("seq, node, logged, proof hash and condition are assigned by the chain")
	case e.ID == [IDSize]byte{}:
		return fmt.Errorf("an event id is required")
	case e.Patient.IsZero() || e.Accessor.IsZero():
		return fmt.Errorf("patient and accessor are required")
	case e.Version == 0:
		return fmt.Errorf("a record version is required")
	case e.Served == (e.Reason != ""):
		return fmt.Errorf("a served read has no reason; a refusal needs one")
	case len(e.Reason) > MaxReasonLen || len(e.Basis) > 32:
		return fmt.Errorf("reason or basis too long")
	case e.Proof == nil:
		return fmt.Errorf("the accessor's signed request (proof) is required")
	}
	if err := e.Proof.ValidateBasic(); err != nil {
		return err
	}
	if n := len(codec.Marshal(e.Proof)); n > maxProofBytes {
		return fmt.Errorf("proof of %d bytes (at most %d)", n, maxProofBytes)
	}
	return nil
}

// maxProofBytes bounds an encoded proof (a session's scope is the long part).
const maxProofBytes = 1 + 10 + crypto.SignatureSize + 2 + MaxOrgLen + 32 + 2 + MaxScopeLen + 1 + 64 + 1 + 32

func decodeLog(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgLog {
		np := r.Count("proofs", MaxEvents)
		proofs := make([]*Proof, 0, np)
		seen := make(map[string]bool, np)
		for i := 0; i < np && r.Err() == nil; i++ {
			start := r.Remaining()
			p := readProof(r)
			if r.Err() != nil {
				break
			}
			b := codec.Marshal(&p)
			if len(b) != start-r.Remaining() || seen[string(b)] {
				fail(r, "proofs: a proof listed twice")
				break
			}
			seen[string(b)] = true
			proofs = append(proofs, &p)
		}
		n := r.Count("events", MaxEvents)
		m := &MsgLog{Events: make([]Event, 0, n)}
		used := 0
		for i := 0; i < n && r.Err() == nil; i++ {
			var e Event
			r.Into("id", e.ID[:])
			readAccess(r, &e)
			j := r.Uint("proof")
			if r.Err() != nil {
				break
			}
			// Proofs are listed in order of first use, each used: one
			// encoding per batch.
			if j >= uint64(len(proofs)) || j > uint64(used) {
				fail(r, fmt.Sprintf("event %d: proof %d out of order", i, j))
				break
			}
			if j == uint64(used) {
				used++
			}
			e.Proof = proofs[j]
			m.Events = append(m.Events, e)
		}
		if r.Err() == nil && used != len(proofs) {
			fail(r, "proofs: a proof no event uses")
		}
		return m
	})
}

// Module plugs the audit trail into the state machine.
type Module struct{}

var _ sm.Module = Module{}

func (Module) Name() string { return "audit" }
func (Module) Routes() []sm.Route {
	return []sm.Route{{Type: TypeLog, Decode: decodeLog, Exec: execLog}}
}

var seqKey = []byte{sm.PrefixAuditSeq}

func eventKey(p crypto.Address, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{sm.PrefixAudit}, p[:]...), seq)
}

func accessorKey(a crypto.Address, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{sm.PrefixAuditByAccessor}, a[:]...), seq)
}

func idKey(gateway crypto.Address, id [IDSize]byte) []byte {
	return append(append([]byte{sm.PrefixAuditID}, gateway[:]...), id[:]...)
}

func proofKey(h [32]byte) []byte { return append([]byte{sm.PrefixAuditProof}, h[:]...) }

// Event outcomes in a transaction's result: each refused event gets an
// EventRejected event naming its index in the batch, its id and its code.
const (
	EventLogged   = "access_logged"
	EventRejected = "access_rejected"
)

// execLog judges each event of the batch on its own: an accepted event is
// stored under the next sequence, a refused one is left out with its reason
// in the result's events. The batch fails as a whole only when its signer
// is not an active gateway.
func execLog(ctx sm.Context, msg sm.Msg) error {
	m := msg.(*MsgLog)
	gw := accounts.ActiveMember(ctx.Store, ctx.Signer, accounts.RoleGateway)
	if gw == nil {
		return ErrNotGateway
	}
	now := ctx.Time.Unix()
	seq := uint64(1)
	if b := ctx.Store.Get(seqKey); len(b) == 8 {
		seq = binary.BigEndian.Uint64(b)
	}
	j := &judge{ctx: ctx, org: gw.Org, now: now, checked: map[signedBy]error{}, hashes: map[*Proof][32]byte{}}
	j.verifyAll(m.Events)
	logged, late, rejected := 0, 0, 0
	for i := range m.Events {
		e := m.Events[i]
		h, err := j.judge(&e)
		if err != nil {
			code, space, log := sm.ABCIInfo(err)
			ctx.Events.Emit(EventRejected, sm.Attr{Key: "index", Value: strconv.Itoa(i)},
				sm.Attr{Key: "id", Value: hex.EncodeToString(e.ID[:])},
				sm.Attr{Key: "code", Value: space + "/" + strconv.FormatUint(uint64(code), 10)},
				sm.Attr{Key: "log", Value: log})
			rejected++
			continue
		}
		e.Seq, e.Node, e.Logged, e.ProofHash, e.Proof = seq, gw.Org, now, h, nil
		e.Condition = conditionOf(ctx.Store, e.Patient, e.ConsentID)
		seq++
		if e.Late() {
			late++
		}
		ctx.Store.Set(eventKey(e.Patient, e.Seq), codec.Marshal(&e))
		ctx.Store.Set(accessorKey(e.Accessor, e.Seq), e.Patient[:])
		ctx.Store.Set(idKey(ctx.Signer, e.ID), binary.BigEndian.AppendUint64(nil, e.Seq))
		logged++
	}
	ctx.Store.Set(seqKey, binary.BigEndian.AppendUint64(nil, seq))
	ctx.Events.Emit(EventLogged, sm.Attr{Key: "count", Value: strconv.Itoa(logged)}, sm.Attr{Key: "node", Value: gw.Org},
		sm.Attr{Key: "late", Value: strconv.Itoa(late)}, sm.Attr{Key: "rejected", Value: strconv.Itoa(rejected)})
	return nil
}

// judge checks events of one batch; it verifies each proof once.
type judge struct {
	ctx     sm.Context
	org     string
	now     int64
	checked map[signedBy]error // signature results (maps never iterated)
	hashes  map[*Proof][32]byte
}

type signedBy struct {
	p        *Proof
	accessor crypto.Address
}

// verifyAll checks the batch's distinct (proof, accessor) signatures at
// once (batch verification; ZIP-215 makes its verdicts those of one by one).
func (j *judge) verifyAll(evs []Event) {
	var items []crypto.SigItem
	var keys []signedBy
	seen := map[signedBy]bool{}
	for i := range evs {
		e := &evs[i]
		k := signedBy{e.Proof, e.Accessor}
		if e.Proof == nil || seen[k] {
			continue
		}
		seen[k] = true
		acct := accounts.GetAccount(j.ctx.Store, e.Accessor)
		if acct == nil {
			continue
		}
		pub, err := e.Proof.SignerKey(j.ctx.Store, acct)
		if err != nil {
			continue // judge reports it
		}
		items = append(items, crypto.SigItem{Pub: pub, Msg: e.Proof.SignBytes(j.ctx.ChainID, e.Accessor), Sig: e.Proof.Sig[:]})
		keys = append(keys, k)
	}
	for i, ok := range crypto.BatchVerify(items) {
		var err error
		if !ok {
			err = sm.Wrapf(ErrNotAttributable, "the signature does not verify with the key of %s", keys[i].accessor)
		}
		j.checked[keys[i]] = err
	}
}

// judge returns the hash of the event's proof when the event may be logged,
// after storing the proof; else why not.
func (j *judge) judge(e *Event) ([32]byte, error) {
	kv := j.ctx.Store
	if kv.Get(idKey(j.ctx.Signer, e.ID)) != nil {
		return [32]byte{}, sm.Wrapf(ErrDuplicate, "id %x", e.ID)
	}
	if e.Time > j.now+MaxAhead {
		return [32]byte{}, sm.Wrapf(ErrClockSkew, "event at %d, block time %d", e.Time, j.now)
	}
	rec := records.GetRecord(kv, e.Record)
	if rec == nil || e.Version > rec.Version {
		return [32]byte{}, sm.Wrapf(ErrUnknownRecord, "record %x version %d", e.Record, e.Version)
	}
	if rec.Patient != e.Patient {
		return [32]byte{}, sm.Wrapf(ErrWrongPatient, "record %x", e.Record)
	}
	acct := accounts.GetAccount(kv, e.Accessor)
	if acct == nil {
		return [32]byte{}, sm.Wrapf(ErrNotAttributable, "accessor %s has no account", e.Accessor)
	}
	p := e.Proof
	if err := p.covers(kv, e, j.org); err != nil {
		return [32]byte{}, sm.Wrapf(ErrNotAttributable, "%v", err)
	}
	k := signedBy{p, e.Accessor}
	err, done := j.checked[k]
	if !done {
		pub, kerr := p.SignerKey(kv, acct)
		switch {
		case kerr != nil:
			err = sm.Wrapf(ErrNotAttributable, "%v", kerr)
		case !crypto.Verify(pub, p.SignBytes(j.ctx.ChainID, e.Accessor), p.Sig[:]):
			err = sm.Wrapf(ErrNotAttributable, "the signature does not verify with the key of %s", e.Accessor)
		}
		j.checked[k] = err
	}
	if err != nil {
		return [32]byte{}, err
	}
	h, ok := j.hashes[p]
	if !ok {
		h = p.Hash()
		j.hashes[p] = h
	}
	if stored := kv.Get(proofKey(h)); stored != nil {
		if p.Kind == ProofRequest {
			return [32]byte{}, sm.Wrapf(ErrRequestReused, "proof %x", h)
		}
		return h, nil
	}
	kv.Set(proofKey(h), codec.Marshal(p))
	return h, nil
}

// ProofOf returns the proof an event from state was logged with.
func ProofOf(kv store.Reader, e *Event) (*Proof, error) {
	b := kv.Get(proofKey(e.ProofHash))
	if b == nil {
		return nil, fmt.Errorf("no proof %x", e.ProofHash)
	}
	r := codec.NewReader(b)
	p := readProof(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Filter selects trail entries.
type Filter struct {
	From, To int64          // unix seconds, inclusive From, exclusive To (0: unbounded)
	Accessor crypto.Address // zero: any
	Limit    int            // 0: no limit
}

// Trail lists a patient's access events in order.
func Trail(kv store.Reader, patient crypto.Address, f Filter) []Event {
	var out []Event
	p := append([]byte{sm.PrefixAudit}, patient[:]...)
	kv.Iterate(p, store.PrefixEnd(p), func(_, v []byte) bool {
		r := codec.NewReader(v)
		e := readEvent(r)
		store.Check(r.Done())
		if (f.From != 0 && e.Time < f.From) || (f.To != 0 && e.Time >= f.To) || (!f.Accessor.IsZero() && e.Accessor != f.Accessor) {
			return true
		}
		out = append(out, e)
		return f.Limit == 0 || len(out) < f.Limit
	})
	return out
}

// ByAccessor lists the events of one accessor across patients.
func ByAccessor(kv store.Reader, accessor crypto.Address, from, to int64) []Event {
	var out []Event
	p := append([]byte{sm.PrefixAuditByAccessor}, accessor[:]...)
	kv.Iterate(p, store.PrefixEnd(p), func(k, v []byte) bool {
		var patient crypto.Address
		copy(patient[:], v)
		seq := binary.BigEndian.Uint64(k[len(k)-8:])
		b := kv.Get(eventKey(patient, seq))
		if b == nil {
			return true
		}
		r := codec.NewReader(b)
		e := readEvent(r)
		store.Check(r.Done())
		// The index entry is believed only when the event it names is the
		// accessor's: index keys sit outside the Merkle tree.
		if e.Accessor != accessor || e.Seq != seq || e.Patient != patient {
			return true
		}
		if (from == 0 || e.Time >= from) && (to == 0 || e.Time < to) {
			out = append(out, e)
		}
		return true
	})
	return out
}

// Access is the event a node reports for one read of version of rec by
// accessor at unix time now, decided by d: served when why is nil,
// otherwise refused with why's stable code and description as the reason
// (Reason). proof is the accessor's signed request behind it, which the
// chain checks. It is the one way a served read or a refusal becomes an
// audit event.
func Access(rec *records.Record, version uint32, accessor crypto.Address, now int64, d consent.Decision, why error, proof *Proof) Event {
	ev := Event{Patient: rec.Patient, Accessor: accessor, Record: rec.ID, Version: version,
		Time: now, Served: why == nil, Basis: string(d.Basis), ConsentID: d.ConsentID, EmergencyID: d.EmergencyID, Proof: proof}
	if why != nil {
		ev.Reason = Reason(why)
		if ce := consent.AsConditionError(why); ce != nil {
			// The consent whose condition refused: the chain names its
			// condition in the trail (Event.Condition).
			ev.ConsentID = ce.ConsentID
		}
	}
	return ev
}
