package trials

import (
	"encoding/binary"
	"fmt"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// Codespace of the trials module.
const Codespace = "trials"

// Errors; codes are stable, one per refusal reason.
var (
	ErrBadTrialID          = sm.Register(Codespace, 1, "registry id must be NCT followed by 8 digits (ClinicalTrials.gov format)")
	ErrNotSponsor          = sm.Register(Codespace, 2, "signer is not an active admin of an active research_sponsor organization")
	ErrTrialExists         = sm.Register(Codespace, 3, "a trial with this registry id is already registered")
	ErrBadSites            = sm.Register(Codespace, 4, "sites must be 1 to 64 sorted, distinct organization ids")
	ErrSiteInactive        = sm.Register(Codespace, 5, "a site is not an active member organization")
	ErrBadOutcomes         = sm.Register(Codespace, 6, "outcomes must be 1 to 64 with distinct measures, each with a measure (1-256 bytes), a time frame (1-128 bytes) and type primary or secondary; a protocol's include at least one primary")
	ErrBadDocHash          = sm.Register(Codespace, 7, "protocol and statistical-analysis-plan hashes must be non-zero SHA-256 digests")
	ErrBadEnrollment       = sm.Register(Codespace, 8, "planned enrollment must be 1 to 1,000,000")
	ErrBadTitle            = sm.Register(Codespace, 9, "title must be 1 to 300 bytes")
	ErrNotFound            = sm.Register(Codespace, 10, "trial not found")
	ErrNotTrialSponsor     = sm.Register(Codespace, 11, "signer is not an active admin of the trial's sponsor organization")
	ErrLocked              = sm.Register(Codespace, 12, "the trial's database is locked: nothing but the results may follow")
	ErrBadLateAfter        = sm.Register(Codespace, 13, "late_after_seconds must be 3600 (1 hour) to 31,622,400 (366 days)")
	ErrBadReason           = sm.Register(Codespace, 14, "amendment reason must be 1 to 512 bytes")
	ErrNotPatientOrGuard   = sm.Register(Codespace, 15, "signer is neither the participant nor their guardian")
	ErrStaleVersion        = sm.Register(Codespace, 16, "the consent names a protocol version that is not the trial's current one")
	ErrAlreadyConsented    = sm.Register(Codespace, 17, "the participant already consented to this protocol version")
	ErrWithdrawn           = sm.Register(Codespace, 18, "the participant withdrew from this trial")
	ErrNotSiteMember       = sm.Register(Codespace, 19, "signer is not an active practitioner or researcher of one of the trial's sites")
	ErrNoConsent           = sm.Register(Codespace, 20, "the participant has not consented to the trial's current protocol version: enroll only after consent")
	ErrAlreadyEnrolled     = sm.Register(Codespace, 21, "the participant is already enrolled")
	ErrNotEnrolled         = sm.Register(Codespace, 22, "the participant is not enrolled in this trial")
	ErrReconsentPending    = sm.Register(Codespace, 23, "the participant must re-consent to an amended protocol version before data capture resumes")
	ErrBadBatch            = sm.Register(Codespace, 24, "a batch needs a non-zero root, 1 to 1,048,576 leaves and 1 to 1,024 sorted, distinct participants, no more than leaves")
	ErrFutureCollection    = sm.Register(Codespace, 25, "claimed collection time is after the block time")
	ErrNotLocked           = sm.Register(Codespace, 26, "results may be published only after the database lock")
	ErrResultsPublished    = sm.Register(Codespace, 27, "the trial's results are already published")
	ErrNotParticipant      = sm.Register(Codespace, 28, "the account never consented to this trial")
	ErrNotPatient          = sm.Register(Codespace, 29, "participant is not a registered patient")
	ErrOtherSite           = sm.Register(Codespace, 30, "the participant is enrolled at another site: a site anchors only its own participants' data")
	ErrBadCollection       = sm.Register(Codespace, 31, "collection times must be positive with collected_from <= collected_to")
	ErrCollectedBeforeCons = sm.Register(Codespace, 32, "the batch claims data collected before a participant's first consent to the trial")
	ErrTooManyVersions     = sm.Register(Codespace, 33, "the trial has reached the limit of 256 protocol versions")
	ErrBadResultsHash      = sm.Register(Codespace, 34, "the results report hash must be a non-zero SHA-256 digest")
)

// Outcome types.
const (
	OutcomePrimary   uint8 = 1
	OutcomeSecondary uint8 = 2
)

// Limits.
const (
	MaxTitleLen      = 300
	MaxSites         = 64
	MaxOutcomes      = 64
	MaxMeasureLen    = 256
	MaxTimeFrameLen  = 128
	MaxReasonLen     = 512
	MaxEnrollment    = 1_000_000
	MaxVersions      = 256
	MaxLeaves        = 1 << 20
	MaxBatchPatients = 1024
	MinLateAfter     = 3600
	MaxLateAfter     = 366 * 24 * 3600
	IDLen            = 11 // "NCT" and 8 digits
)

// Trial statuses (derived, see Trial.Status).
const (
	StatusRecruiting = "recruiting" // registered, not locked
	StatusLocked     = "locked"     // database locked, results pending
	StatusCompleted  = "completed"  // results published
)

// ValidID reports whether id is a ClinicalTrials.gov registry number:
// "NCT" followed by exactly 8 decimal digits.
func ValidID(id string) bool {
	if len(id) != IDLen || id[:3] != "NCT" {
		return false
	}
	for _, c := range id[3:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Outcome is a pre-registered or reported outcome measure. Its identity is
// Measure: two outcomes with the same measure and a different time frame
// or type are the same outcome, changed.
type Outcome struct {
	Type      uint8 // OutcomePrimary or OutcomeSecondary
	Measure   string
	TimeFrame string
}

// TypeName is "primary" or "secondary".
func (o Outcome) TypeName() string {
	if o.Type == OutcomePrimary {
		return "primary"
	}
	return "secondary"
}

func (o Outcome) Encode(w *codec.Writer) {
	w.Uint(uint64(o.Type))
	w.String(o.Measure)
	w.String(o.TimeFrame)
}

func readOutcomes(r *codec.Reader) []Outcome {
	n := r.Count("outcomes", MaxOutcomes)
	if n == 0 {
		return nil
	}
	out := make([]Outcome, n)
	for i := range out {
		out[i] = readOutcomes1(r)
	}
	return out
}

func writeOutcomes(w *codec.Writer, os []Outcome) {
	w.Uint(uint64(len(os)))
	for _, o := range os {
		o.Encode(w)
	}
}

// validOutcomes: 1..MaxOutcomes, distinct measures, valid types and
// lengths, and (for a protocol, needPrimary) at least one primary.
func validOutcomes(os []Outcome, needPrimary bool) error {
	if len(os) == 0 || len(os) > MaxOutcomes {
		return ErrBadOutcomes
	}
	seen := make(map[string]bool, len(os))
	primary := false
	for _, o := range os {
		if o.Type != OutcomePrimary && o.Type != OutcomeSecondary {
			return sm.Wrapf(ErrBadOutcomes, "type %d", o.Type)
		}
		if o.Measure == "" || len(o.Measure) > MaxMeasureLen || o.TimeFrame == "" || len(o.TimeFrame) > MaxTimeFrameLen {
			return sm.Wrapf(ErrBadOutcomes, "empty or oversized measure or time frame")
		}
		if seen[o.Measure] {
			return sm.Wrapf(ErrBadOutcomes, "measure %q listed twice", o.Measure)
		}
		seen[o.Measure] = true
		primary = primary || o.Type == OutcomePrimary
	}
	if needPrimary && !primary {
		return sm.Wrapf(ErrBadOutcomes, "no primary outcome")
	}
	return nil
}

// Trial is a registered trial.
type Trial struct {
	ID         string // registry id, e.g. NCT01234567
	Sponsor    string // the sponsor organization
	Registrar  crypto.Address
	Title      string
	Sites      []string // sorted organization ids
	Planned    uint64   // planned enrollment
	LateAfter  int64    // seconds after collection beyond which an anchor is late
	Version    uint32   // current protocol version (1 at registration)
	Reconsent  uint32   // latest version that requires re-consent (0: none)
	Registered Stamp
	Locked     Stamp // zero: not locked
	Consents   uint64
	Enrolled   uint64
	Withdrawn  uint64
	Anchors    uint64
	LateCount  uint64
	Results    bool
}

// Stamp is the block a state change happened in.
type Stamp struct {
	Height int64
	Time   int64 // unix seconds, block time
}

func (s Stamp) encode(w *codec.Writer) { w.Int(s.Height); w.Int(s.Time) }
func readStamp(r *codec.Reader, field string) Stamp {
	return Stamp{Height: r.Int(field + ".height"), Time: r.Int(field + ".time")}
}

// IsZero reports an unset stamp.
func (s Stamp) IsZero() bool { return s.Height == 0 }

// Status is the trial's status: recruiting, locked or completed.
func (t *Trial) Status() string {
	switch {
	case t.Results:
		return StatusCompleted
	case !t.Locked.IsZero():
		return StatusLocked
	}
	return StatusRecruiting
}

func (t *Trial) Encode(w *codec.Writer) {
	w.String(t.ID)
	w.String(t.Sponsor)
	w.Fixed(t.Registrar[:])
	w.String(t.Title)
	w.Strings(t.Sites)
	w.Uint(t.Planned)
	w.Int(t.LateAfter)
	w.Uint(uint64(t.Version))
	w.Uint(uint64(t.Reconsent))
	t.Registered.encode(w)
	t.Locked.encode(w)
	w.Uint(t.Consents)
	w.Uint(t.Enrolled)
	w.Uint(t.Withdrawn)
	w.Uint(t.Anchors)
	w.Uint(t.LateCount)
	w.Bool(t.Results)
}

// DecodeTrial decodes a stored trial.
func DecodeTrial(b []byte) (*Trial, error) {
	r := codec.NewReader(b)
	t := &Trial{ID: r.String("id", IDLen), Sponsor: r.String("sponsor", accounts.MaxIDLen), Registrar: sm.ReadAddress(r, "registrar")}
	t.Title = r.String("title", MaxTitleLen)
	t.Sites = r.Strings("sites", MaxSites, accounts.MaxIDLen)
	t.Planned = r.Uint("planned")
	t.LateAfter = r.Int("late_after")
	t.Version = readVersion(r, "version")
	t.Reconsent = readVersion(r, "reconsent")
	t.Registered = readStamp(r, "registered")
	t.Locked = readStamp(r, "locked")
	t.Consents, t.Enrolled, t.Withdrawn = r.Uint("consents"), r.Uint("enrolled"), r.Uint("withdrawn")
	t.Anchors, t.LateCount = r.Uint("anchors"), r.Uint("late")
	t.Results = r.Bool("results")
	return t, r.Done()
}

// Version is one protocol version: version 1 is the registration, each
// amendment the next.
type Version struct {
	Number       uint32
	ProtocolHash [32]byte // SHA-256 of the protocol document (off chain)
	SAPHash      [32]byte // SHA-256 of the statistical analysis plan (off chain)
	Outcomes     []Outcome
	Reconsent    bool   // participants must re-consent before further data capture
	Reason       string // amendments only
	By           crypto.Address
	At           Stamp
}

func (v *Version) Encode(w *codec.Writer) {
	w.Uint(uint64(v.Number))
	w.Fixed(v.ProtocolHash[:])
	w.Fixed(v.SAPHash[:])
	writeOutcomes(w, v.Outcomes)
	w.Bool(v.Reconsent)
	w.String(v.Reason)
	w.Fixed(v.By[:])
	v.At.encode(w)
}

// DecodeVersion decodes a stored protocol version.
func DecodeVersion(b []byte) (*Version, error) {
	r := codec.NewReader(b)
	v := &Version{Number: readVersion(r, "number")}
	v.ProtocolHash = sm.ReadKey32(r, "protocol_hash")
	v.SAPHash = sm.ReadKey32(r, "sap_hash")
	v.Outcomes = readOutcomes(r)
	v.Reconsent = r.Bool("reconsent")
	v.Reason = r.String("reason", MaxReasonLen)
	v.By = sm.ReadAddress(r, "by")
	v.At = readStamp(r, "at")
	return v, r.Done()
}

// ConsentEntry is one research consent a participant signed.
type ConsentEntry struct {
	Version uint32
	By      crypto.Address // the participant or a guardian
	At      Stamp
}

// Participation is one patient's part in one trial.
type Participation struct {
	Trial       string
	Participant crypto.Address
	Consents    []ConsentEntry // in order; the last names the version consented to
	Site        string         // enrolling site; empty before enrollment
	EnrolledBy  crypto.Address
	Enrolled    Stamp
	Withdrawn   Stamp // zero: not withdrawn
}

// ConsentedVersion is the latest protocol version the participant consented to.
func (p *Participation) ConsentedVersion() uint32 {
	if len(p.Consents) == 0 {
		return 0
	}
	return p.Consents[len(p.Consents)-1].Version
}

// FirstConsent is the block time of the participant's first consent.
func (p *Participation) FirstConsent() int64 {
	if len(p.Consents) == 0 {
		return 0
	}
	return p.Consents[0].At.Time
}

// State is the participant's state in trial t: consented, enrolled,
// reconsent_pending (enrolled, but capture paused until re-consent) or
// withdrawn.
func (p *Participation) State(t *Trial) string {
	switch {
	case !p.Withdrawn.IsZero():
		return "withdrawn"
	case p.Enrolled.IsZero():
		return "consented"
	case p.ConsentedVersion() < t.Reconsent:
		return "reconsent_pending"
	}
	return "enrolled"
}

func (p *Participation) Encode(w *codec.Writer) {
	w.String(p.Trial)
	w.Fixed(p.Participant[:])
	w.Uint(uint64(len(p.Consents)))
	for _, c := range p.Consents {
		w.Uint(uint64(c.Version))
		w.Fixed(c.By[:])
		c.At.encode(w)
	}
	w.String(p.Site)
	w.Fixed(p.EnrolledBy[:])
	p.Enrolled.encode(w)
	p.Withdrawn.encode(w)
}

// DecodeParticipation decodes a stored participation.
func DecodeParticipation(b []byte) (*Participation, error) {
	r := codec.NewReader(b)
	p := &Participation{Trial: r.String("trial", IDLen), Participant: sm.ReadAddress(r, "participant")}
	n := r.Count("consents", MaxVersions)
	for range n {
		p.Consents = append(p.Consents, ConsentEntry{Version: readVersion(r, "consent.version"), By: sm.ReadAddress(r, "consent.by"), At: readStamp(r, "consent.at")})
	}
	p.Site = r.String("site", accounts.MaxIDLen)
	p.EnrolledBy = sm.ReadAddress(r, "enrolled_by")
	p.Enrolled = readStamp(r, "enrolled")
	p.Withdrawn = readStamp(r, "withdrawn")
	return p, r.Done()
}

// Anchor is one anchored batch of case-report-form data.
type Anchor struct {
	Trial         string
	Seq           uint64 // 1, 2, … within the trial
	Site          string
	By            crypto.Address
	Root          [32]byte // RFC 6962 Merkle tree head over the batch's leaves (see LeafData)
	Leaves        uint64
	Participants  []crypto.Address // sorted; the participants the batch's data concern
	CollectedFrom int64            // claimed earliest collection time (unix seconds)
	CollectedTo   int64            // claimed latest collection time
	At            Stamp
	Late          bool // block time − CollectedFrom > the trial's LateAfter
}

// Delay is how long after the earliest claimed collection the batch was
// anchored, in seconds.
func (a *Anchor) Delay() int64 { return a.At.Time - a.CollectedFrom }

func (a *Anchor) Encode(w *codec.Writer) {
	w.String(a.Trial)
	w.Uint(a.Seq)
	w.String(a.Site)
	w.Fixed(a.By[:])
	w.Fixed(a.Root[:])
	w.Uint(a.Leaves)
	writeAddresses(w, a.Participants)
	w.Int(a.CollectedFrom)
	w.Int(a.CollectedTo)
	a.At.encode(w)
	w.Bool(a.Late)
}

// DecodeAnchor decodes a stored anchor.
func DecodeAnchor(b []byte) (*Anchor, error) {
	r := codec.NewReader(b)
	a := &Anchor{Trial: r.String("trial", IDLen), Seq: r.Uint("seq"), Site: r.String("site", accounts.MaxIDLen), By: sm.ReadAddress(r, "by")}
	a.Root = sm.ReadKey32(r, "root")
	a.Leaves = r.Uint("leaves")
	a.Participants = readAddresses(r)
	a.CollectedFrom, a.CollectedTo = r.Int("collected_from"), r.Int("collected_to")
	a.At = readStamp(r, "at")
	a.Late = r.Bool("late")
	return a, r.Done()
}

// readVersion reads a protocol version number, refusing one above
// MaxVersions (so that every decoded value re-encodes to the same bytes).
func readVersion(r *codec.Reader, field string) uint32 {
	v := r.Uint(field)
	if v > MaxVersions {
		r.Fixed(fmt.Sprintf("%s %d (above %d)", field, v, MaxVersions), -1) // forces an error
		return 0
	}
	return uint32(v)
}

func writeAddresses(w *codec.Writer, as []crypto.Address) {
	w.Uint(uint64(len(as)))
	for _, a := range as {
		w.Fixed(a[:])
	}
}

func readAddresses(r *codec.Reader) []crypto.Address {
	n := r.Count("participants", MaxBatchPatients)
	if n == 0 {
		return nil
	}
	out := make([]crypto.Address, n)
	for i := range out {
		out[i] = sm.ReadAddress(r, "participant")
	}
	return out
}

// Results are a trial's published results and their comparison with the
// outcomes pre-registered in the protocol version in force at the lock.
type Results struct {
	Trial      string
	ReportHash [32]byte // SHA-256 of the results report (off chain)
	Reported   []Outcome
	Against    uint32 // the protocol version compared with
	Switching  Switching
	By         crypto.Address
	At         Stamp
}

func (r *Results) Encode(w *codec.Writer) {
	w.String(r.Trial)
	w.Fixed(r.ReportHash[:])
	writeOutcomes(w, r.Reported)
	w.Uint(uint64(r.Against))
	r.Switching.encode(w)
	w.Fixed(r.By[:])
	r.At.encode(w)
}

// DecodeResults decodes stored results.
func DecodeResults(b []byte) (*Results, error) {
	rd := codec.NewReader(b)
	r := &Results{Trial: rd.String("trial", IDLen), ReportHash: sm.ReadKey32(rd, "report_hash")}
	r.Reported = readOutcomes(rd)
	r.Against = readVersion(rd, "against")
	r.Switching = readSwitching(rd)
	r.By = sm.ReadAddress(rd, "by")
	r.At = readStamp(rd, "at")
	return r, rd.Done()
}

// Keys. A trial id has a fixed length (IDLen), so no separator is needed.
func trialKey(id string) []byte { return append([]byte{sm.PrefixTrial}, id...) }
func versionKey(id string, v uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte{sm.PrefixTrialVersion}, id...), v)
}
func participationKey(id string, p crypto.Address) []byte {
	return append(append([]byte{sm.PrefixTrialParticipant}, id...), p[:]...)
}
func anchorKey(id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{sm.PrefixTrialAnchor}, id...), seq)
}
func resultsKey(id string) []byte { return append([]byte{sm.PrefixTrialResults}, id...) }

// TrialKey, VersionKey, ParticipationKey, AnchorKey and ResultsKey are the
// state keys (for proofs and the timeline's proof references).
func TrialKey(id string) []byte                           { return trialKey(id) }
func VersionKey(id string, v uint32) []byte               { return versionKey(id, v) }
func ParticipationKey(id string, p crypto.Address) []byte { return participationKey(id, p) }
func AnchorKey(id string, seq uint64) []byte              { return anchorKey(id, seq) }
func ResultsKey(id string) []byte                         { return resultsKey(id) }
