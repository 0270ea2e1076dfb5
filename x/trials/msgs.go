package trials

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// Message types.
const (
	TypeRegister = "trials/register"
	TypeAmend    = "trials/amend"
	TypeConsent  = "trials/consent"
	TypeEnroll   = "trials/enroll"
	TypeWithdraw = "trials/withdraw"
	TypeAnchor   = "trials/anchor"
	TypeLock     = "trials/lock"
	TypeResults  = "trials/results"
)

func readID(r *codec.Reader) string { return r.String("trial", IDLen) }

func checkID(id string) error {
	if !ValidID(id) {
		return sm.Wrapf(ErrBadTrialID, "%q", id)
	}
	return nil
}

func checkHash(h [32]byte) error {
	if h == ([32]byte{}) {
		return ErrBadDocHash
	}
	return nil
}

// MsgRegister, signed by an admin of a research_sponsor organization,
// registers a trial with its protocol version 1.
type MsgRegister struct {
	ID           string
	Title        string
	Sites        []string
	ProtocolHash [32]byte
	SAPHash      [32]byte
	Outcomes     []Outcome
	Planned      uint64
	LateAfter    int64
}

func (m *MsgRegister) Type() string { return TypeRegister }
func (m *MsgRegister) Encode(w *codec.Writer) {
	w.String(m.ID)
	w.String(m.Title)
	w.Strings(m.Sites)
	w.Fixed(m.ProtocolHash[:])
	w.Fixed(m.SAPHash[:])
	writeOutcomes(w, m.Outcomes)
	w.Uint(m.Planned)
	w.Int(m.LateAfter)
}
func (m *MsgRegister) ValidateBasic() error {
	if err := checkID(m.ID); err != nil {
		return err
	}
	if m.Title == "" || len(m.Title) > MaxTitleLen {
		return ErrBadTitle
	}
	if len(m.Sites) == 0 || len(m.Sites) > MaxSites {
		return ErrBadSites
	}
	for i, s := range m.Sites {
		if err := accounts.ValidateOrgID(s); err != nil {
			return sm.Wrapf(ErrBadSites, "%v", err)
		}
		if i > 0 && m.Sites[i-1] >= s {
			return sm.Wrapf(ErrBadSites, "not sorted and distinct at %q", s)
		}
	}
	if err := checkHash(m.ProtocolHash); err != nil {
		return err
	}
	if err := checkHash(m.SAPHash); err != nil {
		return err
	}
	if err := validOutcomes(m.Outcomes, true); err != nil {
		return err
	}
	if m.Planned == 0 || m.Planned > MaxEnrollment {
		return ErrBadEnrollment
	}
	if m.LateAfter < MinLateAfter || m.LateAfter > MaxLateAfter {
		return ErrBadLateAfter
	}
	return nil
}
func decodeRegister(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgRegister {
		m := &MsgRegister{ID: readID(r), Title: r.String("title", MaxTitleLen), Sites: r.Strings("sites", MaxSites, accounts.MaxIDLen)}
		m.ProtocolHash = sm.ReadKey32(r, "protocol_hash")
		m.SAPHash = sm.ReadKey32(r, "sap_hash")
		m.Outcomes = readOutcomes(r)
		m.Planned = r.Uint("planned")
		m.LateAfter = r.Int("late_after_seconds")
		return m
	})
}

// MsgAmend, signed by an admin of the trial's sponsor, creates the next
// protocol version. Outcomes is the complete set in force from then on.
type MsgAmend struct {
	ID           string
	ProtocolHash [32]byte
	SAPHash      [32]byte
	Outcomes     []Outcome
	Reconsent    bool
	Reason       string
}

func (m *MsgAmend) Type() string { return TypeAmend }
func (m *MsgAmend) Encode(w *codec.Writer) {
	w.String(m.ID)
	w.Fixed(m.ProtocolHash[:])
	w.Fixed(m.SAPHash[:])
	writeOutcomes(w, m.Outcomes)
	w.Bool(m.Reconsent)
	w.String(m.Reason)
}
func (m *MsgAmend) ValidateBasic() error {
	if err := checkID(m.ID); err != nil {
		return err
	}
	if err := checkHash(m.ProtocolHash); err != nil {
		return err
	}
	if err := checkHash(m.SAPHash); err != nil {
		return err
	}
	if err := validOutcomes(m.Outcomes, true); err != nil {
		return err
	}
	if m.Reason == "" || len(m.Reason) > MaxReasonLen {
		return ErrBadReason
	}
	return nil
}
func decodeAmend(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgAmend {
		m := &MsgAmend{ID: readID(r), ProtocolHash: sm.ReadKey32(r, "protocol_hash"), SAPHash: sm.ReadKey32(r, "sap_hash")}
		m.Outcomes = readOutcomes(r)
		m.Reconsent = r.Bool("reconsent")
		m.Reason = r.String("reason", MaxReasonLen)
		return m
	})
}

// MsgConsent, signed by the participant or a guardian, records the
// participant's research consent to the named protocol version, which must
// be the trial's current one.
type MsgConsent struct {
	ID          string
	Participant crypto.Address
	Version     uint32
}

func (m *MsgConsent) Type() string { return TypeConsent }
func (m *MsgConsent) Encode(w *codec.Writer) {
	w.String(m.ID)
	w.Fixed(m.Participant[:])
	w.Uint(uint64(m.Version))
}
func (m *MsgConsent) ValidateBasic() error {
	if err := checkID(m.ID); err != nil {
		return err
	}
	if m.Version == 0 {
		return sm.Wrapf(ErrStaleVersion, "version 0")
	}
	return nil
}
func decodeConsent(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgConsent {
		return &MsgConsent{ID: readID(r), Participant: sm.ReadAddress(r, "participant"), Version: readVersion(r, "version")}
	})
}

// MsgEnroll, signed by a practitioner or researcher of one of the trial's
// sites, enrolls a consented participant at that site.
type MsgEnroll struct {
	ID          string
	Participant crypto.Address
}

func (m *MsgEnroll) Type() string { return TypeEnroll }
func (m *MsgEnroll) Encode(w *codec.Writer) {
	w.String(m.ID)
	w.Fixed(m.Participant[:])
}
func (m *MsgEnroll) ValidateBasic() error { return checkID(m.ID) }
func decodeEnroll(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgEnroll {
		return &MsgEnroll{ID: readID(r), Participant: sm.ReadAddress(r, "participant")}
	})
}

// MsgWithdraw, signed by the participant or a guardian, withdraws the
// participant from the trial. It carries no reason: why is the
// participant's business, and the chain holds no health data.
type MsgWithdraw struct {
	ID          string
	Participant crypto.Address
}

func (m *MsgWithdraw) Type() string { return TypeWithdraw }
func (m *MsgWithdraw) Encode(w *codec.Writer) {
	w.String(m.ID)
	w.Fixed(m.Participant[:])
}
func (m *MsgWithdraw) ValidateBasic() error { return checkID(m.ID) }
func decodeWithdraw(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgWithdraw {
		return &MsgWithdraw{ID: readID(r), Participant: sm.ReadAddress(r, "participant")}
	})
}

// MsgAnchor, signed by a practitioner or researcher of a site, anchors a
// batch of case-report-form data: the root of the batch's RFC 6962 tree
// (see LeafData), its leaf count, the participants its data concern and
// the claimed collection period.
type MsgAnchor struct {
	ID            string
	Root          [32]byte
	Leaves        uint64
	Participants  []crypto.Address
	CollectedFrom int64
	CollectedTo   int64
}

func (m *MsgAnchor) Type() string { return TypeAnchor }
func (m *MsgAnchor) Encode(w *codec.Writer) {
	w.String(m.ID)
	w.Fixed(m.Root[:])
	w.Uint(m.Leaves)
	writeAddresses(w, m.Participants)
	w.Int(m.CollectedFrom)
	w.Int(m.CollectedTo)
}
func (m *MsgAnchor) ValidateBasic() error {
	if err := checkID(m.ID); err != nil {
		return err
	}
	if m.Root == ([32]byte{}) || m.Leaves == 0 || m.Leaves > MaxLeaves {
		return ErrBadBatch
	}
	if len(m.Participants) == 0 || uint64(len(m.Participants)) > m.Leaves {
		return sm.Wrapf(ErrBadBatch, "%d participants for %d leaves", len(m.Participants), m.Leaves)
	}
	for i := 1; i < len(m.Participants); i++ {
		if string(m.Participants[i-1][:]) >= string(m.Participants[i][:]) {
			return sm.Wrapf(ErrBadBatch, "participants not sorted and distinct")
		}
	}
	if m.CollectedFrom <= 0 || m.CollectedTo < m.CollectedFrom {
		return ErrBadCollection
	}
	return nil
}
func decodeAnchor(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgAnchor {
		m := &MsgAnchor{ID: readID(r), Root: sm.ReadKey32(r, "root"), Leaves: r.Uint("leaves")}
		m.Participants = readAddresses(r)
		m.CollectedFrom, m.CollectedTo = r.Int("collected_from"), r.Int("collected_to")
		return m
	})
}

// MsgLock, signed by an admin of the trial's sponsor, locks the trial's
// database: no consent, enrollment, amendment or anchor follows.
type MsgLock struct{ ID string }

func (m *MsgLock) Type() string           { return TypeLock }
func (m *MsgLock) Encode(w *codec.Writer) { w.String(m.ID) }
func (m *MsgLock) ValidateBasic() error   { return checkID(m.ID) }
func decodeLock(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgLock { return &MsgLock{ID: readID(r)} })
}

// MsgResults, signed by an admin of the trial's sponsor after the lock,
// publishes the results: the report's hash and the outcomes it reports.
type MsgResults struct {
	ID         string
	ReportHash [32]byte
	Outcomes   []Outcome
}

func (m *MsgResults) Type() string { return TypeResults }
func (m *MsgResults) Encode(w *codec.Writer) {
	w.String(m.ID)
	w.Fixed(m.ReportHash[:])
	writeOutcomes(w, m.Outcomes)
}
func (m *MsgResults) ValidateBasic() error {
	if err := checkID(m.ID); err != nil {
		return err
	}
	if m.ReportHash == ([32]byte{}) {
		return ErrBadResultsHash
	}
	return validOutcomes(m.Outcomes, false)
}
func decodeResults(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgResults {
		return &MsgResults{ID: readID(r), ReportHash: sm.ReadKey32(r, "report_hash"), Outcomes: readOutcomes(r)}
	})
}
