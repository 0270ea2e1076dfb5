package api

import (
	"cmp"
	"encoding/hex"
	"net/http"
	"slices"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/trials"
)

// Clinical trials on /v1 (docs/trials.md). A trial's registration,
// protocol versions, counts, lock and results are public: registries
// publish them, and they name no patient. Participant-level data (who
// consented, enrolled, withdrew, and the anchors, which name the
// participants their data concern) is patient-scoped: it is served to
// signed requests of the trial's overseers (trials.Overseer: the sponsor's
// and regulators' members see every site, a site's members their own site)
// and, for one participation, to the participant or a guardian.

// StampView is the block a trial event happened in.
type StampView struct {
	Height int64     `json:"height"`
	Time   time.Time `json:"time"`
}

func stampView(s trials.Stamp) StampView {
	return StampView{Height: s.Height, Time: time.Unix(s.Time, 0).UTC()}
}

func stampPtr(s trials.Stamp) *StampView {
	if s.IsZero() {
		return nil
	}
	v := stampView(s)
	return &v
}

// OutcomeView is a pre-registered or reported outcome.
type OutcomeView struct {
	Type      string `json:"type"` // primary | secondary
	Measure   string `json:"measure"`
	TimeFrame string `json:"time_frame"`
}

func outcomeViews(os []trials.Outcome) []OutcomeView {
	out := make([]OutcomeView, 0, len(os))
	for _, o := range os {
		out = append(out, OutcomeView{Type: o.TypeName(), Measure: o.Measure, TimeFrame: o.TimeFrame})
	}
	return out
}

// SwitchingView lists added, dropped and changed outcomes.
type SwitchingView struct {
	Added   []OutcomeView `json:"added"`
	Dropped []OutcomeView `json:"dropped"`
	Changed []ChangeView  `json:"changed"`
}

// ChangeView is one outcome whose time frame or type changed.
type ChangeView struct {
	Registered OutcomeView `json:"registered"`
	Reported   OutcomeView `json:"reported"`
}

func switchingView(s trials.Switching) SwitchingView {
	v := SwitchingView{Added: outcomeViews(s.Added), Dropped: outcomeViews(s.Dropped), Changed: []ChangeView{}}
	for _, c := range s.Changed {
		v.Changed = append(v.Changed, ChangeView{Registered: outcomeViews([]trials.Outcome{c.Registered})[0], Reported: outcomeViews([]trials.Outcome{c.Reported})[0]})
	}
	return v
}

// ProtocolVersionView is one protocol version.
type ProtocolVersionView struct {
	Number       uint32        `json:"number"`
	ProtocolHash string        `json:"protocol_hash"`
	SAPHash      string        `json:"sap_hash"`
	Outcomes     []OutcomeView `json:"outcomes"`
	Reconsent    bool          `json:"reconsent"`
	Reason       string        `json:"reason,omitempty"`
	By           string        `json:"by"`
	At           StampView     `json:"at"`
	// OutcomeChanges compares this version's outcomes with the previous
	// version's (absent for version 1).
	OutcomeChanges *SwitchingView `json:"outcome_changes,omitempty"`
	Key            string         `json:"key"`
}

// ResultsView is a trial's published results and its outcome-switching report.
type ResultsView struct {
	ReportHash       string        `json:"report_hash"`
	Reported         []OutcomeView `json:"reported"`
	AgainstVersion   uint32        `json:"against_version"`
	Switching        SwitchingView `json:"switching"`
	OutcomeSwitching bool          `json:"outcome_switching"`
	By               string        `json:"by"`
	At               StampView     `json:"at"`
	Key              string        `json:"key"`
}

// TrialCounts are a trial's public counts.
type TrialCounts struct {
	Consents    uint64 `json:"consents"`
	Enrolled    uint64 `json:"enrolled"`
	Withdrawn   uint64 `json:"withdrawn"`
	Anchors     uint64 `json:"anchors"`
	LateAnchors uint64 `json:"late_anchors"`
}

// TrialView is GET /v1/trials/{id}.
type TrialView struct {
	Height           int64                 `json:"height"`
	ID               string                `json:"id"`
	Title            string                `json:"title"`
	Sponsor          string                `json:"sponsor"`
	Registrar        string                `json:"registrar"`
	Sites            []string              `json:"sites"`
	Planned          uint64                `json:"planned_enrollment"`
	LateAfterSeconds int64                 `json:"late_after_seconds"`
	Status           string                `json:"status"`
	Version          uint32                `json:"version"`
	ReconsentVersion uint32                `json:"reconsent_version"`
	Registered       StampView             `json:"registered"`
	Locked           *StampView            `json:"locked,omitempty"`
	Counts           TrialCounts           `json:"counts"`
	Versions         []ProtocolVersionView `json:"versions"`
	Results          *ResultsView          `json:"results,omitempty"`
	Key              string                `json:"key"`
}

func hexKey(k []byte) string { return hex.EncodeToString(k) }

func trialView(kv store.Reader, t *trials.Trial, height int64) TrialView {
	v := TrialView{
		Height: height, ID: t.ID, Title: t.Title, Sponsor: t.Sponsor, Registrar: t.Registrar.String(), Sites: t.Sites,
		Planned: t.Planned, LateAfterSeconds: t.LateAfter, Status: t.Status(), Version: t.Version, ReconsentVersion: t.Reconsent,
		Registered: stampView(t.Registered), Locked: stampPtr(t.Locked),
		Counts: TrialCounts{Consents: t.Consents, Enrolled: t.Enrolled, Withdrawn: t.Withdrawn, Anchors: t.Anchors, LateAnchors: t.LateCount},
		Key:    hexKey(trials.TrialKey(t.ID)),
	}
	var prev *trials.Version
	for _, ver := range trials.Versions(kv, t) {
		vv := ProtocolVersionView{Number: ver.Number, ProtocolHash: hex.EncodeToString(ver.ProtocolHash[:]), SAPHash: hex.EncodeToString(ver.SAPHash[:]),
			Outcomes: outcomeViews(ver.Outcomes), Reconsent: ver.Reconsent, Reason: ver.Reason, By: ver.By.String(), At: stampView(ver.At),
			Key: hexKey(trials.VersionKey(t.ID, ver.Number))}
		if prev != nil {
			sw := switchingView(trials.Compare(prev.Outcomes, ver.Outcomes))
			vv.OutcomeChanges = &sw
		}
		v.Versions = append(v.Versions, vv)
		prev = ver
	}
	if r := trials.GetResults(kv, t.ID); r != nil {
		v.Results = &ResultsView{ReportHash: hex.EncodeToString(r.ReportHash[:]), Reported: outcomeViews(r.Reported), AgainstVersion: r.Against,
			Switching: switchingView(r.Switching), OutcomeSwitching: !r.Switching.None(), By: r.By.String(), At: stampView(r.At),
			Key: hexKey(trials.ResultsKey(t.ID))}
	}
	return v
}

// ParticipantView is one participation.
type ParticipantView struct {
	Trial            string             `json:"trial"`
	Participant      string             `json:"participant"`
	State            string             `json:"state"` // consented | enrolled | reconsent_pending | withdrawn
	ConsentedVersion uint32             `json:"consented_version"`
	Consents         []ConsentEntryView `json:"consents"`
	Site             string             `json:"site,omitempty"`
	EnrolledBy       string             `json:"enrolled_by,omitempty"`
	Enrolled         *StampView         `json:"enrolled,omitempty"`
	Withdrawn        *StampView         `json:"withdrawn,omitempty"`
	Key              string             `json:"key"`
}

// ConsentEntryView is one research consent.
type ConsentEntryView struct {
	Version uint32    `json:"version"`
	By      string    `json:"by"`
	At      StampView `json:"at"`
}

func participantView(t *trials.Trial, p *trials.Participation) ParticipantView {
	v := ParticipantView{Trial: p.Trial, Participant: p.Participant.String(), State: p.State(t), ConsentedVersion: p.ConsentedVersion(),
		Site: p.Site, Enrolled: stampPtr(p.Enrolled), Withdrawn: stampPtr(p.Withdrawn), Key: hexKey(trials.ParticipationKey(p.Trial, p.Participant))}
	if !p.Enrolled.IsZero() {
		v.EnrolledBy = p.EnrolledBy.String()
	}
	for _, c := range p.Consents {
		v.Consents = append(v.Consents, ConsentEntryView{Version: c.Version, By: c.By.String(), At: stampView(c.At)})
	}
	return v
}

// AnchorView is one anchored batch.
type AnchorView struct {
	Seq           uint64    `json:"seq"`
	Site          string    `json:"site"`
	By            string    `json:"by"`
	Root          string    `json:"root"`
	Leaves        uint64    `json:"leaves"`
	Participants  []string  `json:"participants"`
	CollectedFrom time.Time `json:"collected_from"`
	CollectedTo   time.Time `json:"collected_to"`
	Late          bool      `json:"late"`
	DelaySeconds  int64     `json:"delay_seconds"`
	At            StampView `json:"at"`
	Key           string    `json:"key"`
}

func anchorView(a *trials.Anchor) AnchorView {
	v := AnchorView{Seq: a.Seq, Site: a.Site, By: a.By.String(), Root: hex.EncodeToString(a.Root[:]), Leaves: a.Leaves,
		CollectedFrom: time.Unix(a.CollectedFrom, 0).UTC(), CollectedTo: time.Unix(a.CollectedTo, 0).UTC(),
		Late: a.Late, DelaySeconds: a.Delay(), At: stampView(a.At), Key: hexKey(trials.AnchorKey(a.Trial, a.Seq))}
	for _, p := range a.Participants {
		v.Participants = append(v.Participants, p.String())
	}
	return v
}

// TimelineItem is one event of a trial's timeline. Key is its proof
// reference: the state key whose value (at the timeline's height) records
// the event, provable with GET /v1/proof and `medchain verify --key`.
type TimelineItem struct {
	Kind   string    `json:"kind"` // registered | amended | consent | enrolled | anchor | withdrawn | locked | results
	Height int64     `json:"height"`
	Time   time.Time `json:"time"`
	Key    string    `json:"key"`
	// registered, amended
	Version        uint32         `json:"version,omitempty"`
	Reconsent      bool           `json:"reconsent,omitempty"`
	Reason         string         `json:"reason,omitempty"`
	OutcomeChanges *SwitchingView `json:"outcome_changes,omitempty"`
	// consent, enrolled, withdrawn
	Participant string `json:"participant,omitempty"`
	Site        string `json:"site,omitempty"`
	// anchor
	Anchor *AnchorView `json:"anchor,omitempty"`
	// results
	Switching        *SwitchingView `json:"switching,omitempty"`
	OutcomeSwitching bool           `json:"outcome_switching,omitempty"`
}

// Timeline is GET /v1/trials/{id}/timeline.
type Timeline struct {
	Trial  string `json:"trial"`
	Height int64  `json:"height"`
	// Site: the timeline is limited to this site's participants and anchors
	// (a site member's view); empty for the sponsor's and regulators' view.
	Site   string         `json:"site,omitempty"`
	Status string         `json:"status"`
	Counts TrialCounts    `json:"counts"`
	Items  []TimelineItem `json:"items"`
}

var kindRank = map[string]int{"registered": 0, "amended": 1, "consent": 2, "enrolled": 3, "anchor": 4, "withdrawn": 5, "locked": 6, "results": 7}

// BuildTimeline orders a trial's events by block height, and within a
// block by kind (registration, amendment, consent, enrollment, anchor,
// withdrawal, lock, results) and then by state key. site limits the
// participant-level items to one site's ("" for all).
func BuildTimeline(kv store.Reader, t *trials.Trial, height int64, site string) Timeline {
	tv := trialView(kv, t, height)
	tl := Timeline{Trial: t.ID, Height: height, Site: site, Status: t.Status(), Counts: tv.Counts, Items: []TimelineItem{}}
	add := func(it TimelineItem, s trials.Stamp) {
		it.Height, it.Time = s.Height, time.Unix(s.Time, 0).UTC()
		tl.Items = append(tl.Items, it)
	}
	for i, v := range trials.Versions(kv, t) {
		it := TimelineItem{Kind: "amended", Key: tv.Versions[i].Key, Version: v.Number, Reconsent: v.Reconsent, Reason: v.Reason, OutcomeChanges: tv.Versions[i].OutcomeChanges}
		if v.Number == 1 {
			it.Kind = "registered"
		}
		add(it, v.At)
	}
	for _, p := range trials.Participations(kv, t.ID) {
		if site != "" && p.Site != site {
			continue
		}
		key := hexKey(trials.ParticipationKey(t.ID, p.Participant))
		who := p.Participant.String()
		for _, c := range p.Consents {
			add(TimelineItem{Kind: "consent", Key: key, Participant: who, Version: c.Version}, c.At)
		}
		if !p.Enrolled.IsZero() {
			add(TimelineItem{Kind: "enrolled", Key: key, Participant: who, Site: p.Site}, p.Enrolled)
		}
		if !p.Withdrawn.IsZero() {
			add(TimelineItem{Kind: "withdrawn", Key: key, Participant: who, Site: p.Site}, p.Withdrawn)
		}
	}
	for _, a := range trials.Anchors(kv, t) {
		if site != "" && a.Site != site {
			continue
		}
		av := anchorView(a)
		add(TimelineItem{Kind: "anchor", Key: av.Key, Site: a.Site, Anchor: &av}, a.At)
	}
	if !t.Locked.IsZero() {
		add(TimelineItem{Kind: "locked", Key: tv.Key}, t.Locked)
	}
	if r := tv.Results; r != nil {
		sw := r.Switching
		add(TimelineItem{Kind: "results", Key: r.Key, Version: r.AgainstVersion, Switching: &sw, OutcomeSwitching: r.OutcomeSwitching},
			trials.Stamp{Height: r.At.Height, Time: r.At.Time.Unix()})
	}
	slices.SortStableFunc(tl.Items, func(a, b TimelineItem) int {
		return cmp.Or(cmp.Compare(a.Height, b.Height), cmp.Compare(kindRank[a.Kind], kindRank[b.Kind]), cmp.Compare(a.Key, b.Key))
	})
	return tl
}

// trialOf loads the {id} trial of r from snap, answering 400 or 404 itself.
func trialOf(w http.ResponseWriter, r *http.Request, snap store.Reader) (*trials.Trial, bool) {
	id := r.PathValue("id")
	if !trials.ValidID(id) {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "trial id %q: want NCT and 8 digits", id))
		return nil, false
	}
	t := trials.GetTrial(snap, id)
	if t == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "trial %s", id))
		return nil, false
	}
	return t, true
}

func (s *Server) trialList(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	out := []TrialView{}
	for _, t := range trials.Trials(snap) {
		out = append(out, trialView(snap, t, snap.Version()))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "trials": out})
}

func (s *Server) trial(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	t, ok := trialOf(w, r, snap)
	if !ok {
		return
	}
	if r.URL.Query().Get("format") == "fhir" {
		writeFHIR(w, http.StatusOK, FHIRResearchStudy(snap, t))
		return
	}
	writeJSON(w, http.StatusOK, trialView(snap, t, snap.Version()))
}

// handleTrialSigned registers a route that requires a signed request
// allowed by g; h also gets the signer, judged in the latest state.
func (s *Server) handleTrialSigned(pattern string, g guard, h func(w http.ResponseWriter, r *http.Request, me who)) {
	s.routeAccess[pattern] = accessSigned
	s.handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		if me, ok := s.authorizeWho(w, r, g); ok {
			h(w, r, me)
		}
	})
}

func (s *Server) trialTimeline(w http.ResponseWriter, r *http.Request, me who) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	t, ok := trialOf(w, r, snap)
	if !ok {
		return
	}
	// Overseen as judged by the guard, in the latest state.
	ok, site := trials.Overseer(me.latest, t, me.acct.Address)
	if !ok {
		writeErr(w, http.StatusForbidden, forbidden("not an overseer of trial %s", t.ID))
		return
	}
	writeJSON(w, http.StatusOK, BuildTimeline(snap, t, snap.Version(), site))
}

func (s *Server) trialParticipants(w http.ResponseWriter, r *http.Request, me who) {
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	t, ok := trialOf(w, r, snap)
	if !ok {
		return
	}
	// Overseen as judged by the guard, in the latest state.
	ok, site := trials.Overseer(me.latest, t, me.acct.Address)
	if !ok {
		writeErr(w, http.StatusForbidden, forbidden("not an overseer of trial %s", t.ID))
		return
	}
	out := []ParticipantView{}
	for _, p := range trials.Participations(snap, t.ID) {
		if site == "" || p.Site == site {
			out = append(out, participantView(t, p))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "trial": t.ID, "site": site, "participants": out})
}

func (s *Server) trialParticipant(w http.ResponseWriter, r *http.Request) {
	p, snap, ok := s.patientState(w, r)
	if !ok {
		return
	}
	t, ok := trialOf(w, r, snap)
	if !ok {
		return
	}
	part := trials.GetParticipation(snap, t.ID, p)
	if part == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "%s takes no part in trial %s", p, t.ID))
		return
	}
	if r.URL.Query().Get("format") == "fhir" {
		writeFHIR(w, http.StatusOK, FHIRResearchSubject(t, part))
		return
	}
	writeJSON(w, http.StatusOK, participantView(t, part))
}

// trialGuard allows the trial's overseers (trials.Overseer) in the latest
// state. An unknown trial is let through: the handler answers 404, which
// names no patient.
func trialGuard(r *http.Request, w who) error {
	t := trials.GetTrial(w.latest, r.PathValue("id"))
	if t == nil {
		return nil
	}
	if ok, _ := trials.Overseer(w.latest, t, w.acct.Address); ok {
		return nil
	}
	return forbidden("%s is not a member of trial %s's sponsor, of one of its sites or of a regulator", w.acct.Address, t.ID)
}

// trialParticipantGuard allows the participant or a guardian, the sponsor's
// and regulators' members, and the members of the participant's site.
func trialParticipantGuard(r *http.Request, w who) error {
	p, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		return sm.Wrapf(ErrBadRequest, "%v", err)
	}
	if w.grounds(p, groundOwner) {
		return nil
	}
	t := trials.GetTrial(w.latest, r.PathValue("id"))
	if t == nil {
		return nil
	}
	if ok, site := trials.Overseer(w.latest, t, w.acct.Address); ok {
		if part := trials.GetParticipation(w.latest, t.ID, p); site == "" || part != nil && part.Site == site {
			return nil
		}
	}
	return forbidden("%s may not read %s's participation in trial %s", w.acct.Address, p, t.ID)
}

// trialKeyAllowed decides a proof of a patient-scoped trials key (a
// participation or an anchor) for the account a: the participant (or a
// guardian), a participant the anchor names, or an overseer of the trial
// whose site (if limited to one) is the participation's or the anchor's.
func trialKeyAllowed(kv store.Reader, key []byte, a *accounts.Account) bool {
	id, _, ok := trials.TrialOfKey(key)
	if !ok {
		return false
	}
	t := trials.GetTrial(kv, id)
	if t == nil {
		return true // nothing to reveal: the key is absent
	}
	over, site := trials.Overseer(kv, t, a.Address)
	var raw []byte
	if raw = kv.Get(key); raw == nil {
		return over
	}
	switch key[0] {
	case sm.PrefixTrialParticipant:
		p, err := trials.DecodeParticipation(raw)
		if err != nil {
			return false
		}
		return accounts.CanActFor(kv, a.Address, p.Participant) || over && (site == "" || p.Site == site)
	case sm.PrefixTrialAnchor:
		an, err := trials.DecodeAnchor(raw)
		if err != nil {
			return false
		}
		if over && (site == "" || an.Site == site) {
			return true
		}
		for _, p := range an.Participants {
			if accounts.CanActFor(kv, a.Address, p) {
				return true
			}
		}
	}
	return false
}
