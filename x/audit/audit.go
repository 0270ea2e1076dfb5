// Package audit keeps the on-chain trail of record accesses: every read a
// node served and every attempt it refused, reported in batches by the
// node's gateway account and stored per patient. The patient lists the trail
// of their records; Signals derives suspicious-access warnings from it.
// Deterministic; no I/O.
package audit

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// Codespace of the audit module.
const Codespace = "audit"

// Errors; codes are stable.
var (
	ErrNotGateway = sm.Register(Codespace, 1, "signer is not an active gateway of a member organization")
	ErrBadEvent   = sm.Register(Codespace, 2, "invalid access event")
	ErrClockSkew  = sm.Register(Codespace, 3, "access event time too far from the block time")
)

// Limits.
const (
	MaxEvents    = 512
	MaxReasonLen = 128
	// An event may be reported up to MaxDelay seconds after it happened, and
	// may claim at most MaxAhead seconds ahead of the block time (clock skew).
	MaxDelay = 3600
	MaxAhead = 300
)

// Event is one access, served or refused.
type Event struct {
	Seq         uint64 // assigned on chain
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
	Reason      string // why it was refused ("consent/17: ..."), empty when served
}

func (e *Event) Encode(w *codec.Writer) {
	w.Uint(e.Seq)
	w.Fixed(e.Patient[:])
	w.Fixed(e.Accessor[:])
	w.Fixed(e.Record[:])
	w.Uint(uint64(e.Version))
	w.Int(e.Time)
	w.String(e.Node)
	w.String(e.Basis)
	w.Uint(e.ConsentID)
	w.Uint(e.EmergencyID)
	w.Bool(e.Served)
	w.String(e.Reason)
}

func readEvent(r *codec.Reader) Event {
	var e Event
	e.Seq = r.Uint("seq")
	e.Patient = sm.ReadAddress(r, "patient")
	e.Accessor = sm.ReadAddress(r, "accessor")
	r.Into("record", e.Record[:])
	if v := r.Uint("version"); v > math.MaxUint32 {
		// Narrowed, it would name another version and re-encode differently.
		r.Fixed(fmt.Sprintf("version %d (wider than 32 bits)", v), -1) // forces an error
	} else {
		e.Version = uint32(v)
	}
	e.Time = r.Int("time")
	e.Node = r.String("node", accounts.MaxIDLen)
	e.Basis = r.String("basis", 32)
	e.ConsentID = r.Uint("consent_id")
	e.EmergencyID = r.Uint("emergency_id")
	e.Served = r.Bool("served")
	e.Reason = r.String("reason", MaxReasonLen)
	return e
}

// Flagged reports whether the access was an emergency (break-glass) read.
func (e *Event) Flagged() bool { return e.EmergencyID != 0 }

// TypeLog is the message type of a batch of access events.
const TypeLog = "audit/log"

// MsgLog reports accesses served or refused by the signer's node. Seq and
// Node of each event must be zero: the chain assigns them.
type MsgLog struct{ Events []Event }

func (m *MsgLog) Type() string { return TypeLog }
func (m *MsgLog) Encode(w *codec.Writer) {
	w.Uint(uint64(len(m.Events)))
	for i := range m.Events {
		m.Events[i].Encode(w)
	}
}
func (m *MsgLog) ValidateBasic() error {
	if len(m.Events) == 0 {
		return sm.Wrapf(ErrBadEvent, "empty batch")
	}
	for i, e := range m.Events {
		if e.Seq != 0 || e.Node != "" {
			return sm.Wrapf(ErrBadEvent, "event %d: seq and node are assigned by the chain", i)
		}
		if e.Patient.IsZero() || e.Accessor.IsZero() {
			return sm.Wrapf(ErrBadEvent, "event %d: patient and accessor are required", i)
		}
		if e.Served == (e.Reason != "") {
			return sm.Wrapf(ErrBadEvent, "event %d: a served read has no reason; a refusal needs one", i)
		}
	}
	return nil
}

func decodeLog(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgLog {
		n := r.Count("events", MaxEvents)
		m := &MsgLog{Events: make([]Event, 0, n)}
		for i := 0; i < n && r.Err() == nil; i++ {
			m.Events = append(m.Events, readEvent(r))
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
	for i := range m.Events {
		e := m.Events[i]
		if e.Time < now-MaxDelay || e.Time > now+MaxAhead {
			return sm.Wrapf(ErrClockSkew, "event %d at %d, block time %d", i, e.Time, now)
		}
		if rec := records.GetRecord(ctx.Store, e.Record); rec != nil && rec.Patient != e.Patient {
			return sm.Wrapf(ErrBadEvent, "event %d: record belongs to another patient", i)
		}
		e.Seq, e.Node = seq, gw.Org
		seq++
		ctx.Store.Set(eventKey(e.Patient, e.Seq), codec.Marshal(&e))
		ctx.Store.Set(accessorKey(e.Accessor, e.Seq), e.Patient[:])
	}
	ctx.Store.Set(seqKey, binary.BigEndian.AppendUint64(nil, seq))
	ctx.Events.Emit("access_logged", sm.Attr{Key: "count", Value: strconv.Itoa(len(m.Events))}, sm.Attr{Key: "node", Value: gw.Org})
	return nil
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
		if (from == 0 || e.Time >= from) && (to == 0 || e.Time < to) {
			out = append(out, e)
		}
		return true
	})
	return out
}

// Access is the event a node reports for one read of version of rec by
// accessor at unix time now, decided by d: served when why is nil,
// otherwise refused with why's stable code and message as the reason
// ("consent/17: ...", cut to MaxReasonLen). It is the one way a served read
// or a refusal becomes an audit event.
func Access(rec *records.Record, version uint32, accessor crypto.Address, now int64, d consent.Decision, why error) Event {
	ev := Event{Patient: rec.Patient, Accessor: accessor, Record: rec.ID, Version: version,
		Time: now, Served: why == nil, Basis: string(d.Basis), ConsentID: d.ConsentID, EmergencyID: d.EmergencyID}
	if why != nil {
		code, space, msg := sm.ABCIInfo(why)
		ev.Reason = fmt.Sprintf("%s/%d: %s", space, code, msg)
		if len(ev.Reason) > MaxReasonLen {
			ev.Reason = ev.Reason[:MaxReasonLen]
		}
	}
	return ev
}
